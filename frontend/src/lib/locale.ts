// The person's locale decides how money and dates read: one formatter for each, used by every screen.

let current: string | null = null;

/** The browser's language (e.g. "de-DE"), or en-US where there is none. */
export function appLocale(): string {
  if (current) return current;
  const wanted = typeof navigator === 'undefined' ? undefined : navigator.language;
  try {
    current = wanted ? Intl.getCanonicalLocales(wanted)[0] : 'en-US';
  } catch {
    current = 'en-US';
  }
  return current;
}

/** For tests: pretend the browser has another language (null: read it again). */
export function setAppLocale(locale: string | null): void {
  current = locale;
}

/** The decimal separator of the locale: "." in en-US, "," in de-DE. */
export function decimalSeparator(locale: string = appLocale()): string {
  return new Intl.NumberFormat(locale).formatToParts(1.5).find((part) => part.type === 'decimal')?.value ?? '.';
}

const dateTimes = new Map<string, Intl.DateTimeFormat>();

function cached(key: string, make: () => Intl.DateTimeFormat): Intl.DateTimeFormat {
  let format = dateTimes.get(key);
  if (!format) {
    format = make();
    dateTimes.set(key, format);
  }
  return format;
}

/** "7 Dec 2026, 17:34" (en-GB), "Dec 7, 2026, 5:34 PM" (en-US): the one date-and-time format. */
export function formatDateTime(moment: string | number, locale: string = appLocale()): string {
  const format = cached(`${locale}|dt`, () => new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }));
  return format.format(new Date(moment));
}

/** "7 Dec 2026": the one date format. `utc` for days that are UTC days (the daily balances). */
export function formatDate(moment: string | number, locale: string = appLocale(), utc = false): string {
  const format = cached(`${locale}|d|${utc}`, () =>
    new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone: utc ? 'UTC' : undefined }),
  );
  return format.format(new Date(moment));
}

/** "Dec 7" / "7 Dec": a short date for chart axes. */
export function formatShortDate(moment: number, locale: string = appLocale()): string {
  const format = cached(`${locale}|short`, () =>
    new Intl.DateTimeFormat(locale, { month: 'short', day: 'numeric', timeZone: 'UTC' }),
  );
  return format.format(new Date(moment));
}

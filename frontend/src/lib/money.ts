// Money in the browser: integer minor units only. Parsing is string arithmetic (no floats), and formatting
// hands Intl.NumberFormat an exact decimal string.

export const CURRENCIES = ['EUR', 'USD', 'GBP', 'KRW', 'JPY'] as const;
export type Currency = (typeof CURRENCIES)[number];

/** Digits after the decimal point per currency (same table as the backend's MINOR_UNIT_DIGITS). */
export const MINOR_UNIT_DIGITS: Record<Currency, number> = { EUR: 2, USD: 2, GBP: 2, KRW: 0, JPY: 0 };

/** API.md: 1 ≤ amount ≤ 1_000_000_000_000 minor units. Below 2^53, so a JS number holds it exactly. */
export const MAX_AMOUNT = 1_000_000_000_000;

/** Amounts are typed and shown with a dot decimal point, so display uses one fixed English locale. */
export const LOCALE = 'en-US';

export type ParseResult = { ok: true; minor: number } | { ok: false; error: string };

export function isCurrency(value: string): value is Currency {
  return (CURRENCIES as readonly string[]).includes(value);
}

export function minorDigits(currency: string): number {
  if (!isCurrency(currency)) throw new Error(`unsupported currency ${currency}`);
  return MINOR_UNIT_DIGITS[currency];
}

/** The example amount of hints and errors: "10.50", or "10000" in a currency without minor units. */
export function amountExample(currency: string): string {
  return minorDigits(currency) === 0 ? '10000' : '10.50';
}

const AMOUNT_PATTERN = /^(\d*)(?:\.(\d*))?$/;

/** Parse what a person typed in major units ("10.50", "10000" for KRW) into integer minor units. */
export function parseAmount(input: string, currency: string): ParseResult {
  const digits = minorDigits(currency);
  const text = input.trim().replace(/[\s_]/g, '');
  const example = amountExample(currency);
  if (text === '') return { ok: false, error: 'Enter an amount.' };
  if (text.startsWith('-')) return { ok: false, error: 'Enter an amount greater than zero.' };
  if (text.includes(',')) {
    return { ok: false, error: `Use a dot for decimals and no thousands separators, like ${example}.` };
  }
  const match = AMOUNT_PATTERN.exec(text.replace(/^\+/, ''));
  if (!match || (match[1] === '' && !match[2])) {
    return { ok: false, error: `Enter the amount in numbers, like ${example}.` };
  }
  const whole = match[1];
  const fraction = (match[2] ?? '').replace(/0+$/, ''); // "10.50" and "10.5" and "10.500" are one amount
  if (fraction.length > digits) {
    const rule = digits === 0 ? 'whole numbers' : `at most ${digits} decimal places`;
    return { ok: false, error: `${currency} amounts have ${rule}.` };
  }
  const minorText = (whole + fraction.padEnd(digits, '0')).replace(/^0+/, '');
  if (minorText === '') return { ok: false, error: 'Enter an amount greater than zero.' };
  // Compare as strings of digits so nothing past 2^53 is ever turned into a number.
  const maxText = String(MAX_AMOUNT);
  if (minorText.length > maxText.length || (minorText.length === maxText.length && minorText > maxText)) {
    return { ok: false, error: `The largest amount is ${formatMoney(MAX_AMOUNT, currency)}.` };
  }
  return { ok: true, minor: Number(minorText) };
}

/** "1050", 2 → "10.50"; "-5", 2 → "-0.05"; exact, for Intl and for input fields. */
export function minorToDecimal(minor: number, currency: string): string {
  if (!Number.isSafeInteger(minor)) throw new Error(`not an integer amount of minor units: ${minor}`);
  const digits = minorDigits(currency);
  const sign = minor < 0 ? '-' : '';
  const text = String(Math.abs(minor));
  if (digits === 0) return sign + text;
  const padded = text.padStart(digits + 1, '0');
  return `${sign}${padded.slice(0, -digits)}.${padded.slice(-digits)}`;
}

const formatters = new Map<string, Intl.NumberFormat>();

function formatterFor(currency: string, locale: string): Intl.NumberFormat {
  const key = `${locale}|${currency}`;
  let formatter = formatters.get(key);
  if (!formatter) {
    const digits = minorDigits(currency);
    formatter = new Intl.NumberFormat(locale, {
      style: 'currency',
      currency,
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
    formatters.set(key, formatter);
  }
  return formatter;
}

/** 8950 EUR → "€89.50"; 10000 KRW → "₩10,000". */
export function formatMoney(minor: number, currency: string, locale: string = LOCALE): string {
  // Intl formats a decimal string exactly (ES2023), so no float division on the way.
  const exact = minorToDecimal(minor, currency) as `${number}`;
  return formatterFor(currency, locale).format(exact);
}

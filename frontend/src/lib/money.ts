// Money in the browser: integer minor units only. Parsing is string arithmetic (no floats), and formatting
// hands Intl.NumberFormat an exact decimal string,
// in the person's locale.

import { appLocale, decimalSeparator } from './locale';

/** API.md: 1 ≤ amount ≤ 1_000_000_000_000 minor units. Below 2^53, so a JS number holds it exactly. */
export const MAX_AMOUNT = 1_000_000_000_000;

/** Digits after the decimal point per currency, as GET /api/v1/meta says (setCurrencies). */
const known = new Map<string, number>();

/** Learn the deployment's currencies (from GET /api/v1/meta), in its order. */
export function setCurrencies(list: readonly { code: string; minor_unit_digits: number }[]): void {
  known.clear();
  for (const currency of list) known.set(currency.code, currency.minor_unit_digits);
}

/** The currencies an account can be opened in, in the server's order. */
export function supportedCurrencies(): string[] {
  return [...known.keys()];
}

export type ParseResult = { ok: true; minor: number } | { ok: false; error: string };

/** Minor-unit digits: what the server said, else ISO 4217 as the browser knows it (an account's
 * currency is always one the server supports, so the two agree). */
export function minorDigits(currency: string): number {
  const digits = known.get(currency);
  if (digits !== undefined) return digits;
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** The example amount of hints and errors: "10.50" ("10,50" in de-DE), or "10000" without minor units. */
export function amountExample(currency: string, locale: string = appLocale()): string {
  return minorDigits(currency) === 0 ? '10000' : `10${decimalSeparator(locale)}50`;
}

const AMOUNT_PATTERN = /^(\d*)(?:\.(\d*))?$/;

/**
 * Parse what a person typed in major units ("10.50", "10000" for KRW) into integer minor units.
 * The locale's decimal separator is accepted as well as the dot ("10,50" in de-DE); thousands
 * separators are not, because "1.000" would mean one thing in Germany and another in the US.
 */
export function parseAmount(input: string, currency: string, locale: string = appLocale()): ParseResult {
  const digits = minorDigits(currency);
  const separator = decimalSeparator(locale);
  let text = input.trim().replace(/[\s_\u00a0\u202f]/g, '');
  const example = amountExample(currency, locale);
  if (text === '') return { ok: false, error: 'Enter an amount.' };
  if (text.startsWith('-')) return { ok: false, error: 'Enter an amount greater than zero.' };
  const marks = text.replace(/[^.,]/g, '');
  if (marks.length > 1 || (marks === ',' && separator !== ',')) {
    return { ok: false, error: `Use no thousands separators and at most one decimal mark, like ${example}.` };
  }
  if (separator !== '.' && /\.\d{3}$/.test(text)) {
    // "1.000" is a thousand where the dot groups digits: refuse rather than read one.
    return { ok: false, error: `Use no thousands separators, like ${example}.` };
  }
  text = text.replace(',', '.');
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

/** 8950 EUR → "€89.50" (en-US), "89,50 €" (de-DE); 10000 KRW → "₩10,000". */
export function formatMoney(minor: number, currency: string, locale: string = appLocale()): string {
  // Intl formats a decimal string exactly (ES2023), so no float division on the way.
  const exact = minorToDecimal(minor, currency) as `${number}`;
  return formatterFor(currency, locale).format(exact);
}

/** The words for an amount the account cannot give: above what is available now. */
export function moreThanAvailable(account: { available_balance: number; currency: string }): string {
  return `That is more than the ${formatMoney(account.available_balance, account.currency)} available on this account.`;
}

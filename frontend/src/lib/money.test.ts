import { afterEach, describe, expect, it } from 'vitest';
import {
  amountExample,
  formatMoney,
  MAX_AMOUNT,
  minorDigits,
  minorToDecimal,
  parseAmount,
  setCurrencies,
  supportedCurrencies,
} from './money';

function minor(input: string, currency: string): number {
  const result = parseAmount(input, currency);
  if (!result.ok) throw new Error(`expected ${input} ${currency} to parse, got: ${result.error}`);
  return result.minor;
}

function error(input: string, currency: string): string {
  const result = parseAmount(input, currency);
  if (result.ok) throw new Error(`expected ${input} ${currency} to be rejected, got ${result.minor}`);
  return result.error;
}

describe('parseAmount', () => {
  it.each([
    ['10.50', 'EUR', 1050],
    ['10.5', 'USD', 1050],
    ['10', 'GBP', 1000],
    ['0.01', 'EUR', 1],
    ['.5', 'EUR', 50],
    ['10.', 'EUR', 1000],
    [' 1 000.25 ', 'EUR', 100025],
    ['10.500', 'EUR', 1050],
    ['0.29', 'EUR', 29],
    ['10000', 'KRW', 10000],
    ['10000.0', 'KRW', 10000],
    ['123', 'JPY', 123],
  ])('parses %s %s into %i minor units', (input, currency, expected) => {
    expect(minor(input, currency)).toBe(expected);
  });

  it('is exact where floats are not (0.29 * 100 is 28.999…)', () => {
    expect(minor('0.29', 'EUR')).toBe(29);
    expect(minor('1.15', 'EUR')).toBe(115);
    expect(minor('9007199254.74', 'EUR')).toBe(900719925474);
  });

  it('accepts the largest amount and rejects one minor unit more', () => {
    expect(minor('10000000000.00', 'EUR')).toBe(MAX_AMOUNT);
    expect(minor('1000000000000', 'KRW')).toBe(MAX_AMOUNT);
    expect(error('10000000000.01', 'EUR')).toBe('The largest amount is €10,000,000,000.00.');
    expect(error('99999999999999999999999', 'JPY')).toMatch(/^The largest amount is/);
  });

  it('rejects empty, zero and negative amounts', () => {
    expect(error('', 'EUR')).toBe('Enter an amount.');
    expect(error('   ', 'EUR')).toBe('Enter an amount.');
    expect(error('0', 'EUR')).toBe('Enter an amount greater than zero.');
    expect(error('0.00', 'EUR')).toBe('Enter an amount greater than zero.');
    expect(error('-5', 'EUR')).toBe('Enter an amount greater than zero.');
  });

  it('rejects more decimals than the currency has', () => {
    expect(error('10.505', 'EUR')).toBe('EUR amounts have at most 2 decimal places.');
    expect(error('10.5', 'KRW')).toBe('KRW amounts have whole numbers.');
    expect(error('1.1', 'JPY')).toBe('JPY amounts have whole numbers.');
  });

  it('rejects text, exponents and separators with an example for the currency', () => {
    expect(error('ten', 'EUR')).toBe('Enter the amount in numbers, like 10.50.');
    expect(error('1e3', 'KRW')).toBe('Enter the amount in numbers, like 10000.');
    expect(error('.', 'EUR')).toBe('Enter the amount in numbers, like 10.50.');
    expect(error('1.2.3', 'EUR')).toBe('Use no thousands separators and at most one decimal mark, like 10.50.');
    expect(error('10,50', 'EUR')).toBe('Use no thousands separators and at most one decimal mark, like 10.50.');
    expect(error('1,000.50', 'EUR')).toBe('Use no thousands separators and at most one decimal mark, like 10.50.');
  });
});

describe('parseAmount in a locale with a decimal comma', () => {
  const de = (input: string, currency = 'EUR') => parseAmount(input, currency, 'de-DE');

  it('accepts the comma as well as the dot', () => {
    expect(de('10,50')).toEqual({ ok: true, minor: 1050 });
    expect(de('10.5')).toEqual({ ok: true, minor: 1050 });
    expect(de('0,01')).toEqual({ ok: true, minor: 1 });
  });

  it('refuses what could be a thousands separator, with an example in the locale', () => {
    expect(de('1.000')).toEqual({ ok: false, error: 'Use no thousands separators, like 10,50.' });
    expect(de('1.000,50')).toEqual({
      ok: false,
      error: 'Use no thousands separators and at most one decimal mark, like 10,50.',
    });
    expect(de('10,505')).toEqual({ ok: false, error: 'EUR amounts have at most 2 decimal places.' });
  });
});

describe('currencies from the server', () => {
  afterEach(() => setCurrencies([]));

  it('lists them in the server order, and their digits win over the browser', () => {
    setCurrencies([
      { code: 'JPY', minor_unit_digits: 0 },
      { code: 'EUR', minor_unit_digits: 2 },
    ]);
    expect(supportedCurrencies()).toEqual(['JPY', 'EUR']);
    expect(minorDigits('JPY')).toBe(0);
  });

  it('falls back on ISO 4217 as the browser knows it before the list arrives', () => {
    expect(minorDigits('KRW')).toBe(0);
    expect(minorDigits('GBP')).toBe(2);
  });
});

describe('formatMoney', () => {
  it.each([
    [8950, 'EUR', '€89.50'],
    [5, 'EUR', '€0.05'],
    [100000, 'USD', '$1,000.00'],
    [1050, 'GBP', '£10.50'],
    [10000, 'KRW', '₩10,000'],
    [123, 'JPY', '¥123'],
    [-1050, 'EUR', '-€10.50'],
    [MAX_AMOUNT, 'EUR', '€10,000,000,000.00'],
  ])('formats %i %s as %s', (amount, currency, expected) => {
    expect(formatMoney(amount, currency)).toBe(expected);
  });

  it('formats for another locale when asked', () => {
    expect(formatMoney(8950, 'EUR', 'de-DE').replace(/\s/g, ' ')).toBe('89,50 €');
  });

  it('turns minor units into an exact decimal string', () => {
    expect(minorToDecimal(1050, 'EUR')).toBe('10.50');
    expect(minorToDecimal(7, 'USD')).toBe('0.07');
    expect(minorToDecimal(-7, 'USD')).toBe('-0.07');
    expect(minorToDecimal(10000, 'KRW')).toBe('10000');
    expect(() => minorToDecimal(1.5, 'EUR')).toThrow();
  });
});

describe('amountExample', () => {
  it('shows decimals only where the currency has minor units', () => {
    expect(amountExample('EUR')).toBe('10.50');
    expect(amountExample('KRW')).toBe('10000');
  });

  it('is the example that parse errors give', () => {
    expect(error('abc', 'JPY')).toBe(`Enter the amount in numbers, like ${amountExample('JPY')}.`);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { appLocale, decimalSeparator, formatDate, formatDateTime, setAppLocale } from './locale';
import { formatMoney, parseAmount } from './money';

const moment = '2026-12-07T16:05:00Z';

describe('one format per locale', () => {
  afterEach(() => setAppLocale(null));

  it('formats money, dates and times the way the person’s language does', () => {
    setAppLocale('de-DE');
    expect(appLocale()).toBe('de-DE');
    expect(decimalSeparator()).toBe(',');
    expect(formatMoney(155280, 'EUR').replace(/\s/g, ' ')).toBe('1.552,80 €');
    expect(formatDate(moment, undefined, true)).toBe('07.12.2026');
    expect(parseAmount('10,50', 'EUR')).toEqual({ ok: true, minor: 1050 });
  });

  it('uses the same date style everywhere in one locale', () => {
    setAppLocale('en-US');
    expect(formatDate(moment, undefined, true)).toBe('Dec 7, 2026');
    expect(formatDateTime(moment)).toMatch(/^Dec 7, 2026, \d{1,2}:05\s[AP]M$/);
    expect(decimalSeparator()).toBe('.');
  });

  it('falls back on en-US for a language tag it cannot read', () => {
    setAppLocale(null);
    const original = navigator.language;
    Object.defineProperty(navigator, 'language', { value: 'not a locale!', configurable: true });
    expect(appLocale()).toBe('en-US');
    Object.defineProperty(navigator, 'language', { value: original, configurable: true });
  });
});

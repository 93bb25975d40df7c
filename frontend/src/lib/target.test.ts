import { describe, expect, it } from 'vitest';
import { resolveTarget } from './target';

const main = { id: '11111111-1111-4111-8111-111111111111', name: 'Main', currency: 'EUR' };
const savings = { id: '22222222-2222-4222-8222-222222222222', name: 'Savings', currency: 'EUR' };
const travel = { id: '33333333-3333-4333-8333-333333333333', name: 'Travel', currency: 'USD' };
const own = [main, savings, travel];

describe('resolveTarget', () => {
  it('finds one of the own accounts by its name', () => {
    expect(resolveTarget(' Savings ', main, own)).toEqual({ ok: true, id: savings.id });
  });

  it('takes any well-formed account id, someone else’s too', () => {
    const id = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    expect(resolveTarget(id.toUpperCase(), main, own)).toEqual({ ok: true, id });
  });

  it('refuses the source itself, by name or by id', () => {
    for (const text of ['Main', main.id]) {
      const result = resolveTarget(text, main, own);
      expect(result.ok).toBe(false);
      expect(!result.ok && result.error).toMatch(/^Choose a different account/);
    }
  });

  it('refuses garbage before anything is sent', () => {
    const result = resolveTarget('not-an-id', main, own);
    expect(!result.ok && result.error).toMatch(/^That is not an account id/);
  });

  it('refuses an own account in another currency, and an empty field', () => {
    expect(resolveTarget('Travel', main, own)).toEqual({ ok: false, error: 'Travel holds USD: it can only receive USD.' });
    expect(resolveTarget('  ', main, own).ok).toBe(false);
  });

  it('asks for the id when two own accounts share the name', () => {
    const twin = { ...savings, id: '44444444-4444-4444-8444-444444444444' };
    const result = resolveTarget('Savings', main, [...own, twin]);
    expect(!result.ok && result.error).toMatch(/paste the account id/);
  });
});

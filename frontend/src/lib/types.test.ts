import { describe, expect, it } from 'vitest';
import spec from '../../openapi.json';
import { direction, FAILURE_WORDS, transferStatusText } from './types';

describe('transfer words', () => {
  it('has words for every failure reason the OpenAPI document lists', () => {
    const reasons = spec.components.schemas.Transfer.properties.failure_reason.enum.filter((r) => r !== null);
    expect(reasons.length).toBeGreaterThan(0);
    for (const reason of reasons) expect(FAILURE_WORDS[reason as string], String(reason)).toBeTruthy();
  });

  it('says a failure in words', () => {
    expect(transferStatusText({ status: 'failed', failure_reason: 'insufficient_funds' })).toBe(
      'Failed: not enough money available',
    );
  });

  it('names own accounts and shows other accounts by their full id', () => {
    const other = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    const own = { a1: { name: 'Main' } };
    expect(direction({ source_account_id: 'a1', target_account_id: other }, own)).toEqual({
      title: `From Main to ${other}`,
      incoming: false,
      outgoing: true,
    });
    expect(direction({ source_account_id: other, target_account_id: 'a1' }, own).incoming).toBe(true);
  });
});

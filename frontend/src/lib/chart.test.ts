import { describe, expect, it } from 'vitest';
import { balanceSeries } from './chart';
import type { Transaction } from './types';

function tx(occurredAt: string, balanceAfter: number): Transaction {
  return {
    id: occurredAt,
    account_id: 'a1',
    kind: 'deposit',
    amount: 1,
    currency: 'EUR',
    balance_after: balanceAfter,
    reference: null,
    transfer_id: null,
    occurred_at: occurredAt,
  };
}

describe('balanceSeries', () => {
  const now = Date.parse('2026-11-21T12:00:00Z');

  it('is empty without transactions', () => {
    expect(balanceSeries([], 0, now)).toEqual([]);
  });

  it('orders newest-first transactions oldest first and ends at the current balance now', () => {
    const series = balanceSeries([tx('2026-11-21T10:00:00Z', 300), tx('2026-11-20T10:00:00Z', 100)], 300, now);
    expect(series.map((p) => p.balance)).toEqual([100, 300, 300]);
    expect(series[series.length - 1].time).toBe(now);
  });

  it('keeps one closing balance per day when there are many transactions', () => {
    const many = Array.from({ length: 90 }, (_, i) => {
      const day = String(1 + Math.floor(i / 3)).padStart(2, '0');
      return tx(`2026-10-${day}T0${i % 3}:00:00Z`, i);
    });
    const series = balanceSeries(many, 89, now);
    expect(series).toHaveLength(31); // 30 days + now
    expect(series[0].balance).toBe(2); // the last of day 1
  });
});

import { describe, expect, it } from 'vitest';
import { amountTicks, dailySeries, nearestIndex, timeTicks } from './chart';
import type { DailyBalance } from './types';

function day(date: string, closing: number): DailyBalance {
  return { day: date, closing_balance: closing, deposits: 0, withdrawals: 0, transfers_in: 0, transfers_out: 0 };
}

const at = (date: string) => Date.parse(`${date}T00:00:00Z`);

describe('dailySeries', () => {
  const now = Date.parse('2026-11-21T12:00:00Z');

  it('starts at 0 on the opening day, has every day with a movement, and ends today at the balance', () => {
    const series = dailySeries([day('2026-11-03', 5000), day('2026-11-01', 2000)], '2026-10-30T09:00:00Z', 4500, now);
    expect(series).toEqual([
      { time: at('2026-10-30'), balance: 0 },
      { time: at('2026-11-01'), balance: 2000 },
      { time: at('2026-11-03'), balance: 5000 },
      { time: at('2026-11-21'), balance: 4500 },
    ]);
  });

  it('takes the current balance for today when today already has a row', () => {
    const series = dailySeries([day('2026-11-21', 100)], '2026-11-21T09:00:00Z', 120, now);
    expect(series).toEqual([{ time: at('2026-11-21'), balance: 120 }]);
  });

  it('is one point for a new, empty account', () => {
    expect(dailySeries([], '2026-11-21T09:00:00Z', 0, now)).toEqual([{ time: at('2026-11-21'), balance: 0 }]);
  });
});

describe('amountTicks', () => {
  it('covers zero to the highest balance in round steps', () => {
    expect(amountTicks(43376, 250000)).toEqual([0, 100000, 200000, 300000]);
    expect(amountTicks(0, 1000)).toEqual([0, 250, 500, 750, 1000]);
  });

  it('goes below zero when a balance does', () => {
    expect(amountTicks(-500, 1500)[0]).toBeLessThanOrEqual(-500);
  });

  it('still has a scale of distinct ticks for an account that never held money', () => {
    const ticks = amountTicks(0, 0);
    expect(ticks.length).toBeGreaterThan(1);
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(new Set(amountTicks(0, 3)).size).toBe(amountTicks(0, 3).length);
  });
});

describe('timeTicks and nearestIndex', () => {
  it('spreads whole days from the first to the last point', () => {
    const ticks = timeTicks(at('2026-11-01'), at('2026-11-21'), 4);
    expect(ticks[0]).toBe(at('2026-11-01'));
    expect(ticks.at(-1)).toBe(at('2026-11-21'));
    expect(ticks).toHaveLength(5);
  });

  it('finds the point nearest to a time', () => {
    const points = [0, 10, 20].map((time) => ({ time, balance: time }));
    expect(nearestIndex(points, 14)).toBe(1);
    expect(nearestIndex(points, 16)).toBe(2);
  });
});

// The balance-history series: one point per transaction (balance_after), or the closing balance per day
// when there are many, oldest first, ending with the current balance now.
import type { Transaction } from './types';

export interface BalancePoint {
  time: number;
  balance: number;
}

const MAX_POINTS = 60;

export function balanceSeries(transactions: Transaction[], currentBalance: number, now = Date.now()): BalancePoint[] {
  const points = transactions
    .map((t) => ({ time: Date.parse(t.occurred_at), balance: t.balance_after }))
    .filter((p) => Number.isFinite(p.time))
    .sort((a, b) => a.time - b.time);
  const series = points.length > MAX_POINTS ? dailyClosing(points) : points;
  if (series.length > 0) series.push({ time: Math.max(now, series[series.length - 1].time), balance: currentBalance });
  return series;
}

function dailyClosing(points: BalancePoint[]): BalancePoint[] {
  const byDay = new Map<string, BalancePoint>();
  for (const point of points) byDay.set(new Date(point.time).toISOString().slice(0, 10), point); // last wins
  return [...byDay.values()];
}

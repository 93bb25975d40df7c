// The balance-history chart's numbers: one point per day from the account's daily balances (its whole
// history), axis ticks for amounts and dates, and which point a pointer or a key press means.
import type { DailyBalance } from './types';

export interface BalancePoint {
  /** Milliseconds since the epoch: the UTC day's start, or `now` for the last point. */
  time: number;
  balance: number;
}

const DAY_MS = 86_400_000;
const MIN_SPAN = 1000;

/**
 * The closing balance of each day, oldest first: from 0 on the day the account opened, through every
 * day its balance moved, to the current balance now (a day without movement keeps the day before's).
 */
export function dailySeries(items: DailyBalance[], openedAt: string, balance: number, now = Date.now()): BalancePoint[] {
  const opened = startOfUtcDay(Date.parse(openedAt));
  const days = items
    .map((item) => ({ time: Date.parse(`${item.day}T00:00:00Z`), balance: item.closing_balance }))
    .filter((point) => Number.isFinite(point.time))
    .sort((a, b) => a.time - b.time);
  const series: BalancePoint[] = [];
  if (Number.isFinite(opened) && (days.length === 0 || opened < days[0].time)) series.push({ time: opened, balance: 0 });
  series.push(...days);
  const today = startOfUtcDay(now);
  const last = series.at(-1);
  if (!last || last.time < today) series.push({ time: today, balance });
  else last.balance = balance; // today's row may trail a push by a moment: the account is the truth
  return series;
}

function startOfUtcDay(time: number): number {
  return Math.floor(time / DAY_MS) * DAY_MS;
}

/** Round tick values covering [low, high] (at least 0 … high), about `count` of them: 0, 500, 1000… */
export function amountTicks(low: number, high: number, count = 4): number[] {
  const lo = Math.min(0, low);
  // An empty account still gets a scale (0 … 1000 minor units) rather than a flat line at the top.
  const hi = Math.max(hi0(high), lo + MIN_SPAN);
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 2.5, 5, 10].map((f) => f * magnitude).find((s) => s >= raw) ?? raw);
  const ticks: number[] = [];
  for (let value = Math.floor(lo / step) * step; value < hi + step; value += step) {
    ticks.push(Math.round(value));
    if (value >= hi) break;
  }
  return ticks;
}

function hi0(high: number): number {
  return Math.max(high, 0);
}

/** About `count` evenly spread times from t0 to t1 (both included), snapped to whole days. */
export function timeTicks(t0: number, t1: number, count = 4): number[] {
  if (t1 <= t0) return [t0];
  const days = Math.round((t1 - t0) / DAY_MS);
  const n = Math.max(1, Math.min(count, days));
  return Array.from({ length: n + 1 }, (_, i) => startOfUtcDay(t0 + ((t1 - t0) * i) / n + DAY_MS / 2));
}

/** The index of the point nearest in time to `time`. */
export function nearestIndex(points: BalancePoint[], time: number): number {
  let best = 0;
  for (let i = 1; i < points.length; i += 1) {
    if (Math.abs(points[i].time - time) < Math.abs(points[best].time - time)) best = i;
  }
  return best;
}

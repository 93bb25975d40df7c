import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveConnection, pollDelay, reconnectDelay, type LiveHandlers } from './live';
import type { Transfer } from './types';

class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: unknown[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.serverClose(1000);
  }
  // --- what the server does ---
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  push(message: unknown) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  serverClose(code: number) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

const latest = () => FakeSocket.all[FakeSocket.all.length - 1];

function transfer(id: string, status: Transfer['status']): Transfer {
  return {
    id,
    source_account_id: 'a1',
    target_account_id: 'b1',
    amount: 1050,
    currency: 'EUR',
    reference: null,
    status,
    failure_reason: status === 'failed' ? 'insufficient_funds' : null,
    created_at: '2026-11-21T10:00:00Z',
    updated_at: '2026-11-21T10:00:00Z',
    completed_at: null,
  };
}

function setup(overrides: { fetchTransfer?: (id: string) => Promise<Transfer>; token?: string | null } = {}) {
  const handlers = {
    onTransfer: vi.fn(),
    onAccount: vi.fn(),
    onState: vi.fn(),
    onResync: vi.fn(),
  } satisfies LiveHandlers;
  const fetchTransfer = vi.fn(overrides.fetchTransfer ?? (async (id: string) => transfer(id, 'pending')));
  const refreshToken = vi.fn(async () => true);
  const live = new LiveConnection({
    url: 'ws://example.test/api/v1/ws',
    accessToken: async () => (overrides.token === undefined ? 'token-1' : overrides.token),
    refreshToken,
    fetchTransfer,
    handlers,
    createSocket: (url) => new FakeSocket(url) as unknown as WebSocket,
    random: () => 1,
  });
  return { live, handlers, fetchTransfer, refreshToken };
}

async function connectReady(live: LiveConnection): Promise<FakeSocket> {
  live.start();
  await vi.advanceTimersByTimeAsync(0);
  const socket = latest();
  socket.open();
  socket.push({ type: 'ready' });
  return socket;
}

beforeEach(() => {
  FakeSocket.all = [];
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('LiveConnection', () => {
  it('authenticates with the first message and goes live on ready', async () => {
    const { live, handlers } = setup();
    const socket = await connectReady(live);
    expect(socket.url).toBe('ws://example.test/api/v1/ws');
    expect(socket.sent[0]).toEqual({ type: 'auth', access_token: 'token-1' });
    expect(handlers.onState).toHaveBeenLastCalledWith('live');
    expect(live.currentState).toBe('live');
    expect(handlers.onResync).toHaveBeenCalledTimes(1);
    live.stop();
  });

  it('passes transfer and account pushes on', async () => {
    const { live, handlers } = setup();
    const socket = await connectReady(live);
    socket.push({ type: 'transfer.updated', data: transfer('t1', 'completed') });
    socket.push({ type: 'account.updated', data: { id: 'a1', version: 3 } });
    expect(handlers.onTransfer).toHaveBeenCalledWith(expect.objectContaining({ id: 't1', status: 'completed' }));
    expect(handlers.onAccount).toHaveBeenCalledWith({ id: 'a1', version: 3 });
    live.stop();
  });

  it('pings, and reconnects when no pong comes back', async () => {
    const { live } = setup();
    const socket = await connectReady(live);
    await vi.advanceTimersByTimeAsync(25_000);
    expect(socket.sent).toContainEqual({ type: 'ping' });
    socket.push({ type: 'pong' });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(socket.readyState).toBe(1); // the pong arrived in time
    await vi.advanceTimersByTimeAsync(15_000 + 10_000); // next ping, no pong
    expect(socket.readyState).toBe(3);
    expect(live.currentState).toBe('offline');
    live.stop();
  });

  it('answers a server ping with pong', async () => {
    const { live } = setup();
    const socket = await connectReady(live);
    socket.push({ type: 'ping' });
    expect(socket.sent).toContainEqual({ type: 'pong' });
    live.stop();
  });

  it('goes offline when the socket drops and reconnects with growing delays', async () => {
    const { live, handlers } = setup();
    await connectReady(live);
    latest().serverClose(1006);
    expect(handlers.onState).toHaveBeenLastCalledWith('offline');
    await vi.advanceTimersByTimeAsync(499);
    expect(FakeSocket.all).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.all).toHaveLength(2);
    latest().serverClose(1006); // refused again before opening
    await vi.advanceTimersByTimeAsync(999);
    expect(FakeSocket.all).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.all).toHaveLength(3);
    latest().open();
    latest().push({ type: 'ready' });
    expect(handlers.onResync).toHaveBeenCalledTimes(2); // re-read what is shown after the reconnect
    live.stop();
  });

  it('refreshes the token when the server refuses it (4401), then reconnects', async () => {
    const { live, refreshToken } = setup();
    live.start();
    await vi.advanceTimersByTimeAsync(0);
    latest().open();
    latest().serverClose(4401);
    await vi.advanceTimersByTimeAsync(0);
    expect(refreshToken).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(500);
    expect(FakeSocket.all).toHaveLength(2);
    live.stop();
  });

  it('does not connect without a token', async () => {
    const { live } = setup({ token: null });
    live.start();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(FakeSocket.all).toHaveLength(0);
  });

  it('polls a pending transfer while offline, 1 s backing off to 5 s, until it ends', async () => {
    const answers: Transfer['status'][] = ['pending', 'pending', 'pending', 'pending', 'pending', 'completed'];
    const { live, handlers, fetchTransfer } = setup({ fetchTransfer: async (id) => transfer(id, answers.shift()!) });
    live.start(); // the socket never opens: offline
    await vi.advanceTimersByTimeAsync(0);
    live.watchTransfer(transfer('t1', 'pending'));
    const pollTimes: number[] = [];
    fetchTransfer.mockImplementation(async (id) => {
      pollTimes.push(Date.now());
      return transfer(id, answers.shift()!);
    });
    const start = Date.now();
    await vi.advanceTimersByTimeAsync(30_000);
    const gaps = pollTimes.map((t, i) => t - (i === 0 ? start : pollTimes[i - 1]));
    expect(gaps).toEqual([1000, 1500, 2250, 3375, 5000, 5000]);
    expect(handlers.onTransfer).toHaveBeenLastCalledWith(expect.objectContaining({ status: 'completed' }));
    live.stop();
  });

  it('keeps backing off the polls while reconnect attempts keep failing', async () => {
    const { live, fetchTransfer } = setup();
    const pollTimes: number[] = [];
    fetchTransfer.mockImplementation(async (id) => {
      pollTimes.push(Date.now());
      return transfer(id, 'pending');
    });
    await connectReady(live);
    live.watchTransfer(transfer('t1', 'pending'));
    const start = Date.now();
    latest().serverClose(1006);
    for (let i = 0; i < 12; i += 1) {
      await vi.advanceTimersByTimeAsync(500);
      if (latest().readyState === 0) latest().serverClose(1006); // every reconnect is refused
    }
    const gaps = pollTimes.map((t, i) => t - (i === 0 ? start : pollTimes[i - 1]));
    expect(gaps).toEqual([1000, 1500, 2250]);
    live.stop();
  });

  it('stops polling once the socket is live and re-reads pending transfers', async () => {
    const { live, fetchTransfer } = setup();
    live.start();
    await vi.advanceTimersByTimeAsync(0);
    live.watchTransfer(transfer('t1', 'pending'));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fetchTransfer).toHaveBeenCalledTimes(1);
    const socket = latest();
    socket.open();
    socket.push({ type: 'ready' });
    expect(fetchTransfer).toHaveBeenCalledTimes(2); // one re-read on ready
    await vi.advanceTimersByTimeAsync(20_000);
    expect(fetchTransfer).toHaveBeenCalledTimes(2);
    live.stop();
  });

  it('does not poll while live; a push ends the watch', async () => {
    const { live, fetchTransfer } = setup();
    const socket = await connectReady(live);
    live.watchTransfer(transfer('t1', 'pending'));
    socket.push({ type: 'transfer.updated', data: transfer('t1', 'failed') });
    socket.serverClose(1006);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fetchTransfer).not.toHaveBeenCalled();
    live.stop();
  });
});

describe('delays', () => {
  it('backs off reconnects exponentially up to 30 s, with jitter below the ceiling', () => {
    expect([0, 1, 2, 3, 10].map((n) => reconnectDelay(n, () => 1))).toEqual([500, 1000, 2000, 4000, 30000]);
    expect(reconnectDelay(3, () => 0)).toBe(2000);
  });

  it('polls every 1 s at first, then slower, never slower than 5 s', () => {
    expect([0, 1, 2, 3, 4, 10].map(pollDelay)).toEqual([1000, 1500, 2250, 3375, 5000, 5000]);
  });
});

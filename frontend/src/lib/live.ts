// Live results: the WebSocket of API.md (auth → ready → pushes, ping/pong), reconnecting with backoff, and
// polling of pending transfers while the socket is down. Framework-free so it can be tested with fakes.
import type { Account, Transfer } from './types';

export type LiveState = 'live' | 'offline';

export interface LiveHandlers {
  onTransfer(transfer: Transfer): void;
  onAccount(account: Account): void;
  onState(state: LiveState): void;
  /** The socket is (again) ready: pushes are not replayed, so re-read what is on screen. */
  onResync(): void;
}

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface LiveOptions {
  url: string;
  /** A valid access token, or null when signed out (then the connection stops). */
  accessToken: () => Promise<string | null>;
  /** Force a token refresh after the server refused ours (close code 4401); false when the session is over. */
  refreshToken: () => Promise<boolean>;
  fetchTransfer: (id: string) => Promise<Transfer>;
  handlers: LiveHandlers;
  createSocket?: (url: string) => WebSocket;
  timers?: Timers;
  random?: () => number;
}

export const PING_EVERY_MS = 25_000;
export const PONG_TIMEOUT_MS = 10_000;
export const READY_TIMEOUT_MS = 10_000;
export const RECONNECT_BASE_MS = 500;
export const RECONNECT_MAX_MS = 30_000;
export const POLL_FIRST_MS = 1_000;
export const POLL_MAX_MS = 5_000;
const AUTH_REFUSED = 4401;

/** Reconnect delay after `attempt` failures: exponential, capped, with jitter so clients don't stampede. */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** attempt);
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

/** Poll delay after `polls` polls of the same pending set: 1 s, growing by half each time, up to 5 s. */
export function pollDelay(polls: number): number {
  return Math.min(POLL_MAX_MS, Math.round(POLL_FIRST_MS * 1.5 ** polls));
}

const defaultTimers: Timers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class LiveConnection {
  private readonly options: LiveOptions;
  private readonly timers: Timers;
  private readonly createSocket: (url: string) => WebSocket;
  private socket: WebSocket | null = null;
  private state: LiveState = 'offline';
  private running = false;
  private attempt = 0;
  private reconnectTimer: unknown = null;
  private pingTimer: unknown = null;
  private pongTimer: unknown = null;
  private readyTimer: unknown = null;
  private pollTimer: unknown = null;
  private polls = 0;
  private readonly pending = new Set<string>();

  constructor(options: LiveOptions) {
    this.options = options;
    this.timers = options.timers ?? defaultTimers;
    this.createSocket = options.createSocket ?? ((url) => new WebSocket(url));
  }

  get currentState(): LiveState {
    return this.state;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.attempt = 0;
    void this.connect();
  }

  stop(): void {
    this.running = false;
    this.pending.clear();
    this.clearTimer('reconnectTimer');
    this.clearTimer('pollTimer');
    this.dropSocket();
    this.setState('offline');
  }

  /** Reconnect now (the browser says it is back online) instead of waiting out the backoff. */
  retryNow(): void {
    if (!this.running || this.socket) return;
    this.clearTimer('reconnectTimer');
    void this.connect();
  }

  /** Follow a pending transfer until it ends: by push while live, by polling while offline. */
  watchTransfer(transfer: Transfer): void {
    if (!this.running || transfer.status !== 'pending') return;
    this.pending.add(transfer.id);
    if (this.state === 'offline') this.schedulePoll(true);
  }

  private async connect(): Promise<void> {
    let token: string | null;
    try {
      token = await this.options.accessToken();
    } catch {
      this.scheduleReconnect(); // offline: the token refresh could not reach the server
      return;
    }
    if (!this.running) return;
    if (!token) {
      this.stop();
      return;
    }
    let socket: WebSocket;
    try {
      socket = this.createSocket(this.options.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: 'auth', access_token: token }));
      this.readyTimer = this.timers.setTimeout(() => socket.close(), READY_TIMEOUT_MS);
    };
    socket.onmessage = (event: MessageEvent) => this.receive(socket, event.data);
    socket.onclose = (event: CloseEvent) => this.closed(socket, event.code);
    socket.onerror = () => {
      // A close event always follows; reconnecting happens there.
    };
  }

  private receive(socket: WebSocket, data: unknown): void {
    if (socket !== this.socket || typeof data !== 'string') return;
    let message: { type?: unknown; data?: unknown };
    try {
      message = JSON.parse(data) as typeof message;
    } catch {
      return; // not ours to interpret
    }
    switch (message.type) {
      case 'ready':
        return this.ready();
      case 'pong':
        return this.clearTimer('pongTimer');
      case 'ping':
        return socket.send(JSON.stringify({ type: 'pong' }));
      case 'transfer.updated':
        return this.transferUpdated(message.data as Transfer);
      case 'account.updated':
        return this.options.handlers.onAccount(message.data as Account);
    }
  }

  private ready(): void {
    this.clearTimer('readyTimer');
    this.attempt = 0;
    this.clearTimer('pollTimer');
    this.polls = 0;
    this.setState('live');
    this.schedulePing();
    this.options.handlers.onResync();
    // Pushes are not replayed: a transfer may have ended while we were away.
    for (const id of [...this.pending]) void this.poll(id);
  }

  private transferUpdated(transfer: Transfer): void {
    if (transfer.status !== 'pending') this.pending.delete(transfer.id);
    this.options.handlers.onTransfer(transfer);
  }

  private closed(socket: WebSocket, code: number): void {
    if (socket !== this.socket) return;
    const wasLive = this.state === 'live';
    this.dropSocket();
    this.setState('offline');
    if (!this.running) return;
    // Start polling afresh when the connection is lost, but a failed reconnect must not reset the backoff.
    if (this.pending.size > 0) this.schedulePoll(wasLive);
    if (code === AUTH_REFUSED) {
      void this.options.refreshToken().then(
        (ok) => (ok ? this.scheduleReconnect() : this.stop()),
        () => this.scheduleReconnect(),
      );
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (!this.running) return;
    this.clearTimer('reconnectTimer');
    const delay = reconnectDelay(this.attempt, this.options.random);
    this.attempt += 1;
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = null;
      void this.connect();
    }, delay);
  }

  private schedulePing(): void {
    this.clearTimer('pingTimer');
    this.pingTimer = this.timers.setTimeout(() => {
      const socket = this.socket;
      if (!socket || this.state !== 'live') return;
      socket.send(JSON.stringify({ type: 'ping' }));
      // No pong in time: the connection is dead even if the browser has not noticed yet.
      this.pongTimer = this.timers.setTimeout(() => socket.close(), PONG_TIMEOUT_MS);
      this.schedulePing();
    }, PING_EVERY_MS);
  }

  private schedulePoll(restart: boolean): void {
    if (restart) {
      this.clearTimer('pollTimer');
      this.polls = 0;
    } else if (this.pollTimer !== null) {
      return;
    }
    this.pollTimer = this.timers.setTimeout(() => void this.pollAll(), pollDelay(this.polls));
  }

  private async pollAll(): Promise<void> {
    this.pollTimer = null;
    if (!this.running || this.state === 'live' || this.pending.size === 0) return;
    this.polls += 1;
    await Promise.all([...this.pending].map((id) => this.poll(id)));
    if (this.running && this.state === 'offline' && this.pending.size > 0) this.schedulePoll(false);
  }

  private async poll(id: string): Promise<void> {
    try {
      const transfer = await this.options.fetchTransfer(id);
      if (transfer.status !== 'pending') this.pending.delete(id);
      this.options.handlers.onTransfer(transfer);
    } catch {
      // Still unreachable: the next poll tries again.
    }
  }

  private dropSocket(): void {
    this.clearTimer('pingTimer');
    this.clearTimer('pongTimer');
    this.clearTimer('readyTimer');
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onopen = null;
      socket.onmessage = null;
      socket.onerror = null;
      socket.onclose = null;
      if (socket.readyState === 0 || socket.readyState === 1) socket.close(1000);
    }
  }

  private setState(state: LiveState): void {
    if (state === this.state) return;
    this.state = state;
    this.options.handlers.onState(state);
  }

  private clearTimer(name: 'reconnectTimer' | 'pingTimer' | 'pongTimer' | 'readyTimer' | 'pollTimer'): void {
    if (this[name] !== null) this.timers.clearTimeout(this[name]);
    this[name] = null;
  }
}

/** ws(s)://<this host>/api/v1/ws */
export function liveUrl(location: Pick<Location, 'protocol' | 'host'> = window.location): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/ws`;
}

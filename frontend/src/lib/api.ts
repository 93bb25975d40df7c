// The one place that knows the API's URLs, the tokens and refreshing (problem+json: problems.ts).
import { NetworkError, problemFrom } from './problems';
import type { Account, DailyBalances, Meta, Page, TokenPair, Transaction, Transfer, TransferStatus, User } from './types';

// Errors live in problems.ts; re-exported so that every caller imports the API from one module.
export { ApiError, EMAIL_TAKEN, NetworkError, fieldErrorsOf, formMessageOf, messageOf, problemFrom, type FieldErrors } from './problems';

type KeyValueStore = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

export interface ApiOptions {
  baseUrl?: string;
  fetch?: typeof fetch;
  /** Where the refresh token survives a reload (sessionStorage in the browser); null keeps it in memory only. */
  storage?: KeyValueStore | null;
  now?: () => number;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | null | undefined>;
  auth?: boolean;
  idempotencyKey?: string;
}

export const REFRESH_TOKEN_KEY = 'hexbank.refresh_token';
const EXPIRY_MARGIN_MS = 15_000; // refresh a little before the access token runs out

export class ApiClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly storage: KeyValueStore | null;
  private readonly now: () => number;
  private accessToken: string | null = null;
  private accessExpiresAt = 0;
  private memoryRefreshToken: string | null = null;
  private refreshing: Promise<boolean> | null = null;
  private readonly sessionEndedListeners = new Set<() => void>();

  constructor(options: ApiOptions = {}) {
    this.baseUrl = options.baseUrl ?? '/api/v1';
    // Bound so a later test stub or polyfill of globalThis.fetch is picked up at call time.
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.storage = options.storage === undefined ? null : options.storage;
    this.now = options.now ?? (() => Date.now());
  }

  // ---- session ----

  /** Called when the session ends against the person's will (refresh refused): show sign in. */
  onSessionEnded(listener: () => void): () => void {
    this.sessionEndedListeners.add(listener);
    return () => this.sessionEndedListeners.delete(listener);
  }

  hasSession(): boolean {
    return this.accessToken !== null || this.refreshToken() !== null;
  }

  /** A valid access token (refreshed first when about to expire), or null when signed out. */
  async freshAccessToken(): Promise<string | null> {
    if (this.accessToken && this.now() < this.accessExpiresAt - EXPIRY_MARGIN_MS) return this.accessToken;
    if (!this.refreshToken()) return this.accessToken;
    return (await this.refresh()) ? this.accessToken : null;
  }

  async signIn(email: string, password: string): Promise<void> {
    const pair = await this.request<TokenPair>('POST', '/auth/token', { body: { email, password }, auth: false });
    this.keepTokens(pair);
  }

  async signOut(): Promise<void> {
    const refreshToken = this.refreshToken();
    try {
      if (this.accessToken && refreshToken) {
        await this.send('POST', '/auth/logout', { body: { refresh_token: refreshToken } }, this.accessToken);
      }
    } catch {
      // Signing out locally must work offline too; the tokens expire or get revoked on reuse anyway.
    } finally {
      this.forgetTokens();
    }
  }

  /** Rotate the refresh token; one refresh at a time, shared by every caller that hit a 401 meanwhile. */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<boolean> {
    const refreshToken = this.refreshToken();
    if (!refreshToken) return false;
    const response = await this.send('POST', '/auth/refresh', { body: { refresh_token: refreshToken } }, null);
    if (response.ok) {
      this.keepTokens((await response.json()) as TokenPair);
      return true;
    }
    if (response.status === 400 || response.status === 401 || response.status === 422) {
      // Expired, revoked or reused: this login is over.
      this.endSession();
      return false;
    }
    throw await problemFrom(response);
  }

  private keepTokens(pair: TokenPair): void {
    this.accessToken = pair.access_token;
    this.accessExpiresAt = this.now() + pair.expires_in * 1000;
    this.memoryRefreshToken = pair.refresh_token;
    try {
      this.storage?.setItem(REFRESH_TOKEN_KEY, pair.refresh_token);
    } catch {
      // Storage full or disabled: the session then lasts until the page is reloaded.
    }
  }

  private refreshToken(): string | null {
    if (this.memoryRefreshToken) return this.memoryRefreshToken;
    try {
      return this.storage?.getItem(REFRESH_TOKEN_KEY) ?? null;
    } catch {
      return null;
    }
  }

  private forgetTokens(): void {
    this.accessToken = null;
    this.accessExpiresAt = 0;
    this.memoryRefreshToken = null;
    try {
      this.storage?.removeItem(REFRESH_TOKEN_KEY);
    } catch {
      // nothing stored
    }
  }

  private endSession(): void {
    const hadSession = this.hasSession();
    this.forgetTokens();
    if (hadSession) for (const listener of this.sessionEndedListeners) listener();
  }

  // ---- transport ----

  /** Send a request; with auth, attach the token and on 401 refresh once and retry once. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const auth = options.auth ?? true;
    let token = auth ? await this.tokenForRequest() : null;
    let response = await this.send(method, path, options, token);
    if (auth && response.status === 401 && this.refreshToken()) {
      token = (await this.refresh()) ? this.accessToken : null;
      if (token) response = await this.send(method, path, options, token);
    }
    if (!response.ok) {
      const error = await problemFrom(response);
      if (auth && response.status === 401) this.endSession();
      throw error;
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async tokenForRequest(): Promise<string | null> {
    if (this.accessToken && this.now() < this.accessExpiresAt - EXPIRY_MARGIN_MS) return this.accessToken;
    if (this.refreshToken()) {
      try {
        if (await this.refresh()) return this.accessToken;
      } catch (error) {
        if (error instanceof NetworkError) throw error;
      }
    }
    return this.accessToken;
  }

  private async send(method: string, path: string, options: RequestOptions, token: string | null): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json, application/problem+json' };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    if (options.idempotencyKey) headers['Idempotency-Key'] = options.idempotencyKey;
    try {
      return await this.fetchImpl(this.url(path, options.query), {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        credentials: 'same-origin',
      });
    } catch (error) {
      if (error instanceof DOMException && error.name === 'AbortError') throw error;
      throw new NetworkError(error);
    }
  }

  private url(path: string, query?: RequestOptions['query']): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
    }
    const search = params.toString();
    return `${this.baseUrl}${path}${search ? `?${search}` : ''}`;
  }

  // ---- endpoints (API.md) ----

  /** Public facts of the deployment: its currencies and their minor units. */
  meta(): Promise<Meta> {
    return this.request('GET', '/meta', { auth: false });
  }

  /** The closing balance of every day the account's balance moved, oldest first. */
  dailyBalances(id: string): Promise<DailyBalances> {
    return this.request('GET', `/accounts/${encodeURIComponent(id)}/daily-balances`);
  }

  register(body: { email: string; password: string; name: string }): Promise<User> {
    return this.request('POST', '/users', { body, auth: false });
  }

  me(): Promise<User> {
    return this.request('GET', '/users/me');
  }

  accounts(cursor?: string | null, limit = 200): Promise<Page<Account>> {
    return this.request('GET', '/accounts', { query: { limit, cursor } });
  }

  account(id: string): Promise<Account> {
    return this.request('GET', `/accounts/${encodeURIComponent(id)}`);
  }

  openAccount(body: { name: string; currency: string }): Promise<Account> {
    return this.request('POST', '/accounts', { body });
  }

  deposit(id: string, amount: number, idempotencyKey: string): Promise<Transaction> {
    return this.request('POST', `/accounts/${encodeURIComponent(id)}/deposits`, { body: { amount }, idempotencyKey });
  }

  withdraw(id: string, amount: number, idempotencyKey: string): Promise<Transaction> {
    const path = `/accounts/${encodeURIComponent(id)}/withdrawals`;
    return this.request('POST', path, { body: { amount }, idempotencyKey });
  }

  closeAccount(id: string): Promise<Account> {
    return this.request('POST', `/accounts/${encodeURIComponent(id)}/close`);
  }

  transactions(id: string, cursor?: string | null, limit = 50): Promise<Page<Transaction>> {
    return this.request('GET', `/accounts/${encodeURIComponent(id)}/transactions`, { query: { limit, cursor } });
  }

  createTransfer(
    body: { source_account_id: string; target_account_id: string; amount: number; reference?: string },
    idempotencyKey: string,
  ): Promise<Transfer> {
    return this.request('POST', '/transfers', { body, idempotencyKey });
  }

  transfer(id: string): Promise<Transfer> {
    return this.request('GET', `/transfers/${encodeURIComponent(id)}`);
  }

  transfers(
    filter: { account_id?: string; status?: TransferStatus; cursor?: string | null; limit?: number } = {},
  ): Promise<Page<Transfer>> {
    return this.request('GET', '/transfers', { query: { limit: 50, ...filter } });
  }
}

function browserSessionStorage(): KeyValueStore | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage;
  } catch {
    return null; // storage blocked by the browser's settings
  }
}

/** The app's client: same-origin API, refresh token kept in sessionStorage (see README). */
export const api = new ApiClient({ storage: browserSessionStorage() });

/** A fresh Idempotency-Key for one intent of the person (a submit, reused when that same submit is retried). */
export function newIdempotencyKey(): string {
  // randomUUID needs a secure context; getRandomValues works on plain http too.
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * Sends the submits of one form, each with an Idempotency-Key: after a NetworkError the next submit is the
 * person retrying the same intent (the request may have arrived), so it reuses the key; after an answer it gets a new one.
 */
export function idempotentSender(): <T>(request: (idempotencyKey: string) => Promise<T>) => Promise<T> {
  let key = newIdempotencyKey();
  return async (request) => {
    try {
      const result = await request(key);
      key = newIdempotencyKey();
      return result;
    } catch (error) {
      if (!(error instanceof NetworkError)) key = newIdempotencyKey();
      throw error;
    }
  };
}

// What the app knows, shared by every screen: the session, the person's accounts, the transfers seen,
// and the live connection that keeps them current.
import { api, NetworkError } from './api';
import { LiveConnection, liveUrl, type LiveState } from './live';
import { setCurrencies, supportedCurrencies } from './money';
import type { Account, Transfer, User } from './types';

type SessionStatus = 'loading' | 'signed-out' | 'signed-in';

export const session = $state({
  status: 'loading' as SessionStatus,
  user: null as User | null,
  notice: null as string | null,
});
export const connection = $state({ state: 'offline' as LiveState });
/** The deployment's currencies (GET /api/v1/meta), in its order; empty until they arrive. */
export const meta = $state({ currencies: [] as string[], problem: '' });
export const accounts = $state({ byId: {} as Record<string, Account>, order: [] as string[], loaded: false });
export const transfers = $state({
  byId: {} as Record<string, Transfer>,
  lastSubmitted: null as string | null,
  /** What the source's available balance will be once the last submitted transfer's hold is placed. */
  expectedAvailable: null as { id: string; amount: number; currency: string } | null,
});

const resyncListeners = new Set<() => void>();

/** Screens register what to re-read after the socket (re)connects; returns the unsubscribe. */
export function onResync(listener: () => void): () => void {
  resyncListeners.add(listener);
  return () => resyncListeners.delete(listener);
}

const live = new LiveConnection({
  url: liveUrl(),
  accessToken: () => api.freshAccessToken(),
  refreshToken: () => api.refresh(),
  fetchTransfer: (id) => api.transfer(id),
  handlers: {
    onTransfer: putTransfer,
    onAccount: putAccount,
    onState: (state) => {
      connection.state = state;
    },
    onResync: () => {
      void loadAccounts();
      for (const listener of resyncListeners) listener();
    },
  },
});

if (typeof window !== 'undefined') window.addEventListener('online', () => live.retryNow());

api.onSessionEnded(() => {
  live.stop();
  clearData();
  session.notice = 'Your session has ended. Please sign in again.';
  session.status = 'signed-out';
  session.user = null;
});

/** On start: a refresh token in sessionStorage means the person is still signed in after a reload. */
export async function boot(): Promise<void> {
  void loadMeta();
  if (!api.hasSession()) {
    session.status = 'signed-out';
    return;
  }
  try {
    await startSession();
  } catch (error) {
    // Offline at load: the stored token is kept, so a reload once back online resumes the session.
    if (error instanceof NetworkError) session.notice = error.message;
    session.status = 'signed-out';
  }
}

export async function loadMeta(): Promise<void> {
  try {
    setCurrencies((await api.meta()).currencies);
    meta.currencies = supportedCurrencies();
    meta.problem = '';
  } catch (error) {
    meta.problem = error instanceof Error ? error.message : String(error);
  }
}

async function startSession(): Promise<void> {
  session.user = await api.me();
  session.notice = null;
  session.status = 'signed-in';
  live.start();
  await loadAccounts();
}

export async function signIn(email: string, password: string): Promise<void> {
  await api.signIn(email, password);
  await startSession();
}

export async function register(name: string, email: string, password: string): Promise<void> {
  await api.register({ name, email, password });
  await signIn(email, password);
}

export async function signOut(): Promise<void> {
  live.stop();
  await api.signOut();
  clearData();
  session.user = null;
  session.status = 'signed-out';
}

function clearData(): void {
  accounts.byId = {};
  accounts.order = [];
  accounts.loaded = false;
  transfers.byId = {};
  transfers.lastSubmitted = null;
  transfers.expectedAvailable = null;
}

const MAX_ACCOUNT_PAGES = 10;

/** Every account of the person (oldest first), following next_cursor. */
export async function loadAccounts(): Promise<void> {
  let cursor: string | null = null;
  const order: string[] = [];
  for (let page = 0; page < MAX_ACCOUNT_PAGES; page += 1) {
    const result = await api.accounts(cursor);
    for (const account of result.items) {
      putAccount(account);
      order.push(account.id);
    }
    cursor = result.next_cursor;
    if (!cursor) break;
  }
  accounts.order = order;
  accounts.loaded = true;
}

/** Keep the newest version of an account (pushes and GETs can arrive in any order). */
export function putAccount(account: Account): void {
  const known = accounts.byId[account.id];
  if (known && known.version > account.version) return;
  accounts.byId[account.id] = account;
  if (!accounts.order.includes(account.id)) accounts.order.push(account.id);
}

/** How far a transfer has come: a push or a GET of an earlier state never replaces a later one. */
const STATUS_RANK: Record<string, number> = { pending: 0, authorized: 1, completed: 2, failed: 2 };

/** Keep the latest state of a transfer; an ended transfer never goes back to pending. */
export function putTransfer(transfer: Transfer): void {
  const known = transfers.byId[transfer.id];
  if (known && (STATUS_RANK[known.status] ?? 0) > (STATUS_RANK[transfer.status] ?? 0)) return;
  transfers.byId[transfer.id] = transfer;
  const ended = transfer.status !== 'pending' && (!known || known.status === 'pending');
  if (ended && connection.state === 'offline') void refreshAccountsOf(transfer);
}

async function refreshAccountsOf(transfer: Transfer): Promise<void> {
  // Offline there is no account.updated push: re-read the balances the transfer moved.
  for (const id of [transfer.source_account_id, transfer.target_account_id]) {
    if (!accounts.byId[id]) continue;
    try {
      putAccount(await api.account(id));
    } catch {
      // shown again on the next resync
    }
  }
}

/** A transfer the person just sent: follow it live, or by polling while offline. */
export function trackTransfer(transfer: Transfer): void {
  putTransfer(transfer);
  transfers.lastSubmitted = transfer.id;
  live.watchTransfer(transfer);
}

export function watchPending(list: Transfer[]): void {
  for (const transfer of list) live.watchTransfer(transfer);
}

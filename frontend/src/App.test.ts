// The screens against a fake API: every control is found by the accessible names of UI.md.
import { configure, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Account, Transaction, Transfer } from './lib/types';

const accounts: Account[] = [];
const transactions: Transaction[] = [];
const transfers: Transfer[] = [];
const requests: string[] = [];

function json(status: number, body: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  });
}

function account(fields: Partial<Account>): Account {
  return {
    id: `acc-${accounts.length + 1}`,
    name: 'Account',
    currency: 'EUR',
    balance: 0,
    available_balance: 0,
    status: 'open',
    version: 1,
    opened_at: '2026-11-21T09:00:00Z',
    updated_at: '2026-11-21T09:00:00Z',
    ...fields,
  };
}

/** Just enough of API.md for the flows below. */
async function fakeApi(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const url = new URL(String(input), 'http://localhost');
  const method = init?.method ?? 'GET';
  const body = init?.body ? JSON.parse(String(init.body)) : {};
  const path = url.pathname.replace('/api/v1', '');
  requests.push(`${method} ${path}`);
  const tokens = { access_token: 'at', refresh_token: 'rt', token_type: 'Bearer', expires_in: 900 };
  if (method === 'POST' && path === '/auth/token') {
    return body.password === 'correct horse battery'
      ? json(200, tokens)
      : json(401, { type: '/problems/unauthorized', title: 'Unauthorized', status: 401 });
  }
  if (method === 'POST' && path === '/auth/logout') return json(204, undefined);
  if (method === 'GET' && path === '/users/me') return json(200, { id: 'u1', name: 'Ada', email: 'ada@example.com' });
  if (method === 'GET' && path === '/meta') {
    return json(200, { currencies: [{ code: 'EUR', minor_unit_digits: 2 }, { code: 'KRW', minor_unit_digits: 0 }], max_amount: 1e12 });
  }
  if (method === 'GET' && path === '/accounts') return json(200, { items: accounts, next_cursor: null });
  if (method === 'POST' && path === '/accounts') {
    const created = account({ name: body.name, currency: body.currency });
    accounts.push(created);
    return json(201, created);
  }
  const one = /^\/accounts\/([^/]+)(?:\/([\w-]+))?$/.exec(path);
  const target = one && accounts.find((a) => a.id === one[1]);
  if (one && !target) return json(404, { type: '/problems/not-found', title: 'Not found', status: 404 });
  if (one && target && method === 'GET' && !one[2]) return json(200, target);
  if (one && target && method === 'GET' && one[2] === 'daily-balances') {
    const items = [{ day: '2026-11-21', closing_balance: target.balance, deposits: target.balance, withdrawals: 0, transfers_in: 0, transfers_out: 0 }];
    return json(200, { account_id: target.id, currency: target.currency, items });
  }
  if (one && target && method === 'GET' && one[2] === 'transactions') {
    return json(200, { items: transactions.filter((t) => t.account_id === target.id), next_cursor: null });
  }
  if (one && target && method === 'POST' && one[2] === 'deposits') {
    target.balance += body.amount;
    target.available_balance += body.amount;
    target.version += 1;
    const made: Transaction = {
      id: `tx-${transactions.length + 1}`,
      account_id: target.id,
      kind: 'deposit',
      amount: body.amount,
      currency: target.currency,
      balance_after: target.balance,
      reference: null,
      transfer_id: null,
      occurred_at: new Date().toISOString(),
    };
    transactions.unshift(made);
    return json(201, made);
  }
  if (method === 'POST' && path === '/transfers') {
    const made: Transfer = {
      id: 'tr-1',
      source_account_id: body.source_account_id,
      target_account_id: body.target_account_id,
      amount: body.amount,
      currency: 'EUR',
      reference: body.reference ?? null,
      status: 'pending',
      failure_reason: null,
      created_at: '2026-11-21T10:00:00Z',
      updated_at: '2026-11-21T10:00:00Z',
      completed_at: null,
    };
    transfers.unshift(made);
    return json(202, made);
  }
  if (method === 'GET' && path === '/transfers') return json(200, { items: transfers, next_cursor: null });
  const transfer = /^\/transfers\/([^/]+)$/.exec(path);
  const found = transfer && transfers.find((t) => t.id === transfer[1]);
  if (method === 'GET' && found) return json(200, found);
  return json(404, { type: '/problems/not-found', title: 'Not found', status: 404 });
}

/** A socket the test drives as the server. */
class TestSocket {
  static last: TestSocket | null = null;
  readyState = 0;
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor() {
    TestSocket.last = this;
    queueMicrotask(() => {
      this.readyState = 1;
      this.onopen?.();
    });
  }
  send(data: string) {
    if (JSON.parse(data).type === 'auth') queueMicrotask(() => this.push({ type: 'ready' }));
  }
  close() {
    this.readyState = 3;
    this.onclose?.({ code: 1000 });
  }
  push(message: unknown) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
}

beforeAll(() => {
  vi.stubGlobal('fetch', vi.fn(fakeApi));
  vi.stubGlobal('WebSocket', TestSocket);
  sessionStorage.clear();
  window.history.replaceState(null, '', '/');
});

afterAll(() => {
  vi.unstubAllGlobals();
});

async function startApp() {
  const { default: App } = await import('./App.svelte');
  const { boot } = await import('./lib/store.svelte');
  render(App);
  await boot();
}

// One long walk through every screen: on a loaded CI machine it needs more than the 5 s default, and
// each step may take more than 1 s to show; both are deadlines, not sleeps.
const WALK_TIMEOUT_MS = 30_000;
configure({ asyncUtilTimeout: 5_000 });

describe('the app, by accessible names', () => {
  it('walks through sign in, accounts, an account page, a deposit and a transfer', async () => {
    accounts.push(account({ id: 'acc-main', name: 'Main', balance: 10000, available_balance: 10000 }));
    await startApp();

    // Sign in: a wrong password shows an error, the right one opens the accounts.
    expect(await screen.findByRole('link', { name: 'Create an account' })).toBeTruthy();
    await fireEvent.input(screen.getByLabelText('Email'), { target: { value: 'ada@example.com' } });
    await fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'wrong password' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect((await screen.findByRole('alert')).textContent).toBe('Wrong email or password.');
    await fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'correct horse battery' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByRole('heading', { name: 'Your accounts' })).toBeTruthy();
    expect(window.location.pathname).toBe('/accounts');
    await waitFor(() => expect(document.title).toBe('Your accounts — hexbank'));
    await waitFor(() => expect(screen.getByLabelText('Total').textContent).toBe('€100.00'));
    expect(screen.getByRole('button', { name: 'Sign out' })).toBeTruthy();
    await waitFor(() => expect(screen.getByText('Live')).toBeTruthy());

    // Open account: a dialog with Account name, Currency and Open.
    await fireEvent.click(screen.getByRole('button', { name: 'Open account' }));
    await fireEvent.input(screen.getByLabelText('Account name'), { target: { value: 'Savings' } });
    await fireEvent.change(screen.getByLabelText('Currency'), { target: { value: 'KRW' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Open' }));
    const savings = await screen.findByRole('link', { name: 'Savings' });
    expect(requests).toContain('POST /accounts');
    expect(savings.getAttribute('href')).toBe('/accounts/acc-2');

    // The account page: heading, Balance, Available, the chart, the table and the task buttons.
    await fireEvent.click(screen.getByRole('link', { name: 'Main' }));
    expect(await screen.findByRole('heading', { name: 'Main', level: 1 })).toBeTruthy();
    await waitFor(() => expect(document.title).toBe('Main — hexbank'));
    await waitFor(() => expect(requests).toContain('GET /accounts/acc-main/daily-balances'));
    expect(screen.getByLabelText('Balance').textContent).toBe('€100.00');
    expect(screen.getByLabelText('Available').textContent).toBe('€100.00');
    expect(screen.getByRole('img', { name: 'Balance history' })).toBeTruthy();
    expect(screen.getByRole('table', { name: 'Transactions' })).toBeTruthy();
    for (const name of ['Add money', 'Withdraw', 'Move money', 'Close account', 'Copy account id']) {
      expect(screen.getByRole('button', { name })).toBeTruthy();
    }

    // Add money: Amount and Confirm; the balance and the table update.
    await fireEvent.click(screen.getByRole('button', { name: 'Add money' }));
    await fireEvent.input(screen.getByLabelText('Amount'), { target: { value: '10.5' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Confirm' }));
    await waitFor(() => expect(screen.getByLabelText('Balance').textContent).toBe('€110.50'));
    const table = screen.getByRole('table', { name: 'Transactions' });
    await waitFor(() => expect(within(table).getByText('+€10.50')).toBeTruthy());

    // A bad amount is refused next to the field, without a request.
    await fireEvent.click(screen.getByRole('button', { name: 'Withdraw' }));
    await fireEvent.input(screen.getByLabelText('Amount'), { target: { value: '1.234' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Confirm' }));
    expect(await screen.findByText('EUR amounts have at most 2 decimal places.')).toBeTruthy();
    await fireEvent.input(screen.getByLabelText('Amount'), { target: { value: '500' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Confirm' }));
    expect(await screen.findByText('That is more than the €110.50 available on this account.')).toBeTruthy();
    expect(requests.filter((r) => r.endsWith('/withdrawals'))).toHaveLength(0);
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));

    // Move money: From, To account, Amount, Reference, Review, then Send; Pending with the expected result, then Completed.
    await fireEvent.click(screen.getByRole('button', { name: 'Move money' }));
    expect(await screen.findByRole('heading', { name: 'Move money' })).toBeTruthy();
    expect((screen.getByLabelText('From') as HTMLSelectElement).value).toBe('acc-main');
    await fireEvent.input(screen.getByLabelText('To account'), { target: { value: 'someone-else' } });
    await fireEvent.input(screen.getByLabelText('Amount'), { target: { value: '21' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Review' }));
    expect(await screen.findByText(/^That is not an account id/)).toBeTruthy();
    const payee = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    await fireEvent.input(screen.getByLabelText('To account'), { target: { value: payee } });
    await fireEvent.input(screen.getByLabelText('Reference'), { target: { value: 'Dinner' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Review' }));
    expect(await screen.findByRole('heading', { name: 'Check and send' })).toBeTruthy();
    expect(screen.getByText('€89.50')).toBeTruthy(); // available after
    expect(requests.filter((r) => r === 'POST /transfers')).toHaveLength(0);
    await fireEvent.click(screen.getByRole('button', { name: 'Send' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toBe('Pending'));
    expect(screen.getByText('Available after this transfer: €89.50')).toBeTruthy();
    TestSocket.last!.push({ type: 'transfer.updated', data: { ...transfers[0], status: 'completed' } });
    await waitFor(() => expect(screen.getByRole('status').textContent).toBe('Completed'));
    await waitFor(() => expect((screen.getByLabelText('Amount') as HTMLInputElement).value).toBe(''));
    expect((screen.getByLabelText('To account') as HTMLInputElement).value).toBe('');

    // Transfers: the list shows it with its status; a failure arrives in words.
    await fireEvent.click(screen.getByRole('link', { name: 'Transfers' }));
    const list = await screen.findByRole('list', { name: 'Transfers' });
    expect(within(list).getByText('Completed')).toBeTruthy();
    TestSocket.last!.push({
      type: 'transfer.updated',
      data: { ...transfers[0], id: 'tr-2', status: 'failed', failure_reason: 'target_account_not_found' },
    });
    await waitFor(() => expect(within(list).getByText('Failed: no account has that id')).toBeTruthy());

    // A transfer opens its details, with its full ids.
    const completed = within(list).getAllByRole('link').find((link) => link.textContent?.includes('Completed'));
    await fireEvent.click(completed!);
    expect(await screen.findByRole('heading', { name: 'Transfer', level: 1 })).toBeTruthy();
    expect(screen.getAllByText(payee).length).toBeGreaterThan(0);
    await waitFor(() => expect(document.title).toBe('Transfer — hexbank'));

    // Offline when the socket drops.
    TestSocket.last!.close();
    await waitFor(() => expect(screen.getByText('Offline')).toBeTruthy());

    // Sign out returns to sign in.
    await fireEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(await screen.findByRole('button', { name: 'Sign in' })).toBeTruthy();
    expect(sessionStorage.getItem('hexbank.refresh_token')).toBeNull();
  }, WALK_TIMEOUT_MS);
});

import { describe, expect, it, vi } from 'vitest';
import {
  ApiClient,
  ApiError,
  fieldErrorsOf,
  formMessageOf,
  idempotentSender,
  messageOf,
  NetworkError,
  REFRESH_TOKEN_KEY,
} from './api';

interface Sent {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

type Reply = Response | Error | ((sent: Sent) => Response);

/** A fetch that answers from a script and remembers every request. */
function scriptedFetch(...replies: Reply[]) {
  const sent: Sent[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request: Sent = {
      url: String(input),
      method: init?.method ?? 'GET',
      headers: (init?.headers ?? {}) as Record<string, string>,
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    };
    sent.push(request);
    const reply = replies.shift();
    if (reply === undefined) throw new Error(`unexpected request ${request.method} ${request.url}`);
    if (reply instanceof Error) throw reply;
    return typeof reply === 'function' ? reply(request) : reply;
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, sent };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

function problem(status: number, slug: string, extra: Record<string, unknown> = {}, headers = {}): Response {
  const body = { type: `/problems/${slug}`, title: slug, status, instance: '/api/v1/x', ...extra };
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/problem+json', ...headers },
  });
}

function tokens(access: string, refresh: string, expiresIn = 900): Response {
  return json(200, { access_token: access, refresh_token: refresh, token_type: 'Bearer', expires_in: expiresIn });
}

function memoryStorage(initial: Record<string, string> = {}) {
  const data = new Map(Object.entries(initial));
  return {
    data,
    getItem: (key: string) => data.get(key) ?? null,
    setItem: (key: string, value: string) => void data.set(key, value),
    removeItem: (key: string) => void data.delete(key),
  };
}

const ACCOUNT = {
  id: 'a1',
  name: 'Main',
  currency: 'EUR',
  balance: 1000,
  available_balance: 1000,
  status: 'open',
  version: 2,
  opened_at: '2026-11-21T10:00:00Z',
  updated_at: '2026-11-21T10:00:00Z',
};

async function signedInClient(...replies: Reply[]) {
  const script = scriptedFetch(tokens('access-1', 'refresh-1'), ...replies);
  const storage = memoryStorage();
  const client = new ApiClient({ fetch: script.fetch, storage });
  await client.signIn('ada@example.com', 'correct horse battery');
  return { client, storage, sent: script.sent };
}

describe('ApiClient tokens', () => {
  it('signs in without a token and keeps the refresh token in storage', async () => {
    const { storage, sent } = await signedInClient();
    expect(sent[0]).toMatchObject({
      url: '/api/v1/auth/token',
      method: 'POST',
      body: { email: 'ada@example.com', password: 'correct horse battery' },
    });
    expect(sent[0].headers.Authorization).toBeUndefined();
    expect(sent[0].headers['Content-Type']).toBe('application/json');
    expect(storage.data.get(REFRESH_TOKEN_KEY)).toBe('refresh-1');
  });

  it('attaches the access token as a Bearer header', async () => {
    const { client, sent } = await signedInClient(json(200, ACCOUNT));
    const account = await client.account('a1');
    expect(account.name).toBe('Main');
    expect(sent[1].url).toBe('/api/v1/accounts/a1');
    expect(sent[1].headers.Authorization).toBe('Bearer access-1');
  });

  it('on 401 refreshes once, then retries the request once with the new token', async () => {
    const { client, storage, sent } = await signedInClient(
      problem(401, 'unauthorized'),
      tokens('access-2', 'refresh-2'),
      json(200, ACCOUNT),
    );
    await expect(client.account('a1')).resolves.toMatchObject({ id: 'a1' });
    expect(sent.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /api/v1/auth/token',
      'GET /api/v1/accounts/a1',
      'POST /api/v1/auth/refresh',
      'GET /api/v1/accounts/a1',
    ]);
    expect(sent[2].body).toEqual({ refresh_token: 'refresh-1' });
    expect(sent[3].headers.Authorization).toBe('Bearer access-2');
    expect(storage.data.get(REFRESH_TOKEN_KEY)).toBe('refresh-2');
  });

  it('does not retry a second time when the retried request is refused again', async () => {
    const ended = vi.fn();
    const { client, storage, sent } = await signedInClient(
      problem(401, 'unauthorized'),
      tokens('access-2', 'refresh-2'),
      problem(401, 'unauthorized'),
    );
    client.onSessionEnded(ended);
    await expect(client.account('a1')).rejects.toMatchObject({ status: 401, slug: 'unauthorized' });
    expect(sent).toHaveLength(4);
    expect(ended).toHaveBeenCalledTimes(1);
    expect(storage.data.has(REFRESH_TOKEN_KEY)).toBe(false);
  });

  it('ends the session when the refresh token is refused (rotated or revoked)', async () => {
    const ended = vi.fn();
    const { client, storage, sent } = await signedInClient(problem(401, 'unauthorized'), problem(401, 'unauthorized'));
    client.onSessionEnded(ended);
    await expect(client.account('a1')).rejects.toBeInstanceOf(ApiError);
    expect(sent).toHaveLength(3); // no retry without a new token
    expect(ended).toHaveBeenCalledTimes(1);
    expect(client.hasSession()).toBe(false);
    expect(storage.data.has(REFRESH_TOKEN_KEY)).toBe(false);
  });

  it('shares one refresh between requests that hit 401 together', async () => {
    const script = scriptedFetch(
      tokens('access-1', 'refresh-1'),
      problem(401, 'unauthorized'),
      problem(401, 'unauthorized'),
      tokens('access-2', 'refresh-2'),
      json(200, ACCOUNT),
      json(200, { ...ACCOUNT, id: 'a2' }),
    );
    const client = new ApiClient({ fetch: script.fetch, storage: memoryStorage() });
    await client.signIn('ada@example.com', 'pw');
    const results = await Promise.all([client.account('a1'), client.account('a2')]);
    expect(results.map((a) => a.id).sort()).toEqual(['a1', 'a2']);
    expect(script.sent.filter((r) => r.url.endsWith('/auth/refresh'))).toHaveLength(1);
  });

  it('resumes a session after a reload from the stored refresh token', async () => {
    const storage = memoryStorage({ [REFRESH_TOKEN_KEY]: 'refresh-9' });
    const script = scriptedFetch(tokens('access-10', 'refresh-10'), json(200, { id: 'u1', name: 'Ada' }));
    const client = new ApiClient({ fetch: script.fetch, storage });
    expect(client.hasSession()).toBe(true);
    await client.me();
    expect(script.sent[0]).toMatchObject({ url: '/api/v1/auth/refresh', body: { refresh_token: 'refresh-9' } });
    expect(script.sent[1].headers.Authorization).toBe('Bearer access-10');
    expect(storage.data.get(REFRESH_TOKEN_KEY)).toBe('refresh-10');
  });

  it('refreshes before a request when the access token is about to expire', async () => {
    let now = 0;
    const script = scriptedFetch(tokens('access-1', 'refresh-1', 60), tokens('access-2', 'refresh-2', 60), json(200, ACCOUNT));
    const client = new ApiClient({ fetch: script.fetch, storage: memoryStorage(), now: () => now });
    await client.signIn('ada@example.com', 'pw');
    now = 50_000; // 10 s left: inside the safety margin
    await client.account('a1');
    expect(script.sent[1].url).toBe('/api/v1/auth/refresh');
    expect(script.sent[2].headers.Authorization).toBe('Bearer access-2');
  });

  it('signs out with the refresh token and forgets both tokens', async () => {
    const { client, storage, sent } = await signedInClient(new Response(null, { status: 204 }));
    await client.signOut();
    expect(sent[1]).toMatchObject({ url: '/api/v1/auth/logout', method: 'POST', body: { refresh_token: 'refresh-1' } });
    expect(sent[1].headers.Authorization).toBe('Bearer access-1');
    expect(client.hasSession()).toBe(false);
    expect(storage.data.has(REFRESH_TOKEN_KEY)).toBe(false);
  });

  it('signs out locally even when the server cannot be reached', async () => {
    const { client } = await signedInClient(new TypeError('Failed to fetch'));
    await client.signOut();
    expect(client.hasSession()).toBe(false);
  });
});

describe('ApiClient errors', () => {
  it('turns a validation problem into field errors', async () => {
    const { client } = await signedInClient(
      problem(422, 'validation-error', { errors: { amount: ['Must be at least 1.'], reference: 'Too long.' } }),
    );
    const error = await client.deposit('a1', 0, 'key-1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 422, slug: 'validation-error' });
    expect(fieldErrorsOf(error)).toEqual({ amount: ['Must be at least 1.'], reference: ['Too long.'] });
    expect(messageOf(error)).toBe('Please correct the highlighted fields.');
  });

  it('puts single-field problems next to their field', async () => {
    const script = scriptedFetch(problem(409, 'email-taken', { detail: 'A user with this email exists.' }));
    const client = new ApiClient({ fetch: script.fetch });
    const error = await client.register({ email: 'a@b.c', password: 'x'.repeat(10), name: 'A' }).catch((e) => e);
    expect(fieldErrorsOf(error)).toEqual({ email: ['An account with this email already exists.'] });
    expect(formMessageOf(error)).toBe(''); // said once, at the field
  });

  it('maps insufficient funds to the amount field', async () => {
    const { client } = await signedInClient(problem(422, 'insufficient-funds'));
    const error = await client.withdraw('a1', 5000, 'key-2').catch((e) => e);
    expect(Object.keys(fieldErrorsOf(error))).toEqual(['amount']);
  });

  it('keeps Retry-After of a rate-limited answer', async () => {
    const script = scriptedFetch(problem(429, 'rate-limited', {}, { 'Retry-After': '30' }));
    const client = new ApiClient({ fetch: script.fetch });
    const error = await client.signIn('a@b.c', 'wrong').catch((e) => e);
    expect(error).toMatchObject({ status: 429, slug: 'rate-limited', retryAfter: 30 });
    expect(messageOf(error)).toBe('Too many attempts. Try again in 30 seconds.');
    const locked = new ApiError({ status: 429, slug: 'rate-limited', title: 'Too Many Requests', retryAfter: 900 });
    expect(messageOf(locked)).toBe('Too many attempts. Try again in 15 minutes.');
  });

  it('reports wrong credentials without ending any session', async () => {
    const ended = vi.fn();
    const script = scriptedFetch(problem(401, 'unauthorized'));
    const client = new ApiClient({ fetch: script.fetch });
    client.onSessionEnded(ended);
    const error = await client.signIn('a@b.c', 'wrong').catch((e) => e);
    expect(messageOf(error)).toBe('Wrong email or password.');
    expect(ended).not.toHaveBeenCalled();
  });

  it('copes with an error that is not problem+json', async () => {
    const script = scriptedFetch(new Response('<html>Bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    const client = new ApiClient({ fetch: script.fetch });
    const error = await client.signIn('a@b.c', 'pw').catch((e) => e);
    expect(error).toMatchObject({ status: 502, slug: 'http-502', title: 'Bad Gateway', fieldErrors: {} });
  });

  it('raises NetworkError when the request gets no answer', async () => {
    const { client } = await signedInClient(new TypeError('Failed to fetch'));
    const error = await client.account('a1').catch((e) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect(messageOf(error)).toMatch(/Can't reach hexbank/);
    expect(client.hasSession()).toBe(true); // offline is not signed out
  });
});

describe('ApiClient requests', () => {
  it('sends the Idempotency-Key and the amount in minor units', async () => {
    const { client, sent } = await signedInClient(json(201, { id: 't1' }));
    await client.deposit('a1', 1050, 'key-3');
    expect(sent[1]).toMatchObject({ url: '/api/v1/accounts/a1/deposits', method: 'POST', body: { amount: 1050 } });
    expect(sent[1].headers['Idempotency-Key']).toBe('key-3');
  });

  it('keeps the Idempotency-Key when it retries after a refresh', async () => {
    const { client, sent } = await signedInClient(
      problem(401, 'unauthorized'),
      tokens('access-2', 'refresh-2'),
      json(202, { id: 't1', status: 'pending' }),
    );
    await client.createTransfer({ source_account_id: 'a1', target_account_id: 'b2', amount: 100 }, 'key-4');
    expect(sent[1].headers['Idempotency-Key']).toBe('key-4');
    expect(sent[3].headers['Idempotency-Key']).toBe('key-4');
  });

  it('builds query strings for pages and leaves out empty values', async () => {
    const { client, sent } = await signedInClient(
      json(200, { items: [], next_cursor: null }),
      json(200, { items: [], next_cursor: null }),
    );
    await client.transactions('a 1', 'abc=', 50);
    await client.transfers({ status: 'pending' });
    expect(sent[1].url).toBe('/api/v1/accounts/a%201/transactions?limit=50&cursor=abc%3D');
    expect(sent[2].url).toBe('/api/v1/transfers?limit=50&status=pending');
  });

  it('sends no body and no Content-Type when a command has no body', async () => {
    const { client, sent } = await signedInClient(json(200, { ...ACCOUNT, status: 'closed' }));
    await client.closeAccount('a1');
    expect(sent[1].body).toBeUndefined();
    expect(sent[1].headers['Content-Type']).toBeUndefined();
  });
});

describe('idempotentSender', () => {
  /** Sends through `send` with a request that answers `reply`, and returns the Idempotency-Key it was given. */
  async function keyOf(send: ReturnType<typeof idempotentSender>, reply: Error | null): Promise<string> {
    let used = '';
    await send(async (key) => {
      used = key;
      if (reply) throw reply;
    }).catch(() => undefined);
    return used;
  }

  it('gives the request its result back', async () => {
    const send = idempotentSender();
    expect(await send(async (key) => `sent with ${key.length > 0}`)).toBe('sent with true');
  });

  it('reuses the key after a network error: the person retries the same intent', async () => {
    const send = idempotentSender();
    const first = await keyOf(send, new NetworkError());
    expect(await keyOf(send, null)).toBe(first);
  });

  it('takes a new key once the server answered, with a result or with a problem', async () => {
    const send = idempotentSender();
    const first = await keyOf(send, null);
    const second = await keyOf(send, new ApiError({ status: 422, slug: 'insufficient-funds', title: 'Insufficient funds' }));
    const third = await keyOf(send, null);
    expect(new Set([first, second, third]).size).toBe(3);
  });

  it('passes the error on to the caller', async () => {
    const send = idempotentSender();
    const error = new NetworkError();
    await expect(send(() => Promise.reject(error))).rejects.toBe(error);
  });
});

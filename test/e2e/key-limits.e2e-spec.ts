import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { startFake, uniquePrefix } from '../support/gateway.js';
import { ADMIN_TOKEN, clusterEnv, registerAccount, startProcess, timed, type AppProcess } from '../support/processes.js';

/**
 * Issue 13, item 4: per-key limits, on real processes — two gateway replicas and the auth service
 * on one Redis, against the fake upstream. The global rate limit is high (1000 a minute), so what
 * limits a key here is its own limits.
 */
const GLOBAL_LIMIT = 1000;
/** The fake's chat answer: 12 prompt + 5 completion tokens. */
const CHAT_TOKENS = 17;

let fake: FakeCopilot;
let auth: AppProcess;
let a: AppProcess;
let b: AppProcess;
let accountId: string;

beforeAll(async () => {
  fake = await startFake();
  const env = clusterEnv(inject('redisUrl'), fake.url, { REDIS_KEY_PREFIX: uniquePrefix(), RATE_LIMIT_REQUESTS: String(GLOBAL_LIMIT), RATE_LIMIT_WINDOW: '60' });
  [auth, a, b] = await Promise.all([startProcess('auth', env), startProcess('gateway', env), startProcess('gateway', env)]);
  const token = `ghu_${randomBytes(18).toString('hex')}`;
  fake.addUser(token, { login: 'limited', id: 31337 });
  ({ accountId } = await registerAccount(auth.url, token));
});
afterAll(async () => {
  await Promise.all([a?.kill(), b?.kill(), auth?.kill()]);
  await fake?.stop();
});

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(auth.url + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function newKey(limits?: Record<string, number | null>): Promise<{ key: string; id: string }> {
  const res = await admin('POST', '/auth/keys', { account_id: accountId, name: 'limits', ...(limits ? { limits } : {}) });
  expect(res.status).toBe(201);
  return { key: res.body.key, id: res.body.id };
}

const NO_LIMITS = { requests_per_minute: null, requests_per_day: null, tokens_per_day: null, tokens_per_month: null, premium_requests_per_month: null };

const chat = (gw: AppProcess, key: string, model = 'gpt-4o') =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Say hello' }] }),
  });

const post = (gw: AppProcess, path: string, key: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(gw.url + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

/** Seconds from now to the next UTC midnight / the first of the next UTC month. */
const toMidnight = () => {
  const d = new Date();
  return (Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - Date.now()) / 1000;
};
const toNextMonth = () => {
  const d = new Date();
  return (Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - Date.now()) / 1000;
};

const metric = async (gw: AppProcess, line: RegExp) => {
  const m = line.exec(await (await fetch(`${gw.url}/metrics`)).text());
  return m ? Number(m[1]) : 0;
};
const refusals = (gw: AppProcess, limit: string) => metric(gw, new RegExp(`^cgw_quota_refusals_total\\{limit="${limit}"\\} (\\d+)`, 'm'));

describe('limits on keys (admin API)', () => {
  it('issues a key with limits, lists them, changes, clears and keeps them through rotation', async () => {
    const created = await admin('POST', '/auth/keys', { account_id: accountId, name: 'ci', limits: { requests_per_day: 100, tokens_per_month: 50_000 } });
    expect(created.status).toBe(201);
    expect(created.body.limits).toEqual({ ...NO_LIMITS, requests_per_day: 100, tokens_per_month: 50_000 });
    const id = created.body.id;
    const listed = async () => (await admin('GET', '/auth/keys')).body.data.find((k: { id: string }) => k.id === id);
    expect((await listed()).limits).toEqual({ ...NO_LIMITS, requests_per_day: 100, tokens_per_month: 50_000 });

    // A number sets one, null clears one, an absent one stays.
    const patched = await admin('PATCH', `/auth/keys/${id}`, { limits: { requests_per_day: null, tokens_per_day: 2000, requests_per_minute: 30 } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id, name: 'ci', account_id: accountId, limits: { ...NO_LIMITS, tokens_per_day: 2000, tokens_per_month: 50_000, requests_per_minute: 30 } });
    expect(patched.body.key).toBeUndefined();
    expect((await listed()).limits).toEqual(patched.body.limits);

    const renamed = await admin('PATCH', `/auth/keys/${id}`, { name: 'renamed' });
    expect(renamed.body).toMatchObject({ name: 'renamed', limits: patched.body.limits });

    // Rotation: the successor has the same limits.
    const rotated = await admin('POST', `/auth/keys/${id}/rotate`, { grace_seconds: 0 });
    expect(rotated.status).toBe(201);
    const successor = (await admin('GET', '/auth/keys')).body.data.find((k: { id: string }) => k.id === rotated.body.id);
    expect(successor.limits).toEqual(patched.body.limits);

    const cleared = await admin('PATCH', `/auth/keys/${id}`, { limits: null });
    expect(cleared.body.limits).toEqual(NO_LIMITS);
    expect((await listed()).limits).toEqual(NO_LIMITS);
    expect((await listed()).name).toBe('renamed');
  });

  it("refuses bad limits with 400 in OpenAI's shape, naming the field; 404 for an unknown key", async () => {
    const { id } = await newKey();
    const bad = (param: string, code: string, message: string) => ({ error: { message, type: 'invalid_request_error', param, code } });
    const positive = (name: string) => bad(`limits.${name}`, 'invalid_value', `'limits.${name}' must be a positive whole number, or null to remove it`);
    for (const value of [0, -1, 1.5, '10', true, {}, [], 2 ** 60])
      for (const [method, path, extra] of [
        ['PATCH', `/auth/keys/${id}`, {}],
        ['POST', '/auth/keys', { account_id: accountId }],
      ] as const) {
        const res = await admin(method, path, { ...extra, limits: { requests_per_day: value } });
        expect([method, value, res.status]).toEqual([method, value, 400]);
        expect(res.body).toEqual(positive('requests_per_day'));
      }
    const unknown = await admin('PATCH', `/auth/keys/${id}`, { limits: { requests_per_hour: 5 } });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual(
      bad(
        'limits.requests_per_hour',
        'unknown_parameter',
        "Unknown limit 'requests_per_hour'; the limits are requests_per_minute, requests_per_day, tokens_per_day, tokens_per_month, premium_requests_per_month",
      ),
    );
    for (const limits of ['lots', 5, [1]]) {
      const res = await admin('PATCH', `/auth/keys/${id}`, { limits });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param: 'limits', code: 'invalid_type' });
    }
    const field = await admin('PATCH', `/auth/keys/${id}`, { limit: { requests_per_day: 5 } });
    expect(field.status).toBe(400);
    expect(field.body).toEqual(bad('limit', 'unknown_parameter', "Unknown parameter 'limit'; send any of name, limits"));
    const name = await admin('PATCH', `/auth/keys/${id}`, { name: 42 });
    expect(name.body.error).toMatchObject({ param: 'name', code: 'invalid_type' });
    const empty = await admin('PATCH', `/auth/keys/${id}`);
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe('invalid_body');
    const missing = await admin('PATCH', '/auth/keys/key_nope', { limits: { requests_per_day: 5 } });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: { message: 'No key key_nope', type: 'not_found_error', param: null, code: 'key_not_found' } });
    // Nothing was changed by the refused requests.
    expect((await admin('GET', '/auth/keys')).body.data.find((k: { id: string }) => k.id === id).limits).toEqual(NO_LIMITS);
    const noAdmin = await fetch(`${auth.url}/auth/keys/${id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"limits":null}' });
    expect(noAdmin.status).toBe(401);
  });

  it('the OpenAPI document describes PATCH /auth/keys/{id} and the limits', async () => {
    const doc = await (await fetch(`${auth.url}/docs`)).json();
    expect(doc.paths['/auth/keys/{id}'].patch.responses['200']).toBeDefined();
    expect(Object.keys(doc.components.schemas.Limits.properties)).toEqual(Object.keys(NO_LIMITS));
    expect(doc.components.schemas.Key.properties.limits).toBeDefined();
  });
});

describe('limits applied by the gateway replicas', () => {
  it('a PATCH applies on both replicas within 1 s (the key event drops their cached key)', async () => {
    const { key, id } = await newKey();
    // Both replicas have the key cached, with the global limit.
    for (const gw of [a, b]) expect((await chat(gw, key)).headers.get('x-ratelimit-limit')).toBe(String(GLOBAL_LIMIT));
    const patchedAt = Date.now();
    expect((await admin('PATCH', `/auth/keys/${id}`, { limits: { requests_per_minute: 500 } })).status).toBe(200);
    const seen: Record<string, number> = {};
    for (const [name, gw] of Object.entries({ a, b })) {
      while ((await chat(gw, key)).headers.get('x-ratelimit-limit') !== '500' && Date.now() - patchedAt < 3000);
      seen[name] = Date.now() - patchedAt;
    }
    expect(seen.a).toBeLessThan(1000);
    expect(seen.b).toBeLessThan(1000);
    // Cleared: back to the global limit on both.
    await admin('PATCH', `/auth/keys/${id}`, { limits: { requests_per_minute: null } });
    const clearedAt = Date.now();
    for (const gw of [a, b]) {
      while ((await chat(gw, key)).headers.get('x-ratelimit-limit') !== String(GLOBAL_LIMIT) && Date.now() - clearedAt < 3000);
      expect(Date.now() - clearedAt).toBeLessThan(1000);
    }
  });

  it('requests_per_minute replaces the global limit: at most limit + 1 over two replicas, 429 rate_limit_exceeded with x-ratelimit-*', async () => {
    const { key } = await newKey({ requests_per_minute: 5 });
    const results = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const res = await chat(i % 2 ? a : b, key);
        return { status: res.status, headers: res.headers, body: await res.json() };
      }),
    );
    const ok = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    expect(ok.length).toBeGreaterThanOrEqual(5);
    expect(ok.length).toBeLessThanOrEqual(6);
    expect(ok.length + limited.length).toBe(30);
    for (const r of ok) expect(r.headers.get('x-ratelimit-limit')).toBe('5');
    for (const r of limited) {
      const retryAfter = Number(r.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(r.headers.get('x-ratelimit-limit')).toBe('5');
      expect(r.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(r.body).toEqual({
        error: { message: `Rate limit reached for this key: 5 requests per 60 s. Retry after ${retryAfter} s.`, type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' },
      });
    }
    console.log(`[key-limits] requests_per_minute 5 over two replicas: ${ok.length} admitted of 30`);
  });

  it('requests_per_day is exact over two replicas, refused with insufficient_quota and Retry-After to UTC midnight', async () => {
    const { key } = await newKey({ requests_per_day: 25 });
    const before = { chats: fake.counters.chatRequests, a: await refusals(a, 'requests_per_day'), b: await refusals(b, 'requests_per_day') };
    const results = await Promise.all(
      Array.from({ length: 80 }, async (_, i) => {
        const res = await chat(i % 2 ? a : b, key);
        return { status: res.status, retryAfter: Number(res.headers.get('retry-after')), body: await res.json(), expected: toMidnight() };
      }),
    );
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    console.log(`[key-limits] requests_per_day 25 over two replicas: ${ok.length} admitted of 80`);
    expect(ok).toHaveLength(25);
    expect(refused).toHaveLength(55);
    expect(fake.counters.chatRequests - before.chats).toBe(25); // the refused never reached Copilot
    for (const r of refused) {
      expect(Math.abs(r.retryAfter - r.expected)).toBeLessThanOrEqual(2);
      expect(r.body).toEqual({
        error: {
          message: expect.stringMatching(/^This key has used its 25 requests for today \(requests_per_day, UTC\)\. It resets at \d{4}-\d\d-\d\dT00:00:00\.000Z, in \d+ s\.$/),
          type: 'insufficient_quota',
          param: null,
          code: 'insufficient_quota',
        },
      });
    }
    const counted = (await refusals(a, 'requests_per_day')) - before.a + (await refusals(b, 'requests_per_day')) - before.b;
    expect(counted).toBe(55);
  });

  it('tokens_per_day refuses once the tokens are spent: at once on the same replica, within a flush on the other', async () => {
    // 17 tokens a request: 0, 17, 34 are under 40, so three requests go through (the third ends at 51).
    const { key } = await newKey({ tokens_per_day: 40 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await chat(a, key)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    await new Promise((r) => setTimeout(r, 1500)); // a's batch reaches Redis within a second (flushed every second)
    const other = await chat(b, key);
    expect(other.status).toBe(429);
    const body = await other.json();
    expect(body.error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_quota', param: null });
    expect(body.error.message).toContain(`40 tokens for today (tokens_per_day, UTC)`);
    expect(Math.abs(Number(other.headers.get('retry-after')) - toMidnight())).toBeLessThanOrEqual(2);
    expect(await refusals(b, 'tokens_per_day')).toBeGreaterThanOrEqual(1);
    expect(3 * CHAT_TOKENS - 40).toBeLessThan(CHAT_TOKENS); // the overshoot is less than the one request in flight
  });

  it('premium_requests_per_month and tokens_per_month answer with Retry-After to the first of next month', async () => {
    const premium = await newKey({ premium_requests_per_month: 1 });
    expect((await chat(a, premium.key, 'claude-sonnet-4')).status).toBe(200); // multiplier 1, initiated by the user
    const refused = await chat(a, premium.key, 'claude-sonnet-4');
    expect(refused.status).toBe(429);
    expect(Math.abs(Number(refused.headers.get('retry-after')) - toNextMonth())).toBeLessThanOrEqual(2);
    expect((await refused.json()).error.message).toContain('1 premium requests for this month (premium_requests_per_month, UTC)');

    const tokens = await newKey({ tokens_per_month: 1 });
    expect((await chat(b, tokens.key)).status).toBe(200);
    const spent = await chat(b, tokens.key);
    expect(spent.status).toBe(429);
    expect(Math.abs(Number(spent.headers.get('retry-after')) - toNextMonth())).toBeLessThanOrEqual(2);
  });

  it("refuses on every route that calls Copilot, in the route's dialect; count_tokens and models still answer", async () => {
    const { key } = await newKey({ requests_per_day: 1 });
    expect((await chat(a, key)).status).toBe(200);

    const messages = await post(b, '/v1/messages', '', { model: 'claude-sonnet-4', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }, { authorization: '', 'x-api-key': key, 'anthropic-version': '2023-06-01' });
    expect(messages.status).toBe(429);
    expect(Math.abs(Number(messages.headers.get('retry-after')) - toMidnight())).toBeLessThanOrEqual(2);
    expect(await messages.json()).toEqual({
      type: 'error',
      error: { type: 'rate_limit_error', message: expect.stringContaining('1 requests for today (requests_per_day, UTC)') },
    });

    const responses = await post(a, '/v1/responses', key, { model: 'gpt-4o', input: 'Hi' });
    expect(responses.status).toBe(429);
    expect((await responses.json()).error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_quota' });
    const embeddings = await post(b, '/v1/embeddings', key, { model: 'text-embedding-3-small', input: 'Hi' });
    expect(embeddings.status).toBe(429);
    expect((await embeddings.json()).error.code).toBe('insufficient_quota');

    // No upstream call: count_tokens is not a request against the quota; listing models neither.
    const counted = await post(a, '/v1/messages/count_tokens', key, { model: 'claude-sonnet-4', messages: [{ role: 'user', content: 'Hi' }] });
    expect(counted.status).toBe(200);
    expect((await fetch(`${b.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
  });

  it('a requests_per_day set mid-day counts the requests already made that day', async () => {
    const { key, id } = await newKey();
    for (let i = 0; i < 3; i++) expect((await chat(a, key)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1500)); // flushed to Redis (every second)
    await admin('PATCH', `/auth/keys/${id}`, { limits: { requests_per_day: 4 } });
    await new Promise((r) => setTimeout(r, 300)); // the key event reaches both replicas
    const after = [];
    for (let i = 0; i < 3; i++) after.push((await chat(i % 2 ? a : b, key)).status);
    expect(after).toEqual([200, 429, 429]);
    // Raised: the same counter goes on.
    await admin('PATCH', `/auth/keys/${id}`, { limits: { requests_per_day: 6 } });
    await new Promise((r) => setTimeout(r, 300)); // the key event reaches both replicas
    const raised = [];
    for (let i = 0; i < 3; i++) raised.push((await chat(i % 2 ? a : b, key)).status);
    expect(raised).toEqual([200, 200, 429]);
  });
});

describe('embedded mode (no Redis)', () => {
  let all: AppProcess;
  afterAll(() => all?.kill());

  it('applies requests_per_day and requests_per_minute in one process', async () => {
    all = await startProcess('all', { GITHUB_API_URL: fake.url, GITHUB_BASE_URL: fake.url, ADMIN_TOKEN });
    const token = `ghu_${randomBytes(18).toString('hex')}`;
    fake.addUser(token, { login: 'solo', id: 4040 });
    const { accountId: acc } = await registerAccount(all.url, token);
    const res = await fetch(`${all.url}/auth/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ account_id: acc, limits: { requests_per_day: 2, requests_per_minute: 100 } }),
    });
    const { key, id } = await res.json();
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const r = await timed(`${all.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }),
      });
      statuses.push(r.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
    const patched = await fetch(`${all.url}/auth/keys/${id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ limits: { requests_per_day: 3 } }),
    });
    expect((await patched.json()).limits).toMatchObject({ requests_per_day: 3, requests_per_minute: 100 });
    const again = await fetch(`${all.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }),
    });
    expect(again.status).toBe(200);
    expect(again.headers.get('x-ratelimit-limit')).toBe('100');
  });
});

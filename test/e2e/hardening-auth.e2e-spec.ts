import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '#libs/config';
import { RedisKeys } from '#libs/redis';
import { createApp } from '#libs/platform';
import { APPS } from '../../apps/all/src/apps.js';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { chatBody, startFake, startGateway, uniquePrefix, type TestGateway } from '../support/gateway.js';

/**
 * The auth service's hardening items: device starts limited per client address across replicas
 * (5), an empty body under Content-Type: application/json (7), an approval that survives GitHub
 * failing right after it (12), control characters in an imported token (14), and revocation with
 * the key in the body instead of the URL (16). In-process apps on the test Redis, each group on
 * its own key prefix, against the fake GitHub.
 */
const ADMIN = 'admin-token-hardening-auth-0123456789';
let fake: FakeCopilot;
let redis: Redis;
const opened: TestGateway[] = [];

beforeAll(async () => {
  fake = await startFake({ deviceIntervalSeconds: 0 });
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  await Promise.all(opened.map((g) => g.close()));
  redis?.disconnect();
  await fake?.stop();
});

async function gateway(env: Record<string, string> = {}, opts: Parameters<typeof startGateway>[2] = {}) {
  const gw = await startGateway(fake, { ADMIN_TOKEN: ADMIN, ...env }, opts);
  opened.push(gw);
  return gw;
}

/**
 * One request with exactly these headers (node:http adds Host and Connection; a body gets its
 * Content-Length, as node:http would send a DELETE's body with no length at all).
 */
function send(url: string, method: string, path: string, headers: Record<string, string>, body?: string) {
  if (body !== undefined) headers = { ...headers, 'content-length': String(Buffer.byteLength(body)) };
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = httpRequest(url + path, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const admin = { authorization: `Bearer ${ADMIN}` };
const json = (res: { body: string }) => JSON.parse(res.body);

/** A new GitHub user on the fake, imported through the admin API: its account and first key. */
async function importAccount(gw: TestGateway, login = 'hardened') {
  const token = `ghu_${randomBytes(18).toString('hex')}`;
  fake.addUser(token, { login, id: 10_000 + Math.floor(Math.random() * 1e6) });
  const res = await gw.post('/auth/accounts', { github_token: token }, ADMIN);
  expect(res.status).toBe(201);
  const body = await res.json();
  return { accountId: body.account.id as string, key: body.key.key as string, keyId: body.key.id as string, githubToken: token };
}

/** The gateway's answer to a chat request with `key`, once it stops being 200 (revocation reaches every replica within 1 s). */
async function statusOnceRefused(gw: TestGateway, key: string) {
  const t0 = Date.now();
  let status = 200;
  while (status === 200 && Date.now() - t0 < 1000) status = (await gw.post('/v1/chat/completions', chatBody(), key)).status;
  return status;
}

/** Not within a few seconds of a minute's end: the start limit counts per calendar minute. */
async function awayFromMinuteEdge(needMs = 5000) {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < needMs) await new Promise((r) => setTimeout(r, left + 50));
}

const deviceStart = (gw: TestGateway, headers: Record<string, string> = {}) => send(gw.url, 'POST', '/auth/device/start', headers);

describe('device-flow starts are limited per client address (item 5)', () => {
  it('counts across replicas: 60 starts at once from one address → 10 answered, 50 × 429, 10 GitHub calls', async () => {
    const prefix = uniquePrefix();
    const a = await gateway({}, { prefix, role: 'auth' });
    const b = await gateway({}, { prefix });
    await awayFromMinuteEdge();
    const githubBefore = fake.counters.deviceStarts;
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => deviceStart(i % 2 ? a : b)));
    const minute = Math.floor(Date.now() / 60_000);

    expect(answers.filter((r) => r.status === 200)).toHaveLength(10);
    const refused = answers.filter((r) => r.status === 429);
    expect(refused).toHaveLength(50);
    expect(fake.counters.deviceStarts - githubBefore).toBe(10);
    const secondsLeft = Math.ceil((60_000 - (Date.now() % 60_000)) / 1000);
    for (const r of refused) {
      expect(json(r)).toEqual({
        error: {
          message: expect.stringMatching(/^Too many sign-ins started from this address \(at most 10 a minute\); try again in \d+ s$/),
          type: 'rate_limit_error',
          param: null,
          code: 'device_start_limited',
        },
      });
      const retryAfter = Number(r.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(Math.min(60, secondsLeft + 1));
    }
    // One counter in Redis for the address and minute, gone by the minute's end; sessions only for the 10.
    const counter = new RedisKeys(prefix).deviceStarts('127.0.0.1', minute);
    expect(await redis.get(counter)).toBe('60');
    const ttl = await redis.pttl(counter);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await redis.keys(new RedisKeys(prefix).device('*'))).toHaveLength(10);
  });

  it('with TRUST_PROXY=1 counts the address X-Forwarded-For names: another address is not limited', async () => {
    const prefix = uniquePrefix();
    const a = await gateway({ TRUST_PROXY: '1', DEVICE_START_LIMIT: '4' }, { prefix, role: 'auth' });
    const b = await gateway({ TRUST_PROXY: '1', DEVICE_START_LIMIT: '4' }, { prefix });
    await awayFromMinuteEdge();
    const noisy = { 'x-forwarded-for': '203.0.113.7' };
    for (let i = 0; i < 4; i++) expect((await deviceStart(i % 2 ? a : b, noisy)).status).toBe(200);
    const githubBefore = fake.counters.deviceStarts;
    expect((await deviceStart(a, noisy)).status).toBe(429);
    expect((await deviceStart(b, noisy)).status).toBe(429);
    expect(fake.counters.deviceStarts).toBe(githubBefore);

    expect((await deviceStart(b, { 'x-forwarded-for': '198.51.100.9' })).status).toBe(200);
    // The client the proxy names is the right-most untrusted hop; what the client itself wrote
    // further left does not pick its own counter.
    expect((await deviceStart(a, { 'x-forwarded-for': '192.0.2.1, 203.0.113.7' })).status).toBe(429);
    // The proxy itself (no header) is yet another address.
    expect((await deviceStart(a)).status).toBe(200);
    expect(await redis.get(new RedisKeys(prefix).deviceStarts('203.0.113.7', Math.floor(Date.now() / 60_000)))).toBe('7');
  });

  it('without TRUST_PROXY ignores X-Forwarded-For (embedded mode, counted in memory)', async () => {
    const gw = await gateway({ DEVICE_START_LIMIT: '3' }, { redis: false });
    await awayFromMinuteEdge();
    const githubBefore = fake.counters.deviceStarts;
    for (const forwarded of ['198.51.100.1', '198.51.100.2', '198.51.100.3'])
      expect((await deviceStart(gw, { 'x-forwarded-for': forwarded })).status).toBe(200);
    const fourth = await deviceStart(gw, { 'x-forwarded-for': '198.51.100.4' });
    expect(fourth.status).toBe(429);
    expect(json(fourth).error.code).toBe('device_start_limited');
    expect(Number(fourth.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(fake.counters.deviceStarts - githubBefore).toBe(3);
  });
});

describe('an empty body with Content-Type: application/json (item 7)', () => {
  let gw: TestGateway;
  let other: TestGateway;
  beforeAll(async () => {
    const prefix = uniquePrefix();
    gw = await gateway({}, { prefix });
    other = await gateway({}, { prefix, role: 'gateway' });
  });

  /** The two ways clients send "no body" under a JSON content type. */
  const EMPTY: Record<string, Record<string, string>> = {
    'no Content-Length': { 'content-type': 'application/json' },
    'Content-Length: 0': { 'content-type': 'application/json', 'content-length': '0' },
  };

  for (const [how, headers] of Object.entries(EMPTY)) {
    it(`revokes with DELETE /auth/keys/{id} (${how}): 204, and the key is refused on the gateway`, async () => {
      const { key, keyId } = await importAccount(gw);
      expect((await other.post('/v1/chat/completions', chatBody(), key)).status).toBe(200);
      const res = await send(gw.url, 'DELETE', `/auth/keys/${keyId}`, { ...admin, ...headers });
      expect(res.status).toBe(204);
      expect(res.body).toBe('');
      expect(await statusOnceRefused(other, key)).toBe(401);
    });

    it(`takes DELETE /auth/accounts/{id}, POST /auth/keys/{id}/rotate and POST /auth/device/start without a body (${how})`, async () => {
      const first = await importAccount(gw);
      const rotated = await send(gw.url, 'POST', `/auth/keys/${first.keyId}/rotate`, { ...admin, ...headers });
      expect(rotated.status).toBe(201);
      expect(json(rotated)).toMatchObject({ key: expect.stringMatching(/^sk-cgw-/), replaces: first.keyId });

      const second = await importAccount(gw);
      const deleted = await send(gw.url, 'DELETE', `/auth/accounts/${second.accountId}`, { ...admin, ...headers });
      expect(deleted.status).toBe(204);
      expect(await statusOnceRefused(other, second.key)).toBe(401);

      const started = await send(gw.url, 'POST', '/auth/device/start', headers);
      expect(started.status).toBe(200);
      expect(json(started).device_code).toEqual(expect.any(String));
    });

    it(`still answers 400 in OpenAI's shape where a body is needed (${how})`, async () => {
      const { key } = await importAccount(gw);
      const empty = { message: 'The request body is empty; send a JSON object', type: 'invalid_request_error', param: null, code: 'invalid_body' };
      for (const [method, path] of [['POST', '/auth/keys'], ['POST', '/auth/accounts'], ['DELETE', '/auth/tokens']]) {
        const res = await send(gw.url, method, path, { ...admin, ...headers });
        expect(res.status, `${method} ${path}`).toBe(400);
        expect(json(res), `${method} ${path}`).toEqual({ error: empty });
      }
      const chats = fake.counters.chatRequests;
      const chat = await send(gw.url, 'POST', '/v1/chat/completions', { authorization: `Bearer ${key}`, ...headers });
      expect(chat.status).toBe(400);
      expect(json(chat).error).toMatchObject({ type: 'invalid_request_error', param: null, code: 'invalid_body' });
      expect(fake.counters.chatRequests).toBe(chats);
    });
  }

  it('parses a non-empty body as before and forwards its bytes as they came', async () => {
    const { key } = await importAccount(gw);
    const raw = '{ "model" : "gpt-4o",\n  "messages": [{"role": "user", "content": "h\\u0069"}], "temperature": 1.0 }';
    const ok = await send(gw.url, 'POST', '/v1/chat/completions', { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, raw);
    expect(ok.status).toBe(200);
    expect(fake.lastChatRaw).toBe(raw);
    const broken = await send(gw.url, 'POST', '/v1/chat/completions', { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, '{"model":');
    expect(broken.status).toBe(400);
    expect(json(broken).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json' });
    const proto = await send(gw.url, 'POST', '/v1/chat/completions', { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, '{"model":"gpt-4o","messages":[],"__proto__":{"x":1}}');
    expect(proto.status).toBe(400);
    expect(json(proto).error.type).toBe('invalid_request_error');
  });

  it('keeps BODY_LIMIT: a larger body is 413, on the gateway and the admin API', async () => {
    const small = await gateway({ BODY_LIMIT: '2kb' }, { redis: false });
    const { key } = await importAccount(small);
    const big = JSON.stringify(chatBody({ messages: [{ role: 'user', content: 'x'.repeat(4096) }] }));
    for (const [path, auth] of [['/v1/chat/completions', key], ['/auth/keys', ADMIN]]) {
      const res = await send(small.url, 'POST', path, { authorization: `Bearer ${auth}`, 'content-type': 'application/json' }, big);
      expect(res.status, path).toBe(413);
      expect(json(res).error, path).toMatchObject({ type: 'invalid_request_error', code: 'request_too_large' });
    }
  });
});

describe('a GitHub failure right after approval (item 12)', () => {
  let a: TestGateway;
  let b: TestGateway;
  let prefix: string;
  beforeAll(async () => {
    prefix = uniquePrefix();
    a = await gateway({}, { prefix, role: 'auth' });
    b = await gateway({}, { prefix });
  });

  const approved = async (login: string, copilot?: 404) => {
    const start = await deviceStart(a);
    expect(start.status).toBe(200);
    const s = json(start);
    const githubToken = `ghu_${randomBytes(18).toString('hex')}`;
    fake.addUser(githubToken, { login, id: 20_000 + Math.floor(Math.random() * 1e6), ...(copilot ? { copilot } : {}) });
    fake.approveDevice(s.user_code, githubToken);
    return { deviceCode: s.device_code as string, githubToken };
  };
  const poll = (gw: TestGateway, code: string) => send(gw.url, 'GET', `/auth/device/poll?device_code=${code}`, {});

  /** Every string value under the prefix (hashes' fields included), to look for a token in. */
  async function everythingStored(): Promise<string> {
    const out: string[] = [];
    for (const k of await redis.keys(`${prefix}*`)) {
      const type = await redis.type(k);
      if (type === 'string') out.push(k, (await redis.get(k))!);
      else if (type === 'hash') out.push(k, ...Object.values(await redis.hgetall(k)));
    }
    return out.join('\n');
  }

  it('keeps the authorization when GET /user fails once: 502 "keep polling", then a working key, GitHub polled once', async () => {
    const { deviceCode, githubToken } = await approved('retried');
    fake.script('user', { status: 502, body: '{"message":"Server Error"}' });
    const polls = fake.counters.devicePolls;

    const first = await poll(b, deviceCode);
    expect(first.status).toBe(502);
    expect(json(first)).toEqual({
      error: {
        message: 'You approved on GitHub, but GitHub did not answer while the sign-in was being finished; keep polling',
        type: 'upstream_error',
        param: null,
        code: 'github_unavailable',
      },
    });
    // Kept for the retry, sealed: the GitHub token appears nowhere in Redis in plaintext.
    const session = JSON.parse((await redis.get(new RedisKeys(prefix).device(deviceCode)))!);
    expect(session.github_token).toMatch(/^v1\./);
    expect(await everythingStored()).not.toContain(githubToken);

    const second = await poll(a, deviceCode);
    expect(second.status).toBe(200);
    const done = json(second);
    expect(done).toMatchObject({ status: 'success', username: 'retried' });
    expect((await b.post('/v1/chat/completions', chatBody(), done.api_key)).status).toBe(200);
    // GitHub's token endpoint was asked once: the retry started from the token it had handed out.
    expect(fake.counters.devicePolls - polls).toBe(1);
    expect((await poll(b, deviceCode)).status).toBe(404);
    expect(await everythingStored()).not.toContain(githubToken);
  });

  it('keeps it through a failing token exchange (5xx) too', async () => {
    const { deviceCode } = await approved('exchange-retried');
    fake.script('exchange', { status: 503, body: '{"message":"unavailable"}' });
    const first = await poll(a, deviceCode);
    expect(first.status).toBe(502);
    expect(json(first).error.code).toBe('github_unavailable');
    const second = await poll(b, deviceCode);
    expect(second.status).toBe(200);
    expect(json(second)).toMatchObject({ status: 'success', username: 'exchange-retried' });
  });

  it('forgets a definitive refusal: no Copilot subscription → 403, then 404', async () => {
    const { deviceCode } = await approved('no-seat', 404);
    const res = await poll(a, deviceCode);
    expect(res.status).toBe(403);
    expect(json(res).error.code).toBe('no_copilot_subscription');
    expect(await redis.get(new RedisKeys(prefix).device(deviceCode))).toBeNull();
    expect((await poll(b, deviceCode)).status).toBe(404);
  });
});

describe('POST /auth/accounts with a control character in github_token (item 14)', () => {
  it('answers 400 invalid_github_token, asks GitHub nothing, and logs no stack trace', async () => {
    let logged = '';
    const sink = new Writable({ write: (chunk, _enc, done) => ((logged += chunk), done()) });
    const config = loadConfig(
      { GITHUB_API_URL: fake.url, GITHUB_BASE_URL: fake.url, ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'info', DATA_DIR: mkdtempSync(join(tmpdir(), 'cgw-data-')) },
      'auth',
    );
    const { app } = await createApp(config, APPS[config.role](config), pino({ level: 'info' }, sink));
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
      const users = fake.counters.userRequests;
      const bad = ['ghu_abc\r\nX-Injected: 1', 'ghu_abcdef\n', 'ghu_ab\u0000cd', 'ghu_abc def', 'ghu_abc\t', 'ghu_abc\u007f', 'ghu_abcé'];
      for (const token of bad) {
        const res = await send(url, 'POST', '/auth/accounts', { ...admin, 'content-type': 'application/json' }, JSON.stringify({ github_token: token }));
        expect(res.status, JSON.stringify(token)).toBe(400);
        expect(json(res)).toEqual({
          error: {
            message: "'github_token' must be a GitHub token: printable ASCII, no spaces or control characters",
            type: 'invalid_request_error',
            param: 'github_token',
            code: 'invalid_github_token',
          },
        });
      }
      expect(fake.counters.userRequests).toBe(users);
      expect(logged).not.toMatch(/unhandled error|\n\s+at |\\n\s+at /);
    } finally {
      await app.close();
    }
  });
});

describe('DELETE /auth/tokens with the key in the body (item 16)', () => {
  let gw: TestGateway;
  let other: TestGateway;
  beforeAll(async () => {
    const prefix = uniquePrefix();
    gw = await gateway({}, { prefix });
    other = await gateway({}, { prefix, role: 'gateway' });
  });
  const revoke = (body: string, headers: Record<string, string> = admin) =>
    send(gw.url, 'DELETE', '/auth/tokens', { ...headers, 'content-type': 'application/json' }, body);

  it('revokes the key named in the body: 204, then refused on the gateway', async () => {
    const { key } = await importAccount(gw);
    expect((await other.post('/v1/chat/completions', chatBody(), key)).status).toBe(200);
    const res = await revoke(JSON.stringify({ api_key: key }));
    expect(res.status).toBe(204);
    expect(await statusOnceRefused(other, key)).toBe(401);
  });

  it('answers 404 for an unknown key, 400 for a missing or ill-typed one, 401 without the admin token', async () => {
    const unknown = await revoke(JSON.stringify({ api_key: `sk-cgw-${'x'.repeat(40)}` }));
    expect(unknown.status).toBe(404);
    expect(json(unknown)).toEqual({ error: { message: 'No such key', type: 'not_found_error', param: null, code: 'key_not_found' } });

    const missing = await revoke('{}');
    expect(missing.status).toBe(400);
    expect(json(missing)).toEqual({ error: { message: "'api_key' is a required property", type: 'invalid_request_error', param: 'api_key', code: 'missing_required_parameter' } });
    for (const body of ['{"api_key":42}', '{"api_key":["sk-cgw-x"]}', `{"api_key":"${'k'.repeat(501)}"}`]) {
      const res = await revoke(body);
      expect(res.status, body).toBe(400);
      expect(json(res).error, body).toMatchObject({ type: 'invalid_request_error', param: 'api_key', code: 'invalid_type' });
    }
    const notObject = await revoke('"sk-cgw-x"');
    expect(notObject.status).toBe(400);
    expect(json(notObject).error.code).toBe('invalid_body');

    const { key } = await importAccount(gw);
    const anonymous = await revoke(JSON.stringify({ api_key: key }), {});
    expect(anonymous.status).toBe(401);
    expect(json(anonymous).error.code).toBe('missing_admin_token');
    expect((await other.post('/v1/chat/completions', chatBody(), key)).status).toBe(200);
  });

  it('keeps the seed route DELETE /auth/tokens/{api_key}, and lists both in the OpenAPI document', async () => {
    const { key } = await importAccount(gw);
    expect((await send(gw.url, 'DELETE', `/auth/tokens/${key}`, admin)).status).toBe(204);
    expect(await statusOnceRefused(other, key)).toBe(401);
    const doc = await (await fetch(gw.url + '/docs')).json();
    expect(doc.paths['/auth/tokens'].delete.requestBody.content['application/json'].schema).toMatchObject({ required: ['api_key'] });
    expect(doc.paths['/auth/tokens/{api_key}'].delete).toBeDefined();
  });
});

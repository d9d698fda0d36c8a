import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { startFake } from '../support/gateway.js';
import { ADMIN_TOKEN, clusterEnv, percentile, registerAccount, saveFigures, startProcess, timed, type AppProcess } from '../support/processes.js';
import { startRedis, type RunningRedis } from '../support/redis-server.js';

/**
 * Issue 10, the gateway's side: what a client without a key (or with a made-up one) costs a
 * replica before it is refused. Real processes on a real Redis, so sockets, RSS and GitHub calls
 * are the ones a deployment would see.
 */
const BODY_DEADLINE_MS = 1500;

let redis: RunningRedis;
let fake: FakeCopilot;
let gw: AppProcess;
let auth: AppProcess;
let key: string;

beforeAll(async () => {
  redis = await startRedis();
  fake = await startFake();
  const env = clusterEnv(redis.url, fake.url, { RATE_LIMIT_REQUESTS: '1000000', REQUEST_BODY_TIMEOUT_MS: String(BODY_DEADLINE_MS) });
  [gw, auth] = await Promise.all([startProcess('gateway', env), startProcess('auth', env)]);
  const token = `ghu_${randomBytes(18).toString('hex')}`;
  fake.addUser(token, { login: 'hardy', id: 4242 });
  ({ key } = await registerAccount(auth.url, token));
});
afterAll(async () => {
  await Promise.all([gw?.kill(), auth?.kill()]);
  await fake?.stop();
  await redis?.stop();
});

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** A raw connection that sends the request line and headers, then `body` (or part of one), and reports what came back and when it closed. */
function rawRequest(port: number, headers: string, body: Buffer | string = '') {
  const socket: Socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let answer = '';
  const started = performance.now();
  socket.on('data', (d) => (answer += d));
  const closed = new Promise<{ ms: number; answer: string }>((resolve) => socket.once('close', () => resolve({ ms: performance.now() - started, answer })));
  socket.write(headers);
  if (body.length) socket.write(body);
  return { socket, closed };
}

const slowHead = (auth: string) =>
  `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n${auth}\r\n`;
const status = (answer: string) => Number(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1] ?? 0);
const errorCode = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.code as string;

describe('bodies are not read before the key is known (item 1)', () => {
  it('closes 50 slow unauthenticated uploads within 2 s with a 401, before their body', async () => {
    const conns = Array.from({ length: 50 }, (_, i) => rawRequest(gw.port, slowHead(i % 2 ? '' : 'Authorization: Bearer sk-cgw-madeupmadeupmadeupmadeupmadeupmadeup12\r\n'), '{'));
    const results = await Promise.all(conns.map((c) => c.closed));
    const worst = Math.max(...results.map((r) => r.ms));
    expect(results.map((r) => status(r.answer))).toEqual(Array(50).fill(401));
    expect(new Set(results.map((r) => errorCode(r.answer)))).toEqual(new Set(['missing_api_key', 'invalid_api_key']));
    expect(worst).toBeLessThan(2000);
    saveFigures('slow-bodies-unauthenticated', { connections: 50, closed: results.length, worst_ms: Math.round(worst) });
  });

  it('closes 50 slow uploads with a valid key at REQUEST_BODY_TIMEOUT_MS with a 408', async () => {
    const conns = Array.from({ length: 50 }, () => rawRequest(gw.port, slowHead(`Authorization: Bearer ${key}\r\n`), '{'));
    const results = await Promise.all(conns.map((c) => c.closed));
    const times = results.map((r) => r.ms);
    expect(results.map((r) => status(r.answer))).toEqual(Array(50).fill(408));
    expect(errorCode(results[0].answer)).toBe('request_timeout');
    expect(Math.min(...times)).toBeGreaterThanOrEqual(BODY_DEADLINE_MS - 50);
    // Node checks the deadline every connectionsCheckingInterval (≤ 1 s here: a tenth of it).
    expect(Math.max(...times)).toBeLessThan(BODY_DEADLINE_MS + 1000);
    expect((await timed(`${gw.url}/health/ready`)).status).toBe(200);
    saveFigures('slow-bodies-with-key', { connections: 50, deadline_ms: BODY_DEADLINE_MS, first_ms: Math.round(Math.min(...times)), last_ms: Math.round(Math.max(...times)) });
  });

  it('checks the admin token before reading an admin route\'s body', async () => {
    const head = (auth: string) => `POST /auth/keys HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n${auth}\r\n`;
    const results = await Promise.all(
      ['', 'Authorization: Bearer wrong-admin-token-0123456789\r\n'].map((h) => rawRequest(auth.port, head(h), '{').closed),
    );
    for (const r of results) {
      expect(status(r.answer)).toBe(401);
      expect(r.ms).toBeLessThan(1000);
    }
    expect(results.map((r) => errorCode(r.answer)).sort()).toEqual(['invalid_admin_token', 'missing_admin_token']);
  });

  it('does not read a body sent to a route that does not exist', async () => {
    const c = rawRequest(gw.port, 'POST /v1/nowhere HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n', '{');
    const r = await c.closed;
    expect(status(r.answer)).toBe(404);
    expect(errorCode(r.answer)).toBe('unknown_route');
    expect(r.ms).toBeLessThan(1000);
  });
});

describe('big unauthenticated bodies (item 2)', () => {
  it('refuses 24 × 9.5 MB without a key with RSS growing < 60 MiB, and legit requests stay fast', async () => {
    const warm = () => timed(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }) });
    for (let i = 0; i < 20; i++) expect((await warm()).status).toBe(200);
    const before = rssMiB(gw.pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(gw.pid))), 20);
    const body = Buffer.alloc(Math.round(9.5 * 1024 * 1024), 'a');
    body.write('{"model":"gpt-4o","messages":[{"role":"user","content":"');
    body.write('"}]}', body.length - 4);
    const flood = Array.from({ length: 24 }, () =>
      rawRequest(gw.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, body).closed,
    );
    const legit: number[] = [];
    const during = (async () => {
      for (let i = 0; i < 20; i++) legit.push((await warm()).ms);
    })();
    const results = await Promise.all(flood);
    await during;
    clearInterval(sampler);
    const growth = peak - before;
    // Each is answered 401 and closed while it is still uploading: the client reads the 401, or,
    // when the close overtakes it, a reset. Never anything else.
    expect(results.map((r) => status(r.answer)).filter((s) => s !== 401 && s !== 0)).toEqual([]);
    expect(growth).toBeLessThan(60);
    saveFigures('big-bodies-unauthenticated', { bodies: 24, body_mib: 9.5, rss_before_mib: Math.round(before), rss_peak_mib: Math.round(peak), legit_p50_ms: Math.round(percentile(legit, 50)) });
  });
});

describe('made-up passthrough tokens (item 3)', () => {
  const chat = (k: string) => timed(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }) });

  it('asks GitHub once for the same bad token sent 60 times, at once and one after another', async () => {
    const bad = `ghu_${randomBytes(18).toString('hex')}`;
    const before = fake.counters.exchanges;
    const burst = await Promise.all(Array.from({ length: 30 }, () => chat(bad)));
    for (let i = 0; i < 30; i++) burst.push(await chat(bad));
    expect(burst.map((r) => r.status)).toEqual(Array(60).fill(401));
    expect(fake.counters.exchanges - before).toBeLessThanOrEqual(1);
    saveFigures('bad-passthrough-token', { requests: 60, exchanges: fake.counters.exchanges - before });
  });

  it('remembers the refusal across replicas (neg: in Redis)', async () => {
    const bad = `ghu_${randomBytes(18).toString('hex')}`;
    expect((await chat(bad)).status).toBe(401);
    const other = await startProcess('gateway', clusterEnv(redis.url, fake.url));
    try {
      const before = fake.counters.exchanges;
      const r = await timed(`${other.url}/v1/models`, { headers: { authorization: `Bearer ${bad}` } });
      expect(r.status).toBe(401);
      expect(fake.counters.exchanges).toBe(before);
    } finally {
      await other.kill();
    }
  });

  it('1,000 distinct bad tokens do not push a warm issued key out of the cache', async () => {
    // A replica of its own, on a Redis of its own that the test stops afterwards.
    const own = await startRedis();
    const env = clusterEnv(own.url, fake.url, { RATE_LIMIT_REQUESTS: '1000000' });
    const [g, a] = await Promise.all([startProcess('gateway', env), startProcess('auth', env)]);
    try {
      const token = `ghu_${randomBytes(18).toString('hex')}`;
      fake.addUser(token, { login: 'warm', id: 4343 });
      const warmKey = (await registerAccount(a.url, token)).key;
      const call = (k: string) => timed(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }) });
      expect((await call(warmKey)).status).toBe(200);
      const statuses: number[] = [];
      for (let round = 0; round < 20; round++)
        statuses.push(...(await Promise.all(Array.from({ length: 50 }, () => call(`ghu_${randomBytes(18).toString('hex')}`)))).map((r) => r.status));
      expect(statuses.filter((s) => s !== 401)).toEqual([]);
      await own.stop();
      const after = await call(warmKey);
      expect(after.status, after.body).toBe(200);
    } finally {
      await Promise.all([g.kill(), a.kill()]);
      await own.stop();
    }
  });
});

describe('ALLOWED_GITHUB_LOGINS holds for passthrough tokens too (item 10)', () => {
  it('refuses a raw token of a login that is not allowed with 403 login_not_allowed', async () => {
    const env = clusterEnv(redis.url, fake.url, { ALLOWED_GITHUB_LOGINS: 'alice' });
    const g = await startProcess('gateway', env);
    try {
      const alice = `ghu_${randomBytes(18).toString('hex')}`;
      const mallory = `ghu_${randomBytes(18).toString('hex')}`;
      fake.addUser(alice, { login: 'Alice', id: 7001 });
      fake.addUser(mallory, { login: 'mallory', id: 7002 });
      const get = (k: string) => timed(`${g.url}/v1/models`, { headers: { authorization: `Bearer ${k}` } });
      const refused = await get(mallory);
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.body).error).toMatchObject({ type: 'permission_error', code: 'login_not_allowed' });
      expect((await get(mallory)).status).toBe(403);
      expect((await get(alice)).status).toBe(200);
    } finally {
      await g.kill();
    }
  });
});

describe('last_used_at (item 13)', () => {
  it('is set by a key used once on a replica', async () => {
    const { keyId, key: fresh } = await (async () => {
      const res = await fetch(`${auth.url}/auth/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ account_id: (await (await fetch(`${auth.url}/auth/accounts`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()).data[0].id }),
      });
      const b = await res.json();
      return { keyId: b.id as string, key: b.key as string };
    })();
    expect((await timed(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${fresh}` } })).status).toBe(200);
    let lastUsed: string | null = null;
    for (let i = 0; i < 20 && !lastUsed; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const keys = await (await fetch(`${auth.url}/auth/keys`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json();
      lastUsed = keys.data.find((k: { id: string }) => k.id === keyId).last_used_at;
    }
    expect(lastUsed).not.toBeNull();
    expect(Math.abs(Date.parse(lastUsed!) - Date.now())).toBeLessThan(10_000);
  });
});

describe('router errors are OpenAI-shaped and echo nothing (item 15)', () => {
  it.each([
    ['bad percent-encoding', '/v1/models/%ZZ', 400, 'invalid_url'],
    ['a 3,000-character model id', `/v1/models/${'a'.repeat(3000)}`, 414, 'uri_too_long'],
    ['a 3,000-character unknown path', `/v1/${'b'.repeat(3000)}`, 404, 'unknown_route'],
  ])('%s', async (_name, path, code, errCode) => {
    const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
    const text = await res.text();
    expect(res.status).toBe(code);
    expect(JSON.parse(text)).toEqual({ error: { message: expect.any(String), type: code === 404 ? 'not_found_error' : 'invalid_request_error', param: null, code: errCode } });
    expect(text).not.toContain('aaaa');
    expect(text).not.toContain('%ZZ');
  });
});

describe('metric labels only name models the account lists (item 6)', () => {
  it('counts made-up model names as model="other"', async () => {
    const embed = (model: string) =>
      timed(`${gw.url}/v1/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model, input: 'hi' }) });
    const made = Array.from({ length: 20 }, (_, i) => `made-up-${i}-${randomBytes(3).toString('hex')}`);
    for (const m of made) await embed(m);
    expect((await embed('text-embedding-3-small')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).not.toMatch(/made-up-/);
    expect(metrics).toMatch(/cgw_tokens_total\{model="text-embedding-3-small",kind="prompt"\} \d+/);
    const series = new Set([...metrics.matchAll(/cgw_tokens_total\{model="([^"]+)"/g)].map((m) => m[1]));
    expect([...series].every((m) => m === 'other' || !m.startsWith('made-up'))).toBe(true);
  });
});

describe('the rate limit is exact across replicas (item 9)', () => {
  it('limit 20, 100 requests over two replicas 20 at a time: at most 21 admitted, in each of 5 runs; 429s carry x-ratelimit-*', async () => {
    const env = clusterEnv(redis.url, fake.url, { RATE_LIMIT_REQUESTS: '20', RATE_LIMIT_WINDOW: '60' });
    const replicas = await Promise.all([startProcess('gateway', env), startProcess('gateway', env)]);
    try {
      const admittedPerRun: number[] = [];
      for (let run = 0; run < 5; run++) {
        const token = `ghu_${randomBytes(18).toString('hex')}`;
        fake.addUser(token, { login: `rl${run}`, id: 8100 + run });
        let admitted = 0;
        let refusal: Response | null = null;
        for (let wave = 0; wave < 5; wave++) {
          const answers = await Promise.all(
            Array.from({ length: 20 }, (_, i) => fetch(`${replicas[i % 2].url}/v1/models`, { headers: { authorization: `Bearer ${token}` } })),
          );
          for (const a of answers) {
            if (a.status === 200) admitted++;
            else if (a.status === 429) refusal ??= a;
            else throw new Error(`unexpected ${a.status}: ${await a.text()}`);
            await a.arrayBuffer().catch(() => {});
          }
        }
        admittedPerRun.push(admitted);
        expect(refusal).not.toBeNull();
        expect(refusal!.headers.get('x-ratelimit-limit')).toBe('20');
        expect(refusal!.headers.get('x-ratelimit-remaining')).toBe('0');
        expect(Number(refusal!.headers.get('x-ratelimit-reset'))).toBeGreaterThan(0);
        expect(Number(refusal!.headers.get('retry-after'))).toBeGreaterThan(0);
      }
      expect(Math.max(...admittedPerRun)).toBeLessThanOrEqual(21);
      expect(Math.min(...admittedPerRun)).toBeGreaterThanOrEqual(18);
      saveFigures('rate-limit-two-replicas', { limit: 20, requests: 100, concurrency: 20, admitted_per_run: admittedPerRun });
    } finally {
      await Promise.all(replicas.map((r) => r.kill()));
    }
  });
});

describe('rotating a key already in its grace window (item 8)', () => {
  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${auth.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const newKey = async () => {
    const accountId = (await (await admin('/auth/accounts')).json()).data[0].id;
    return (await (await admin('/auth/keys', { method: 'POST', body: JSON.stringify({ account_id: accountId }) })).json()) as { id: string; key: string };
  };

  it('answers 409 and neither makes a second successor nor extends the grace', async () => {
    const old = await newKey();
    const first = await admin(`/auth/keys/${old.id}/rotate`, { method: 'POST', body: JSON.stringify({ grace_seconds: 3 }) });
    expect(first.status).toBe(201);
    const { old_key_expires_at: ends } = await first.json();
    const again = await admin(`/auth/keys/${old.id}/rotate`, { method: 'POST', body: JSON.stringify({ grace_seconds: 86_400 }) });
    expect(again.status).toBe(409);
    expect((await again.json()).error).toMatchObject({ code: 'key_already_rotated', type: 'invalid_request_error' });
    const keys = (await (await admin('/auth/keys')).json()).data as { id: string; revoked_at: string | null; name: string | null }[];
    expect(keys.find((k) => k.id === old.id)!.revoked_at).toBe(ends);
    expect(Date.parse(ends) - Date.now()).toBeLessThanOrEqual(3000);
    const successors = keys.filter((k) => k.id !== old.id && k.revoked_at === null);
    expect(successors.length).toBeGreaterThanOrEqual(1);
  });

  it('lets exactly one of five concurrent rotations through', async () => {
    const old = await newKey();
    const before = (await (await admin('/auth/keys')).json()).data.length;
    const answers = await Promise.all(Array.from({ length: 5 }, () => admin(`/auth/keys/${old.id}/rotate`, { method: 'POST', body: '{"grace_seconds":60}' })));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409, 409]);
    expect((await (await admin('/auth/keys')).json()).data.length).toBe(before + 1);
  });
});

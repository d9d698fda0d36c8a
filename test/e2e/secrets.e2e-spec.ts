import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { startFake } from '../support/gateway.js';
import { ADMIN_TOKEN, clusterEnv, registerAccount, saveFigures, startProcess, timed, type AppProcess } from '../support/processes.js';
import { startRedis, type RunningRedis } from '../support/redis-server.js';

/**
 * Issue 5, point 6: canary secrets go through the whole flow (device flow, admin import, chat,
 * streams, embeddings, refresh jobs, failures, rotation, revocation by the seed's URL route) on
 * real processes logging at trace level; then the logs and every Redis value are searched.
 */
const ENCRYPTION_KEY = randomBytes(32).toString('hex');
let redis: RunningRedis;
let fake: FakeCopilot;
let gw: AppProcess;
let auth: AppProcess;

beforeAll(async () => {
  redis = await startRedis();
  // 70 s tokens: the refresh worker renews them every second or so, with the canary GitHub token.
  fake = await startFake({ tokenTtlSeconds: 70, deviceIntervalSeconds: 1 });
  const env = clusterEnv(redis.url, fake.url, { LOG_LEVEL: 'trace', TOKEN_ENCRYPTION_KEY: ENCRYPTION_KEY, RATE_LIMIT_REQUESTS: '30', UPSTREAM_BODY_TIMEOUT_MS: '500' });
  [gw, auth] = await Promise.all([startProcess('gateway', env), startProcess('auth', env)]);
});
afterAll(async () => {
  await Promise.all([gw?.kill(), auth?.kill()]);
  await fake?.stop();
  await redis?.stop();
});

/** Every value in Redis, whatever its type, as text (key names included). */
async function dumpRedis(url: string): Promise<string> {
  const db = new Redis(url);
  const out: string[] = [];
  try {
    for (const key of await db.keys('*')) {
      const type = await db.type(key);
      const value =
        type === 'string' ? await db.getBuffer(key).then((b) => b?.toString('latin1'))
        : type === 'hash' ? await db.hgetall(key)
        : type === 'list' ? await db.lrange(key, 0, -1)
        : type === 'set' ? await db.smembers(key)
        : type === 'zset' ? await db.zrange(key, '0', '-1')
        : type === 'stream' ? await db.xrange(key, '-', '+')
        : null;
      out.push(`${key} ${JSON.stringify(value)}`);
    }
  } finally {
    db.disconnect();
  }
  return out.join('\n');
}

describe('canary secrets', () => {
  it('never appear in logs at any level, in Redis in plaintext, or in an error message', async () => {
    const canaryGithub = `ghu_CANARYgh${randomBytes(14).toString('hex')}`;
    const canaryImport = `gho_CANARYimp${randomBytes(14).toString('hex')}`;
    fake.addUser(canaryGithub, { login: 'canary', id: 777 });
    fake.addUser(canaryImport, { login: 'canary2', id: 778 });
    const errorBodies: string[] = [];
    const call = async (url: string, init: RequestInit = {}) => {
      const r = await timed(url, init);
      if (r.status >= 400) errorBodies.push(r.body);
      return r;
    };
    const bearer = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json', ...extra });
    const chat = (key: string, body: Record<string, unknown> = {}) =>
      call(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: bearer(key), body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], ...body }) });

    // The device flow, as a person would run it.
    const start = JSON.parse((await call(`${auth.url}/auth/device/start`, { method: 'POST' })).body);
    fake.approveDevice(start.user_code, canaryGithub);
    let apiKey = '';
    for (let i = 0; i < 20 && !apiKey; i++) {
      await new Promise((r) => setTimeout(r, 1100));
      const poll = JSON.parse((await call(`${auth.url}/auth/device/poll?device_code=${start.device_code}`)).body);
      if (poll.status === 'success') apiKey = poll.api_key;
    }
    expect(apiKey).toMatch(/^sk-cgw-/);
    // An ops import through the admin API.
    const imported = await registerAccount(auth.url, canaryImport);

    // Traffic of every kind, failures included.
    expect((await chat(apiKey)).status).toBe(200);
    expect((await chat(apiKey, { stream: true, stream_options: { include_usage: true } })).status).toBe(200);
    expect((await chat(imported.key)).status).toBe(200);
    expect((await call(`${gw.url}/v1/models`, { headers: bearer(apiKey) })).status).toBe(200);
    expect((await call(`${gw.url}/v1/embeddings`, { method: 'POST', headers: bearer(apiKey), body: JSON.stringify({ model: 'text-embedding-3-small', input: 'x' }) })).status).toBe(200);
    fake.expireTokens(); // Copilot 401 → the gateway drops the token and exchanges again
    expect((await chat(apiKey)).status).toBe(200);
    fake.script('chat', { status: 500, body: `{"error":{"message":"upstream broke for Bearer ${apiKey}"}}` }, 3);
    await chat(apiKey);
    fake.script('exchange', { status: 502, body: 'bad gateway' }, 2); // a refresh job fails and retries
    await chat(apiKey, { model: 'no-such-model' });
    await chat(apiKey, { stream: true, fake_fault: 'stall' }); // ends on the idle timeout, logged as a warning
    await chat(apiKey, { messages: 'not a list' });
    await chat(`${apiKey}x`);
    await chat(apiKey.slice(0, -1));
    await call(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Basic ${apiKey}`, 'content-type': 'application/json' }, body: '{}' });
    await call(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${apiKey} ${canaryGithub}`, 'content-type': 'application/json' }, body: '{}' });
    await call(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: bearer(apiKey), body: `{"model":"gpt-4o","messages":[{"role":"user","content":"${canaryGithub}"}],` });
    await call(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: bearer(canaryGithub.replace('ghu_', 'ghp_')), body: '{}' });
    for (let i = 0; i < 32; i++) await chat(imported.key); // into the rate limit
    await call(`${auth.url}/auth/accounts`, { method: 'POST', headers: bearer(ADMIN_TOKEN), body: JSON.stringify({ github_token: `${canaryGithub}nope` }) });
    await call(`${auth.url}/auth/accounts`, { headers: bearer(`${ADMIN_TOKEN}x`) });
    // Rotation, and revocation by the seed's route, which carries the key in its URL.
    const rotated = JSON.parse((await call(`${auth.url}/auth/keys/${imported.keyId}/rotate`, { method: 'POST', headers: bearer(ADMIN_TOKEN), body: '{"grace_seconds":60}' })).body);
    expect((await chat(rotated.key)).status).toBe(200);
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    expect((await call(`${auth.url}/auth/tokens/${rotated.key}`, { method: 'DELETE', headers: admin })).status).toBe(204);
    await new Promise((r) => setTimeout(r, 200));
    expect((await chat(rotated.key)).status).toBe(401);
    await new Promise((r) => setTimeout(r, 3000)); // a few refresh jobs run with the GitHub tokens

    const secrets = {
      'GitHub token (device flow)': canaryGithub,
      'GitHub token (admin import)': canaryImport,
      'API key (device flow)': apiKey,
      'API key (import)': imported.key,
      'API key (rotated)': rotated.key,
      'admin token': ADMIN_TOKEN,
      'encryption key': ENCRYPTION_KEY,
      ...Object.fromEntries(fake.issuedTokens.map((t, i) => [`Copilot token ${i}`, t])),
    };
    expect(fake.issuedTokens.length).toBeGreaterThan(4);
    const logs = gw.output() + auth.output();
    const stored = await dumpRedis(redis.url);
    // The secret's random tail too, so a leak with a mangled prefix is still found.
    const found = (where: string) =>
      Object.entries(secrets)
        .filter(([, s]) => where.includes(s) || where.includes(s.slice(-20)))
        .map(([name]) => name);
    const figures = {
      log_lines: logs.trim().split('\n').length,
      log_levels_seen: [...new Set([...logs.matchAll(/"level":(\d+)/g)].map((m) => Number(m[1])))].sort(),
      redis_keys: stored.split('\n').length,
      error_answers: errorBodies.length,
      secrets_checked: Object.keys(secrets).length,
      in_logs: found(logs),
      in_redis: found(stored),
      in_error_answers: found(errorBodies.join('\n')),
    };
    saveFigures('canary-secrets', figures);

    expect(figures.log_levels_seen).toEqual(expect.arrayContaining([20, 30, 40])); // debug, info and warn were written
    expect(figures.error_answers).toBeGreaterThanOrEqual(12);
    expect(figures.in_logs).toEqual([]);
    expect(figures.in_redis).toEqual([]);
    expect(figures.in_error_answers).toEqual([]);
    // The stores do hold them, sealed: the search would have found a plaintext copy.
    expect(stored).toMatch(/github_token/);
    expect(stored).toContain('copilot:{acc_777}');
  }, 90_000);
});

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { chatBody, startFake, startGateway, uniquePrefix, type TestGateway } from '../support/gateway.js';
import { keysMatching, redisClient } from '../support/redis-target.js';

const ADMIN = 'admin-token-0123456789abcdef';
const GITHUB_TOKEN = 'ghu_admincanarytoken000000000000000000';
const prefix = uniquePrefix();
let fake: FakeCopilot;
let gw: TestGateway;
let other: TestGateway;

const admin = (method: string, path: string, body?: unknown, token = ADMIN) =>
  fetch(gw.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

beforeAll(async () => {
  fake = await startFake();
  fake.addUser(GITHUB_TOKEN, { login: 'ops-import', id: 4242 });
  gw = await startGateway(fake, { ADMIN_TOKEN: ADMIN }, { prefix });
  other = await startGateway(fake, { ADMIN_TOKEN: ADMIN }, { prefix, role: 'gateway' });
});
afterAll(async () => {
  await Promise.all([gw?.close(), other?.close()]);
  await fake?.stop();
});

describe('admin API access', () => {
  it('answers 401 without the admin token or with a wrong one', async () => {
    const none = await fetch(gw.url + '/auth/keys');
    expect(none.status).toBe(401);
    expect((await none.json()).error).toMatchObject({ type: 'authentication_error', code: 'missing_admin_token' });
    const wrong = await admin('GET', '/auth/keys', undefined, 'not-the-admin-token');
    expect(wrong.status).toBe(401);
    expect((await wrong.json()).error.code).toBe('invalid_admin_token');
  });

  it('does not exist (404) when ADMIN_TOKEN is unset', async () => {
    const plain = await startGateway(fake, {}, { redis: false });
    try {
      const res = await fetch(plain.url + '/auth/accounts', { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(res.status).toBe(404);
      expect((await res.json()).error.type).toBe('not_found_error');
    } finally {
      await plain.close();
    }
  });

  it('is not served by a gateway-only replica', async () => {
    const res = await fetch(other.url + '/auth/keys', { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(404);
  });
});

describe('OpenAPI document', () => {
  it('is served at /docs and describes every auth route', async () => {
    const res = await fetch(gw.url + '/docs');
    expect(res.status).toBe(200);
    const doc = await res.json();
    expect(doc.openapi).toBe('3.1.0');
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops as object).map((m) => `${m.toUpperCase()} ${path}`));
    expect(routes.sort()).toEqual(
      [
        'GET /auth/device',
        'POST /auth/device/start',
        'GET /auth/device/poll',
        'GET /auth/accounts',
        'POST /auth/accounts',
        'DELETE /auth/accounts/{id}',
        'GET /auth/keys',
        'POST /auth/keys',
        'POST /auth/keys/{id}/rotate',
        'PATCH /auth/keys/{id}',
        'DELETE /auth/keys/{id}',
        'GET /auth/tokens',
        'GET /auth/usage',
        'DELETE /auth/tokens',
        'DELETE /auth/tokens/{api_key}',
      ].sort(),
    );
    // Each documented route exists: with a wrong admin token it is refused (401), never unknown (404).
    for (const route of routes.filter((r) => !r.includes('/auth/device'))) {
      const [method, path] = route.split(' ');
      const r = await fetch(gw.url + path.replace(/\{[^}]+\}/g, 'x'), { method, headers: { authorization: 'Bearer wrong-token-0000000000' } });
      expect([route, r.status]).toEqual([route, 401]);
    }
  });
});

describe('accounts and keys', () => {
  let accountId: string;
  let firstKey: string;

  it('imports an account from a GitHub token and issues a first key that works', async () => {
    const res = await admin('POST', '/auth/accounts', { github_token: GITHUB_TOKEN });
    expect(res.status).toBe(201);
    const body = await res.json();
    expect(body.account).toMatchObject({ id: 'acc_4242', login: 'ops-import', status: 'active' });
    expect(body.key.key).toMatch(/^sk-cgw-[0-9A-Za-z]{40}$/);
    accountId = body.account.id;
    firstKey = body.key.key;
    expect((await gw.post('/v1/chat/completions', chatBody(), firstKey)).status).toBe(200);
  });

  it('refuses an account import without a token, or with one GitHub refuses', async () => {
    const missing = await admin('POST', '/auth/accounts', {});
    expect(missing.status).toBe(400);
    expect((await missing.json()).error).toMatchObject({ param: 'github_token', code: 'missing_required_parameter' });
    const refused = await admin('POST', '/auth/accounts', { github_token: 'ghu_unknowntoken00000000000000000000' });
    expect(refused.status).toBe(400);
    expect((await refused.json()).error.code).toBe('invalid_github_token');
  });

  it('lists accounts and keys without any token or key in them', async () => {
    const accounts = await (await admin('GET', '/auth/accounts')).text();
    const keys = await (await admin('GET', '/auth/keys')).text();
    expect(JSON.parse(accounts).data.map((a: { id: string }) => a.id)).toContain(accountId);
    expect(Object.keys(JSON.parse(accounts).data[0]).sort()).toEqual(
      ['api_base', 'copilot_token_expires_at', 'created_at', 'id', 'last_error', 'last_refresh_at', 'login', 'status', 'plan', 'premium_entitlement', 'premium_remaining', 'premium_unlimited', 'quota_reset_at'].sort(),
    );
    for (const text of [accounts, keys]) {
      expect(text).not.toContain(GITHUB_TOKEN);
      expect(text).not.toContain(firstKey);
    }
    expect(JSON.parse(keys).data[0].prefix).toBe(firstKey.slice(0, 11));
  });

  it('issues keys with validation: 400 without account_id, 404 for an unknown account', async () => {
    const missing = await admin('POST', '/auth/keys', { name: 'x' });
    expect(missing.status).toBe(400);
    expect((await missing.json()).error.param).toBe('account_id');
    const unknown = await admin('POST', '/auth/keys', { account_id: 'acc_nope' });
    expect(unknown.status).toBe(404);
    for (const expires_in of [-1, 0, 1.5, 'soon']) {
      const bad = await admin('POST', '/auth/keys', { account_id: accountId, expires_in });
      expect(bad.status).toBe(400);
      expect((await bad.json()).error).toMatchObject({ param: 'expires_in', code: 'invalid_value' });
    }
    const grace = await admin('POST', '/auth/keys/key_x/rotate', { grace_seconds: -5 });
    expect(grace.status).toBe(400);
    expect((await grace.json()).error.param).toBe('grace_seconds');
    expect((await admin('POST', '/auth/keys/key_missing/rotate', {})).status).toBe(404);
  });

  it('rotates a key: the old one works inside the grace window, not after', async () => {
    const created = await (await admin('POST', '/auth/keys', { account_id: accountId, name: 'ci' })).json();
    expect((await gw.post('/v1/chat/completions', chatBody(), created.key)).status).toBe(200);
    const rotated = await admin('POST', `/auth/keys/${created.id}/rotate`, { grace_seconds: 1 });
    expect(rotated.status).toBe(201);
    const r = await rotated.json();
    expect(r.replaces).toBe(created.id);
    expect(Date.parse(r.old_key_expires_at)).toBeGreaterThan(Date.now());
    expect((await gw.post('/v1/chat/completions', chatBody(), created.key)).status).toBe(200);
    expect((await other.post('/v1/chat/completions', chatBody(), r.key)).status).toBe(200);
    await new Promise((res) => setTimeout(res, 1100));
    expect((await gw.post('/v1/chat/completions', chatBody(), created.key)).status).toBe(401);
    expect((await other.post('/v1/chat/completions', chatBody(), created.key)).status).toBe(401);
    expect((await gw.post('/v1/chat/completions', chatBody(), r.key)).status).toBe(200);
  });

  it('stores the very end of the grace window it answers, however long the rotation takes', async () => {
    const created = await (await admin('POST', '/auth/keys', { account_id: accountId, name: 'slow-clock' })).json();
    // Each reading of the clock a millisecond later than the last, as on a busy box.
    const realNow = Date.now.bind(Date);
    let tick = 0;
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + ++tick);
    let r: { old_key_expires_at: string };
    try {
      r = await (await admin('POST', `/auth/keys/${created.id}/rotate`, { grace_seconds: 30 })).json();
    } finally {
      clock.mockRestore();
    }
    const keys = (await (await admin('GET', '/auth/keys')).json()).data as { id: string; revoked_at: string | null }[];
    expect(keys.find((k) => k.id === created.id)!.revoked_at).toBe(r.old_key_expires_at);
  });

  it('revokes a key: a second replica refuses it within 1 s', async () => {
    const created = await (await admin('POST', '/auth/keys', { account_id: accountId })).json();
    expect((await other.post('/v1/chat/completions', chatBody(), created.key)).status).toBe(200);
    expect((await admin('DELETE', `/auth/keys/${created.id}`)).status).toBe(204);
    const revokedAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < 1000) status = (await other.post('/v1/chat/completions', chatBody(), created.key)).status;
    expect(status).toBe(401);
    expect((await admin('DELETE', '/auth/keys/key_unknown')).status).toBe(404);
  });

  it('keeps no GitHub token and no API key in plaintext anywhere in Redis', async () => {
    const redis = redisClient();
    try {
      const keys = await keysMatching(redis, `${prefix}*`);
      expect(keys.length).toBeGreaterThan(0);
      let dump = keys.join('\n');
      for (const k of keys) {
        const type = await redis.type(k);
        if (type === 'string') dump += await redis.get(k);
        else if (type === 'hash') dump += JSON.stringify(await redis.hgetall(k));
        else if (type === 'set') dump += (await redis.smembers(k)).join(',');
      }
      expect(dump).not.toContain(GITHUB_TOKEN);
      expect(dump).not.toContain(firstKey);
      expect(dump).not.toContain(firstKey.slice(7));
    } finally {
      await redis.quit();
    }
  });

  it('revokes through the seed route DELETE /auth/tokens/{api_key}', async () => {
    const created = await (await admin('POST', '/auth/keys', { account_id: accountId })).json();
    expect((await admin('DELETE', `/auth/tokens/${created.key}`)).status).toBe(204);
    await new Promise((res) => setTimeout(res, 100));
    expect((await gw.post('/v1/chat/completions', chatBody(), created.key)).status).toBe(401);
    expect((await (await admin('GET', '/auth/tokens')).json()).data.length).toBeGreaterThan(0);
  });

  it('deletes an account and every key of it', async () => {
    expect((await admin('DELETE', `/auth/accounts/${accountId}`)).status).toBe(204);
    await new Promise((res) => setTimeout(res, 100));
    expect((await gw.post('/v1/chat/completions', chatBody(), firstKey)).status).toBe(401);
    expect((await admin('DELETE', `/auth/accounts/${accountId}`)).status).toBe(404);
    const keys = (await (await admin('GET', '/auth/keys')).json()).data;
    expect(keys.filter((k: { account_id: string }) => k.account_id === accountId)).toEqual([]);
  });
});

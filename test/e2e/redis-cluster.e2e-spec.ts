import { Redis, type Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeys } from '#libs/redis';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { accountWithKey, chatBody, startFake, startGateway, uniquePrefix, type TestGateway } from '../support/gateway.js';
import { keysPerNode, redisClient } from '../support/redis-target.js';

/**
 * Issue 15: on a Redis Cluster (the `cluster` project only, vitest.config.ts) the state really is
 * in the cluster. An auth service and a gateway replica serve accounts, keys, requests, the device
 * flow, stored responses, a quota, the rate limit, usage and the refresh queue; then each node is
 * asked for its keys. Falling back to per-process state would leave the nodes empty, and a command
 * or script across slots would answer CROSSSLOT (each node counts them in INFO errorstats) or fail.
 */
const ADMIN = 'admin-token-0123456789abcdef';
const prefix = uniquePrefix();
const keys = new RedisKeys(prefix);
const today = new Date().toISOString().slice(0, 10).replaceAll('-', '');
let fake: FakeCopilot;
let auth: TestGateway;
let gw: TestGateway;
let redis: Cluster;

const admin = (method: string, path: string, body?: unknown) =>
  fetch(auth.url + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

/** Each node's count of commands it refused with CROSSSLOT since it started. */
const crossSlotErrors = () =>
  Promise.all(redis.nodes('master').map(async (node) => Number(/errorstat_CROSSSLOT:count=(\d+)/.exec(await node.info('errorstats'))?.[1] ?? 0)));

beforeAll(async () => {
  fake = await startFake({ deviceIntervalSeconds: 0 });
  auth = await startGateway(fake, { ADMIN_TOKEN: ADMIN }, { prefix, role: 'auth' });
  gw = await startGateway(fake, {}, { prefix, role: 'gateway' });
  redis = redisClient() as Cluster;
  await redis.ping();
});
afterAll(async () => {
  await Promise.all([auth?.close(), gw?.close()]);
  redis?.disconnect();
  await fake?.stop();
});

describe('state on a Redis Cluster of 3 primaries', () => {
  it('spreads every family of keys over the nodes, one slot per account, key and response, with no CROSSSLOT', async () => {
    // Accounts and keys through the store (MULTI-free writes, sets listed over many slots).
    const owners = await Promise.all(['ada', 'bob', 'cy', 'dee', 'eve', 'fay'].map((login) => accountWithKey(auth, fake, login)));
    const limited = await (await admin('POST', '/auth/keys', { account_id: owners[0].account.id, limits: { requests_per_day: 50 } })).json();
    expect((await (await admin('GET', '/auth/accounts')).json()).data.length).toBeGreaterThanOrEqual(6);
    expect((await (await admin('GET', '/auth/keys')).json()).data.length).toBeGreaterThanOrEqual(7);

    // Requests: token exchange under the refresh lock, rate limit, quota, model list, stored responses.
    for (const { key } of owners) expect((await gw.post('/v1/chat/completions', chatBody(), key)).status).toBe(200);
    expect((await gw.post('/v1/chat/completions', chatBody(), limited.key)).status).toBe(200);
    expect((await gw.get('/v1/models', owners[1].key)).status).toBe(200);
    const response = await (await gw.post('/v1/responses', { model: 'gpt-4o', input: 'Hi' }, owners[2].key)).json();
    expect((await gw.get(`/v1/responses/${response.id}`, owners[2].key)).status).toBe(200);
    expect((await gw.get('/v1/usage', owners[3].key)).status).toBe(200);

    // A device flow left pending: its session and the start counter stay.
    const device = await (await auth.post('/auth/device/start', {})).json();
    expect((await (await auth.get(`/auth/device/poll?device_code=${device.device_code}`)).json()).status).toBe('pending');

    // A deleted account takes its keys with it (one DEL for the account's own keys, one slot).
    const leaver = owners[5];
    expect((await admin('DELETE', `/auth/accounts/${leaver.account.id}`)).status).toBe(204);

    // Usage reaches the cluster within a flush (every second) and the admin report reads it back.
    const usageKey = keys.usageKey(owners[0].record.id, `day:${today}`);
    const deadline = Date.now() + 5000;
    while (!(await redis.exists(usageKey)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect((await admin('GET', '/auth/usage')).status).toBe(200);

    const perNode = await keysPerNode(redis, `${prefix}*`);
    const all = perNode.flat();
    expect(perNode).toHaveLength(3);
    expect(perNode.filter((k) => k.length > 0).length).toBeGreaterThanOrEqual(2);
    const families = [
      keys.account(owners[0].account.id),
      keys.accounts(),
      keys.key(owners[0].record.hash),
      keys.keys(),
      keys.copilot(owners[0].account.id),
      keys.models(owners[1].account.id),
      keys.copilotQuota(owners[3].account.id),
      keys.rateLimit(owners[0].record.id),
      keys.quota(limited.id, `day:${today}`),
      keys.response(response.id),
      keys.device(device.device_code),
      usageKey,
    ];
    expect(families.filter((k) => !all.includes(k))).toEqual([]);
    expect(all.some((k) => k.startsWith(keys.responseItem(owners[2].record.id, '')))).toBe(true);
    expect(all.some((k) => k.startsWith(`${prefix}dstart:{`))).toBe(true);
    expect(all.some((k) => k.startsWith(`${keys.bullPrefix()}:copilot-token-refresh:`))).toBe(true);
    expect(all.filter((k) => k.includes(`{${leaver.account.id}}`) || k.includes(`{${leaver.record.hash}}`))).toEqual([]);

    // Keys sharing a hash tag sit on one node: an account's record, token and model list together.
    const nodeOf = (k: string) => perNode.findIndex((n) => n.includes(k));
    expect(nodeOf(keys.copilot(owners[1].account.id))).toBe(nodeOf(keys.account(owners[1].account.id)));
    expect(nodeOf(keys.models(owners[1].account.id))).toBe(nodeOf(keys.account(owners[1].account.id)));

    // None since the cluster started: nor the gateways' boot (the refresh queue's scripts), nor any suite beside.
    expect(await crossSlotErrors()).toEqual([0, 0, 0]);
  });

  it('delivers an event published on one node to subscribers on every node', async () => {
    const { key, record } = await accountWithKey(auth, fake, 'gone-soon');
    expect((await gw.post('/v1/chat/completions', chatBody(), key)).status).toBe(200);
    const subscribers = redis.nodes('master').map((node) => new Redis(node.options.port!, node.options.host!));
    try {
      const revoked = JSON.stringify({ type: 'key.revoked', hash: record.hash });
      const heard = subscribers.map((s) => new Promise<void>((resolve) => s.on('message', (_channel, message) => message === revoked && resolve())));
      await Promise.all(subscribers.map((s) => s.subscribe(keys.events())));
      const revokedAt = Date.now();
      expect((await admin('DELETE', `/auth/keys/${record.id}`)).status).toBe(204);
      await Promise.all(heard);
      let status = 200;
      while (status === 200 && Date.now() - revokedAt < 1000) status = (await gw.post('/v1/chat/completions', chatBody(), key)).status;
      expect(status).toBe(401);
    } finally {
      subscribers.forEach((s) => s.disconnect());
    }
  });
});

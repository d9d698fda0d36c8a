import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeys } from '#libs/redis';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { accountWithKey, chatBody, startFake, startGateway, uniquePrefix, type TestGateway } from '../support/gateway.js';
import { redisClient } from '../support/redis-target.js';

/**
 * Tokens that live 65 s are usable for 5 s (the last 60 s are never used) and say refresh_in 1 s,
 * so the worker renews them every second and requests must keep finding a fresh one.
 */
let fake: FakeCopilot;
beforeAll(async () => {
  fake = await startFake({ tokenTtlSeconds: 65 });
});
afterAll(async () => {
  await fake?.stop();
});

const until = async (cond: () => boolean | Promise<boolean>, ms = 5000) => {
  const end = Date.now() + ms;
  while (!(await cond()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return cond();
};

describe('token refresh with BullMQ', () => {
  const prefix = uniquePrefix();
  let auth1: TestGateway;
  let auth2: TestGateway;
  let gateway: TestGateway;
  beforeAll(async () => {
    auth1 = await startGateway(fake, {}, { prefix, role: 'auth' });
    auth2 = await startGateway(fake, {}, { prefix, role: 'auth' });
    gateway = await startGateway(fake, {}, { prefix, role: 'gateway' });
  });
  afterAll(async () => {
    await Promise.all([auth1?.close(), auth2?.close(), gateway?.close()]);
  });

  it('renews tokens before they expire, and the gateway makes no exchange of its own', async () => {
    const { key } = await accountWithKey(auth1, fake, 'warm');
    const exchangesBefore = fake.counters.exchanges;
    const started = Date.now();
    while (Date.now() - started < 4000) {
      expect((await gateway.post('/v1/chat/completions', chatBody(), key)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(fake.counters.exchanges - exchangesBefore).toBeGreaterThanOrEqual(2);
    const metrics = await (await gateway.get('/metrics')).text();
    expect(metrics).not.toMatch(/cgw_token_cache_lookups_total\{layer="exchange"\} [1-9]/);
    expect(metrics).toMatch(/cgw_token_cache_lookups_total\{layer="redis"\} [1-9]/);
    const authMetrics = await (await auth1.get('/metrics')).text() + (await (await auth2.get('/metrics')).text());
    expect(authMetrics).toMatch(/cgw_refresh_jobs_total\{result="success"\} [1-9]/);
  });

  it('schedules each account once with two auth replicas on one Redis', async () => {
    const { account } = await accountWithKey(auth2, fake, 'once');
    const queue = new Queue('copilot-token-refresh', { connection: redisClient({ maxRetriesPerRequest: null }), prefix: new RedisKeys(prefix).bullPrefix() });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const jobs = [...(await queue.getDelayed()), ...(await queue.getWaiting()), ...(await queue.getActive())].filter((j) => j.data.accountId === account.id);
      expect(jobs.length).toBe(1);
    } finally {
      await queue.close();
    }
  });

  it('marks the account revoked when GitHub refuses its token, and its keys say so', async () => {
    const { key, account, githubToken } = await accountWithKey(auth1, fake, 'goner');
    // Cached on the gateway (key and token) before GitHub stops honouring the account.
    expect((await gateway.post('/v1/chat/completions', chatBody(), key)).status).toBe(200);
    fake.users.delete(githubToken);
    expect(await until(async () => (await auth1.accounts.listAccounts()).find((a) => a.id === account.id)?.status === 'revoked')).toBe(true);
    const res = await gateway.post('/v1/chat/completions', chatBody(), key);
    expect(res.status).toBe(401);
    expect((await res.json()).error.code).toBe('github_token_revoked');
    expect(await (await auth1.get('/metrics')).text()).toMatch(/cgw_accounts\{status="revoked"\} [1-9]/);
  });
});

describe('token refresh in embedded mode', () => {
  it('renews on in-process timers', async () => {
    const gw = await startGateway(fake, {}, { redis: false });
    try {
      const { key } = await accountWithKey(gw, fake, 'embedded-warm');
      const before = fake.counters.exchanges;
      expect(await until(() => fake.counters.exchanges - before >= 2, 5000)).toBe(true);
      expect((await gw.post('/v1/chat/completions', chatBody(), key)).status).toBe(200);
    } finally {
      await gw.close();
    }
  });
});

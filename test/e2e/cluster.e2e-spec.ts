import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeys } from '#libs/redis';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { accountWithKey, chatBody, startFake, startGateway, uniquePrefix, type TestGateway } from '../support/gateway.js';
import { redisClient } from '../support/redis-target.js';

/** Two gateway replicas sharing one Redis, as in a Kubernetes Deployment. */
let fake: FakeCopilot;
let a: TestGateway;
let b: TestGateway;
let registrar: TestGateway;
const prefix = uniquePrefix();

beforeAll(async () => {
  fake = await startFake({ exchangeDelayMs: 150 });
  registrar = await startGateway(fake, {}, { prefix, role: 'auth' });
  a = await startGateway(fake, { RATE_LIMIT_REQUESTS: '100000' }, { prefix, role: 'gateway' });
  b = await startGateway(fake, { RATE_LIMIT_REQUESTS: '100000' }, { prefix, role: 'gateway' });
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close(), registrar?.close()]);
  await fake?.stop();
});

describe('two replicas on one Redis', () => {
  it('makes exactly one token exchange for 100 concurrent cold requests over both replicas', async () => {
    // Registered on a third replica, whose cached token is then dropped from Redis: a and b start cold.
    const { key, account } = await accountWithKey(registrar, fake, 'cold');
    const redis = redisClient();
    await redis.del(new RedisKeys(prefix).copilot(account.id));
    await redis.quit();
    fake.resetCounters();
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).post('/v1/chat/completions', chatBody(), key).then((r) => r.status)),
    );
    expect(results.filter((s) => s === 200)).toHaveLength(100);
    expect(fake.counters.exchanges).toBe(1);
    expect(fake.counters.chatRequests).toBe(100);
  });

  it('refuses a key on the other replica within 1 s of its revocation', async () => {
    const { key, record } = await accountWithKey(a, fake, 'revokee');
    expect((await b.post('/v1/chat/completions', chatBody(), key)).status).toBe(200);
    const revokedAt = Date.now();
    await a.accounts.revokeKey(record.hash);
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < 1000) {
      status = (await b.post('/v1/chat/completions', chatBody(), key)).status;
    }
    expect(status).toBe(401);
    expect(Date.now() - revokedAt).toBeLessThan(1000);
  });

  it('drops every key of a deleted account on both replicas', async () => {
    const { key, account } = await accountWithKey(a, fake, 'leaver');
    expect((await b.post('/v1/chat/completions', chatBody(), key)).status).toBe(200);
    await a.accounts.deleteAccount(account.id);
    await new Promise((r) => setTimeout(r, 100));
    const res = await b.post('/v1/chat/completions', chatBody(), key);
    expect(res.status).toBe(401);
  });
});

describe('rate limit shared through Redis', () => {
  let c: TestGateway;
  let d: TestGateway;
  beforeAll(async () => {
    const prefix = uniquePrefix();
    c = await startGateway(fake, { RATE_LIMIT_REQUESTS: '3', RATE_LIMIT_WINDOW: '30' }, { prefix });
    d = await startGateway(fake, { RATE_LIMIT_REQUESTS: '3', RATE_LIMIT_WINDOW: '30' }, { prefix });
  });
  afterAll(async () => {
    await Promise.all([c?.close(), d?.close()]);
  });

  it('counts a key across replicas and answers 429 with Retry-After and x-ratelimit-*', async () => {
    const { key } = await accountWithKey(c, fake, 'limited');
    const first = await c.post('/v1/chat/completions', chatBody(), key);
    expect(first.headers.get('x-ratelimit-limit')).toBe('3');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('2');
    expect((await d.post('/v1/chat/completions', chatBody(), key)).status).toBe(200);
    expect((await c.post('/v1/chat/completions', chatBody(), key)).status).toBe(200);
    const limited = await d.post('/v1/chat/completions', chatBody(), key);
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(30);
    expect(await limited.json()).toEqual({
      error: {
        message: `Rate limit reached for this key: 3 requests per 30 s. Retry after ${retryAfter} s.`,
        type: 'rate_limit_error',
        param: null,
        code: 'rate_limit_exceeded',
      },
    });
    const other = await accountWithKey(c, fake, 'unlimited');
    expect((await d.post('/v1/chat/completions', chatBody(), other.key)).status).toBe(200);
    expect(await (await d.get('/metrics')).text()).toMatch(/cgw_rate_limited_requests_total 1/);
  });
});

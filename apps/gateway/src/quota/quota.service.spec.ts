import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore, RedisStore, type Principal, type StateStore } from '#libs/accounts';
import { ApiError } from '#libs/copilot';
import { MetricsService } from '#libs/metrics';
import { suiteConnections } from '#test/support/redis-target';
import { periodOf, QuotaService, type KeyTotals, type PeriodCounts } from './quota.service.js';

/** UsageService.periodTotals as a stub: whatever the test says was counted. */
class StubUsage {
  totals: Record<string, { day?: Partial<PeriodCounts>; month?: Partial<PeriodCounts> }> = {};
  calls = 0;
  fail = false;
  async periodTotals(keyId: string): Promise<KeyTotals> {
    this.calls++;
    if (this.fail) throw new Error('store down');
    const zero = { start: 0, requests: 0, input_tokens: 0, output_tokens: 0, premium_requests: 0 };
    const t = this.totals[keyId] ?? {};
    return { minute: zero, day: { ...zero, ...t.day }, month: { ...zero, ...t.month } };
  }
}

// 2025-03-14T10:00:00Z: 14 h to UTC midnight, 17 days 14 h to April 1st.
const NOW = Date.UTC(2025, 2, 14, 10, 0, 0);
let n = 0;
const key = (limits: Principal['limits']) => ({ keyId: `key_${Date.now()}_${++n}`, keyHash: `h${n}`, limits });

async function refusal(p: Promise<unknown>): Promise<ApiError> {
  const err = await p.then(
    () => null,
    (e) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

function service(store: StateStore, usage = new StubUsage()) {
  const metrics = new MetricsService();
  return { quota: new QuotaService(store, usage, metrics, { maxClientsCache: 1000 }), usage, metrics };
}

const refusals = async (metrics: MetricsService, limit: string) =>
  (await metrics.quotaRefusals.get()).values.find((v) => v.labels.limit === limit)?.value ?? 0;

describe('periodOf', () => {
  it('ends a day at UTC midnight and a month on the first of the next, across year ends', () => {
    expect(periodOf('day', NOW)).toEqual({ stamp: '20250314', end: Date.UTC(2025, 2, 15) });
    expect(periodOf('month', NOW)).toEqual({ stamp: '202503', end: Date.UTC(2025, 3, 1) });
    expect(periodOf('day', Date.UTC(2024, 11, 31, 23, 59, 59, 999))).toEqual({ stamp: '20241231', end: Date.UTC(2025, 0, 1) });
    expect(periodOf('month', Date.UTC(2024, 11, 31, 23))).toEqual({ stamp: '202412', end: Date.UTC(2025, 0, 1) });
    expect(periodOf('day', Date.UTC(2024, 1, 29, 12))).toEqual({ stamp: '20240229', end: Date.UTC(2024, 2, 1) });
  });
});

describe.each([
  [
    'memory',
    async () => {
      const store = new MemoryStore(null);
      // Every service made here subscribes to the one store's events; a process has a handful.
      (store as unknown as { events: { setMaxListeners(n: number): void } }).events.setMaxListeners(0);
      return { store: store as StateStore, close: async () => {} };
    },
  ],
  [
    'redis',
    async () => {
      const conns = suiteConnections(`quotaspec${Date.now()}:`);
      await conns.connect();
      return { store: new RedisStore(conns) as StateStore, close: () => conns.onModuleDestroy() };
    },
  ],
])('QuotaService on the %s store', (_name, open) => {
  let store: StateStore;
  let close: () => Promise<void>;
  beforeAll(async () => ({ store, close } = await open()));
  afterAll(() => close());

  it('lets a key without day or month limits through without reading anything', async () => {
    const { quota, usage } = service(store);
    await quota.admit(key(null), NOW);
    await quota.admit(key({ requests_per_minute: 5 }), NOW);
    expect(usage.calls).toBe(0);
  });

  it('admits exactly requests_per_day, then 429 insufficient_quota with Retry-After to UTC midnight', async () => {
    const { quota, metrics } = service(store);
    const k = key({ requests_per_day: 3 });
    for (let i = 0; i < 3; i++) await quota.admit(k, NOW);
    const err = await refusal(quota.admit(k, NOW));
    expect(err.status).toBe(429);
    expect(err.toJSON()).toEqual({
      error: {
        message: 'This key has used its 3 requests for today (requests_per_day, UTC). It resets at 2025-03-15T00:00:00.000Z, in 50400 s.',
        type: 'insufficient_quota',
        param: null,
        code: 'insufficient_quota',
      },
    });
    expect(err.headers).toEqual({ 'retry-after': '50400' });
    expect(await refusals(metrics, 'requests_per_day')).toBe(1);
    // The next UTC day starts from zero.
    await quota.admit(k, Date.UTC(2025, 2, 15, 0, 0, 1));
  });

  it('never admits more than requests_per_day from several replicas at once', async () => {
    const replicas = [service(store), service(store), service(store)];
    const k = key({ requests_per_day: 40 });
    const results = await Promise.allSettled(Array.from({ length: 150 }, (_, i) => replicas[i % 3].quota.admit(k, NOW)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(40);
  });

  it('starts a new requests_per_day counter from the requests the usage records counted that day', async () => {
    const { quota, usage } = service(store);
    const k = key({ requests_per_day: 10 });
    usage.totals[k.keyId] = { day: { requests: 8 } };
    await quota.admit(k, NOW);
    await quota.admit(k, NOW);
    await refusal(quota.admit(k, NOW));
    expect(usage.calls).toBe(1); // read once, to seed the counter
  });

  it('a limit raised (a new principal after PATCH) admits again; the same limit stays refused without the store', async () => {
    const { quota } = service(store);
    const k = key({ requests_per_day: 1 });
    await quota.admit(k, NOW);
    await refusal(quota.admit(k, NOW));
    await refusal(quota.admit(k, NOW));
    await quota.admit({ ...k, limits: { requests_per_day: 2 } }, NOW);
    await refusal(quota.admit({ ...k, limits: { requests_per_day: 2 } }, NOW));
  });

  it('refuses tokens_per_day once the day’s input + output tokens reach it, with Retry-After to UTC midnight', async () => {
    const { quota, usage, metrics } = service(store);
    const k = key({ tokens_per_day: 100 });
    usage.totals[k.keyId] = { day: { input_tokens: 60, output_tokens: 39 } };
    await quota.admit(k, NOW); // 99 < 100: admitted (and may end above the limit)
    usage.totals[k.keyId] = { day: { input_tokens: 60, output_tokens: 45 } };
    const err = await refusal(quota.admit(k, NOW));
    expect(err.message).toBe('This key has used its 100 tokens for today (tokens_per_day, UTC). It resets at 2025-03-15T00:00:00.000Z, in 50400 s.');
    expect(err.headers['retry-after']).toBe('50400');
    expect(await refusals(metrics, 'tokens_per_day')).toBe(1);
    // Spent for the day: refused from memory, the totals are not read again.
    const calls = usage.calls;
    await refusal(quota.admit(k, NOW + 1000));
    expect(usage.calls).toBe(calls);
  });

  it('refuses tokens_per_month and premium_requests_per_month with Retry-After to the first of next month', async () => {
    const { quota, usage } = service(store);
    const tokens = key({ tokens_per_month: 1000 });
    usage.totals[tokens.keyId] = { month: { input_tokens: 900, output_tokens: 100 } };
    const a = await refusal(quota.admit(tokens, NOW));
    expect(a.headers['retry-after']).toBe(String((Date.UTC(2025, 3, 1) - NOW) / 1000));
    expect(a.message).toContain('1000 tokens for this month (tokens_per_month, UTC)');
    const premium = key({ premium_requests_per_month: 2 });
    usage.totals[premium.keyId] = { month: { premium_requests: 1.99 } };
    await quota.admit(premium, NOW);
    usage.totals[premium.keyId] = { month: { premium_requests: 2.33 } };
    const b = await refusal(quota.admit(premium, NOW));
    expect(b.message).toContain('2 premium requests for this month (premium_requests_per_month, UTC)');
  });

  it('when day and month limits are both spent, Retry-After is the later end; a token refusal counts no request', async () => {
    const { quota, usage } = service(store);
    const k = key({ tokens_per_day: 10, tokens_per_month: 10, requests_per_day: 1 });
    usage.totals[k.keyId] = { day: { input_tokens: 10 }, month: { input_tokens: 10 } };
    const err = await refusal(quota.admit(k, NOW));
    expect(err.headers['retry-after']).toBe(String((Date.UTC(2025, 3, 1) - NOW) / 1000));
    expect(await store.takeQuota(k.keyId, 'day', NOW, 1)).toBeNull(); // no request was counted
  });

  it('lets token limits through when the usage totals cannot be read, and counts per replica when the store cannot', async () => {
    const { quota, usage, metrics } = service(store);
    usage.fail = true;
    const k = key({ tokens_per_day: 1 });
    await quota.admit(k, NOW);
    expect((await metrics.storeFallbacks.get()).values.find((v) => v.labels.what === 'quota')?.value).toBe(1);
    const broken = { ...store, takeQuota: async () => Promise.reject(new Error('down')), subscribe: () => {} } as unknown as StateStore;
    const local = service(broken);
    const d = key({ requests_per_day: 2 });
    await local.quota.admit(d, NOW);
    await local.quota.admit(d, NOW);
    await refusal(local.quota.admit(d, NOW));
  });
});

describe('the stores’ quota counters', () => {
  it('reset: the next request seeds the counter again (a limit newly set counts from the usage so far)', async () => {
    const store = new MemoryStore(null);
    expect(await store.takeQuota('k', 'day', NOW, 5)).toBeNull();
    expect(await store.takeQuota('k', 'day', NOW, 5, 4)).toEqual({ admitted: true, count: 5 });
    expect(await store.takeQuota('k', 'day', NOW, 5)).toEqual({ admitted: false, count: 5 });
    await store.resetQuota('k', 'day', NOW);
    expect(await store.takeQuota('k', 'day', NOW, 5)).toBeNull();
  });

  it('Redis: the counter is quota:{key id}:day:YYYYMMDD and expires an hour after its day', async () => {
    const prefix = `quotakeys${Date.now()}:`;
    const conns = suiteConnections(prefix);
    await conns.connect();
    const store = new RedisStore(conns);
    const now = Date.now();
    expect(await store.takeQuota('key_x', 'day', now, 5, 0)).toEqual({ admitted: true, count: 1 });
    const name = `${prefix}quota:{key_x}:day:${periodOf('day', now).stamp}`;
    expect(await conns.client.get(name)).toBe('1');
    const ttl = await conns.client.pttl(name);
    expect(ttl).toBeGreaterThan(periodOf('day', now).end - now + 3_500_000);
    expect(ttl).toBeLessThanOrEqual(periodOf('day', now).end - now + 3_600_000);
    await store.resetQuota('key_x', 'day', now);
    expect(await conns.client.exists(name)).toBe(0);
    await conns.onModuleDestroy();
  });
});

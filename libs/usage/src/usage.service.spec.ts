import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AppConfig } from '#libs/config';
import { MetricsService } from '#libs/metrics';
import { RedisConnections } from '#libs/redis';
import { killRedis, startRedis } from '../../../test/support/redis-server.js';
import { UsageService } from './usage.service.js';
import { MemoryUsageStore, RedisUsageStore, type UsageStore } from './usage.store.js';
import type { UsageRecord } from './usage-record.js';

const config = { usageRetentionDays: 90 } as AppConfig;
const rec = (over: Partial<UsageRecord> = {}): UsageRecord => ({
  at: Date.now(),
  keyId: 'key_a',
  accountId: 'acc_1',
  model: 'gpt-4o',
  dialect: 'openai',
  endpoint: '/chat/completions',
  status: 200,
  inputTokens: 12,
  outputTokens: 5,
  cachedTokens: 0,
  initiator: 'user',
  premiumRequests: 0,
  creditsNanoAiu: 0,
  durationMs: 10,
  ...over,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const metric = async (m: MetricsService, name: string) => (await m.registry.metrics()).split('\n').filter((l) => l.startsWith(name));

async function redisStore(url: string, prefix = `tus${Math.random().toString(36).slice(2, 8)}:`) {
  const conns = RedisConnections.single(url, prefix);
  await conns.connect();
  return { conns, store: new RedisUsageStore(conns) };
}

describe('UsageService on Redis', () => {
  let conns: RedisConnections;
  let store: RedisUsageStore;
  beforeAll(async () => {
    ({ conns, store } = await redisStore(inject('redisUrl')));
  });
  afterAll(async () => {
    await store.close();
    await conns.onModuleDestroy();
  });

  it("counts a key's minute, day and month exactly, flushed or not, and flushes in one write", async () => {
    const usage = new UsageService(config, store, new MetricsService());
    for (let i = 0; i < 10; i++) usage.record(rec({ keyId: 'key_exact', premiumRequests: 0.33 }));
    const before = await usage.periodTotals('key_exact');
    expect(before.day).toMatchObject({ requests: 10, input_tokens: 120, output_tokens: 50, premium_requests: 3.3 });
    expect(before.minute.requests).toBe(10);
    expect(before.month.start).toMatch(/^\d{4}-\d{2}-01T00:00:00\.000Z$/);
    await usage.flush();
    expect(usage.unflushed).toBe(0);
    const after = await usage.periodTotals('key_exact');
    expect(after).toEqual(before);
    // Another process (another UsageService on the same Redis) sees the same.
    const other = new UsageService(config, store, new MetricsService());
    expect((await other.periodTotals('key_exact')).month).toEqual(before.month);
  });

  it('never counts a flush twice when its answer was lost and it is retried', async () => {
    let calls = 0;
    const flaky: UsageStore = Object.create(store, {
      apply: {
        value: async (...args: Parameters<UsageStore['apply']>) => {
          await store.apply(...args);
          if (++calls === 1) throw new Error('Command timed out'); // applied, but the caller cannot know
        },
      },
    });
    const usage = new UsageService(config, flaky, new MetricsService());
    for (let i = 0; i < 7; i++) usage.record(rec({ keyId: 'key_retry' }));
    await expect(usage.flush()).rejects.toThrow('Command timed out');
    expect(usage.unflushed).toBe(7);
    usage.record(rec({ keyId: 'key_retry' }));
    await usage.flush(); // the same batch again (same seq): a no-op in Redis
    await usage.flush(); // then the record made since
    expect(usage.unflushed).toBe(0);
    expect((await usage.periodTotals('key_retry')).day.requests).toBe(8);
  });

  it('answers GET /auth/usage queries with what every process flushed', async () => {
    const a = new UsageService(config, store, new MetricsService());
    const b = new UsageService(config, store, new MetricsService());
    for (let i = 0; i < 30; i++) (i % 2 ? a : b).record(rec({ keyId: `key_q${i % 3}`, model: i % 2 ? 'gpt-4o' : 'claude-sonnet-4', status: i === 0 ? 500 : 200 }));
    await b.flush();
    const rows = await a.query({ groupBy: ['key', 'model'], from: Date.now() - 3_600_000, to: Date.now() + 1000, bucket: null, format: 'json' });
    const mine = rows.filter((r) => r.key_id!.startsWith('key_q'));
    expect(mine.reduce((s, r) => s + r.requests, 0)).toBe(30);
    expect(mine.reduce((s, r) => s + r.input_tokens, 0)).toBe(360);
    expect(mine.reduce((s, r) => s + r.errors, 0)).toBe(1);
    expect(mine.find((r) => r.key_id === 'key_q0' && r.model === 'claude-sonnet-4')!.requests).toBe(5);
  });

  it('counts premium requests and credits in metrics, and the flush lag', async () => {
    const metrics = new MetricsService();
    const usage = new UsageService(config, store, metrics);
    usage.record(rec({ premiumRequests: 0.33, creditsNanoAiu: 1500, model: 'claude-haiku-4.5', dialect: 'anthropic' }));
    usage.record(rec({ premiumRequests: 1, creditsNanoAiu: 500, model: 'claude-haiku-4.5', dialect: 'anthropic' }));
    expect(await metric(metrics, 'cgw_premium_requests_total{')).toEqual(['cgw_premium_requests_total{model="claude-haiku-4.5",dialect="anthropic"} 1.33']);
    expect(await metric(metrics, 'cgw_credits_nano_aiu_total{')).toEqual(['cgw_credits_nano_aiu_total{model="claude-haiku-4.5"} 2000']);
    await sleep(120);
    const [lag] = await metric(metrics, 'cgw_usage_flush_lag_seconds ');
    expect(Number(lag.split(' ')[1])).toBeGreaterThanOrEqual(0.1);
    await usage.flush();
    expect(await metric(metrics, 'cgw_usage_flush_lag_seconds ')).toEqual(['cgw_usage_flush_lag_seconds 0']);
  });
});

describe('UsageService while Redis is down', () => {
  it('keeps the batch, retries, and loses nothing when Redis is back', async () => {
    const redis = await startRedis(undefined, { persist: true });
    const { conns, store } = await redisStore(redis.url);
    const metrics = new MetricsService();
    const usage = new UsageService(config, store, metrics);
    usage.onModuleInit();
    try {
      for (let i = 0; i < 50; i++) usage.record(rec({ keyId: 'key_outage' }));
      await usage.flush();
      await killRedis(redis);
      for (let i = 0; i < 100; i++) usage.record(rec({ keyId: 'key_outage', outputTokens: 1 }));
      await sleep(1500); // a flush or two fail
      expect(usage.unflushed).toBe(100);
      expect(usage.flushLagSeconds()).toBeGreaterThan(1);
      const again = await startRedis(redis.port, { persist: true, dir: redis.dir });
      try {
        const deadline = Date.now() + 10_000;
        while (usage.unflushed && Date.now() < deadline) await sleep(100);
        expect(usage.unflushed).toBe(0);
        const day = (await usage.periodTotals('key_outage')).day;
        expect(day).toMatchObject({ requests: 150, input_tokens: 1800, output_tokens: 350 });
        expect(await metric(metrics, 'cgw_usage_dropped_records_total ')).toEqual(['cgw_usage_dropped_records_total 0']);
      } finally {
        await usage.onModuleDestroy();
        await conns.onModuleDestroy();
        await again.stop();
      }
    } finally {
      await killRedis(redis);
    }
  }, 30_000);

  it('drops what does not fit in the bounded batch, and counts it', async () => {
    const redis = await startRedis();
    const { conns, store } = await redisStore(redis.url);
    const metrics = new MetricsService();
    const usage = new UsageService(config, store, metrics);
    usage.maxEntries = 10;
    await killRedis(redis);
    for (let i = 0; i < 20; i++) usage.record(rec({ keyId: `key_${i}` })); // each: an hour entry and a minute entry
    for (let i = 0; i < 5; i++) usage.record(rec({ keyId: 'key_0' })); // grows nothing: still counted
    expect(usage.unflushed).toBe(10);
    expect(await metric(metrics, 'cgw_usage_dropped_records_total ')).toEqual(['cgw_usage_dropped_records_total 15']);
    // At shutdown what could not be written is counted too, and the shutdown does not wait on a dead Redis.
    const t0 = Date.now();
    await usage.onModuleDestroy();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await metric(metrics, 'cgw_usage_dropped_records_total ')).toEqual(['cgw_usage_dropped_records_total 25']);
    await conns.onModuleDestroy();
    await redis.stop();
  });
});

describe('UsageService embedded', () => {
  it('counts in memory and keeps the counts across a restart through DATA_DIR', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cgw-usage-svc-'));
    const first = new UsageService(config, await MemoryUsageStore.open(dir), new MetricsService());
    for (let i = 0; i < 25; i++) first.record(rec({ keyId: 'key_emb', model: i < 5 ? 'o3' : 'gpt-4o', premiumRequests: i < 5 ? 1 : 0 }));
    await first.onModuleDestroy(); // the shutdown flush, and the file written
    const second = new UsageService(config, await MemoryUsageStore.open(dir), new MetricsService());
    expect((await second.periodTotals('key_emb')).day).toMatchObject({ requests: 25, premium_requests: 5 });
    const rows = await second.query({ groupBy: ['model'], from: Date.now() - 3_600_000, to: Date.now() + 1, bucket: 'hour', format: 'json' });
    expect(rows.map((r) => [r.model, r.requests])).toEqual(
      expect.arrayContaining([
        ['gpt-4o', 20],
        ['o3', 5],
      ]),
    );
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisConnections } from '#libs/redis';
import { suiteConnections } from '#test/support/redis-target';
import { RedisThrottlerStorage } from './redis-throttler.storage.js';

/** Two replicas' storages on one real Redis. */
const prefix = `rlspec${Date.now()}:`;
let a: RedisConnections;
let b: RedisConnections;
beforeAll(async () => {
  a = suiteConnections(prefix);
  b = suiteConnections(prefix);
  await Promise.all([a.connect(), b.connect()]);
});
afterAll(async () => {
  await Promise.all([a.onModuleDestroy(), b.onModuleDestroy()]);
});

describe('RedisThrottlerStorage', () => {
  it('admits exactly the limit across two replicas, sequential and concurrent', async () => {
    const sa = new RedisThrottlerStorage(a, 100);
    const sb = new RedisThrottlerStorage(b, 100);
    let admitted = 0;
    for (let i = 0; i < 30; i++) if (!(await (i % 2 ? sa : sb).increment('seq', 60_000, 20)).isBlocked) admitted++;
    expect(admitted).toBe(20);
    const burst = await Promise.all(Array.from({ length: 300 }, (_, i) => (i % 2 ? sa : sb).increment('burst', 60_000, 100)));
    expect(burst.filter((r) => !r.isBlocked)).toHaveLength(100);
    expect(Number(await a.client.get(a.keys.rateLimit('burst')))).toBe(100);
  });

  it('never admits more than the limit, whatever the interleaving of replicas and batches', async () => {
    for (let run = 0; run < 20; run++) {
      const replicas = [new RedisThrottlerStorage(a, 100), new RedisThrottlerStorage(b, 100), new RedisThrottlerStorage(a, 100)];
      const limit = 5 + run * 17;
      let admitted = 0;
      // waves of concurrent requests, spread unevenly over the replicas
      for (let wave = 0; wave < 8; wave++) {
        const results = await Promise.all(Array.from({ length: 3 + ((wave * 7 + run) % 40) }, (_, i) => replicas[(i * (wave + 1)) % 3].increment(`mix${run}`, 60_000, limit)));
        admitted += results.filter((r) => !r.isBlocked).length;
      }
      expect(admitted).toBeLessThanOrEqual(limit);
      expect(Number(await a.client.get(a.keys.rateLimit(`mix${run}`)))).toBeLessThanOrEqual(limit);
    }
  });

  it('far from the limit, one round trip admits a batch', async () => {
    const s = new RedisThrottlerStorage(a, 100);
    await s.increment('lazy', 60_000, 1000); // the first reservation, of one
    let immediate = 0;
    for (let i = 0; i < 60; i++) {
      let settled = false;
      const p = s.increment('lazy', 60_000, 1000).then((r) => ((settled = true), r));
      await Promise.resolve();
      await Promise.resolve();
      if (settled) immediate++;
      expect((await p).isBlocked).toBe(false);
    }
    expect(immediate).toBeGreaterThanOrEqual(50);
    // Redis counts what was reserved: at most one batch ahead of what was admitted.
    const counted = Number(await a.client.get(a.keys.rateLimit('lazy')));
    expect(counted).toBeGreaterThanOrEqual(61);
    expect(counted).toBeLessThanOrEqual(61 + 64);
  });

  it("follows a key's limit changing mid-window: reserved tokens are dropped when it falls, refusals end when it rises", async () => {
    const s = new RedisThrottlerStorage(a, 100);
    let admitted = 0;
    for (let i = 0; i < 10; i++) if (!(await s.increment('change', 60_000, 1000)).isBlocked) admitted++;
    expect(admitted).toBe(10);
    expect(Number(await a.client.get(a.keys.rateLimit('change')))).toBeGreaterThan(12); // a batch was reserved ahead
    // The key's own requests_per_minute is now 12: what this replica holds was reserved under 1000.
    const lowered = await Promise.all(Array.from({ length: 20 }, () => s.increment('change', 60_000, 12)));
    admitted += lowered.filter((r) => !r.isBlocked).length;
    expect(admitted).toBeLessThanOrEqual(12);
    expect(lowered.at(-1)).toMatchObject({ isBlocked: true });
    // Raised again: the window has room under the new limit, so it admits at once.
    expect((await s.increment('change', 60_000, 500)).isBlocked).toBe(false);
  });

  it('reports the window: hits, seconds to reset, blocked with the time to wait, and refuses without Redis once full', async () => {
    const s = new RedisThrottlerStorage(a, 100);
    const first = await s.increment('window', 5_000, 1);
    expect(first).toEqual({ totalHits: 1, timeToExpire: 5, isBlocked: false, timeToBlockExpire: 0 });
    const second = await s.increment('window', 5_000, 1);
    expect(second.isBlocked).toBe(true);
    expect(second.timeToBlockExpire).toBeGreaterThanOrEqual(4);
    let settled = false;
    const third = s.increment('window', 5_000, 1).then((r) => ((settled = true), r));
    await Promise.resolve();
    await Promise.resolve();
    expect(settled).toBe(true);
    expect((await third).isBlocked).toBe(true);
  });

  it('starts a new window when the old one ends', async () => {
    const s = new RedisThrottlerStorage(a, 100);
    expect((await s.increment('short', 300, 1)).isBlocked).toBe(false);
    expect((await s.increment('short', 300, 1)).isBlocked).toBe(true);
    await new Promise((r) => setTimeout(r, 350));
    expect((await s.increment('short', 300, 1)).isBlocked).toBe(false);
  });

  it('falls back to a per-process limit at once while Redis is unreachable', async () => {
    const dead = RedisConnections.single('redis://127.0.0.1:1', prefix);
    let fallbacks = 0;
    const s = new RedisThrottlerStorage(dead, 10, () => fallbacks++);
    const started = Date.now();
    const results = [];
    for (let i = 0; i < 7; i++) results.push(await s.increment('x', 1000, 5));
    expect(Date.now() - started).toBeLessThan(100);
    expect(results.map((r) => r.isBlocked)).toEqual([false, false, false, false, false, true, true]);
    expect(results[5].timeToBlockExpire).toBe(1);
    expect(fallbacks).toBe(7);
    await dead.onModuleDestroy();
  });

  it('counts in Redis again once a live connection answers', async () => {
    let fallbacks = 0;
    const s = new RedisThrottlerStorage(a, 10, () => fallbacks++);
    for (let i = 0; i < 3; i++) await s.increment('back', 60_000, 5);
    expect(fallbacks).toBe(0);
    expect(Number(await a.client.get(a.keys.rateLimit('back')))).toBeGreaterThanOrEqual(1);
  });
});

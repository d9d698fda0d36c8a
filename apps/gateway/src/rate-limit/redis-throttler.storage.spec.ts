import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RedisConnections } from '#libs/redis';
import { RedisThrottlerStorage } from './redis-throttler.storage.js';

/** Two replicas' storages on one real Redis. */
const prefix = `rlspec${Date.now()}:`;
let a: RedisConnections;
let b: RedisConnections;
beforeAll(async () => {
  a = new RedisConnections(inject('redisUrl'), prefix);
  b = new RedisConnections(inject('redisUrl'), prefix);
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
    await new Promise((r) => setTimeout(r, 50));
    expect(Number(await a.client.get(`${prefix}rl:burst`))).toBe(300);
    expect(Number(await a.client.get(`${prefix}rl:seq`))).toBe(30);
  });

  it('waits for Redis only near the limit, and counts every request in Redis within a flush', async () => {
    const s = new RedisThrottlerStorage(a, 100);
    await s.increment('lazy', 60_000, 100);
    let immediate = 0;
    for (let i = 0; i < 60; i++) {
      let settled = false;
      const p = s.increment('lazy', 60_000, 100).then((r) => ((settled = true), r));
      await Promise.resolve();
      if (settled) immediate++;
      await p;
    }
    expect(immediate).toBeGreaterThanOrEqual(45);
    expect(immediate).toBeLessThan(60);
    await new Promise((r) => setTimeout(r, 50));
    expect(Number(await a.client.get(`${prefix}rl:lazy`))).toBe(61);
  });

  it('reports the window: hits, seconds to reset, blocked with the time to wait', async () => {
    const s = new RedisThrottlerStorage(a, 100);
    const first = await s.increment('window', 5_000, 1);
    expect(first).toEqual({ totalHits: 1, timeToExpire: 5, isBlocked: false, timeToBlockExpire: 0 });
    const second = await s.increment('window', 5_000, 1);
    expect(second.isBlocked).toBe(true);
    expect(second.timeToBlockExpire).toBeGreaterThanOrEqual(4);
  });

  it('falls back to a per-process limit at once while Redis is unreachable', async () => {
    const dead = new RedisConnections('redis://127.0.0.1:1', prefix);
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
    expect(Number(await a.client.get(`${prefix}rl:back`))).toBeGreaterThanOrEqual(1);
  });
});

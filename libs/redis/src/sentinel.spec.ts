import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSentinels, type RunningSentinels } from '../../../test/support/redis-sentinel.js';
import { connectRedis } from './connect.js';
import { requestPathOptions } from './redis.module.js';

/** Real redis-server and redis-sentinel processes: a primary, a replica, three sentinels. */
let sentinels: RunningSentinels;
beforeAll(async () => {
  sentinels = await startSentinels();
});
afterAll(async () => {
  await sentinels?.stop();
});

describe('connections through Sentinel when the primary dies', () => {
  it('all reach the new primary, however many are between the sentinels when the switch is announced', async () => {
    const target = { kind: 'sentinel', sentinels: sentinels.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })), masterName: sentinels.masterName } as const;
    // Reconnect schedules spread out, as across processes: not all in step with one another.
    const retryStrategy = (times: number) => Math.min(times * 100, 1000) + Math.floor(Math.random() * 300);
    const connections = Array.from({ length: 24 }, () => connectRedis(target, { ...requestPathOptions, retryStrategy }) as Redis);
    try {
      for (const c of connections) c.on('error', () => {});
      await Promise.all(connections.map((c) => c.connect()));
      const oldPort = await sentinels.primaryPort();
      // The first sentinel each reconnect asks never answers: every round spends half a second
      // between the sentinels, so +switch-master finds some connections there.
      sentinels.freezeSentinel(0);
      await sentinels.killPrimary();
      const { port } = await sentinels.waitForPromotion(oldPort);
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && !connections.every((c) => c.status === 'ready')) await new Promise((r) => setTimeout(r, 50));
      const statuses: Record<string, number> = {};
      for (const c of connections) statuses[c.status] = (statuses[c.status] ?? 0) + 1;
      expect(statuses).toEqual({ ready: connections.length });
      for (const c of connections) expect(c.stream.remotePort).toBe(port);
      expect(await connections[0].set('written-after-the-failover', '1')).toBe('OK');
    } finally {
      for (const c of connections) c.disconnect();
    }
  }, 40_000);
});

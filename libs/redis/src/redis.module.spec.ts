import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RunningRedis } from '../../../test/support/redis-server.js';
import { RedisConnections, StoreDownError } from './redis.module.js';

/** A frozen Redis (SIGSTOP: the socket stays open, nothing answers) against the request-path client. */
let redis: RunningRedis;
let conns: RedisConnections;
beforeAll(async () => {
  redis = await startRedis();
  conns = RedisConnections.single(redis.url, 'frozen:');
  await conns.connect();
});
afterAll(async () => {
  redis.process.kill('SIGCONT');
  await conns.onModuleDestroy();
  await redis.stop();
});

describe('RedisConnections with a frozen Redis', () => {
  it('times a command out after 500 ms, then refuses at once for a second, then probes and recovers', async () => {
    expect(conns.available).toBe(true);
    redis.process.kill('SIGSTOP');
    const t0 = performance.now();
    await expect(conns.command.get('x')).rejects.toThrow('Command timed out');
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(450);
    expect(waited).toBeLessThan(1000);
    // For the next second nobody waits: the store is skipped at once.
    expect(conns.available).toBe(false);
    expect(() => conns.command).toThrow(StoreDownError);
    redis.process.kill('SIGCONT');
    await new Promise((r) => setTimeout(r, 1100));
    expect(conns.available).toBe(true);
    expect(await conns.command.ping()).toBe('PONG');
  });
});

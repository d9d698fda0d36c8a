import type { ThrottlerStorage } from '@nestjs/throttler';
import type { RedisConnections } from '#libs/redis';

/** Fixed window per key in one round trip: count, start the window on the first hit, report its rest. */
const INCR_WINDOW = `
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {hits, ttl}`;

export class RedisThrottlerStorage implements ThrottlerStorage {
  constructor(private readonly redis: RedisConnections) {
    redis.client.defineCommand('cgwRateLimit', { numberOfKeys: 1, lua: INCR_WINDOW });
  }

  async increment(key: string, ttl: number, limit: number) {
    const [hits, pttl] = (await (this.redis.client as any).cgwRateLimit(this.redis.keys.rateLimit(key), ttl)) as [number, number];
    const seconds = Math.max(1, Math.ceil(pttl / 1000));
    return { totalHits: hits, timeToExpire: seconds, isBlocked: hits > limit, timeToBlockExpire: hits > limit ? seconds : 0 };
  }
}

import type { ThrottlerStorage } from '@nestjs/throttler';
import { Lru } from '#libs/accounts';
import type { RedisConnections } from '#libs/redis';

/** Fixed window per key in one round trip: count, start the window on the first hit, report its rest. */
const INCR_WINDOW = `
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {hits, ttl}`;

/**
 * Below this share of the limit a request does not wait for Redis: it is admitted on the count
 * this replica last saw, and its INCR completes in the background. Near the limit every decision
 * waits for Redis, so the limit holds; only more than half a limit arriving on other replicas
 * within one round trip could slip past it.
 */
const ADMIT_WITHOUT_WAITING = 0.5;

interface Window {
  hits: number;
  resetAt: number;
  pending: number;
}

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;
type RateLimitCommand = (key: string, ttlMs: number) => Promise<[number, number]>;

export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly windows: Lru<string, Window>;
  private readonly incr: RateLimitCommand;

  constructor(
    private readonly redis: RedisConnections,
    maxKeys: number,
  ) {
    redis.client.defineCommand('cgwRateLimit', { numberOfKeys: 1, lua: INCR_WINDOW });
    const client = redis.client as unknown as { cgwRateLimit: RateLimitCommand };
    this.incr = (key, ttl) => client.cgwRateLimit(key, ttl);
    this.windows = new Lru(maxKeys);
  }

  increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    const redisKey = this.redis.keys.rateLimit(key);
    const w = this.windows.get(key);
    const now = Date.now();
    if (w && w.resetAt > now && w.hits + w.pending + 1 <= limit * ADMIT_WITHOUT_WAITING) {
      w.pending++;
      this.incr(redisKey, ttl).then(
        ([hits, pttl]) => {
          w.pending--;
          w.hits = Math.max(w.hits, hits);
          w.resetAt = Date.now() + pttl;
        },
        () => this.windows.delete(key),
      );
      return Promise.resolve(record(w.hits + w.pending, w.resetAt - now, limit));
    }
    return this.incr(redisKey, ttl).then(([hits, pttl]) => {
      const seen = this.windows.get(key);
      if (seen && seen.resetAt > now) {
        seen.hits = Math.max(seen.hits, hits);
        seen.resetAt = Date.now() + pttl;
      } else this.windows.set(key, { hits, resetAt: Date.now() + pttl, pending: 0 });
      return record(hits, pttl, limit);
    });
  }
}

function record(hits: number, pttl: number, limit: number): ThrottlerStorageRecord {
  const seconds = Math.max(1, Math.ceil(pttl / 1000));
  const blocked = hits > limit;
  return { totalHits: hits, timeToExpire: seconds, isBlocked: blocked, timeToBlockExpire: blocked ? seconds : 0 };
}

import type { ThrottlerStorage } from '@nestjs/throttler';
import { Lru } from '#libs/accounts';
import type { RedisConnections } from '#libs/redis';

/** Fixed window per key in one round trip: add, start the window on the first hit, report its rest. */
const INCR_WINDOW = `
local hits = redis.call('INCRBY', KEYS[1], ARGV[2])
if hits == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {hits, ttl}`;

/**
 * Below this share of the limit a request does not wait for Redis: it is admitted on the count this
 * replica last saw plus its own unsent hits, which go to Redis in one INCRBY per key every
 * FLUSH_MS. Near the limit every request waits for Redis's count, so the limit holds; only more
 * than half a limit arriving on other replicas within one flush could slip past it.
 */
const ADMIT_WITHOUT_WAITING = 0.5;
const FLUSH_MS = 5;

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;
type RateLimitCommand = (key: string, ttlMs: number, hits: number) => Promise<[number, number]>;

interface Window {
  redisKey: string;
  ttl: number;
  /** Redis's count at the last answer */
  hits: number;
  resetAt: number;
  /** admitted here, not yet added in Redis */
  unsent: number;
}

/**
 * While Redis is unreachable each replica enforces the limit on its own count (a fixed window per
 * key, in memory): requests keep flowing, and a key can get at most the limit per live replica.
 * Counting goes back to Redis as soon as it answers again.
 */
class LocalWindows {
  private readonly windows: Lru<string, { hits: number; resetAt: number }>;
  constructor(maxKeys: number) {
    this.windows = new Lru(maxKeys);
  }
  increment(key: string, ttl: number, limit: number): ThrottlerStorageRecord {
    const now = Date.now();
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) this.windows.set(key, (w = { hits: 0, resetAt: now + ttl }));
    w.hits++;
    return record(w.hits, w.resetAt - now, limit);
  }
}

export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly windows: Lru<string, Window>;
  private readonly local: LocalWindows;
  private readonly incr: RateLimitCommand;
  private readonly dirty = new Set<Window>();
  private flushTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly redis: RedisConnections,
    maxKeys: number,
    /** told each time a request is counted locally because Redis is unreachable */
    private readonly onFallback: () => void = () => {},
  ) {
    this.local = new LocalWindows(maxKeys);
    redis.client.defineCommand('cgwRateLimit', { numberOfKeys: 1, lua: INCR_WINDOW });
    const client = redis.client as unknown as { cgwRateLimit: RateLimitCommand };
    this.incr = (key, ttl, hits) => client.cgwRateLimit(key, ttl, hits);
    this.windows = new Lru(maxKeys);
  }

  increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    if (!this.redis.available) return Promise.resolve(this.fallback(key, ttl, limit));
    const now = Date.now();
    const w = this.windows.get(key);
    if (w && w.resetAt > now && w.hits + w.unsent + 1 <= limit * ADMIT_WITHOUT_WAITING) {
      w.unsent++;
      this.dirty.add(w);
      this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
      return Promise.resolve(record(w.hits + w.unsent, w.resetAt - now, limit));
    }
    const redisKey = this.redis.keys.rateLimit(key);
    const add = 1 + (w?.unsent ?? 0);
    if (w) w.unsent = 0;
    return this.incr(redisKey, ttl, add).then(
      ([hits, pttl]) => {
        const fresh = this.windows.get(key);
        if (fresh && fresh.resetAt > now) this.update(fresh, hits, pttl);
        else this.windows.set(key, { redisKey, ttl, hits, resetAt: Date.now() + pttl, unsent: 0 });
        return record(hits, pttl, limit);
      },
      () => this.fallback(key, ttl, limit),
    );
  }

  private fallback(key: string, ttl: number, limit: number): ThrottlerStorageRecord {
    this.windows.delete(key); // Redis's count is unknown now: ask it again once it is back
    this.onFallback();
    return this.local.increment(key, ttl, limit);
  }

  private flush() {
    this.flushTimer = null;
    for (const w of this.dirty) {
      const add = w.unsent;
      w.unsent = 0;
      if (add === 0) continue;
      this.incr(w.redisKey, w.ttl, add).then(
        ([hits, pttl]) => this.update(w, hits, pttl),
        () => (w.resetAt = 0), // unknown count: the next request waits for Redis
      );
    }
    this.dirty.clear();
  }

  private update(w: Window, hits: number, pttl: number) {
    w.hits = Math.max(w.hits, hits);
    w.resetAt = Date.now() + pttl;
  }
}

function record(hits: number, pttl: number, limit: number): ThrottlerStorageRecord {
  const seconds = Math.max(1, Math.ceil(pttl / 1000));
  const blocked = hits > limit;
  return { totalHits: hits, timeToExpire: seconds, isBlocked: blocked, timeToBlockExpire: blocked ? seconds : 0 };
}

import type { ThrottlerStorage } from '@nestjs/throttler';
import { Lru } from '#libs/accounts';
import type { RedisConnections } from '#libs/redis';

/**
 * Fixed window per key, in one round trip: grant up to ARGV[2] admissions while the window has room
 * (ARGV[3] is the limit), start the window on its first hit, report what is left of it. A window's
 * count only grows, so once it reaches the limit every replica can refuse on its own until reset.
 */
const RESERVE = `
local hits = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(tonumber(ARGV[2]), math.max(0, tonumber(ARGV[3]) - hits))
if grant > 0 then
  hits = redis.call('INCRBY', KEYS[1], grant)
  if hits == grant then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  if hits > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
  ttl = tonumber(ARGV[1])
end
return {grant, hits, ttl}`;

/**
 * Admissions are reserved from Redis in batches and handed out here without a round trip. A batch
 * is a sixteenth of what the window has left (at most MAX_BATCH), so far from the limit one round
 * trip admits many requests, and near it every admission is its own reservation: no replica ever
 * admits on a count that may be stale, and the limit holds exactly across replicas. What a replica
 * reserved and did not use is lost with the window; that only ever admits fewer, never more.
 * Requests that arrive while a reservation is on its way wait for it and share the next one.
 */
const BATCH_SHARE = 1 / 16;
const MAX_BATCH = 64;

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;
type ReserveCommand = (key: string, ttlMs: number, want: number, limit: number) => Promise<[number, number, number]>;

interface Window {
  redisKey: string;
  /**
   * The limit the tokens were reserved under. A key's limit can change (its own
   * requests_per_minute set or changed): tokens reserved under another limit are dropped, which
   * only ever admits fewer.
   */
  limit: number;
  /** epoch ms when Redis's window ends; 0 until Redis has answered */
  resetAt: number;
  /** Redis's count at its last answer: admissions reserved by every replica */
  hits: number;
  /** reserved here and not handed out yet */
  tokens: number;
  /** Redis said the window is full: refuse here until resetAt */
  full: boolean;
  reserving: Promise<void> | null;
  /** requests waiting for the reservation in flight */
  waiting: number;
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
  private readonly reserve: ReserveCommand;

  constructor(
    private readonly redis: RedisConnections,
    maxKeys: number,
    /** told each time a request is counted locally because Redis is unreachable */
    private readonly onFallback: () => void = () => {},
  ) {
    this.local = new LocalWindows(maxKeys);
    redis.client.defineCommand('cgwRateReserve', { numberOfKeys: 1, lua: RESERVE });
    const client = redis.client as unknown as { cgwRateReserve: ReserveCommand };
    this.reserve = (key, ttl, want, limit) => client.cgwRateReserve(key, ttl, want, limit);
    this.windows = new Lru(maxKeys);
  }

  async increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    if (!this.redis.available) return this.fallback(key, ttl, limit);
    let w = this.windows.get(key);
    if (!w || (w.resetAt && w.resetAt <= Date.now() && !w.reserving)) {
      w = { redisKey: this.redis.keys.rateLimit(key), limit, resetAt: 0, hits: 0, tokens: 0, full: false, reserving: null, waiting: 0 };
      this.windows.set(key, w);
    }
    for (;;) {
      const now = Date.now();
      if (w.limit !== limit) Object.assign(w, { limit, tokens: 0, full: false });
      if (w.resetAt > now) {
        if (w.tokens > 0) {
          w.tokens--;
          return record(w.hits - w.tokens, w.resetAt - now, limit, false);
        }
        if (w.full) return record(limit + 1, w.resetAt - now, limit, true);
      } else if (w.resetAt) {
        // The window ended while requests waited: start over with Redis's next one.
        Object.assign(w, { resetAt: 0, hits: 0, tokens: 0, full: false });
      }
      if (w.reserving) {
        w.waiting++;
        await w.reserving;
        w.waiting--;
        if (!this.windows.get(key)) this.windows.set(key, w);
        continue;
      }
      const want = Math.max(1 + w.waiting, Math.min(MAX_BATCH, Math.floor((limit - w.hits) * BATCH_SHARE)));
      const window = w;
      let failed = false;
      w.reserving = this.reserve(w.redisKey, ttl, want, limit).then(
        ([granted, hits, pttl]) => {
          window.hits = hits;
          window.resetAt = Date.now() + pttl;
          if (window.limit !== limit) return; // the limit changed meanwhile: these were reserved under the old one
          window.tokens += granted;
          window.full = granted < want;
        },
        () => {
          failed = true;
        },
      );
      await w.reserving;
      w.reserving = null;
      if (failed) {
        this.windows.delete(key); // Redis's count is unknown now: ask it again once it is back
        return this.fallback(key, ttl, limit);
      }
    }
  }

  private fallback(key: string, ttl: number, limit: number): ThrottlerStorageRecord {
    this.onFallback();
    return this.local.increment(key, ttl, limit);
  }
}

function record(hits: number, pttl: number, limit: number, blocked = hits > limit): ThrottlerStorageRecord {
  const seconds = Math.max(1, Math.ceil(pttl / 1000));
  return { totalHits: hits, timeToExpire: seconds, isBlocked: blocked, timeToBlockExpire: blocked ? seconds : 0 };
}

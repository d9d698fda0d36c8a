import { describe, expect, it } from 'vitest';
import { RedisKeys } from '#libs/redis';
import { COUNTERS, UsageBatch, fieldOf, keyPeriodKeys, pack, parseField, toWrites } from './usage-batch.js';
import { DAY_MS, HOUR_MS, dayId, hourId, minuteId, monthId, monthStart, nextMonthStart } from './usage-buckets.js';
import type { UsageRecord } from './usage-record.js';

const T = Date.UTC(2025, 0, 31, 23, 59, 30); // the last minute of January, UTC
const rec = (over: Partial<UsageRecord> = {}): UsageRecord => ({
  at: T,
  keyId: 'key_a',
  accountId: 'acc_1',
  model: 'gpt-4o',
  dialect: 'openai',
  endpoint: '/chat/completions',
  status: 200,
  inputTokens: 12,
  outputTokens: 5,
  cachedTokens: 2,
  initiator: 'user',
  premiumRequests: 0.33,
  creditsNanoAiu: 1000,
  durationMs: 40,
  ...over,
});
const keys = new RedisKeys('cgw:');
const c = (name: (typeof COUNTERS)[number]) => COUNTERS.indexOf(name);

describe('time buckets', () => {
  it('names UTC periods compactly', () => {
    expect(minuteId(T)).toBe('202501312359');
    expect(hourId(T)).toBe('2025013123');
    expect(dayId(T)).toBe('20250131');
    expect(monthId(T)).toBe('202501');
    expect(new Date(monthStart(T)).toISOString()).toBe('2025-01-01T00:00:00.000Z');
    expect(new Date(nextMonthStart(T)).toISOString()).toBe('2025-02-01T00:00:00.000Z');
  });
});

describe('UsageBatch aggregation', () => {
  it('sums records per (hour, key, account, model, dialect), premium in thousandths, errors by status', () => {
    const b = new UsageBatch();
    b.add(rec());
    b.add(rec({ status: 429, inputTokens: 0, outputTokens: 0, premiumRequests: 0 }));
    b.add(rec({ status: 'stream_error', outputTokens: 3 }));
    b.add(rec({ dialect: 'anthropic' }));
    b.add(rec({ at: T + 60_000 })); // the next hour (and day, and month)
    expect(b.entries.size).toBe(3);
    expect(b.records).toBe(5);
    const e = [...b.entries.values()][0];
    expect(e.c[c('requests')]).toBe(3);
    expect(e.c[c('input_tokens')]).toBe(24);
    expect(e.c[c('output_tokens')]).toBe(8);
    expect(e.c[c('cached_tokens')]).toBe(6);
    expect(e.c[c('premium_milli')]).toBe(660);
    expect(e.c[c('credits_nano_aiu')]).toBe(3000);
    expect(e.c[c('errors')]).toBe(2);
    expect(e.c[c('duration_ms')]).toBe(120);
  });

  it('adds 0.33 a thousand times to exactly 330 premium requests', () => {
    const b = new UsageBatch();
    for (let i = 0; i < 1000; i++) b.add(rec());
    expect([...b.entries.values()][0].c[c('premium_milli')]).toBe(330_000);
  });

  it('ignores negative, fractional and non-finite counts instead of throwing', () => {
    const b = new UsageBatch();
    b.add(rec({ inputTokens: -5, outputTokens: Number.NaN, cachedTokens: 2.6, durationMs: Infinity }));
    const e = [...b.entries.values()][0];
    expect([e.c[c('input_tokens')], e.c[c('output_tokens')], e.c[c('cached_tokens')], e.c[c('duration_ms')]]).toEqual([0, 0, 3, 0]);
  });

  it("keeps a field's parts apart even when an id holds the separator", () => {
    expect(parseField(fieldOf('k|1', 'acc', 'm', 'openai'))).toEqual({ keyId: 'k_1', accountId: 'acc', model: 'm', dialect: 'openai' });
  });

  it("gives a key's minute, day and month counts", () => {
    const b = new UsageBatch();
    b.add(rec());
    b.add(rec({ at: T - 2 * DAY_MS })); // same month, another day
    b.add(rec({ keyId: 'key_b' }));
    const k = b.keyCounts('key_a', T);
    expect(k.minute).toEqual({ requests: 1, input_tokens: 12, output_tokens: 5, premium_milli: 330 });
    expect(k.day.requests).toBe(1);
    expect(k.month.requests).toBe(2);
    expect(b.keyCounts('key_a', T + 60_000).month.requests).toBe(0); // February
  });

  it('takes at most max entries, the rest stays with its counts', () => {
    const b = new UsageBatch();
    for (let i = 0; i < 5; i++) b.add(rec({ keyId: `k${i}` }));
    const first = b.take(3);
    expect(first.entries.size).toBe(3);
    expect(first.minutes.size).toBe(5);
    expect(b.entries.size).toBe(2);
    expect(b.keyCounts('k4', T).day.requests).toBe(1);
    expect(b.keyCounts('k0', T).day.requests).toBe(0);
    const rest = b.take(3);
    expect(rest.entries.size).toBe(2);
    expect(b.size).toBe(0);
    expect(b.oldestAt).toBe(0);
  });
});

describe('layout in Redis (design.md §7)', () => {
  const writes = (b: UsageBatch, now = T, retention = 90) => new Map(toWrites(b, keys, retention, now).map((w) => [w.key, w]));

  it('writes the hourly bucket and the daily rollup (packed counters per field), and per-key minute/day/month totals, all under {usage}', () => {
    const b = new UsageBatch();
    b.add(rec());
    b.add(rec({ status: 500 }));
    const w = writes(b);
    const field = 'key_a|acc_1|gpt-4o|openai';
    // requests, input, output, cached, premium (thousandths), nano AIU, errors, duration
    expect(w.get('cgw:{usage}:h:2025013123')!.add.get(field)).toEqual([2, 24, 10, 4, 660, 2000, 1, 80]);
    expect(pack(w.get('cgw:{usage}:d:20250131')!.add.get(field)!)).toBe('2,24,10,4,660,2000,1,80');
    expect(COUNTERS).toEqual(['requests', 'input_tokens', 'output_tokens', 'cached_tokens', 'premium_milli', 'credits_nano_aiu', 'errors', 'duration_ms']);
    expect(Object.fromEntries(w.get('cgw:{usage}:k:key_a:min:202501312359')!.incr)).toEqual({ r: 2, i: 24, o: 10, p: 660 });
    expect(Object.fromEntries(w.get('cgw:{usage}:k:key_a:day:20250131')!.incr)).toEqual({ r: 2, i: 24, o: 10, p: 660 });
    expect(Object.fromEntries(w.get('cgw:{usage}:k:key_a:month:202501')!.incr)).toEqual({ r: 2, i: 24, o: 10, p: 660 });
    // One hash tag for every key: one slot in a Cluster, so one flush is one atomic script.
    for (const key of w.keys()) expect(/^[^{]*\{([^}]*)\}/.exec(key)![1]).toBe('usage');
    expect(keyPeriodKeys(keys, 'key_a', T)).toEqual(['cgw:{usage}:k:key_a:min:202501312359', 'cgw:{usage}:k:key_a:day:20250131', 'cgw:{usage}:k:key_a:month:202501']);
  });

  it('expires hourly buckets 48 h after their hour, daily rollups USAGE_RETENTION_DAYS after their day', () => {
    const b = new UsageBatch();
    b.add(rec());
    const w = writes(b, T, 30);
    const hour = Date.UTC(2025, 0, 31, 23);
    const day = Date.UTC(2025, 0, 31);
    expect(w.get('cgw:{usage}:h:2025013123')!.expireAt).toBe(hour + HOUR_MS + 48 * HOUR_MS);
    expect(w.get('cgw:{usage}:d:20250131')!.expireAt).toBe(day + DAY_MS + 30 * DAY_MS);
    expect(w.get('cgw:{usage}:k:key_a:min:202501312359')!.expireAt).toBe(Date.UTC(2025, 0, 31, 23, 59) + 120_000);
    expect(w.get('cgw:{usage}:k:key_a:day:20250131')!.expireAt).toBe(day + 2 * DAY_MS);
    expect(w.get('cgw:{usage}:k:key_a:month:202501')!.expireAt).toBe(Date.UTC(2025, 1, 1) + DAY_MS);
  });

  it('leaves out what would already have expired (a batch retried long after an outage)', () => {
    const b = new UsageBatch();
    b.add(rec());
    const w = writes(b, T + 3 * DAY_MS);
    expect([...w.keys()].some((k) => k.includes(':h:'))).toBe(false); // hourly: gone after 48 h
    expect([...w.keys()].some((k) => k.includes(':k:'))).toBe(false); // January's per-key totals too, by February 2
    expect([...w.keys()]).toEqual(['cgw:{usage}:d:20250131']); // the daily rollup still counts it
  });
});

import { Cluster, type Redis } from 'ioredis';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisConnections } from '#libs/redis';
import { redisClient, suiteConnections } from '#test/support/redis-target';
import { UsageBatch, toWrites } from './usage-batch.js';
import { MemoryUsageStore, RedisUsageStore } from './usage.store.js';
import type { UsageRecord } from './usage-record.js';

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
  premiumRequests: 1,
  creditsNanoAiu: 0,
  durationMs: 10,
  ...over,
});
const batchOf = (...records: UsageRecord[]) => {
  const b = new UsageBatch();
  records.forEach((r) => b.add(r));
  return b;
};

describe('RedisUsageStore', () => {
  const prefix = `tu${Math.random().toString(36).slice(2, 8)}:`;
  let conns: RedisConnections;
  let store: RedisUsageStore;
  let raw: Redis | Cluster;
  beforeAll(async () => {
    conns = suiteConnections(prefix);
    await conns.connect();
    store = new RedisUsageStore(conns);
    raw = redisClient();
  });
  afterAll(async () => {
    await store.close();
    await conns.onModuleDestroy();
    await raw.quit();
  });

  it('applies a flush once: a retry of the same (instance, seq) changes nothing', async () => {
    const now = Date.now();
    const writes = toWrites(batchOf(rec({ at: now }), rec({ at: now })), store.keys, 90, now);
    await store.apply(writes, 'inst-1', 1);
    await store.apply(writes, 'inst-1', 1); // the answer was lost; the caller retries
    const [minute, day, month] = await store.read(['min', 'day', 'month'].map((p) => store.keys.usageKey('key_a', `${p}:${p === 'min' ? minuteOf(now) : p === 'day' ? dayOf(now) : monthOf(now)}`)));
    expect(Object.fromEntries(day)).toEqual({ r: 2, i: 24, o: 10, p: 2000 });
    expect(Object.fromEntries(month)).toEqual({ r: 2, i: 24, o: 10, p: 2000 });
    expect(Object.fromEntries(minute)).toEqual({ r: 2, i: 24, o: 10, p: 2000 });
    // The next flush of that process, and any flush of another, count.
    await store.apply(writes, 'inst-1', 2);
    await store.apply(writes, 'inst-2', 1);
    expect((await store.read([store.keys.usageKey('key_a', `day:${dayOf(now)}`)]))[0].get('r')).toBe(6);
  });

  it('sets every hash its expiry, and every key carries the {usage} tag', async () => {
    const now = Date.now();
    const writes = toWrites(batchOf(rec({ keyId: 'key_ttl', at: now })), store.keys, 30, now);
    await store.apply(writes, 'inst-ttl', 1);
    for (const w of writes) {
      expect(await raw.call('PEXPIRETIME', w.key)).toBe(w.expireAt);
      expect(w.key.startsWith(`${prefix}{usage}:`)).toBe(true);
    }
    expect(await raw.pttl(store.keys.usageFlushed('inst-ttl'))).toBeGreaterThan(6 * 86_400_000);
  });

  it('adds packed counters field by field, exactly, and reads reports on a connection of its own', async () => {
    const now = Date.now();
    const day = store.keys.usageDay(dayOf(now));
    const field = 'key_rep|acc_1|gpt-4o|openai';
    const big = 2 ** 40; // beyond 32 bits: Lua's numbers are doubles, exact to 2^53
    await store.apply([{ key: day, expireAt: now + 60_000, incr: new Map(), add: new Map([[field, [1, 12, 5, 0, 330, big, 0, 10]]]) }], 'inst-rep', 1);
    await store.apply([{ key: day, expireAt: now + 60_000, incr: new Map(), add: new Map([[field, [2, 24, 10, 3, 660, big, 1, 20]]]) }], 'inst-rep', 2);
    expect(await raw.hget(day, field)).toBe(`3,36,15,3,990,${2 * big},1,30`);
    // A value written by an older version with fewer counters takes the new ones on.
    await raw.hset(day, 'old|acc|m|openai', '1,2');
    await store.apply([{ key: day, expireAt: now + 60_000, incr: new Map(), add: new Map([['old|acc|m|openai', [1, 1, 1, 1, 1, 1, 1, 1]]]) }], 'inst-rep', 3);
    expect(await raw.hget(day, 'old|acc|m|openai')).toBe('2,3,1,1,1,1,1,1');
    const seen: [number, string, number[]][] = [];
    await store.readReport([store.keys.usageDay('19990101'), day], (i, f, c) => seen.push([i, f, c]));
    expect(seen.filter(([, f]) => f === field || f.startsWith('old|')).sort()).toEqual([
      [1, field, [3, 36, 15, 3, 990, 2 * big, 1, 30]],
      [1, 'old|acc|m|openai', [2, 3, 1, 1, 1, 1, 1, 1]],
    ]);
    const clients = await Promise.all((raw instanceof Cluster ? raw.nodes('master') : [raw]).map((node) => node.client('LIST')));
    expect(String(clients)).toContain('name=cgw-usage-report');
  });
});

describe('MemoryUsageStore (embedded mode)', () => {
  it('keeps the counters in DATA_DIR/usage.json, written atomically, and reads them back after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cgw-usage-'));
    const now = Date.now();
    const a = await MemoryUsageStore.open(dir);
    const writes = toWrites(batchOf(rec({ at: now }), rec({ at: now, outputTokens: 7 })), a.keys, 90, now);
    await a.apply(writes);
    await a.close();
    expect(statSync(join(dir, 'usage.json')).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(JSON.parse(readFileSync(join(dir, 'usage.json'), 'utf8')).version).toBe(1);

    const b = await MemoryUsageStore.open(dir);
    const [day] = await b.read([b.keys.usageKey('key_a', `day:${dayOf(now)}`)]);
    expect(Object.fromEntries(day)).toEqual({ r: 2, i: 24, o: 12, p: 2000 });
    await b.apply(writes);
    expect((await b.read([b.keys.usageKey('key_a', `day:${dayOf(now)}`)]))[0].get('r')).toBe(4);
  });

  it('drops what has expired, in memory and in the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cgw-usage-'));
    const s = await MemoryUsageStore.open(dir);
    await s.apply([
      { key: 'old', expireAt: Date.now() + 50, incr: new Map([['f', 1]]), add: new Map() },
      { key: 'new', expireAt: Date.now() + 60_000, incr: new Map([['f', 1]]), add: new Map() },
    ]);
    await new Promise((r) => setTimeout(r, 80));
    expect((await s.read(['old', 'new'])).map((m) => m.get('f'))).toEqual([undefined, 1]);
    await s.apply([{ key: 'new', expireAt: Date.now() + 60_000, incr: new Map([['f', 1]]), add: new Map([['g', [1, 2]]]) }]);
    await s.apply([{ key: 'new', expireAt: Date.now() + 60_000, incr: new Map(), add: new Map([['g', [1, 2]]]) }]);
    const seen: [string, number[]][] = [];
    await s.readReport(['new'], (_, f, c) => seen.push([f, c]));
    expect(seen).toEqual([['g', [2, 4]]]);
    await s.close();
    expect(JSON.parse(readFileSync(join(dir, 'usage.json'), 'utf8')).hashes.map((h: [string]) => h[0])).toEqual(['new']);
  });
});

const two = (n: number) => String(n).padStart(2, '0');
const d = (ms: number) => new Date(ms);
const monthOf = (ms: number) => `${d(ms).getUTCFullYear()}${two(d(ms).getUTCMonth() + 1)}`;
const dayOf = (ms: number) => `${monthOf(ms)}${two(d(ms).getUTCDate())}`;
const minuteOf = (ms: number) => `${dayOf(ms)}${two(d(ms).getUTCHours())}${two(d(ms).getUTCMinutes())}`;

import { Logger } from '@nestjs/common';
import { join } from 'node:path';
import { StateFile } from '#libs/accounts';
import { RedisKeys, StoreDownError, requestPathOptions, storeKeys, type RedisClient, type RedisConnections } from '#libs/redis';
import { pack, type HashWrite } from './usage-batch.js';

/** Called for each field of each hash a report reads: `index` into the keys asked for, the counters unpacked. */
export type ReportVisitor = (index: number, field: string, counters: number[]) => void;

/** Where the counters live: Redis (any number of replicas) or memory + DATA_DIR/usage.json (embedded). */
export interface UsageStore {
  readonly kind: 'redis' | 'memory';
  readonly keys: RedisKeys;
  /** false while the store is known to be unreachable: a flush is not even tried */
  readonly available: boolean;
  /**
   * Applies one flush, exactly once: a retry of a flush that was applied but whose answer was lost
   * (a timeout, a reset connection) is recognised by (instance, seq) and changes nothing.
   */
  apply(writes: HashWrite[], instance: string, seq: number): Promise<void>;
  /** A few small hashes for the request path (periodTotals): fails fast (StoreDownError) when the store is down. */
  read(keys: string[]): Promise<Map<string, number>[]>;
  /** Many large packed hashes for a report (GET /auth/usage): on a connection of its own, allowed to take seconds. */
  readReport(keys: string[], visit: ReportVisitor): Promise<void>;
  close(): Promise<void>;
}

/** How long the last-applied flush number of a process is remembered: far longer than any retry. */
const FLUSHED_TTL_MS = 7 * 86_400_000;

/**
 * One flush: KEYS[1] the process's last applied sequence number, KEYS[2…] the hashes. ARGV: seq,
 * its TTL, the number of increments, the number of packed additions; then (key index, field,
 * delta) per increment (HINCRBY); then (key index, field, "n,n,…") per packed addition, added
 * counter by counter to the field's packed value; then (key index, expire-at ms) per hash.
 * Applied only if seq is newer than the last one applied: a retried flush is never counted twice.
 * A script runs alone, so the read-add-write of a packed value is atomic like HINCRBY; numbers are
 * exact to 2^53. Every key carries the {usage} hash tag: one slot, one atomic script.
 */
export const FLUSH_SCRIPT = `
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) <= last then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local i = 5
for _ = 1, tonumber(ARGV[3]) do
  redis.call('HINCRBY', KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2])
  i = i + 3
end
for _ = 1, tonumber(ARGV[4]) do
  local key, field, delta = KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2]
  local old = redis.call('HGET', key, field)
  if old then
    local d, out, n = {}, {}, 0
    for v in string.gmatch(delta, '[^,]+') do d[#d + 1] = tonumber(v) end
    for v in string.gmatch(old, '[^,]+') do
      n = n + 1
      out[n] = string.format('%d', tonumber(v) + (d[n] or 0))
    end
    for j = n + 1, #d do out[j] = string.format('%d', d[j]) end
    delta = table.concat(out, ',')
  end
  redis.call('HSET', key, field, delta)
  i = i + 3
end
while i <= #ARGV do
  redis.call('PEXPIREAT', KEYS[tonumber(ARGV[i])], ARGV[i + 1])
  i = i + 2
end
return 1
`;

const toMap = (hash: Record<string, string>) => {
  const m = new Map<string, number>();
  for (const f in hash) m.set(f, Number(hash[f]));
  return m;
};

/** Writes and per-key reads go on the request-path client (fail-fast); reports on a connection of their own. */
export class RedisUsageStore implements UsageStore {
  readonly kind = 'redis' as const;
  readonly keys: RedisKeys;
  private report: Promise<RedisClient> | null = null;

  constructor(private readonly conns: RedisConnections) {
    this.keys = conns.keys;
  }

  get available() {
    return this.conns.available;
  }

  async apply(writes: HashWrite[], instance: string, seq: number): Promise<void> {
    if (!writes.length) return;
    // One flat argument list (ioredis flattens an array argument): tens of thousands of values,
    // too many to spread into a call.
    const keys = [this.keys.usageFlushed(instance)];
    let increments = 0;
    let additions = 0;
    for (const w of writes) {
      keys.push(w.key);
      increments += w.incr.size;
      additions += w.add.size;
    }
    const args: string[] = keys.slice();
    args.push(String(seq), String(FLUSHED_TTL_MS), String(increments), String(additions));
    writes.forEach((w, i) => {
      for (const [field, delta] of w.incr) args.push(String(i + 2), field, String(delta));
    });
    writes.forEach((w, i) => {
      for (const [field, counters] of w.add) args.push(String(i + 2), field, pack(counters));
    });
    writes.forEach((w, i) => args.push(String(i + 2), String(w.expireAt)));
    // EVAL, not EVALSHA: no NOSCRIPT round trip, so the flush is one command written at once, and
    // a read issued after it on this connection always sees it (periodTotals relies on that).
    await this.conns.command.eval(FLUSH_SCRIPT, keys.length, args);
  }

  async read(keys: string[]): Promise<Map<string, number>[]> {
    const client = this.conns.command;
    return Promise.all(keys.map((k) => client.hgetall(k).then(toMap)));
  }

  async readReport(keys: string[], visit: ReportVisitor): Promise<void> {
    const client = await this.reportClient();
    if (client.status !== 'ready') throw new StoreDownError('Redis is unreachable');
    // HGETALL as the flat [field, value, …] array Redis sends: no object per hash to build.
    const replies = (await Promise.all(keys.map((k) => client.call('HGETALL', k)))) as string[][];
    replies.forEach((flat, index) => {
      for (let i = 0; i < flat.length; i += 2) {
        const parts = flat[i + 1].split(',');
        const counters = new Array<number>(parts.length);
        for (let j = 0; j < parts.length; j++) counters[j] = +parts[j];
        visit(index, flat[i], counters);
      }
    });
  }

  /**
   * A report reads thousands of fields; on the request-path client its replies would hold up the
   * requests' commands behind them, and a reply slower than their 500 ms timeout would mark Redis
   * down for every request of this process. So reports get their own connection and 15 s.
   */
  private reportClient(): Promise<RedisClient> {
    if (!this.report) {
      const client = this.conns.open({ ...requestPathOptions, commandTimeout: 15_000, enableAutoPipelining: true, connectionName: 'cgw-usage-report' });
      this.report = client.connect().then(
        () => client,
        (err) => {
          this.report = null;
          client.disconnect();
          throw new StoreDownError(`Redis is unreachable: ${(err as Error).message}`);
        },
      );
    }
    return this.report;
  }

  async close(): Promise<void> {
    const report = this.report;
    this.report = null;
    const client = await report?.catch(() => null);
    client?.disconnect();
  }
}

interface Persisted {
  version: 1;
  /** [key, expire-at ms, {field: a number (per-key hashes) or the counters (hourly, daily)}] */
  hashes: [string, number, Record<string, number | number[]>][];
}

/**
 * Embedded mode: the same hashes, in memory, with their expiry; persisted to DATA_DIR/usage.json,
 * replaced whole and atomically (temp file + rename, mode 0600), as libs/accounts' MemoryStore does
 * with state.json. Written after each flush that changed something, at most one write at a time.
 */
export class MemoryUsageStore implements UsageStore {
  readonly kind = 'memory' as const;
  readonly keys = storeKeys;
  readonly available = true;
  private readonly hashes = new Map<string, { expireAt: number; fields: Map<string, number | number[]> }>();
  private readonly log = new Logger('Usage');
  private readonly file: StateFile<Persisted>;

  constructor(path: string | null) {
    this.file = new StateFile<Persisted>(
      path,
      () => {
        const now = Date.now();
        const state: Persisted = { version: 1, hashes: [] };
        for (const [key, h] of this.hashes) {
          if (h.expireAt <= now) this.hashes.delete(key);
          else state.hashes.push([key, h.expireAt, Object.fromEntries(h.fields)]);
        }
        return state;
      },
      (err) => this.log.warn(`could not write ${path}: ${err.message}; retrying with the next flush`),
    );
  }

  static async open(dataDir: string | null): Promise<MemoryUsageStore> {
    const store = new MemoryUsageStore(dataDir ? join(dataDir, 'usage.json') : null);
    const state = await store.file.read();
    const now = Date.now();
    for (const [key, expireAt, fields] of state?.hashes ?? []) {
      if (expireAt > now) store.hashes.set(key, { expireAt, fields: new Map(Object.entries(fields)) });
    }
    return store;
  }

  async apply(writes: HashWrite[]): Promise<void> {
    const now = Date.now();
    for (const w of writes) {
      let h = this.hashes.get(w.key);
      if (!h || h.expireAt <= now) this.hashes.set(w.key, (h = { expireAt: w.expireAt, fields: new Map() }));
      h.expireAt = w.expireAt;
      for (const [field, delta] of w.incr) h.fields.set(field, ((h.fields.get(field) as number | undefined) ?? 0) + delta);
      for (const [field, counters] of w.add) {
        const old = h.fields.get(field) as number[] | undefined;
        if (!old) h.fields.set(field, counters.slice());
        else counters.forEach((v, i) => (old[i] = (old[i] ?? 0) + v));
      }
    }
    // A failed file write leaves the counts in memory (dirty) for the next flush to write: failing
    // here would make the caller retry counts that are already applied.
    if (writes.length || this.file.pending) await this.file.write().catch(() => {});
  }

  async read(keys: string[]): Promise<Map<string, number>[]> {
    const now = Date.now();
    return keys.map((k) => {
      const h = this.hashes.get(k);
      const m = new Map<string, number>();
      if (h && h.expireAt > now) for (const [f, v] of h.fields) if (typeof v === 'number') m.set(f, v);
      return m;
    });
  }

  async readReport(keys: string[], visit: ReportVisitor): Promise<void> {
    const now = Date.now();
    keys.forEach((k, index) => {
      const h = this.hashes.get(k);
      if (h && h.expireAt > now) for (const [f, v] of h.fields) if (Array.isArray(v)) visit(index, f, v.slice());
    });
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}

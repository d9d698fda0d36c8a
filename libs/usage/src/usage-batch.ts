import type { RedisKeys } from '#libs/redis';
import { DAY_MS, HOURLY_KEEP_MS, HOUR_MS, MINUTE_MS, dayId, dayStart, hourId, hourStart, minuteId, minuteStart, monthId, monthStart, nextMonthStart } from './usage-buckets.js';
import type { UsageRecord } from './usage-record.js';

/**
 * What is counted per (hour, key, account, model, dialect), in this order: the packed value of a
 * field of the hourly and daily hashes is these, comma-separated. Every one is an integer, so every
 * addition is exact: premium requests (fractional multipliers such as 0.33) are counted in
 * thousandths (`premium_milli`, 0.33 → 330) and divided by 1000 when read.
 */
export const COUNTERS = ['requests', 'input_tokens', 'output_tokens', 'cached_tokens', 'premium_milli', 'credits_nano_aiu', 'errors', 'duration_ms'] as const;
export type Counter = (typeof COUNTERS)[number];
const N = COUNTERS.length;
const [REQ, IN, OUT, CACHED, PREM, NANO, ERR, MS] = [0, 1, 2, 3, 4, 5, 6, 7];

/** The per-key counters (minute, day, month): what quota checks and GET /v1/usage read. */
export const KEY_FIELDS = { requests: 'r', input_tokens: 'i', output_tokens: 'o', premium_milli: 'p' } as const;

/** Premium requests as stored: whole thousandths (exact for multipliers of up to 3 decimals). */
export const toMilli = (premium: number) => Math.round(premium * 1000);

/** One dimension tuple of the hourly/daily hashes: `key|account|model|dialect` ('|' in a part becomes '_'). */
export const fieldOf = (keyId: string, accountId: string, model: string, dialect: string) =>
  `${clean(keyId)}|${clean(accountId)}|${clean(model)}|${clean(dialect)}`;
const clean = (s: string) => (s.includes('|') ? s.replaceAll('|', '_') : s);
export const parseField = (field: string) => {
  const [keyId = '', accountId = '', model = '', dialect = ''] = field.split('|');
  return { keyId, accountId, model, dialect };
};

export interface Entry {
  hour: number;
  keyId: string;
  accountId: string;
  model: string;
  dialect: string;
  field: string;
  c: number[];
}

interface KeyMinute {
  keyId: string;
  minute: number;
  c: [number, number, number, number]; // requests, input, output, premium_milli
}

const nonNegative = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0);
const whole = (n: unknown) => Math.round(nonNegative(n));

/** One key's counts of one period, in the units the store keeps (premium in thousandths). */
export interface KeyCounts {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  premium_milli: number;
}
export const zeroCounts = (): KeyCounts => ({ requests: 0, input_tokens: 0, output_tokens: 0, premium_milli: 0 });

/**
 * Records of this process not yet in the store, aggregated: one entry per (hour, key, account,
 * model, dialect) and one per (key, minute), so its size grows with what differs, not with traffic.
 */
export class UsageBatch {
  readonly entries = new Map<string, Entry>();
  private readonly byKey = new Map<string, Set<Entry>>();
  readonly minutes = new Map<string, KeyMinute>();
  /** Date.now() when the oldest record in here was added (0: empty) */
  oldestAt = 0;
  records = 0;
  /** set once handed to the store, for as long as that write is in flight */
  seq = 0;
  inFlight = false;

  get size() {
    return this.entries.size + this.minutes.size;
  }

  /** Whether a record would need a new entry (so the caller can refuse it when full). */
  wouldGrow(r: UsageRecord): boolean {
    return !this.entries.has(entryId(hourStart(r.at), r)) || !this.minutes.has(`${r.keyId}\n${minuteStart(r.at)}`);
  }

  add(r: UsageRecord, addedAt = Date.now()): void {
    const hour = hourStart(r.at);
    const id = entryId(hour, r);
    let e = this.entries.get(id);
    if (!e) {
      e = { hour, keyId: r.keyId, accountId: r.accountId, model: r.model, dialect: r.dialect, field: fieldOf(r.keyId, r.accountId, r.model, r.dialect), c: new Array(N).fill(0) };
      this.put(id, e);
    }
    const input = whole(r.inputTokens);
    const output = whole(r.outputTokens);
    const premium = toMilli(nonNegative(r.premiumRequests));
    e.c[REQ] += 1;
    e.c[IN] += input;
    e.c[OUT] += output;
    e.c[CACHED] += whole(r.cachedTokens);
    e.c[PREM] += premium;
    e.c[NANO] += whole(r.creditsNanoAiu);
    e.c[ERR] += typeof r.status === 'number' ? (r.status >= 400 ? 1 : 0) : 1;
    e.c[MS] += whole(r.durationMs);

    const minute = minuteStart(r.at);
    const mid = `${r.keyId}\n${minute}`;
    let m = this.minutes.get(mid);
    if (!m) this.minutes.set(mid, (m = { keyId: r.keyId, minute, c: [0, 0, 0, 0] }));
    m.c[0] += 1;
    m.c[1] += input;
    m.c[2] += output;
    m.c[3] += premium;

    this.records++;
    if (!this.oldestAt) this.oldestAt = addedAt;
  }

  private put(id: string, e: Entry) {
    this.entries.set(id, e);
    let set = this.byKey.get(e.keyId);
    if (!set) this.byKey.set(e.keyId, (set = new Set()));
    set.add(e);
  }

  /**
   * Moves up to `max` entries (the oldest first) and every per-key minute into a new batch, the
   * one handed to the store. What stays keeps its place and the oldest age (conservatively).
   */
  take(max: number): UsageBatch {
    const out = new UsageBatch();
    if (this.entries.size <= max) {
      for (const [id, e] of this.entries) out.put(id, e);
      this.entries.clear();
      this.byKey.clear();
    } else {
      let n = 0;
      for (const [id, e] of this.entries) {
        if (n++ >= max) break;
        out.put(id, e);
        this.entries.delete(id);
        const set = this.byKey.get(e.keyId)!;
        set.delete(e);
        if (!set.size) this.byKey.delete(e.keyId);
      }
    }
    for (const [id, m] of this.minutes) out.minutes.set(id, m);
    this.minutes.clear();
    out.records = this.entries.size ? Math.round((this.records * out.entries.size) / (out.entries.size + this.entries.size)) : this.records;
    out.oldestAt = this.oldestAt;
    this.records -= out.records;
    if (!this.entries.size) {
      this.records = 0;
      this.oldestAt = 0;
    }
    return out;
  }

  /** This batch's counts for one key in the minute, day and month of `now` (to add to the store's). */
  keyCounts(keyId: string, now: number): { minute: KeyCounts; day: KeyCounts; month: KeyCounts } {
    const minute = zeroCounts();
    const day = zeroCounts();
    const month = zeroCounts();
    const m = this.minutes.get(`${keyId}\n${minuteStart(now)}`);
    if (m) addTo(minute, m.c[0], m.c[1], m.c[2], m.c[3]);
    const entries = this.byKey.get(keyId);
    if (entries) {
      const d = dayStart(now);
      const mo = monthStart(now);
      for (const e of entries) {
        if (monthStart(e.hour) !== mo) continue;
        addTo(month, e.c[REQ], e.c[IN], e.c[OUT], e.c[PREM]);
        if (dayStart(e.hour) === d) addTo(day, e.c[REQ], e.c[IN], e.c[OUT], e.c[PREM]);
      }
    }
    return { minute, day, month };
  }
}

function addTo(t: KeyCounts, r: number, i: number, o: number, p: number) {
  t.requests += r;
  t.input_tokens += i;
  t.output_tokens += o;
  t.premium_milli += p;
}

const entryId = (hour: number, r: UsageRecord) => `${hour}\n${r.keyId}\n${r.accountId}\n${r.model}\n${r.dialect}`;

/** Additions to one hash, and when that hash expires (epoch ms). */
export interface HashWrite {
  key: string;
  expireAt: number;
  /** HINCRBY field delta (the per-key hashes) */
  incr: Map<string, number>;
  /** counters (COUNTERS order) added one by one to a field's packed value (the hourly and daily hashes) */
  add: Map<string, number[]>;
}

/** A packed value as stored: the counters, comma-separated. */
export const pack = (c: number[]) => c.join(',');

/**
 * A batch as hash additions (design.md §7), each hash with its absolute expiry:
 * - `{usage}:h:<YYYYMMDDHH>` field `key|account|model|dialect`, value the packed COUNTERS: kept
 *   48 h after the hour;
 * - `{usage}:d:<YYYYMMDD>`, same fields: the daily rollup, written with the hour (not computed
 *   later), kept `retentionDays` after the day;
 * - `{usage}:k:<key id>:min:<…>` / `day:<…>` / `month:<…>` fields r, i, o, p: one key's totals,
 *   kept a minute / a day / a day past their period.
 * Zero increments are left out; hashes already past their expiry are too (a late retry after an outage).
 */
export function toWrites(batch: UsageBatch, keys: RedisKeys, retentionDays: number, now: number): HashWrite[] {
  const writes = new Map<string, HashWrite>();
  const hash = (key: string, expireAt: number) => {
    let w = writes.get(key);
    if (!w) writes.set(key, (w = { key, expireAt, incr: new Map(), add: new Map() }));
    return w;
  };
  const incr = (key: string, expireAt: number, field: string, delta: number) => {
    if (!delta || expireAt <= now) return;
    const w = hash(key, expireAt);
    w.incr.set(field, (w.incr.get(field) ?? 0) + delta);
  };
  const add = (key: string, expireAt: number, field: string, c: number[]) => {
    if (expireAt <= now) return;
    const w = hash(key, expireAt);
    const old = w.add.get(field);
    if (!old) w.add.set(field, c.slice());
    else for (let i = 0; i < N; i++) old[i] += c[i];
  };
  const ids = new Map<number, [string, string]>();
  const perKey = new Map<string, { keyId: string; period: string; expireAt: number; c: number[] }>();
  const keyPeriod = (keyId: string, period: string, expireAt: number) => {
    const id = `${keyId}\n${period}`;
    let p = perKey.get(id);
    if (!p) perKey.set(id, (p = { keyId, period, expireAt, c: [0, 0, 0, 0] }));
    return p.c;
  };
  for (const e of batch.entries.values()) {
    let id = ids.get(e.hour);
    if (!id) ids.set(e.hour, (id = [hourId(e.hour), dayId(e.hour)]));
    const day = dayStart(e.hour);
    const hourExpiry = e.hour + HOUR_MS + HOURLY_KEEP_MS;
    const dayExpiry = day + DAY_MS + retentionDays * DAY_MS;
    add(keys.usageHour(id[0]), hourExpiry, e.field, e.c);
    add(keys.usageDay(id[1]), dayExpiry, e.field, e.c);
    const d = keyPeriod(e.keyId, `day:${id[1]}`, day + 2 * DAY_MS);
    const m = keyPeriod(e.keyId, `month:${monthId(e.hour)}`, nextMonthStart(e.hour) + DAY_MS);
    for (const [j, i] of [REQ, IN, OUT, PREM].entries()) {
      d[j] += e.c[i];
      m[j] += e.c[i];
    }
  }
  for (const m of batch.minutes.values()) {
    const c = keyPeriod(m.keyId, `min:${minuteId(m.minute)}`, m.minute + 2 * MINUTE_MS);
    for (let j = 0; j < 4; j++) c[j] += m.c[j];
  }
  const names = [KEY_FIELDS.requests, KEY_FIELDS.input_tokens, KEY_FIELDS.output_tokens, KEY_FIELDS.premium_milli];
  for (const p of perKey.values()) {
    for (let j = 0; j < 4; j++) incr(keys.usageKey(p.keyId, p.period), p.expireAt, names[j], p.c[j]);
  }
  return [...writes.values()];
}

/** The per-key hashes periodTotals reads for `now`. */
export function keyPeriodKeys(keys: RedisKeys, keyId: string, now: number): [string, string, string] {
  return [keys.usageKey(keyId, `min:${minuteId(now)}`), keys.usageKey(keyId, `day:${dayId(now)}`), keys.usageKey(keyId, `month:${monthId(now)}`)];
}

/** A per-key hash as read back (fields r, i, o, p). */
export function keyCountsOf(hash: Map<string, number>): KeyCounts {
  return {
    requests: hash.get(KEY_FIELDS.requests) ?? 0,
    input_tokens: hash.get(KEY_FIELDS.input_tokens) ?? 0,
    output_tokens: hash.get(KEY_FIELDS.output_tokens) ?? 0,
    premium_milli: hash.get(KEY_FIELDS.premium_milli) ?? 0,
  };
}

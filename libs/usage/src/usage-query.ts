import type { RedisKeys } from '#libs/redis';
import { COUNTERS, parseField, type Counter } from './usage-batch.js';
import { DAY_MS, HOURLY_KEEP_MS, HOUR_MS, dayId, dayStart, hourId, hourStart, iso } from './usage-buckets.js';

export type GroupBy = 'key' | 'account' | 'model';
const GROUPS: readonly GroupBy[] = ['key', 'account', 'model'];

/** GET /auth/usage, parsed (design.md §4). */
export interface UsageQuery {
  groupBy: GroupBy[];
  /** epoch ms, inclusive */
  from: number;
  /** epoch ms, exclusive */
  to: number;
  bucket: 'hour' | 'day' | null;
  format: 'json' | 'csv';
}

/** A row of the answer, fields in design.md §4's order; the dimensions only when grouped by them. */
export interface UsageRow {
  key_id?: string;
  account_id?: string;
  model?: string;
  bucket_start?: string;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  premium_requests: number;
  errors: number;
}

/** A bad query parameter: the controller answers 400 with it, in OpenAI's error shape. */
export class UsageQueryError extends Error {
  override name = 'UsageQueryError';
  constructor(
    message: string,
    readonly param: string,
    readonly code = 'invalid_value',
  ) {
    super(message);
  }
}

const one = (q: Record<string, unknown>, name: string): string | undefined => {
  const v = q[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw new UsageQueryError(`'${name}' may be given once`, name);
  return String(v);
};

/** Epoch seconds below 1e11 (until the year 5138), epoch milliseconds from there up. */
const EPOCH_MS_FROM = 1e11;
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** ISO 8601 (a date alone is midnight UTC; a time without an offset is UTC), or epoch seconds or milliseconds. */
export function parseInstant(value: string, param: string): number {
  const v = value.trim();
  let ms = NaN;
  if (/^\d+(\.\d+)?$/.test(v)) {
    const n = Number(v);
    ms = n < EPOCH_MS_FROM ? n * 1000 : n;
  } else {
    const m = ISO.exec(v);
    if (m) ms = Date.parse(v.length > 10 && !m[1] ? `${v}Z` : v);
  }
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15)
    throw new UsageQueryError(`'${param}' must be an ISO 8601 date or time (2025-01-31, 2025-01-31T12:00:00Z) or epoch seconds or milliseconds`, param);
  return Math.floor(ms);
}

/** The oldest hour whose hourly bucket is certainly still kept. */
export const hourlyHorizon = (now: number) => hourStart(now) - HOURLY_KEEP_MS;

/** Parses and checks the query string; throws UsageQueryError (→ 400) on anything wrong. */
export function parseUsageQuery(q: Record<string, unknown>, now: number): UsageQuery {
  const raw = q.group_by === undefined ? [] : (Array.isArray(q.group_by) ? q.group_by : [q.group_by]).map(String);
  const groupBy: GroupBy[] = [];
  for (const part of raw.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)) {
    if (!GROUPS.includes(part as GroupBy)) throw new UsageQueryError(`'group_by' takes key, account and model (comma-separated), not '${part}'`, 'group_by');
    if (!groupBy.includes(part as GroupBy)) groupBy.push(part as GroupBy);
  }
  const fromText = one(q, 'from');
  const toText = one(q, 'to');
  const to = toText === undefined || toText === '' ? now : parseInstant(toText, 'to');
  const from = fromText === undefined || fromText === '' ? to - DAY_MS : parseInstant(fromText, 'from');
  if (from >= to) throw new UsageQueryError("'from' must be before 'to'", 'from');
  const bucket = one(q, 'bucket') || null;
  if (bucket !== null && bucket !== 'hour' && bucket !== 'day') throw new UsageQueryError(`'bucket' must be hour or day, not '${bucket}'`, 'bucket');
  const format = one(q, 'format') || 'json';
  if (format !== 'json' && format !== 'csv') throw new UsageQueryError(`'format' must be json or csv, not '${format}'`, 'format');
  if (bucket === 'hour' && hourStart(from) < hourlyHorizon(now))
    throw new UsageQueryError(`hourly buckets are kept 48 hours: with bucket=hour, 'from' must be after ${iso(hourlyHorizon(now))} (use bucket=day for older ranges)`, 'from');
  return { groupBy, from, to, bucket, format };
}

/** One structure to read: an hourly or a daily bucket, and the row bucket it counts toward. */
export interface Segment {
  kind: 'hour' | 'day';
  start: number;
  /** the bucket_start of the rows it adds to (null: totals over the range) */
  bucket: number | null;
}

/**
 * The hourly and daily buckets that answer a query. The range is taken to whole hours (from rounded
 * down, to rounded up). bucket=day reads the daily rollups of every day the range touches;
 * bucket=hour the hourly buckets. Totals read the daily rollup of each whole day in the range and
 * hourly buckets for the partial days at its ends — or, where those hours are older than the 48 h
 * hourly buckets are kept, that whole day's rollup. So a month is ~31 daily reads, not 720.
 */
export function planSegments(q: UsageQuery, now: number, retentionDays: number): Segment[] {
  const oldest = dayStart(now) - (retentionDays + 1) * DAY_MS;
  const from = Math.max(hourStart(q.from), oldest);
  // Nothing is counted past the current hour (a replica's clock a little ahead included).
  const to = Math.min(hourStart(q.to - 1) + HOUR_MS, hourStart(now) + 2 * HOUR_MS);
  const out: Segment[] = [];
  if (from >= to) return out;
  if (q.bucket === 'hour') {
    for (let h = from; h < to; h += HOUR_MS) out.push({ kind: 'hour', start: h, bucket: h });
    return out;
  }
  if (q.bucket === 'day') {
    for (let d = dayStart(from); d < to; d += DAY_MS) out.push({ kind: 'day', start: d, bucket: d });
    return out;
  }
  const horizon = hourlyHorizon(now);
  for (let d = dayStart(from); d < to; d += DAY_MS) {
    const start = Math.max(d, from);
    const end = Math.min(d + DAY_MS, to);
    if (start === d && end === d + DAY_MS) out.push({ kind: 'day', start: d, bucket: null });
    else if (start >= horizon) for (let h = start; h < end; h += HOUR_MS) out.push({ kind: 'hour', start: h, bucket: null });
    else out.push({ kind: 'day', start: d, bucket: null });
  }
  return out;
}

/** The hash to read per segment, in order. */
export const segmentKeys = (keys: RedisKeys, segments: Segment[]) => segments.map((s) => (s.kind === 'hour' ? keys.usageHour(hourId(s.start)) : keys.usageDay(dayId(s.start))));

// Where design.md §4's row counters sit in a packed value (COUNTERS order).
const [REQ, IN, OUT, PREM, ERR] = (['requests', 'input_tokens', 'output_tokens', 'premium_milli', 'errors'] as const satisfies readonly Counter[]).map((c) =>
  COUNTERS.indexOf(c),
);

interface Acc {
  keyId: string;
  accountId: string;
  model: string;
  bucket: number | null;
  c: [number, number, number, number, number];
}

/**
 * Sums what a report reads (the store calls `visit` per field of each segment's hash) into the
 * query's rows. A field (key|account|model|dialect) maps to the same group in every bucket, so
 * that is worked out once per field; each row bucket has its own map of groups.
 */
export class ReportAggregator {
  private readonly byKey: boolean;
  private readonly byAccount: boolean;
  private readonly byModel: boolean;
  private readonly groupOf = new Map<string, { id: string; keyId: string; accountId: string; model: string }>();
  private readonly buckets = new Map<number | null, Map<string, Acc>>();
  private readonly segmentGroups: Map<string, Acc>[];

  constructor(
    private readonly q: UsageQuery,
    private readonly segments: Segment[],
  ) {
    this.byKey = q.groupBy.includes('key');
    this.byAccount = q.groupBy.includes('account');
    this.byModel = q.groupBy.includes('model');
    this.segmentGroups = segments.map((s) => {
      let m = this.buckets.get(s.bucket);
      if (!m) this.buckets.set(s.bucket, (m = new Map()));
      return m;
    });
  }

  readonly visit = (index: number, field: string, c: number[]) => {
    let g = this.groupOf.get(field);
    if (!g) {
      const f = parseField(field);
      const keyId = this.byKey ? f.keyId : '';
      const accountId = this.byAccount ? f.accountId : '';
      const model = this.byModel ? f.model : '';
      this.groupOf.set(field, (g = { id: `${keyId}\n${accountId}\n${model}`, keyId, accountId, model }));
    }
    const groups = this.segmentGroups[index];
    let acc = groups.get(g.id);
    if (!acc) groups.set(g.id, (acc = { keyId: g.keyId, accountId: g.accountId, model: g.model, bucket: this.segments[index].bucket, c: [0, 0, 0, 0, 0] }));
    acc.c[0] += c[REQ] || 0;
    acc.c[1] += c[IN] || 0;
    acc.c[2] += c[OUT] || 0;
    acc.c[3] += c[PREM] || 0;
    acc.c[4] += c[ERR] || 0;
  };

  /** The rows, sorted by bucket, key, account, model; the dimensions only when grouped by them. */
  rows(): UsageRow[] {
    const q = this.q;
    // The groups sorted once (a few thousand), then walked per bucket in time order: the same
    // order as sorting every row, without comparing 100,000 rows.
    const groups = [...new Map([...this.groupOf.values()].map((g) => [g.id, g])).values()].sort(
      (a, b) => cmp(a.keyId, b.keyId) || cmp(a.accountId, b.accountId) || cmp(a.model, b.model),
    );
    const list: Acc[] = [];
    for (const bucket of [...this.buckets.keys()].sort((a, b) => (a ?? 0) - (b ?? 0))) {
      const accs = this.buckets.get(bucket)!;
      if (!accs.size) continue;
      for (const g of groups) {
        const a = accs.get(g.id);
        if (a && a.c.some((v) => v)) list.push(a);
      }
    }
    // Totals over the range without a group: always one row, zeros included.
    if (!list.length && !q.groupBy.length && !q.bucket) list.push({ keyId: '', accountId: '', model: '', bucket: null, c: [0, 0, 0, 0, 0] });
    const starts = new Map<number, string>();
    return list.map((a) => {
      const row = {} as UsageRow;
      if (this.byKey) row.key_id = a.keyId;
      if (this.byAccount) row.account_id = a.accountId;
      if (this.byModel) row.model = a.model;
      if (q.bucket) {
        let start = starts.get(a.bucket!);
        if (!start) starts.set(a.bucket!, (start = iso(a.bucket!)));
        row.bucket_start = start;
      }
      row.requests = a.c[0];
      row.input_tokens = a.c[1];
      row.output_tokens = a.c[2];
      row.premium_requests = a.c[3] / 1000;
      row.errors = a.c[4];
      return row;
    });
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The columns of a query's CSV, in the JSON rows' order. */
export function csvColumns(q: UsageQuery): (keyof UsageRow)[] {
  const cols: (keyof UsageRow)[] = [];
  if (q.groupBy.includes('key')) cols.push('key_id');
  if (q.groupBy.includes('account')) cols.push('account_id');
  if (q.groupBy.includes('model')) cols.push('model');
  if (q.bucket) cols.push('bucket_start');
  cols.push('requests', 'input_tokens', 'output_tokens', 'premium_requests', 'errors');
  return cols;
}

/**
 * RFC 4180: a header row, CRLF line ends, a field quoted when it holds a comma, quote or line
 * break. A text field a spreadsheet would run as a formula (= + - @ first) gets a leading '.
 */
export function toCsv(q: UsageQuery, rows: UsageRow[]): string {
  const cols = csvColumns(q);
  const lines = [cols.join(',')];
  for (const row of rows) lines.push(cols.map((c) => csvField(row[c])).join(','));
  return lines.join('\r\n') + '\r\n';
}

function csvField(v: unknown): string {
  if (typeof v === 'number') return String(v);
  let s = v === undefined || v === null ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

import { describe, expect, it } from 'vitest';
import { RedisKeys } from '#libs/redis';
import { DAY_MS, HOUR_MS } from './usage-buckets.js';
import { ReportAggregator, parseInstant, parseUsageQuery, planSegments, segmentKeys, toCsv, UsageQueryError, type Segment, type UsageQuery } from './usage-query.js';

const NOW = Date.UTC(2025, 2, 15, 10, 30); // 2025-03-15 10:30 UTC
const q = (over: Partial<UsageQuery> = {}): UsageQuery => ({ groupBy: [], from: NOW - DAY_MS, to: NOW, bucket: null, format: 'json', ...over });

function refused(query: Record<string, unknown>, param: string) {
  try {
    parseUsageQuery(query, NOW);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageQueryError);
    expect((err as UsageQueryError).param).toBe(param);
    return (err as UsageQueryError).message;
  }
  throw new Error(`accepted ${JSON.stringify(query)}`);
}

describe('GET /auth/usage parameters', () => {
  it('defaults to totals over the last 24 h, as JSON', () => {
    expect(parseUsageQuery({}, NOW)).toEqual({ groupBy: [], from: NOW - DAY_MS, to: NOW, bucket: null, format: 'json' });
  });

  it('takes group_by comma-separated or repeated, without duplicates', () => {
    expect(parseUsageQuery({ group_by: 'key,model' }, NOW).groupBy).toEqual(['key', 'model']);
    expect(parseUsageQuery({ group_by: ['account', 'key, account'] }, NOW).groupBy).toEqual(['account', 'key']);
    expect(refused({ group_by: 'key,user' }, 'group_by')).toContain("not 'user'");
  });

  it('reads ISO dates and times (UTC unless an offset is given) and epoch seconds or milliseconds', () => {
    expect(parseInstant('2025-03-01', 'from')).toBe(Date.UTC(2025, 2, 1));
    expect(parseInstant('2025-03-01T12:00:00Z', 'from')).toBe(Date.UTC(2025, 2, 1, 12));
    expect(parseInstant('2025-03-01T12:00', 'from')).toBe(Date.UTC(2025, 2, 1, 12));
    expect(parseInstant('2025-03-01T12:00:00+02:00', 'from')).toBe(Date.UTC(2025, 2, 1, 10));
    expect(parseInstant('1740830400', 'from')).toBe(Date.UTC(2025, 2, 1, 12));
    expect(parseInstant('1740830400000', 'from')).toBe(Date.UTC(2025, 2, 1, 12));
    for (const bad of ['yesterday', '2025-13-01', '2025-03-01T25:00:00Z', '12abc', '-5', '1e20']) expect(() => parseInstant(bad, 'from')).toThrow(UsageQueryError);
  });

  it('refuses bad values with the parameter named', () => {
    refused({ from: 'soon' }, 'from');
    refused({ to: 'later' }, 'to');
    expect(refused({ from: '2025-03-02', to: '2025-03-01' }, 'from')).toContain("'from' must be before 'to'");
    refused({ bucket: 'week' }, 'bucket');
    refused({ format: 'xml' }, 'format');
    refused({ from: ['2025-03-01', '2025-03-02'] }, 'from');
    expect(refused({ bucket: 'hour', from: '2025-03-10' }, 'from')).toContain('48 hours');
  });

  it('defaults from to 24 h before a given to', () => {
    const p = parseUsageQuery({ to: '2025-03-10T00:00:00Z', bucket: 'day' }, NOW);
    expect(p.from).toBe(Date.UTC(2025, 2, 9));
  });
});

describe('which buckets a query reads', () => {
  it('reads ~31 daily rollups for a month, not 720 hours', () => {
    const month = q({ from: Date.UTC(2025, 1, 13), to: Date.UTC(2025, 2, 15), bucket: 'day' });
    const segs = planSegments(month, NOW, 90);
    expect(segs).toHaveLength(30);
    expect(segs.every((s) => s.kind === 'day')).toBe(true);
    const totals = planSegments({ ...month, bucket: null }, NOW, 90);
    expect(totals.every((s) => s.kind === 'day')).toBe(true);
    expect(totals).toHaveLength(30);
  });

  it('reads hours for the partial days at the ends of a totals range, within the 48 h hourly buckets are kept', () => {
    const segs = planSegments(q(), NOW, 90); // the last 24 h: 10:00 yesterday .. 11:00 today
    expect(segs.every((s) => s.kind === 'hour')).toBe(true);
    expect(segs).toHaveLength(25);
    expect(segs[0].start).toBe(Date.UTC(2025, 2, 14, 10));
    // From 06:00 five days ago: that day's hours are gone, so its whole rollup; then whole days; then today's hours.
    const older = planSegments(q({ from: Date.UTC(2025, 2, 10, 6), to: NOW }), NOW, 90);
    expect(older[0]).toEqual({ kind: 'day', start: Date.UTC(2025, 2, 10), bucket: null });
    expect(older.filter((s) => s.kind === 'day')).toHaveLength(5);
    expect(older.filter((s) => s.kind === 'hour')).toHaveLength(11);
  });

  it('reads hourly buckets for bucket=hour, and nothing older than the retention', () => {
    expect(planSegments(q({ bucket: 'hour', from: NOW - 3 * HOUR_MS }), NOW, 90).map((s) => s.bucket)).toEqual([
      Date.UTC(2025, 2, 15, 7),
      Date.UTC(2025, 2, 15, 8),
      Date.UTC(2025, 2, 15, 9),
      Date.UTC(2025, 2, 15, 10),
    ]);
    const year = planSegments(q({ from: NOW - 365 * DAY_MS, bucket: 'day' }), NOW, 90);
    expect(year.length).toBeLessThanOrEqual(92);
  });

  it('names one hash per segment', () => {
    const keys = segmentKeys(new RedisKeys('cgw:'), [
      { kind: 'day', start: Date.UTC(2025, 2, 1), bucket: null },
      { kind: 'hour', start: Date.UTC(2025, 2, 15, 9), bucket: null },
    ]);
    expect(keys).toEqual(['cgw:{usage}:d:20250301', 'cgw:{usage}:h:2025031509']);
  });
});

describe('rows', () => {
  const day1 = { kind: 'day' as const, start: Date.UTC(2025, 2, 1), bucket: Date.UTC(2025, 2, 1) };
  const day2 = { kind: 'day' as const, start: Date.UTC(2025, 2, 2), bucket: Date.UTC(2025, 2, 2) };
  // per segment: field → [requests, input, output, premium_milli, errors], spread into COUNTERS order
  const read: Record<string, [number, number, number, number, number]>[] = [
    { 'k1|a1|gpt-4o|openai': [2, 20, 10, 0, 0], 'k1|a1|gpt-4o|anthropic': [1, 10, 5, 0, 1], 'k2|a1|claude-sonnet-4|anthropic': [3, 30, 15, 3000, 0] },
    { 'k1|a1|gpt-4o|openai': [1, 10, 5, 0, 0], 'k3|a2|o3|responses': [1, 1, 1, 330, 0] },
  ];
  const aggregate = (query: UsageQuery, segments: Segment[], hashes = read) => {
    const agg = new ReportAggregator(query, segments);
    hashes.forEach((h, i) => Object.entries(h).forEach(([f, [r, inp, out, p, e]]) => agg.visit(i, f, [r, inp, out, 7, p, 9, e, 100])));
    return agg.rows();
  };

  it('groups by key and model, per day, premium back in requests', () => {
    const rows = aggregate(q({ groupBy: ['key', 'model'], bucket: 'day' }), [day1, day2], read);
    expect(rows).toEqual([
      { key_id: 'k1', model: 'gpt-4o', bucket_start: '2025-03-01T00:00:00.000Z', requests: 3, input_tokens: 30, output_tokens: 15, premium_requests: 0, errors: 1 },
      { key_id: 'k2', model: 'claude-sonnet-4', bucket_start: '2025-03-01T00:00:00.000Z', requests: 3, input_tokens: 30, output_tokens: 15, premium_requests: 3, errors: 0 },
      { key_id: 'k1', model: 'gpt-4o', bucket_start: '2025-03-02T00:00:00.000Z', requests: 1, input_tokens: 10, output_tokens: 5, premium_requests: 0, errors: 0 },
      { key_id: 'k3', model: 'o3', bucket_start: '2025-03-02T00:00:00.000Z', requests: 1, input_tokens: 1, output_tokens: 1, premium_requests: 0.33, errors: 0 },
    ]);
    expect(Object.keys(rows[0])).toEqual(['key_id', 'model', 'bucket_start', 'requests', 'input_tokens', 'output_tokens', 'premium_requests', 'errors']);
  });

  it('sums the range by account, and into one row without a group', () => {
    const totals = [day1, day2].map((s) => ({ ...s, bucket: null }));
    expect(aggregate(q({ groupBy: ['account'] }), totals, read)).toEqual([
      { account_id: 'a1', requests: 7, input_tokens: 70, output_tokens: 35, premium_requests: 3, errors: 1 },
      { account_id: 'a2', requests: 1, input_tokens: 1, output_tokens: 1, premium_requests: 0.33, errors: 0 },
    ]);
    expect(aggregate(q(), totals, read)).toEqual([{ requests: 8, input_tokens: 71, output_tokens: 36, premium_requests: 3.33, errors: 1 }]);
    expect(aggregate(q(), [], [])).toEqual([{ requests: 0, input_tokens: 0, output_tokens: 0, premium_requests: 0, errors: 0 }]);
    expect(aggregate(q({ groupBy: ['key'] }), [], [])).toEqual([]);
  });

  it('writes CSV with a header row, the JSON columns in order, quoted and formula-safe', () => {
    const query = q({ groupBy: ['key', 'model'], bucket: 'day' });
    const csv = toCsv(query, [
      { key_id: 'k1', model: 'gpt-4o', bucket_start: '2025-03-01T00:00:00.000Z', requests: 3, input_tokens: 30, output_tokens: 15, premium_requests: 0.33, errors: 1 },
      { key_id: 'k,2', model: '=cmd()', bucket_start: '2025-03-01T00:00:00.000Z', requests: 1, input_tokens: 1, output_tokens: 1, premium_requests: 0, errors: 0 },
      { key_id: 'say "hi"', model: 'm', bucket_start: '2025-03-01T00:00:00.000Z', requests: 1, input_tokens: 1, output_tokens: 1, premium_requests: 0, errors: 0 },
    ]);
    expect(csv.split('\r\n')).toEqual([
      'key_id,model,bucket_start,requests,input_tokens,output_tokens,premium_requests,errors',
      'k1,gpt-4o,2025-03-01T00:00:00.000Z,3,30,15,0.33,1',
      `"k,2",'=cmd(),2025-03-01T00:00:00.000Z,1,1,1,0,0`,
      '"say ""hi""",m,2025-03-01T00:00:00.000Z,1,1,1,0,0',
      '',
    ]);
    expect(toCsv(q(), [{ requests: 0, input_tokens: 0, output_tokens: 0, premium_requests: 0, errors: 0 }])).toBe(
      'requests,input_tokens,output_tokens,premium_requests,errors\r\n0,0,0,0,0\r\n',
    );
  });
});

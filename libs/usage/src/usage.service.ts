import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { APP_CONFIG, type AppConfig } from '#libs/config';
import { boundCounter, MetricsService } from '#libs/metrics';
import { UsageBatch, keyCountsOf, keyPeriodKeys, toWrites, type KeyCounts } from './usage-batch.js';
import { dayStart, iso, minuteStart, monthStart } from './usage-buckets.js';
import { ReportAggregator, planSegments, segmentKeys, type UsageQuery, type UsageRow } from './usage-query.js';
import type { UsageRecord, UsageSink } from './usage-record.js';
import type { UsageStore } from './usage.store.js';

export const USAGE_STORE = Symbol('USAGE_STORE');

/** One key's counts over one UTC period (GET /v1/usage, quota checks). */
export interface Totals {
  /** ISO 8601 of the period's start, UTC */
  start: string;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  premium_requests: number;
}

export interface PeriodTotals {
  minute: Totals;
  day: Totals;
  month: Totals;
}

/** How often the batch goes to the store. */
export const FLUSH_INTERVAL_MS = 1000;
/** At shutdown, the flush gets this long (the drain bounds each close hook at 2 s). */
export const SHUTDOWN_FLUSH_MS = 1500;

/**
 * Usage accounting (issue 13). `record()` is called once per finished request, synchronously, and
 * only adds to this process's batch (aggregated in memory); every second the batch goes to the
 * store in one atomic, idempotent write, and once more at shutdown. While the store is unreachable
 * the batch is kept and retried; it is bounded (`maxEntries` distinct hour × key × model × dialect
 * entries), and a record that would grow it past that is dropped and counted
 * (cgw_usage_dropped_records_total), never silently.
 */
@Injectable()
export class UsageService implements UsageSink, OnModuleInit, OnModuleDestroy {
  /** distinct entries (current + in flight) kept while the store is unreachable */
  maxEntries = 100_000;
  /** entries per write: one flush script stays short (Redis runs it alone) */
  maxPerFlush = 2000;

  /** Records not yet handed to the store. */
  private current = new UsageBatch();
  /** The batch being written, or written and failed: retried as it is (same seq), so never counted twice. */
  private pending: UsageBatch | null = null;
  private seq = 0;
  /** This process, in the store's "last flush applied" marker. */
  readonly instance = randomUUID();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private failing = false;
  private droppedSinceLog = 0;
  private readonly log = new Logger('Usage');
  private readonly premiumSeries = new Map<string, { inc(v: number): void }>();
  private readonly creditSeries = new Map<string, { inc(v: number): void }>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(USAGE_STORE) readonly store: UsageStore,
    private readonly metrics: MetricsService,
  ) {
    metrics.observeUsageFlushLag(() => this.flushLagSeconds());
  }

  onModuleInit() {
    this.timer = setInterval(() => void this.drain(), FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  /** The pipeline's sink: never throws, never waits. */
  record(r: UsageRecord): void {
    try {
      if (this.current.size + (this.pending?.size ?? 0) >= this.maxEntries && this.current.wouldGrow(r)) {
        this.metrics.usageDropped.inc();
        if (this.droppedSinceLog++ === 0)
          this.log.error(`usage batch full (${this.maxEntries} entries, the store unreachable): dropping records, counted in cgw_usage_dropped_records_total`);
        return;
      }
      this.current.add(r);
      this.countMetrics(r);
    } catch (err) {
      this.log.error(`usage record failed: ${(err as Error).message}`);
    }
  }

  private countMetrics(r: UsageRecord) {
    const pid = `${r.model}\n${r.dialect}`;
    let premium = this.premiumSeries.get(pid);
    if (!premium) this.premiumSeries.set(pid, (premium = boundCounter(this.metrics.premiumRequests, { model: r.model, dialect: r.dialect })));
    if (r.premiumRequests > 0) premium.inc(r.premiumRequests);
    if (r.creditsNanoAiu > 0) {
      let credits = this.creditSeries.get(r.model);
      if (!credits) this.creditSeries.set(r.model, (credits = boundCounter(this.metrics.creditsNanoAiu, { model: r.model })));
      credits.inc(r.creditsNanoAiu);
    }
  }

  /** Age of the oldest record not yet in the store, in seconds (0 when everything is). */
  flushLagSeconds(now = Date.now()): number {
    const oldest = Math.min(this.pending?.oldestAt || Infinity, this.current.oldestAt || Infinity);
    return oldest === Infinity ? 0 : Math.max(0, (now - oldest) / 1000);
  }

  /** Records held by this process, not yet in the store. */
  get unflushed(): number {
    return this.current.records + (this.pending?.records ?? 0);
  }

  /**
   * One write to the store: the pending batch again if the last write failed, else up to
   * maxPerFlush entries of what was recorded since. One at a time; resolves when it is done.
   */
  flush(): Promise<void> {
    if (!this.flushing) this.flushing = this.flushOnce().finally(() => (this.flushing = null));
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    if (!this.pending) {
      if (!this.current.size) return;
      this.pending = this.current.take(this.maxPerFlush);
      this.pending.seq = ++this.seq;
    }
    const batch = this.pending;
    if (!this.store.available) return this.failed(batch, new Error('store unreachable'));
    const writes = toWrites(batch, this.store.keys, this.config.usageRetentionDays, Date.now());
    batch.inFlight = true;
    try {
      await this.store.apply(writes, this.instance, batch.seq);
    } catch (err) {
      batch.inFlight = false;
      return this.failed(batch, err as Error);
    }
    this.pending = null;
    if (this.failing) {
      this.failing = false;
      this.log.log('usage flushes succeed again');
    }
    if (this.droppedSinceLog) {
      this.log.warn(`${this.droppedSinceLog} usage records were dropped while the batch was full`);
      this.droppedSinceLog = 0;
    }
  }

  private failed(batch: UsageBatch, err: Error) {
    if (!this.failing) {
      this.failing = true;
      this.log.warn(`usage flush failed (${err.message}): keeping ${batch.records + this.current.records} records, retrying every second`);
    }
    throw err;
  }

  /** The timer's turn: writes until nothing is left (a backlog after an outage: a few writes a second), or one fails. */
  private async drain() {
    for (let i = 0; i < 10 && (this.pending || this.current.size); i++) {
      if (!(await this.flush().then(() => true, () => false))) return;
    }
  }

  /** Flushes until nothing is left or `deadline` (epoch ms) passes; resolves with what is left. */
  async flushAll(deadline = Date.now() + SHUTDOWN_FLUSH_MS): Promise<number> {
    while ((this.pending || this.current.size) && Date.now() < deadline) {
      const left = deadline - Date.now();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => (timer = setTimeout(r, left, 'late')));
      const outcome = await Promise.race([this.flush().then(() => 'ok', () => 'failed'), late]);
      clearTimeout(timer);
      if (outcome === 'late') break;
      // A store that refuses: wait a little rather than spin, as long as the deadline allows.
      if (outcome === 'failed') await new Promise((r) => setTimeout(r, Math.min(100, Math.max(0, deadline - Date.now()))));
    }
    return this.unflushed;
  }

  /**
   * Runs in the drain (libs/platform/src/ops/shutdown.ts), after the HTTP server has closed — so
   * every request's record is in — and before Redis closes: UsageModule is imported after
   * RedisModule and AccountsModule, and Nest destroys modules of equal distance in reverse order.
   */
  async onModuleDestroy() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const left = await this.flushAll(Date.now() + SHUTDOWN_FLUSH_MS);
    if (left) {
      this.metrics.usageDropped.inc(left);
      this.log.error(`shutdown: ${left} usage records could not be written (the store is unreachable); counted in cgw_usage_dropped_records_total`);
    }
    await this.store.close();
  }

  /**
   * One key's counts for the UTC minute, day and month of `now`: the store's plus what this process
   * has not flushed yet, so the key's own replica is exact; other replicas' records show within a
   * second. The minute comes from a per-key minute counter kept here (not from the rate limiter).
   * Rejects (StoreDownError) while Redis is unreachable; the caller decides what that means.
   */
  async periodTotals(keyId: string, now = Date.now()): Promise<PeriodTotals> {
    // A batch being written is counted by the store already: the write went out on the same
    // connection before these reads. One waiting for a retry is not, so it is added.
    const local = [this.current, ...(this.pending && !this.pending.inFlight ? [this.pending] : [])].map((b) => b.keyCounts(keyId, now));
    const [minute, day, month] = (await this.store.read(keyPeriodKeys(this.store.keys, keyId, now))).map(keyCountsOf);
    for (const l of local) {
      add(minute, l.minute);
      add(day, l.day);
      add(month, l.month);
    }
    return {
      minute: totals(minuteStart(now), minute),
      day: totals(dayStart(now), day),
      month: totals(monthStart(now), month),
    };
  }

  /**
   * GET /auth/usage: this process's own batch is written first (bounded), then the hourly/daily
   * buckets the query needs are read, so what any replica had flushed is counted.
   */
  async query(q: UsageQuery, now = Date.now()): Promise<UsageRow[]> {
    if (this.pending || this.current.size) await this.flushAll(Date.now() + SHUTDOWN_FLUSH_MS);
    const segments = planSegments(q, now, this.config.usageRetentionDays);
    const report = new ReportAggregator(q, segments);
    await this.store.readReport(segmentKeys(this.store.keys, segments), report.visit);
    return report.rows();
  }
}

function add(t: KeyCounts, l: KeyCounts) {
  t.requests += l.requests;
  t.input_tokens += l.input_tokens;
  t.output_tokens += l.output_tokens;
  t.premium_milli += l.premium_milli;
}

const totals = (start: number, c: KeyCounts): Totals => ({
  start: iso(start),
  requests: c.requests,
  input_tokens: c.input_tokens,
  output_tokens: c.output_tokens,
  premium_requests: c.premium_milli / 1000,
});

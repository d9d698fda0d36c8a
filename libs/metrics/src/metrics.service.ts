import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { boundCounter, type CounterSeries } from './bound-counter.js';
import { LiteHistogram, type HistogramSeries } from './lite-histogram.js';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const TTFT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32];

/** Every metric of the project, defined once (names: <app>_<thing>_<unit>). */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'cgw_http_requests_total',
    help: 'HTTP requests answered, by route and status',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new LiteHistogram({
    name: 'cgw_http_request_duration_seconds',
    help: 'Time from request to the last byte of the answer',
    labelNames: ['route'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly timeToFirstToken = new LiteHistogram({
    name: 'cgw_time_to_first_token_seconds',
    help: 'Time from request to the first streamed content chunk',
    labelNames: ['model'] as const,
    buckets: TTFT_BUCKETS,
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: 'cgw_tokens_total',
    help: 'Tokens reported by Copilot, by model and kind (prompt, completion)',
    labelNames: ['model', 'kind'] as const,
    registers: [this.registry],
  });
  readonly activeStreams = new Gauge({
    name: 'cgw_active_streams',
    help: 'Streaming completions in flight',
    registers: [this.registry],
  });
  readonly tokenCache = new Counter({
    name: 'cgw_token_cache_lookups_total',
    help: 'Copilot token lookups by the layer that answered (memory, redis, exchange)',
    labelNames: ['layer'] as const,
    registers: [this.registry],
  });
  readonly keyCache = new Counter({
    name: 'cgw_key_cache_lookups_total',
    help: 'API key lookups by the layer that answered (memory, store, miss)',
    labelNames: ['layer'] as const,
    registers: [this.registry],
  });
  readonly tokenExchanges = new Counter({
    name: 'cgw_token_exchanges_total',
    help: 'Copilot token exchanges with GitHub, by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly proxiedRequests = new Counter({
    name: 'cgw_proxied_requests_total',
    help: 'Requests proxied to Copilot, by client dialect, upstream endpoint, model (ids the account lists, else other) and the status the client got',
    labelNames: ['dialect', 'endpoint', 'model', 'status'] as const,
    registers: [this.registry],
  });

  readonly clientStalls = new Counter({
    name: 'cgw_client_stalls_total',
    help: 'Streams cut because the client did not read for CLIENT_STALL_TIMEOUT_MS (the upstream call is aborted)',
    registers: [this.registry],
  });

  readonly upstreamErrors = new Counter({
    name: 'cgw_upstream_errors_total',
    help: 'Failed Copilot calls, by upstream status (or network)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly upstreamRetries = new Counter({
    name: 'cgw_upstream_retries_total',
    help: 'Copilot calls retried, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly storeFallbacks = new Counter({
    name: 'cgw_store_fallbacks_total',
    help: 'Requests served from what this process holds because Redis was unreachable, by what (key, token, rate_limit)',
    labelNames: ['what'] as const,
    registers: [this.registry],
  });
  readonly premiumRequests = new Counter({
    name: 'cgw_premium_requests_total',
    help: "Premium requests spent (the model's billing multiplier, user-initiated calls), by model and client dialect",
    labelNames: ['model', 'dialect'] as const,
    registers: [this.registry],
  });
  readonly creditsNanoAiu = new Counter({
    name: 'cgw_credits_nano_aiu_total',
    help: 'Copilot credits spent as Copilot reports them (copilot_usage.total_nano_aiu), by model',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });
  private usageLagSource: (() => number) | null = null;
  readonly usageFlushLag = new Gauge({
    name: 'cgw_usage_flush_lag_seconds',
    help: 'Age of the oldest usage record this process has not yet written to the store (0: none waiting)',
    registers: [this.registry],
    collect: () => {
      if (this.usageLagSource) this.usageFlushLag.set(this.usageLagSource());
    },
  });
  readonly usageDropped = new Counter({
    name: 'cgw_usage_dropped_records_total',
    help: 'Usage records lost: the batch was full while the store was unreachable, or still unwritten at shutdown',
    registers: [this.registry],
  });

  observeUsageFlushLag(source: () => number) {
    this.usageLagSource = source;
  }

  readonly rateLimited = new Counter({
    name: 'cgw_rate_limited_requests_total',
    help: 'Requests refused by the per-key rate limit',
    registers: [this.registry],
  });
  readonly quotaRefusals = new Counter({
    name: 'cgw_quota_refusals_total',
    help: "Requests refused by a key's day or month limit (429 insufficient_quota), by the limit (requests_per_day, tokens_per_day, tokens_per_month, premium_requests_per_month)",
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });

  readonly refreshJobs = new Counter({
    name: 'cgw_refresh_jobs_total',
    help: 'Background Copilot token refreshes, by result (success, transient, revoked, no_subscription, skipped)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  /** Read at scrape time from whoever owns the numbers (the refresh scheduler, the store). */
  private queueDepthSource: (() => Promise<number>) | null = null;
  private accountsSource: (() => Promise<Record<string, number>>) | null = null;

  readonly refreshQueueDepth = new Gauge({
    name: 'cgw_refresh_queue_depth',
    help: 'Refresh jobs waiting or delayed in the copilot-token-refresh queue',
    registers: [this.registry],
    collect: async () => {
      const depth = await this.queueDepthSource?.().catch(() => null);
      if (typeof depth === 'number') this.refreshQueueDepth.set(depth);
    },
  });
  readonly accountsByStatus = new Gauge({
    name: 'cgw_accounts',
    help: 'Accounts by status (active, revoked, no_subscription, error)',
    labelNames: ['status'] as const,
    registers: [this.registry],
    collect: async () => {
      const counts = await this.accountsSource?.().catch(() => null);
      if (!counts) return;
      this.accountsByStatus.reset();
      for (const [status, n] of Object.entries(counts)) this.accountsByStatus.set({ status }, n);
    },
  });

  private premiumSource: (() => Promise<Record<string, number>>) | null = null;
  readonly copilotPremiumRemaining = new Gauge({
    name: 'cgw_copilot_premium_remaining',
    help: "Premium requests left in each account's monthly Copilot quota (copilot_internal/user, read by the refresh worker); accounts on unlimited plans or not read yet have no series",
    labelNames: ['account'] as const,
    registers: [this.registry],
    collect: async () => {
      const remaining = await this.premiumSource?.().catch(() => null);
      if (!remaining) return;
      this.copilotPremiumRemaining.reset();
      for (const [account, n] of Object.entries(remaining)) this.copilotPremiumRemaining.set({ account }, n);
    },
  });

  /** Premium requests left per account id, read at scrape time (the accounts are few; keys never become labels). */
  observePremiumRemaining(source: () => Promise<Record<string, number>>) {
    this.premiumSource = source;
  }

  private storeSource: (() => Promise<void>) | null = null;
  readonly storeUp = new Gauge({
    name: 'cgw_store_up',
    help: 'Whether the shared store (Redis, or memory in embedded mode) answered a ping at scrape time',
    registers: [this.registry],
    collect: async () => {
      if (!this.storeSource) return;
      const ok = await Promise.race([this.storeSource().then(() => 1), new Promise<number>((r) => setTimeout(r, 500, 0).unref())]).catch(() => 0);
      this.storeUp.set(ok);
    },
  });

  observeStore(ping: () => Promise<void>) {
    this.storeSource = ping;
  }

  observeQueueDepth(source: () => Promise<number>) {
    this.queueDepthSource = source;
  }

  observeAccounts(source: () => Promise<Record<string, number>>) {
    this.accountsSource = source;
  }

  /** The per-request increments, bound to their labels once: label hashing is not free at 2,000 req/s. */
  readonly keyCacheMemoryHit = boundCounter(this.keyCache, { layer: 'memory' });
  readonly tokenCacheMemoryHit = boundCounter(this.tokenCache, { layer: 'memory' });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters fail `promtool check metrics`; each is the sum of the
    // per-type gauge beside it (sum(nodejs_active_handles)), so nothing is lost.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
      this.registry.removeSingleMetric(name);
  }

  private readonly requestSeries = new Map<string, { count: CounterSeries; duration: HistogramSeries }>();

  /** One answered request; the labelled series are looked up once per route and status, not per request. */
  recordRequest(route: string, status: number, seconds: number) {
    const id = `${status} ${route}`;
    let series = this.requestSeries.get(id);
    if (!series) {
      series = { count: boundCounter(this.httpRequests, { route, status: String(status) }), duration: this.httpDuration.labels({ route }) };
      this.requestSeries.set(id, series);
    }
    series.count.inc();
    series.duration.observe(seconds);
  }

  private readonly modelSeries = new Map<string, { prompt: CounterSeries; completion: CounterSeries; ttft: HistogramSeries }>();

  /** Per-model series, bound once per model name (names come from Copilot's answers, so few). */
  private model(model: string) {
    let series = this.modelSeries.get(model);
    if (!series) {
      series = {
        prompt: boundCounter(this.tokens, { model, kind: 'prompt' }),
        completion: boundCounter(this.tokens, { model, kind: 'completion' }),
        ttft: this.timeToFirstToken.labels({ model }),
      };
      this.modelSeries.set(model, series);
    }
    return series;
  }

  recordFirstToken(model: string, seconds: number) {
    this.model(model).ttft.observe(seconds);
  }

  private readonly exchangeSeries = new Map<string, CounterSeries>();

  /** One proxied request, once it is over: which dialect reached which upstream endpoint, and how it ended. */
  recordExchange(dialect: string, endpoint: string, model: string, status: number | string) {
    const id = `${dialect} ${endpoint} ${model} ${status}`;
    let series = this.exchangeSeries.get(id);
    if (!series) this.exchangeSeries.set(id, (series = boundCounter(this.proxiedRequests, { dialect, endpoint, model, status: String(status) })));
    series.inc();
  }

  /** Counts prompt and completion tokens from an OpenAI usage object. */
  recordUsage(model: string, usage: { prompt_tokens?: unknown; completion_tokens?: unknown } | null | undefined) {
    if (!usage) return;
    const series = this.model(model);
    if (typeof usage.prompt_tokens === 'number') series.prompt.inc(usage.prompt_tokens);
    if (typeof usage.completion_tokens === 'number') series.completion.inc(usage.completion_tokens);
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { Lru, STATE_STORE, type Principal, type StateStore } from '#libs/accounts';
import { InjectConfig, type AppConfig } from '#libs/config';
import { ApiError } from '#libs/copilot';
import { MetricsService } from '#libs/metrics';
import { UsageService } from '#libs/usage';

type KeyLimits = NonNullable<Principal['limits']>;
type QuotaPeriod = 'day' | 'month';

/** One period's totals of a key, as libs/usage counts them (exact for this process, Redis flushed every second). */
export interface PeriodCounts {
  start: number | string;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  premium_requests: number;
}
export type KeyTotals = Record<'minute' | 'day' | 'month', PeriodCounts>;

/** What the quota reads of UsageService (libs/usage): a unit test gives a stub. */
export interface UsageTotalsReader {
  periodTotals(keyId: string, now?: number): Promise<KeyTotals>;
}

export type QuotaLimitName = 'requests_per_day' | 'tokens_per_day' | 'tokens_per_month' | 'premium_requests_per_month';

/** The limits counted from the usage records, after each request: checked, never counted, here. */
const USAGE_LIMITS: { limit: QuotaLimitName; period: QuotaPeriod; used: (t: KeyTotals) => number; what: string }[] = [
  { limit: 'tokens_per_day', period: 'day', used: (t) => t.day.input_tokens + t.day.output_tokens, what: 'tokens' },
  { limit: 'tokens_per_month', period: 'month', used: (t) => t.month.input_tokens + t.month.output_tokens, what: 'tokens' },
  { limit: 'premium_requests_per_month', period: 'month', used: (t) => t.month.premium_requests, what: 'premium requests' },
];

/** The UTC period holding `at`: its id (as libs/usage and the store name it) and its end. */
export function periodOf(period: QuotaPeriod, at: number): { stamp: string; end: number } {
  const d = new Date(at);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const two = (n: number) => String(n).padStart(2, '0');
  if (period === 'month') return { stamp: `${y}${two(m + 1)}`, end: Date.UTC(y, m + 1, 1) };
  return { stamp: `${y}${two(m + 1)}${two(d.getUTCDate())}`, end: Date.UTC(y, m, d.getUTCDate() + 1) };
}

/** Whether a key has any limit this service enforces (the others cost it nothing). */
export const hasQuota = (l: KeyLimits | null | undefined): l is KeyLimits =>
  !!l && !!(l.requests_per_day || l.tokens_per_day || l.tokens_per_month || l.premium_requests_per_month);

/** Keys refused by a limit, remembered until their period ends (a limit only stays spent within it). */
const MAX_REMEMBERED = 10_000;

/**
 * The day and month limits of a key (design.md §4), before the upstream call:
 *
 * - `requests_per_day` is counted at admission, in the store's quota:{key id}:day:{YYYYMMDD}
 *   counter: one atomic check-and-count per request, so across any number of replicas at most
 *   the limit is admitted in a UTC day. A counter that does not exist yet (the day's first request,
 *   or a limit just set) starts from the requests libs/usage counted so far that day.
 * - `tokens_per_day`, `tokens_per_month`, `premium_requests_per_month` are known only once a
 *   request is over, so they are counted by the usage records and checked here against
 *   UsageService.periodTotals: a request is admitted while the total is below the limit, so the
 *   requests in flight when it is reached (and those another replica finished within its last
 *   flush, at most a second ago) still complete, and the total can end above the limit by that much.
 *
 * Over a limit: 429 `insufficient_quota` (Anthropic's routes: `rate_limit_error`) with Retry-After
 * to the end of the period, UTC midnight or the first of the next month.
 *
 * While the store is unreachable, requests_per_day is counted per replica (as the rate limit is);
 * when the usage totals cannot be read, the token and premium limits let requests through.
 */
@Injectable()
export class QuotaService {
  /** Per-replica counters while the store is down: key id + period → count. */
  private readonly local: Lru<string, { stamp: string; count: number }>;
  /** `key hash|limit|value|period` → when the period ends: refused without asking the store again. */
  private readonly spent = new Lru<string, number>(MAX_REMEMBERED);

  constructor(
    @Inject(STATE_STORE) private readonly store: StateStore,
    @Inject(UsageService) private readonly usage: UsageTotalsReader,
    private readonly metrics: MetricsService,
    @InjectConfig() config: Pick<AppConfig, 'maxClientsCache'>,
  ) {
    this.local = new Lru(config.maxClientsCache);
    // A key's limits changed (or this replica missed events): what was remembered as spent may not be.
    store.subscribe((e) => {
      if (e.type === 'key.changed' || e.type === 'key.revoked' || e.type === 'resync') this.spent.clear();
    });
  }

  /** Resolves when the request may go upstream (and counts it against requests_per_day); throws the 429 when not. */
  async admit(principal: Pick<Principal, 'keyId' | 'keyHash' | 'limits'>, now = Date.now()): Promise<void> {
    const limits = principal.limits;
    if (!hasQuota(limits)) return;
    const tag = (limit: QuotaLimitName, period: QuotaPeriod) => `${principal.keyHash}|${limit}|${limits[limit]}|${periodOf(period, now).stamp}`;

    // Spent before (and still in the same period, with the same limit): refused at once.
    const remembered = [...USAGE_LIMITS, { limit: 'requests_per_day' as const, period: 'day' as const }]
      .filter(({ limit }) => limits[limit])
      .map(({ limit, period }) => ({ limit, period, until: this.spent.get(tag(limit, period)) }))
      .filter((r) => r.until !== undefined && r.until > now);
    if (remembered.length) {
      const last = remembered.reduce((a, b) => (b.until! > a.until! ? b : a));
      this.refuse(last.limit, limits[last.limit]!, last.period, now);
    }

    let totals: KeyTotals | null | undefined;
    const readTotals = async () => {
      if (totals === undefined) totals = await this.usage.periodTotals(principal.keyId, now).catch(() => null);
      return totals;
    };

    const checks = USAGE_LIMITS.filter(({ limit }) => limits[limit]);
    if (checks.length) {
      const t = await readTotals();
      if (!t) this.metrics.storeFallbacks.inc({ what: 'quota' });
      else {
        const over = checks.filter(({ limit, used }) => used(t) >= limits[limit]!);
        if (over.length) {
          // The one that ends last is when the key may be used again.
          const last = over.reduce((a, b) => (periodOf(b.period, now).end > periodOf(a.period, now).end ? b : a));
          for (const o of over) this.spent.set(tag(o.limit, o.period), periodOf(o.period, now).end);
          this.refuse(last.limit, limits[last.limit]!, last.period, now);
        }
      }
    }

    const perDay = limits.requests_per_day;
    if (!perDay) return;
    const taken = await this.takeDay(principal.keyId, perDay, now, readTotals);
    if (!taken.admitted) {
      this.spent.set(tag('requests_per_day', 'day'), periodOf('day', now).end);
      this.refuse('requests_per_day', perDay, 'day', now);
    }
  }

  /** One request against requests_per_day: in the store (exact across replicas), else on this replica. */
  private async takeDay(keyId: string, limit: number, now: number, readTotals: () => Promise<KeyTotals | null>) {
    try {
      const first = await this.store.takeQuota(keyId, 'day', now, limit);
      if (first) return first;
      // No counter yet: it starts from what the usage records counted today (0 for a new day).
      const seed = (await readTotals())?.day.requests ?? 0;
      return (await this.store.takeQuota(keyId, 'day', now, limit, seed))!;
    } catch {
      this.metrics.storeFallbacks.inc({ what: 'quota' });
      const stamp = periodOf('day', now).stamp;
      let c = this.local.get(keyId);
      if (!c || c.stamp !== stamp) this.local.set(keyId, (c = { stamp, count: (await readTotals())?.day.requests ?? 0 }));
      if (c.count >= limit) return { admitted: false, count: c.count };
      return { admitted: true, count: ++c.count };
    }
  }

  private refuse(limit: QuotaLimitName, value: number, period: QuotaPeriod, now: number): never {
    this.metrics.quotaRefusals.inc({ limit });
    const end = periodOf(period, now).end;
    const seconds = Math.max(1, Math.ceil((end - now) / 1000));
    const what = limit === 'requests_per_day' ? 'requests' : USAGE_LIMITS.find((u) => u.limit === limit)!.what;
    throw new ApiError(
      429,
      `This key has used its ${value} ${what} for ${period === 'day' ? 'today' : 'this month'} (${limit}, UTC). It resets at ${new Date(end).toISOString()}, in ${seconds} s.`,
      'insufficient_quota',
      'insufficient_quota',
      null,
      { 'retry-after': String(seconds) },
    );
  }
}

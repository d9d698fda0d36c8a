/**
 * The body of `GET /v1/usage` (design.md §4), built from the key's period totals, its limits and
 * the account's Copilot quota. Pure, so the shape is tested without a server.
 */

/** One period's counts, as the usage service keeps them. */
export interface PeriodTotals {
  /** when the period began: epoch ms or ISO 8601 */
  start: number | string;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  premium_requests: number;
}

export type Period = 'minute' | 'day' | 'month';

/** The per-key limits (PATCH /auth/keys/{id}); an absent or null one is no limit. */
export interface LimitsLike {
  requests_per_minute?: number | null;
  requests_per_day?: number | null;
  tokens_per_day?: number | null;
  tokens_per_month?: number | null;
  premium_requests_per_month?: number | null;
}
export type LimitName = keyof LimitsLike;

/**
 * The limits each period's `remaining` answers for, and what each one counts: requests, tokens
 * (input + output, the count the limit checks) or premium requests.
 */
export const PERIOD_LIMITS: Record<Period, { limit: LimitName; counts: (t: PeriodTotals) => number }[]> = {
  minute: [{ limit: 'requests_per_minute', counts: (t) => t.requests }],
  day: [
    { limit: 'requests_per_day', counts: (t) => t.requests },
    { limit: 'tokens_per_day', counts: (t) => t.input_tokens + t.output_tokens },
  ],
  month: [
    { limit: 'tokens_per_month', counts: (t) => t.input_tokens + t.output_tokens },
    { limit: 'premium_requests_per_month', counts: (t) => t.premium_requests },
  ],
};

const LIMIT_NAMES: LimitName[] = ['requests_per_minute', 'requests_per_day', 'tokens_per_day', 'tokens_per_month', 'premium_requests_per_month'];

/** Premium requests are fractional (multipliers like 0.33): sums are shown to 1/1000, without float noise. */
const tidy = (n: number) => Math.round(n * 1000) / 1000;

const iso = (start: number | string) => (typeof start === 'number' ? new Date(start).toISOString() : start);

/** Every limit by name, null where the key has none. */
export function limitsView(limits: LimitsLike | null | undefined): Record<LimitName, number | null> {
  return Object.fromEntries(LIMIT_NAMES.map((name) => [name, typeof limits?.[name] === 'number' ? limits[name] : null])) as Record<LimitName, number | null>;
}

export function periodView(period: Period, totals: PeriodTotals, limits: Record<LimitName, number | null>) {
  const remaining: Partial<Record<LimitName, number | null>> = {};
  for (const { limit, counts } of PERIOD_LIMITS[period]) {
    const max = limits[limit];
    remaining[limit] = max === null ? null : Math.max(0, tidy(max - counts(totals)));
  }
  return {
    start: iso(totals.start),
    requests: totals.requests,
    input_tokens: totals.input_tokens,
    output_tokens: totals.output_tokens,
    premium_requests: tidy(totals.premium_requests),
    remaining,
  };
}

export function usageView(
  keyId: string,
  limits: LimitsLike | null | undefined,
  totals: Record<Period, PeriodTotals>,
  copilot: Record<string, unknown> | null,
) {
  const all = limitsView(limits);
  return {
    object: 'usage' as const,
    key: {
      id: keyId,
      limits: all,
      periods: {
        minute: periodView('minute', totals.minute, all),
        day: periodView('day', totals.day, all),
        month: periodView('month', totals.month, all),
      },
    },
    copilot,
  };
}

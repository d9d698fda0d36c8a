import { describe, expect, it } from 'vitest';
import { usageView } from './usage-view.js';

const t = (start: number, requests: number, input: number, output: number, premium: number) => ({
  start,
  requests,
  input_tokens: input,
  output_tokens: output,
  premium_requests: premium,
});

describe('usageView (GET /v1/usage)', () => {
  const totals = {
    minute: t(Date.UTC(2025, 0, 31, 12, 5), 2, 20, 10, 0.66),
    day: t(Date.UTC(2025, 0, 31), 8, 80, 40, 2.64),
    month: t(Date.UTC(2025, 0, 1), 30, 300, 150, 0.1 + 0.2),
  };

  it('lists every limit, null where none, and one remaining entry per limit of each period', () => {
    const view = usageView('key_a', { requests_per_day: 20, premium_requests_per_month: 3 }, totals, { copilot_plan: 'individual' });
    expect(view).toEqual({
      object: 'usage',
      key: {
        id: 'key_a',
        limits: { requests_per_minute: null, requests_per_day: 20, tokens_per_day: null, tokens_per_month: null, premium_requests_per_month: 3 },
        periods: {
          minute: { start: '2025-01-31T12:05:00.000Z', requests: 2, input_tokens: 20, output_tokens: 10, premium_requests: 0.66, remaining: { requests_per_minute: null } },
          day: { start: '2025-01-31T00:00:00.000Z', requests: 8, input_tokens: 80, output_tokens: 40, premium_requests: 2.64, remaining: { requests_per_day: 12, tokens_per_day: null } },
          month: { start: '2025-01-01T00:00:00.000Z', requests: 30, input_tokens: 300, output_tokens: 150, premium_requests: 0.3, remaining: { tokens_per_month: null, premium_requests_per_month: 2.7 } },
        },
      },
      copilot: { copilot_plan: 'individual' },
    });
  });

  it('counts tokens as input + output, and never goes below zero', () => {
    const view = usageView('key_a', { requests_per_minute: 1, tokens_per_day: 100, tokens_per_month: 1000 }, totals, null);
    expect(view.key.periods.minute.remaining).toEqual({ requests_per_minute: 0 });
    expect(view.key.periods.day.remaining).toEqual({ requests_per_day: null, tokens_per_day: 0 });
    expect(view.key.periods.month.remaining).toEqual({ tokens_per_month: 550, premium_requests_per_month: null });
    expect(view.copilot).toBeNull();
  });

  it('a key without limits (a passthrough token) has them all null', () => {
    const view = usageView('gh_abc', null, totals, null);
    expect(Object.values(view.key.limits)).toEqual([null, null, null, null, null]);
  });
});

import { describe, expect, it } from 'vitest';
import { parseCopilotQuota } from '#libs/copilot';
import { quotaFields } from './token-refresher.service.js';

describe('the account fields from copilot_internal/user', () => {
  it('takes the plan, the premium entitlement and remaining, and the reset date as ISO', () => {
    const raw = {
      copilot_plan: 'individual',
      quota_reset_date: '2026-12-01',
      quota_snapshots: { chat: { unlimited: true }, premium_interactions: { entitlement: 300, remaining: 280.5, percent_remaining: 93.5, unlimited: false } },
    };
    const quota = parseCopilotQuota(raw);
    expect(quota.raw).toBe(raw);
    expect(quotaFields(quota)).toEqual({
      plan: 'individual',
      premium_entitlement: 300,
      premium_remaining: 280.5,
      premium_unlimited: false,
      quota_reset_at: '2026-12-01T00:00:00.000Z',
    });
  });

  it('prefers quota_reset_date_utc; an unlimited plan has no entitlement or remaining', () => {
    const quota = parseCopilotQuota({
      copilot_plan: 'enterprise',
      quota_reset_date: '2026-12-01',
      quota_reset_date_utc: '2026-12-01T00:00:00.000Z',
      quota_snapshots: { premium_interactions: { entitlement: 0, remaining: 0, unlimited: true } },
    });
    expect(quotaFields(quota)).toEqual({ plan: 'enterprise', premium_entitlement: null, premium_remaining: null, premium_unlimited: true, quota_reset_at: '2026-12-01T00:00:00.000Z' });
  });

  it('an answer without quota snapshots leaves the fields null', () => {
    expect(quotaFields(parseCopilotQuota({ quota_reset_date: 'soon' }))).toEqual({
      plan: null,
      premium_entitlement: null,
      premium_remaining: null,
      premium_unlimited: null,
      quota_reset_at: null,
    });
  });
});

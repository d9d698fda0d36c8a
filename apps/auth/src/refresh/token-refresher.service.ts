import { Inject, Injectable, Logger } from '@nestjs/common';
import { AccountsService, CopilotTokenService, STATE_STORE, type AccountRecord, type StateStore, type TokenOwner } from '#libs/accounts';
import { CopilotClient, ExchangeError, type CopilotQuota, type CopilotToken } from '#libs/copilot';
import { MetricsService } from '#libs/metrics';

export const REFRESH_QUEUE = 'copilot-token-refresh';

/** When to renew: at refresh_in − 60 s, never later than expires_at − 60 s, never sooner than 1 s. */
export function refreshDelayMs(token: Pick<CopilotToken, 'refreshAt' | 'expiresAt'>, now = Date.now()): number {
  const due = Math.min(token.refreshAt, token.expiresAt) - 60;
  return Math.max(1000, Math.floor(due * 1000 - now));
}

/** How long a copilot_internal/user read may hold a refresh job up. */
const QUOTA_READ_TIMEOUT_MS = 10_000;

/** The account fields a copilot_internal/user answer sets (design.md §4, GET /auth/accounts). */
export function quotaFields(q: CopilotQuota): Pick<AccountRecord, 'plan' | 'premium_entitlement' | 'premium_remaining' | 'premium_unlimited' | 'quota_reset_at'> {
  const unlimited = q.premium?.unlimited ?? null;
  return {
    plan: q.plan,
    premium_entitlement: unlimited ? null : (q.premium?.entitlement ?? null),
    premium_remaining: unlimited ? null : (q.premium?.remaining ?? null),
    premium_unlimited: unlimited,
    quota_reset_at: q.resetAt,
  };
}

/** One renewal, shared by the BullMQ processor and the embedded timers. */
@Injectable()
export class TokenRefresher {
  private readonly log = new Logger('Refresh');

  constructor(
    private readonly accounts: AccountsService,
    private readonly tokens: CopilotTokenService,
    private readonly metrics: MetricsService,
    private readonly client: CopilotClient,
    @Inject(STATE_STORE) private readonly store: StateStore,
  ) {}

  /**
   * Returns the new token, or null when refreshing this account should stop (gone, revoked, no
   * subscription: the account status says which). Throws on transient failures, to be retried.
   */
  async refresh(accountId: string): Promise<CopilotToken | null> {
    const owner = await this.accounts.tokenOwner(accountId);
    if (!owner) {
      this.metrics.refreshJobs.inc({ result: 'skipped' });
      return null;
    }
    try {
      const token = await this.tokens.refresh(owner);
      this.metrics.refreshJobs.inc({ result: 'success' });
      await this.readQuota(owner);
      return token;
    } catch (err) {
      const kind = err instanceof ExchangeError ? err.kind : 'transient';
      this.metrics.refreshJobs.inc({ result: kind });
      if (kind === 'transient') throw err;
      this.log.warn(`account ${accountId}: ${kind}; refreshing stops until it authorizes again`);
      return null;
    }
  }

  /**
   * Reads the account's plan and premium quota (copilot_internal/user) onto its record. Never
   * fails the refresh: on any error the last values stay and the next refresh tries again.
   */
  async readQuota(owner: TokenOwner): Promise<boolean> {
    try {
      const quota = await this.client.getCopilotUser(await owner.githubToken(), AbortSignal.timeout(QUOTA_READ_TIMEOUT_MS));
      await this.store.patchAccount(owner.accountId, quotaFields(quota));
      return true;
    } catch (err) {
      this.log.warn(`account ${owner.accountId}: Copilot quota not read (${(err as Error).message}); the next refresh tries again`);
      return false;
    }
  }

  /** The quota of an account just registered, so its plan shows before its first refresh. */
  async readQuotaOf(accountId: string): Promise<boolean> {
    const owner = await this.accounts.tokenOwner(accountId).catch(() => null);
    return owner ? this.readQuota(owner) : false;
  }
}

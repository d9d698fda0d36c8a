import { Injectable, Logger } from '@nestjs/common';
import { AccountsService, CopilotTokenService } from '#libs/accounts';
import { ExchangeError, type CopilotToken } from '#libs/copilot';
import { MetricsService } from '#libs/metrics';

export const REFRESH_QUEUE = 'copilot-token-refresh';

/** When to renew: at refresh_in − 60 s, never later than expires_at − 60 s, never sooner than 1 s. */
export function refreshDelayMs(token: Pick<CopilotToken, 'refreshAt' | 'expiresAt'>, now = Date.now()): number {
  const due = Math.min(token.refreshAt, token.expiresAt) - 60;
  return Math.max(1000, Math.floor(due * 1000 - now));
}

/** One renewal, shared by the BullMQ processor and the embedded timers. */
@Injectable()
export class TokenRefresher {
  private readonly log = new Logger('Refresh');

  constructor(
    private readonly accounts: AccountsService,
    private readonly tokens: CopilotTokenService,
    private readonly metrics: MetricsService,
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
      return token;
    } catch (err) {
      const kind = err instanceof ExchangeError ? err.kind : 'transient';
      this.metrics.refreshJobs.inc({ result: kind });
      if (kind === 'transient') throw err;
      this.log.warn(`account ${accountId}: ${kind}; refreshing stops until it authorizes again`);
      return null;
    }
  }
}

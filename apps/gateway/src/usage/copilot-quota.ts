import { Inject, Injectable, Logger } from '@nestjs/common';
import { STATE_STORE, type Principal, type StateStore } from '#libs/accounts';
import { CopilotClient } from '#libs/copilot';
import { storeKeys } from '#libs/redis';

/** How long an account's copilot_internal/user answer is served from cquota:{account} (design.md §7). */
export const COPILOT_QUOTA_TTL_MS = 60_000;
/** A read that failed is not retried for this long, so a client polling /v1/usage cannot hammer GitHub. */
const FAILED_TTL_MS = 10_000;
const READ_TIMEOUT_MS = 10_000;

/**
 * The account's Copilot plan and quota as GitHub answers `copilot_internal/user`, cached 60 s in
 * the store (every replica shares one answer) and read once per process at a time.
 */
@Injectable()
export class CopilotQuotaCache {
  private readonly log = new Logger('Usage');
  private readonly reading = new Map<string, Promise<Record<string, unknown> | null>>();

  constructor(
    @Inject(STATE_STORE) private readonly store: StateStore,
    private readonly client: CopilotClient,
  ) {}

  /** The answer as GitHub sent it, or null when it could not be read (the rest of /v1/usage still answers). */
  get(principal: Principal): Promise<Record<string, unknown> | null> {
    let p = this.reading.get(principal.accountId);
    if (!p) {
      p = this.load(principal).finally(() => this.reading.delete(principal.accountId));
      this.reading.set(principal.accountId, p);
    }
    return p;
  }

  private async load(principal: Principal): Promise<Record<string, unknown> | null> {
    const key = storeKeys.copilotQuota(principal.accountId);
    const cached = await this.store.getCache(key).catch(() => null);
    if (cached !== null) {
      try {
        return JSON.parse(cached) as Record<string, unknown> | null;
      } catch {
        // unreadable entry: read GitHub again
      }
    }
    try {
      const quota = await this.client.getCopilotUser(await principal.githubToken(), AbortSignal.timeout(READ_TIMEOUT_MS));
      await this.store.setCache(key, JSON.stringify(quota.raw), COPILOT_QUOTA_TTL_MS).catch(() => {});
      return quota.raw;
    } catch (err) {
      this.log.warn(`account ${principal.accountId}: Copilot quota not read (${(err as Error).message})`);
      await this.store.setCache(key, 'null', FAILED_TTL_MS).catch(() => {});
      return null;
    }
  }
}

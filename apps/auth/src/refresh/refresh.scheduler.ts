import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { CopilotTokenService, STATE_STORE, type StateStore } from '#libs/accounts';
import { MetricsService } from '#libs/metrics';
import { REFRESH_QUEUE, TokenRefresher, refreshDelayMs } from './token-refresher.service.js';

export interface RefreshScheduler {
  /** Renew this account's token after `delayMs`; `window` names the token being replaced. */
  schedule(accountId: string, delayMs: number, window: string): Promise<void>;
}
export const REFRESH_SCHEDULER = Symbol('REFRESH_SCHEDULER');

/**
 * BullMQ reports every failed reconnect while Redis is down; one line per 10 s says it without
 * flooding the log (unlistened, BullMQ would print each one with console.error).
 */
export function redisErrorLogger(log: Logger, what: string): (err: Error) => void {
  let last = 0;
  return (err) => {
    // Without a "Last error" no sentinel failed: a reconnect merely began past the end of ioredis's
    // sentinel list (they answered; the primary they named did not), which the line would misstate.
    if (/^All sentinels are unreachable\. Retrying/.test(err.message) && !err.message.includes('Last error')) return;
    if (Date.now() - last < 10_000) return;
    last = Date.now();
    log.warn(`${what}: ${err.message}`);
  };
}

/** Redis mode: one delayed BullMQ job per account and token window; the id makes replicas agree. */
@Injectable()
export class QueueScheduler implements RefreshScheduler {
  constructor(
    @InjectQueue(REFRESH_QUEUE) private readonly queue: Queue,
    metrics: MetricsService,
  ) {
    queue.on('error', redisErrorLogger(new Logger('Refresh'), 'refresh queue cannot reach Redis'));
    metrics.observeQueueDepth(async () => {
      const counts = await queue.getJobCounts('waiting', 'delayed', 'prioritized');
      return Object.values(counts).reduce((a, b) => a + b, 0);
    });
  }

  async schedule(accountId: string, delayMs: number, window: string) {
    await this.queue.add(
      'refresh',
      { accountId },
      {
        jobId: `refresh-${accountId}-${window}`,
        delay: delayMs,
        attempts: 12,
        backoff: { type: 'exponential', delay: 2000 },
        removeOnComplete: 1000,
        removeOnFail: 1000,
      },
    );
  }
}

/** Embedded mode: the same schedule on in-process timers. */
@Injectable()
export class TimerScheduler implements RefreshScheduler, OnModuleDestroy {
  private readonly log = new Logger('Refresh');
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly refresher: TokenRefresher) {}

  async schedule(accountId: string, delayMs: number, _window: string, attempt = 0) {
    clearTimeout(this.timers.get(accountId));
    const timer = setTimeout(async () => {
      this.timers.delete(accountId);
      try {
        const token = await this.refresher.refresh(accountId);
        if (token) await this.schedule(accountId, refreshDelayMs(token), String(token.expiresAt));
      } catch (err) {
        const backoff = Math.min(2000 * 2 ** attempt, 300_000);
        this.log.warn(`account ${accountId}: refresh failed (${(err as Error).message}); again in ${backoff / 1000} s`);
        await this.schedule(accountId, backoff, 'retry', attempt + 1);
      }
    }, delayMs);
    timer.unref();
    this.timers.set(accountId, timer);
  }

  onModuleDestroy() {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}

/** Keeps every active account scheduled: those stored at start, and those registered later. */
@Injectable()
export class RefreshBootstrap implements OnApplicationBootstrap {
  constructor(
    @Inject(STATE_STORE) private readonly store: StateStore,
    @Inject(REFRESH_SCHEDULER) private readonly scheduler: RefreshScheduler,
    private readonly tokens: CopilotTokenService,
    private readonly refresher: TokenRefresher,
    metrics: MetricsService,
  ) {
    metrics.observeAccounts(async () => {
      const counts: Record<string, number> = { active: 0, revoked: 0, no_subscription: 0, error: 0 };
      for (const a of await store.listAccounts()) counts[a.status] = (counts[a.status] ?? 0) + 1;
      return counts;
    });
    metrics.observePremiumRemaining(async () => {
      const remaining: Record<string, number> = {};
      for (const a of await store.listAccounts()) if (typeof a.premium_remaining === 'number') remaining[a.id] = a.premium_remaining;
      return remaining;
    });
  }

  async onApplicationBootstrap() {
    this.store.subscribe((e) => {
      if (e.type !== 'account.registered' && e.type !== 'account.changed') return;
      void this.scheduleFromRecord(e.id);
      void this.readQuotaOnce(e.id);
    });
    for (const a of await this.store.listAccounts()) if (a.status === 'active' || a.status === 'error') await this.scheduleFromRecord(a.id);
  }

  /**
   * The plan and quota of an account just (re)registered, read at once rather than at its first
   * refresh (minutes away): by one auth replica, the one that takes the lock.
   */
  private async readQuotaOnce(accountId: string) {
    const lock = await this.store.acquireLock(`quota-read:${accountId}`, 30_000).catch(() => null);
    if (lock) await this.refresher.readQuotaOf(accountId);
  }

  private async scheduleFromRecord(accountId: string) {
    const a = await this.store.getAccount(accountId).catch(() => null);
    if (!a || a.status === 'revoked' || a.status === 'no_subscription') return;
    // The cached token knows refresh_in; the record only its expiry, the later bound.
    const token = await this.tokens.peek(accountId);
    const expiresAt = token?.expiresAt ?? (a.copilot_token_expires_at ? Math.floor(Date.parse(a.copilot_token_expires_at) / 1000) : 0);
    const delay = token ? refreshDelayMs(token) : expiresAt ? refreshDelayMs({ refreshAt: expiresAt, expiresAt }) : 1000;
    await this.scheduler.schedule(accountId, delay, String(expiresAt)).catch((err) => {
      new Logger('Refresh').warn(`could not schedule account ${accountId}: ${(err as Error).message}`);
    });
  }
}

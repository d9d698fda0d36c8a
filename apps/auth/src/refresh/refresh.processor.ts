import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject } from '@nestjs/common';
import type { Job } from 'bullmq';
import { REFRESH_SCHEDULER, type RefreshScheduler } from './refresh.scheduler.js';
import { REFRESH_QUEUE, TokenRefresher, refreshDelayMs } from './token-refresher.service.js';

/** Consumes copilot-token-refresh: renew, then schedule the next renewal. Transient errors throw, so BullMQ retries with backoff. */
@Processor(REFRESH_QUEUE)
export class RefreshProcessor extends WorkerHost {
  constructor(
    private readonly refresher: TokenRefresher,
    @Inject(REFRESH_SCHEDULER) private readonly scheduler: RefreshScheduler,
  ) {
    super();
  }

  async process(job: Job<{ accountId: string }>) {
    const token = await this.refresher.refresh(job.data.accountId);
    if (token) await this.scheduler.schedule(job.data.accountId, refreshDelayMs(token), String(token.expiresAt));
    return { renewed: token !== null };
  }
}

import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { Job } from 'bullmq';
import { hostname } from 'node:os';
import { REDIS, type RedisConnections } from '#libs/redis';
import { REFRESH_SCHEDULER, redisErrorLogger, type RefreshScheduler } from './refresh.scheduler.js';
import { REFRESH_QUEUE, TokenRefresher, refreshDelayMs } from './token-refresher.service.js';

/**
 * Consumes copilot-token-refresh: renew, then schedule the next renewal. Transient errors throw, so
 * BullMQ retries with backoff. A job whose worker died (its lock, renewed every 5 s, lapses after
 * 10 s) is found by another replica's stalled check within 5 s more and runs again; each job
 * records the worker that ran it (host:pid).
 */
@Processor(REFRESH_QUEUE, { name: `${hostname()}:${process.pid}`, lockDuration: 10_000, stalledInterval: 5_000 })
export class RefreshProcessor extends WorkerHost implements OnModuleDestroy {
  constructor(
    private readonly refresher: TokenRefresher,
    @Inject(REFRESH_SCHEDULER) private readonly scheduler: RefreshScheduler,
    @Inject(REDIS) private readonly redis: RedisConnections,
  ) {
    super();
  }

  private readonly log = new Logger('Refresh');
  private readonly warnRedis = redisErrorLogger(this.log, 'refresh worker cannot reach Redis');

  @OnWorkerEvent('error')
  onError(err: Error) {
    this.warnRedis(err);
  }

  /** Each failed attempt, so ops see a refresh struggling before the account's status changes. */
  @OnWorkerEvent('failed')
  onFailed(job: Job<{ accountId: string }> | undefined, err: Error) {
    if (!job) return;
    const attempts = job.opts.attempts ?? 1;
    const next = job.attemptsMade < attempts ? 'BullMQ retries it with backoff' : 'no attempts left';
    this.log.warn(`account ${job.data.accountId}: refresh attempt ${job.attemptsMade} of ${attempts} failed (${err.message}); ${next}`);
  }

  async process(job: Job<{ accountId: string }>) {
    const token = await this.refresher.refresh(job.data.accountId);
    if (token) await this.scheduler.schedule(job.data.accountId, refreshDelayMs(token), String(token.expiresAt));
    return { renewed: token !== null };
  }

  /**
   * Closes the worker before the Redis connections go (BullMQ's own close comes later, in
   * onApplicationShutdown, and would find them gone). Its connections wait for Redis forever
   * (maxRetriesPerRequest: null), so: forced at once when Redis does not answer a PING, and cut
   * short after CLOSE_MS when a running job or Redis holds a graceful close up. A job cut short is
   * not lost: its lock lapses within 10 s and a replica's stalled check runs it again.
   */
  async onModuleDestroy() {
    const worker = this.worker;
    const force = !(await this.redis.reachable());
    const closed = worker.close(force).then(() => true, () => true);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => (timer = setTimeout(resolve, CLOSE_MS, false)));
    const done = await Promise.race([closed, late]);
    clearTimeout(timer);
    if (done) return;
    this.log.warn(`refresh worker not closed after ${CLOSE_MS} ms (a job running, or Redis not answering): dropping its connections`);
    await Promise.race([worker.disconnect().catch(() => {}), new Promise((r) => setTimeout(r, 500).unref())]);
  }
}

/** How long a graceful close of the worker may take (it waits for the job running, if any). */
const CLOSE_MS = 1500;

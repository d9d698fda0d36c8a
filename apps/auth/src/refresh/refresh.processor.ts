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

  /** The jobs this process is running now, so closing can give them a moment, and no more. */
  private readonly running = new Set<Promise<unknown>>();

  async process(job: Job<{ accountId: string }>) {
    const run = this.renew(job.data.accountId);
    this.running.add(run);
    try {
      return await run;
    } finally {
      this.running.delete(run);
    }
  }

  private async renew(accountId: string) {
    // After a failover BullMQ's connection can be back before the request path's, whose commands
    // the job makes: without the wait its attempt would fail on a Redis about to answer.
    await this.redis.whenAvailable(STORE_WAIT_MS);
    const token = await this.refresher.refresh(accountId);
    if (token) await this.scheduler.schedule(accountId, refreshDelayMs(token), String(token.expiresAt));
    return { renewed: token !== null };
  }

  /**
   * Closes the worker before the Redis connections go (BullMQ's own close comes later, in
   * onApplicationShutdown, and would find them gone). A graceful close waits for the running job
   * and for Redis, both without limit (the connections have maxRetriesPerRequest: null), so a job
   * gets JOB_GRACE_MS to finish while Redis answers, and then the close is forced. A job cut short
   * is not lost: its lock lapses within 10 s and a replica's stalled check runs it again.
   */
  async onModuleDestroy() {
    const worker = this.worker;
    const reachable = await this.redis.reachable();
    if (reachable && this.running.size) await within(Promise.allSettled([...this.running]), JOB_GRACE_MS);
    const force = !reachable || this.running.size > 0;
    if (await within(worker.close(force).catch(() => {}), CLOSE_MS)) return;
    this.log.warn(`refresh worker not closed after ${CLOSE_MS} ms: dropping its connections`);
    await within(worker.disconnect().catch(() => {}), CLOSE_MS);
  }
}

/** How long a job waits for the request path's Redis connection before trying all the same. */
const STORE_WAIT_MS = 5000;
/** How long a running refresh job may hold the shutdown up (it is usually one GitHub call). */
const JOB_GRACE_MS = 1000;
/** A close that still waits on something after this is not going to finish. */
const CLOSE_MS = 1000;

/** Whether `promise` settled within `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

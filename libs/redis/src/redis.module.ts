import { DynamicModule, Global, Inject, Logger, Module, OnModuleDestroy } from '@nestjs/common';
import { Redis, type Command, type RedisOptions } from 'ioredis';
import type { AppConfig, RedisConfig } from '#libs/config';
import { connectRedis, describeTarget, type RedisClient } from './connect.js';
import { RedisKeys } from './redis.keys.js';
import { watchFailovers } from './sentinel-watch.js';

/**
 * The request path's connections fail fast: a command issued while Redis is down errors at once
 * instead of queueing behind a reconnect, and one Redis stops answering (frozen, network gone
 * without a reset) fails after COMMAND_TIMEOUT_MS. Reconnects are tried at least every second, so
 * a Redis that comes back is in use again within about a second. BullMQ gets its own profile
 * (maxRetriesPerRequest: null): the refresh worker waits for Redis instead of failing.
 */
const COMMAND_TIMEOUT_MS = 500;
export const requestPathOptions: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  commandTimeout: COMMAND_TIMEOUT_MS,
  lazyConnect: true,
  retryStrategy: (times) => Math.min(times * 100, 1000),
};

/** After a command timed out, requests stop waiting on Redis for this long (then one probes it). */
const SUSPECT_MS = 1000;

/** Thrown instead of sending a command while Redis is known to be down: the caller falls back or answers 503. */
export class StoreDownError extends Error {
  override name = 'StoreDownError';
}
export const queueOptions: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: false };

/** A failure that stops start-up and is said in one line, without a stack trace. */
export class StartupError extends Error {
  override name = 'StartupError';
}

export class RedisConnections implements OnModuleDestroy {
  readonly keys: RedisKeys;
  /** Commands on the request path. */
  readonly client: RedisClient;
  /** A connection in subscriber mode can issue nothing else, so events get their own. */
  readonly subscriber: RedisClient;

  /** One server by URL: what most specs and the bench need. */
  static single(url: string, keyPrefix: string): RedisConnections {
    return new RedisConnections({ kind: 'single', url, keyPrefix });
  }

  constructor(readonly target: RedisConfig) {
    this.keys = new RedisKeys(target.keyPrefix);
    // Concurrent requests' commands (rate limit, lookups) share one write to the socket.
    this.client = connectRedis(target, { ...requestPathOptions, enableAutoPipelining: true, connectionName: 'cgw-request' });
    this.subscriber = connectRedis(target, { ...requestPathOptions, connectionName: 'cgw-events' });
    // Errors surface on the commands themselves; without a listener ioredis would print every retry.
    this.client.on('error', () => {});
    this.subscriber.on('error', () => {});
    // One line when Redis goes away and one when it is back, not one per reconnect attempt.
    let lostAt = 0;
    this.client.on('close', () => {
      if (lostAt || this.closing) return;
      lostAt = Date.now();
      this.log.warn('Redis connection lost: serving cached keys and tokens, rate limit per process, until it is back');
    });
    this.client.on('ready', () => {
      if (!lostAt) return;
      this.log.log(`Redis reachable again after ${((Date.now() - lostAt) / 1000).toFixed(1)} s`);
      lostAt = 0;
    });
    // Every command passes here: a timeout (Redis frozen) makes the store suspect for a second.
    // Every argument goes on: a Cluster's pipelines (auto-pipelining too) pass the node as a third.
    const send = this.client.sendCommand.bind(this.client) as (command: Command, stream?: unknown, node?: unknown) => unknown;
    this.client.sendCommand = ((command: Command, stream?: unknown, node?: unknown) => {
      command.promise.catch((err: Error) => {
        if (err?.message === 'Command timed out') this.suspectUntil = Date.now() + SUSPECT_MS;
      });
      return send(command, stream, node);
    }) as typeof this.client.sendCommand;
  }

  private suspectUntil = 0;

  /**
   * False while Redis is known to be unreachable: disconnected, or a command timed out within the
   * last second. Callers then fall back to what this process holds (cached keys and tokens, a local
   * rate limit) instead of waiting on Redis.
   */
  get available(): boolean {
    if (this.client.status !== 'ready') return false;
    if (this.suspectUntil === 0) return true;
    if (Date.now() < this.suspectUntil) return false;
    this.suspectUntil = 0; // let the next command probe
    return true;
  }

  /** Resolves true once the request path may use Redis, or false after `ms` (polled: only while it is away). */
  async whenAvailable(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.available) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  /** The request-path client, or StoreDownError at once while Redis is unreachable. */
  get command(): RedisClient {
    if (!this.available) throw new StoreDownError('Redis is unreachable');
    return this.client;
  }

  async connect(): Promise<void> {
    try {
      await Promise.all([firstConnect(this.client), firstConnect(this.subscriber)]);
    } catch (err) {
      this.client.disconnect();
      this.subscriber.disconnect();
      throw new StartupError(`cannot connect to Redis at ${describeTarget(this.target)}: ${explain((err as Error).message, this.target)}`);
    }
    const target = this.target;
    if (target.kind === 'sentinel') this.stopWatch = watchFailovers(target, (primary) => this.moveTo(primary, target.masterName));
  }

  private stopWatch = () => {};
  /** BullMQ's own duplicates of the queue connection (a worker's blocking reads): they follow failovers too. */
  private readonly duplicates = new Set<Redis>();

  /**
   * The sentinels promoted `primary`: a connection still up on another node (frozen or cut off,
   * so nothing closed it) is dropped, and its reconnect asks them. One that is reconnecting already
   * is left alone, and so is one already on the new primary. Dropped rather than ended: a frozen
   * node would never answer the FIN.
   */
  private moveTo(primary: string, masterName: string) {
    // Every sentinel announces it: one line per failover.
    if (primary !== this.announced) this.log.warn(`Redis Sentinel promoted ${primary} to primary of '${masterName}'`);
    this.announced = primary;
    for (const c of [this.client, this.subscriber, ...this.extraConnections, ...this.duplicates]) {
      if (!(c instanceof Redis) || c.status !== 'ready') continue;
      if (`${c.stream.remoteAddress}:${c.stream.remotePort}` !== primary) c.stream.destroy();
    }
  }

  private announced = '';

  private readonly extraConnections: RedisClient[] = [];

  /** A connection for BullMQ, which must be allowed to wait for Redis instead of failing. */
  forQueue(): RedisClient {
    const connection = this.open({ ...queueOptions, connectionName: 'cgw-queue' });
    if (connection instanceof Redis && this.target.kind === 'sentinel') {
      const duplicate = connection.duplicate.bind(connection);
      connection.duplicate = ((override?: Partial<RedisOptions>) => {
        const copy = duplicate(override);
        this.duplicates.add(copy);
        copy.once('end', () => this.duplicates.delete(copy));
        return copy;
      }) as typeof connection.duplicate;
    }
    return connection;
  }

  /** Another connection to the same Redis with its own profile; closed with the others. */
  open(options: RedisOptions): RedisClient {
    const connection = connectRedis(this.target, options);
    connection.on('error', () => {});
    this.extraConnections.push(connection);
    return connection;
  }

  private closing = false;
  private readonly log = new Logger('Redis');

  /** Whether Redis answers a PING within the command timeout: decides whether closing waits for it. */
  async reachable(): Promise<boolean> {
    if (this.client.status !== 'ready') return false;
    return this.client.ping().then(
      () => true,
      () => false,
    );
  }

  /**
   * Runs after the refresh worker has closed (RefreshProcessor closes it in its own onModuleDestroy,
   * and RefreshModule is destroyed first). Never waits on Redis for long: a QUIT gets QUIT_MS, a
   * connection that is not up is dropped at once (its QUIT would sit in the offline queue forever).
   */
  async onModuleDestroy() {
    this.closing = true;
    this.stopWatch();
    await Promise.allSettled([this.client, this.subscriber, ...this.extraConnections].map(closeBounded));
  }
}

/** Rounds over all the sentinels that start-up tries before it says why none led to a primary. */
const STARTUP_SENTINEL_ROUNDS = 3;

/**
 * connect(), failing with what Redis or a sentinel last answered rather than "Connection is
 * closed". Through Sentinel, ioredis goes round the sentinels without end, which is right once
 * running (they may be restarting) but would hang start-up on a wrong password or master name.
 */
async function firstConnect(connection: RedisClient): Promise<void> {
  let last: Error | undefined;
  let rounds = 0;
  let giveUp: (err: Error) => void = () => {};
  const gaveUp = new Promise<never>((_, reject) => (giveUp = reject));
  const onError = (err: Error) => {
    if (!err.message.startsWith('All sentinels are unreachable')) last = err;
    else if (++rounds >= STARTUP_SENTINEL_ROUNDS) giveUp(last ?? err);
  };
  connection.on('error', onError);
  connection.on('sentinelError', onError);
  try {
    await Promise.race([connection.connect(), gaveUp]);
  } catch (err) {
    throw (err as Error).message === 'Connection is closed.' && last ? last : err;
  } finally {
    connection.off('error', onError);
    connection.off('sentinelError', onError);
  }
}

/** The setting to look at, for the answers that point at one. */
function explain(message: string, target: RedisConfig): string {
  const hint = /No such master with that name/.test(message)
    ? 'REDIS_SENTINEL_MASTER'
    : /^failed to connect to sentinel .*(WRONGPASS|NOAUTH)/.test(message)
      ? 'REDIS_SENTINEL_PASSWORD'
      : /WRONGPASS|NOAUTH/.test(message)
        ? target.kind === 'single' ? "REDIS_PASSWORD or the URL's password" : 'REDIS_PASSWORD'
        : '';
  return hint ? `${message} (${hint})` : message;
}

/** How long a QUIT may wait for Redis's answer before the connection is simply dropped. */
const QUIT_MS = 500;

async function closeBounded(connection: RedisClient): Promise<void> {
  if (connection.status === 'end') return;
  let quit = false;
  if (connection.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => (timer = setTimeout(resolve, QUIT_MS, false)));
    quit = await Promise.race([connection.quit().then(() => true, () => false), late]);
    clearTimeout(timer);
  }
  // Down, reconnecting or frozen: nothing left to flush; disconnect() also stops the reconnects.
  if (!quit) connection.disconnect();
}

export const REDIS = Symbol('REDIS');
export const InjectRedis = () => Inject(REDIS);

/** Provides RedisConnections, or null in embedded mode, so consumers pick their driver. */
@Global()
@Module({})
export class RedisModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: RedisModule,
      providers: [
        {
          provide: REDIS,
          useFactory: async () => {
            if (!config.redis) return null;
            const conns = new RedisConnections(config.redis);
            await conns.connect();
            return conns;
          },
        },
      ],
      exports: [REDIS],
    };
  }
}

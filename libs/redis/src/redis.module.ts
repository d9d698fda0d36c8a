import { DynamicModule, Global, Inject, Logger, Module, OnModuleDestroy } from '@nestjs/common';
import type { RedisOptions } from 'ioredis';
import type { AppConfig, RedisConfig } from '#libs/config';
import { connectRedis, describeTarget, type RedisClient } from './connect.js';
import { RedisKeys } from './redis.keys.js';

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
    const send = this.client.sendCommand.bind(this.client);
    this.client.sendCommand = (command: Parameters<typeof send>[0], stream?: Parameters<typeof send>[1]) => {
      command.promise.catch((err: Error) => {
        if (err?.message === 'Command timed out') this.suspectUntil = Date.now() + SUSPECT_MS;
      });
      return send(command, stream);
    };
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

  /** The request-path client, or StoreDownError at once while Redis is unreachable. */
  get command(): RedisClient {
    if (!this.available) throw new StoreDownError('Redis is unreachable');
    return this.client;
  }

  async connect(): Promise<void> {
    try {
      await Promise.all([this.client.connect(), this.subscriber.connect()]);
    } catch (err) {
      this.client.disconnect();
      this.subscriber.disconnect();
      throw new StartupError(`cannot connect to Redis at ${describeTarget(this.target)}: ${(err as Error).message}`);
    }
  }

  private readonly extraConnections: RedisClient[] = [];

  /** A connection for BullMQ, which must be allowed to wait for Redis instead of failing. */
  forQueue(): RedisClient {
    return this.open({ ...queueOptions, connectionName: 'cgw-queue' });
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
    await Promise.allSettled([this.client, this.subscriber, ...this.extraConnections].map(closeBounded));
  }
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

import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '#libs/config';

/** One server, a Sentinel-managed primary, or a Cluster: the commands the project uses are the same on each. */
export type RedisClient = Redis | Cluster;

/**
 * A connection to the configured Redis, whichever mode (design.md §3). `options` is one profile
 * (the request path's fail-fast one, or BullMQ's waiting one); it applies to every node.
 *
 * - single: the URL as given (it may carry its own password).
 * - sentinel: the sentinels are asked who the primary is; on a failover they announce the new one
 *   (failoverDetector subscribes to +switch-master) and the connection moves within a second.
 * - cluster: slots are learnt from any node; MOVED/ASK are followed; commands go to primaries.
 */
export function connectRedis(target: RedisTarget, options: RedisOptions): RedisClient {
  switch (target.kind) {
    case 'single':
      return new Redis(target.url, options);
    case 'sentinel':
      return new Redis({
        ...options,
        sentinels: target.sentinels,
        name: target.masterName,
        password: target.password,
        sentinelPassword: target.sentinelPassword,
        // A sentinel that is down is skipped quickly; the next one is asked.
        sentinelMaxConnections: 10,
        connectTimeout: options.connectTimeout ?? 2000,
        sentinelRetryStrategy: (times) => Math.min(times * 100, 1000),
        // Reconnect when a sentinel announces a new primary, not when the old one is noticed dead.
        failoverDetector: true,
        // A replica promoted mid-command answers READONLY until then: reconnect to the new primary.
        reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
      });
    case 'cluster':
      return new Cluster(target.nodes, clusterOptions(target.password, options));
  }
}

function clusterOptions(password: string | undefined, options: RedisOptions): ClusterOptions {
  const { enableOfflineQueue, lazyConnect, enableAutoPipelining, enableReadyCheck, retryStrategy, ...perNode } = options;
  return {
    enableOfflineQueue,
    lazyConnect,
    enableAutoPipelining,
    enableReadyCheck,
    clusterRetryStrategy: retryStrategy ? (times) => retryStrategy(times) ?? null : undefined,
    // Slots moved by a failover are followed at once; the topology is re-read now and then as well.
    retryDelayOnMoved: 0,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    slotsRefreshTimeout: 2000,
    slotsRefreshInterval: 5000,
    scaleReads: 'master',
    redisOptions: { ...perNode, password },
  };
}

/** Where the configured Redis is, for a log line: never a password. */
export function describeTarget(target: RedisTarget): string {
  switch (target.kind) {
    case 'single': {
      const u = new URL(target.url);
      if (u.password) u.password = '***';
      return u.toString();
    }
    case 'sentinel':
      return `master '${target.masterName}' through sentinels ${target.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
    case 'cluster':
      return `cluster ${target.nodes.map((s) => `${s.host}:${s.port}`).join(',')}`;
  }
}

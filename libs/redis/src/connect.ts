import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '#libs/config';

/** One server, a Sentinel-managed primary, or a Cluster: the commands the project uses are the same on each. */
export type RedisClient = Redis | Cluster;

/**
 * A connection to the configured Redis, whichever mode (design.md §3). `options` is one profile
 * (the request path's fail-fast one, or BullMQ's waiting one); it applies to every node.
 *
 * - single: the URL as given (it may carry its own password).
 * - sentinel: the sentinels are asked who the primary is, at every (re)connect; a connection the
 *   failover did not break is moved by RedisConnections when the sentinels announce the new one.
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
        // A sentinel that is down is skipped after connectTimeout; one whose host went silent
        // accepts the connection and never answers, so its question needs a timeout of its own.
        connectTimeout: options.connectTimeout ?? 2000,
        sentinelCommandTimeout: 500,
        sentinelRetryStrategy: (times) => Math.min(times * 100, 1000),
        // ioredis's failoverDetector stays off: a +switch-master arriving while the connection is
        // reconnecting ends it for good. RedisConnections watches the sentinels (sentinel-watch.ts).
        failoverDetector: false,
        // A demoted primary refuses writes with READONLY: reconnect (the sentinels name the new one)
        // and send the command again, which it never ran.
        reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
      });
    case 'cluster':
      return new Cluster(target.nodes, clusterOptions(target.password, options));
  }
}

/**
 * ioredis's Cluster takes the connection-wide options itself and hands `redisOptions` to each node
 * connection, which it makes lazily, queues on until connected and never reconnects (the slots are
 * re-read instead). So enableOfflineQueue false fails a command at once while the Cluster is not
 * ready, commandTimeout and connectTimeout bound each node, and retryStrategy paces the Cluster's
 * reconnects once every node is gone.
 */
function clusterOptions(password: string | undefined, options: RedisOptions): ClusterOptions {
  const { enableOfflineQueue, lazyConnect, enableAutoPipelining, enableReadyCheck, retryStrategy, ...perNode } = options;
  return {
    enableOfflineQueue,
    lazyConnect,
    enableAutoPipelining,
    enableReadyCheck,
    clusterRetryStrategy: retryStrategy,
    // ioredis leaves it off (its typings say 5 s): a node added or a slot moved would be learnt only from a MOVED.
    slotsRefreshInterval: 5000,
    redisOptions: { ...perNode, password },
  };
}

/**
 * SUBSCRIBE on a connection kept for it. A Cluster used only to subscribe needs two things ioredis
 * leaves out. It never uses its node connections, so it never sees every node go: its subscriber
 * would retry node after node without a pause (a core busy for the whole outage) and it would
 * never close nor be ready again. Opening the node connections once ready lets a full outage close
 * it, and it reconnects paced like any other. And back from such an outage it may come back
 * without its channels, so it subscribes again each time it is ready.
 */
export function keepSubscribed(connection: RedisClient, channel: string): void {
  const send = () => void connection.subscribe(channel).catch(() => {});
  send();
  if (!(connection instanceof Cluster)) return;
  const open = (node: Redis) => {
    if (connection.status === 'ready') node.ping().catch(() => {});
  };
  connection.on('+node', open);
  connection.on('ready', () => {
    connection.nodes('master').forEach(open);
    send();
  });
  connection.nodes('master').forEach(open);
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

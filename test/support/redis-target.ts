import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { inject } from 'vitest';
import { loadConfig } from '#libs/config';
import { RedisConnections } from '#libs/redis';
import { scanAll, startRedisCluster } from './redis-cluster.js';
import { killRedis, startRedis } from './redis-server.js';

/**
 * Which Redis a suite runs on. By default the run's one redis-server; in the `cluster` project
 * (vitest.config.ts) the run's 3-primary Redis Cluster, so the same suite proves the same
 * behaviour there. A URL is one server, `{ nodes: 'host:port,…' }` a Cluster.
 */
export type RedisTarget = string | { nodes: string };

export const onCluster = () => inject('redisClusterNodes') !== undefined;

export function suiteRedis(): RedisTarget {
  const nodes = inject('redisClusterNodes');
  return nodes ? { nodes } : inject('redisUrl');
}

/** REDIS_URL or REDIS_CLUSTER_NODES, as a gateway or auth process takes it. */
export function redisEnv(target: RedisTarget = suiteRedis()): Record<string, string> {
  return typeof target === 'string' ? { REDIS_URL: target } : { REDIS_CLUSTER_NODES: target.nodes };
}

/** The connections a gateway makes to the suite's Redis (from the same variables), for a spec that drives a store itself. */
export function suiteConnections(keyPrefix: string, target: RedisTarget = suiteRedis()): RedisConnections {
  const { redis } = loadConfig({ ...redisEnv(target), REDIS_KEY_PREFIX: keyPrefix, TOKEN_ENCRYPTION_KEY: 'ab'.repeat(32) });
  return new RedisConnections(redis!);
}

/** A client of the suite's Redis, for a test that looks at or changes keys itself. */
export function redisClient(options: RedisOptions = {}, target: RedisTarget = suiteRedis()): Redis | Cluster {
  return typeof target === 'string' ? new Redis(target, options) : new Cluster(target.nodes.split(','), { redisOptions: options });
}

/** Every key matching `pattern`: on a Cluster, from every primary (each holds only its own slots). */
export async function keysMatching(client: Redis | Cluster, pattern: string): Promise<string[]> {
  return (await keysPerNode(client, pattern)).flat();
}

/** The keys matching `pattern` that each node holds: one list per primary (one list for one server). */
export async function keysPerNode(client: Redis | Cluster, pattern: string): Promise<string[][]> {
  if (client instanceof Redis) return [await scanAll(client, pattern)];
  if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
  return Promise.all(client.nodes('master').map((node) => scanAll(node, pattern)));
}

/** A Redis of the suite's own, which it may kill and restart (keys kept with `persist`): one server, or every node of a cluster. */
export interface OwnRedis {
  target: RedisTarget;
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startOwnRedis(opts: { persist?: boolean } = {}): Promise<OwnRedis> {
  if (onCluster()) {
    const cluster = await startRedisCluster(opts);
    return { target: cluster, kill: cluster.kill, restart: cluster.restart, stop: cluster.stop };
  }
  let redis = await startRedis(undefined, opts);
  return {
    target: redis.url,
    kill: () => killRedis(redis),
    restart: async () => {
      redis = await startRedis(redis.port, { ...opts, dir: redis.dir });
    },
    stop: () => redis.stop(),
  };
}

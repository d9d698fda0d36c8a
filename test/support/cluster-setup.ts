import type { TestProject } from 'vitest/node';
import { startRedisCluster } from './redis-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** set in the `cluster` project only (vitest.config.ts): its suites run on this Redis Cluster */
    redisClusterNodes?: string;
  }
}

/**
 * The `cluster` project's global setup: one 3-primary Redis Cluster for the run (or
 * TEST_REDIS_CLUSTER_NODES=host:port,…), started only when that project has suites to run. Each
 * suite uses its own key prefix, as on the one server.
 */
export default async function setup(project: TestProject) {
  if (process.env.TEST_REDIS_CLUSTER_NODES) {
    project.provide('redisClusterNodes', process.env.TEST_REDIS_CLUSTER_NODES);
    return;
  }
  const cluster = await startRedisCluster();
  project.provide('redisClusterNodes', cluster.nodes);
  return () => cluster.stop();
}

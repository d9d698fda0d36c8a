import { defineConfig } from 'vitest/config';

// '#libs/*' resolves to the TypeScript sources under the 'cgw-source' condition (package.json
// "imports"); a name of our own, since some packages publish their TypeScript under 'source'.
const resolve = { resolve: { conditions: ['cgw-source'] }, ssr: { resolve: { conditions: ['cgw-source'] } } };
// Two files at a time, also on a 2-core machine (Vitest's default there is one): most of the long
// suites wait — on a failover, a lock's expiry, a drain — rather than compute, and one at a time
// the suite took over 10 minutes.
const test = { exclude: ['node_modules', 'dist'], testTimeout: 20_000, hookTimeout: 30_000, pool: 'forks' as const, maxWorkers: 2 };

/**
 * Suites that run a second time on a Redis Cluster of 3 primaries, in the `cluster` project: its
 * global setup starts the cluster (only when it has a suite to run) and provides its nodes, from
 * which test/support/redis-target.ts points the suite at it. redis-cluster.e2e-spec.ts runs there only.
 * Any suite that takes its Redis from redis-target.ts can be added; the rest stay on one server for
 * time, and a few by nature: they freeze or kill a redis-server of their own mid-request
 * (redis.module.spec, shutdown), which a cluster of three does not reproduce.
 */
const ON_CLUSTER = [
  'apps/gateway/src/rate-limit/redis-throttler.storage.spec.ts',
  'apps/gateway/src/quota/quota.service.spec.ts',
  'libs/usage/src/usage.store.spec.ts',
  'test/e2e/cluster.e2e-spec.ts',
  'test/e2e/admin.e2e-spec.ts',
  'test/e2e/device.e2e-spec.ts',
  'test/e2e/refresh.e2e-spec.ts',
  'test/e2e/outage.e2e-spec.ts',
];
const CLUSTER_ONLY = 'test/e2e/redis-cluster.e2e-spec.ts';

export default defineConfig({
  ...resolve,
  test: {
    // Once per run whichever projects run (inline projects do not inherit it): builds dist/, starts the one redis-server.
    globalSetup: ['test/support/global-setup.ts'],
    projects: [
      {
        ...resolve,
        test: { ...test, name: 'default', include: ['apps/**/*.spec.ts', 'libs/**/*.spec.ts', 'test/**/*.e2e-spec.ts'], exclude: [...test.exclude, CLUSTER_ONLY] },
      },
      {
        ...resolve,
        test: { ...test, name: 'cluster', include: [...ON_CLUSTER, CLUSTER_ONLY], globalSetup: ['test/support/cluster-setup.ts'] },
      },
    ],
  },
});

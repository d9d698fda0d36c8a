import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { startRedis } from './redis-server.js';
import { setupTestTls } from './tls.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

/** One redis-server for the whole run (or TEST_REDIS_URL); each suite uses its own key prefix. */
export default async function setup(project: TestProject) {
  // Suites that run real processes need dist/; build it once here rather than racing in each.
  execFileSync(process.execPath, ['scripts/build-if-needed.mjs'], { stdio: 'inherit' });
  // The real CLI clients (Claude Code, Codex) live in test/clients' own install, not the root one.
  execFileSync(process.execPath, ['test/clients/ensure.mjs'], { stdio: 'inherit' });
  // The fake upstream's HTTPS mode: a CA for this run, in NODE_EXTRA_CA_CERTS before any worker starts.
  setupTestTls();
  if (process.env.TEST_REDIS_URL) {
    project.provide('redisUrl', process.env.TEST_REDIS_URL);
    return;
  }
  const redis = await startRedis();
  project.provide('redisUrl', redis.url);
  return () => redis.stop();
}

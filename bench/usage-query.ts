import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import type { AppConfig } from '#libs/config';
import { MetricsService } from '#libs/metrics';
import { RedisConnections } from '#libs/redis';
import { RedisUsageStore, UsageService } from '#libs/usage';
import { freePort, startRedis } from '../test/support/redis-server.js';

/**
 * `npm run bench:usage`: GET /auth/usage over a month of usage. A private redis-server is seeded,
 * through the real write path (UsageService → the flush script), with one record per hour for
 * 30 days for KEYS keys × 3 models; then the auth app (its own process, Redis mode) is asked for
 * `group_by=key,model&bucket=day` over that month, ROUNDS times. Target: < 500 ms (issue 13).
 * Results: docs/benchmarks.md, "Usage query".
 */
const KEYS = Number(process.env.BENCH_USAGE_KEYS ?? 1000);
const MODELS = ['gpt-4o', 'claude-sonnet-4', 'gpt-5-codex'];
const DAYS = Number(process.env.BENCH_USAGE_DAYS ?? 30);
const ROUNDS = Number(process.env.BENCH_USAGE_ROUNDS ?? 10);
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
const HOUR = 3_600_000;

const children: ChildProcess[] = [];
const cleanup: (() => Promise<unknown>)[] = [];

async function seed(url: string) {
  const conns = RedisConnections.single(url, 'cgw:');
  await conns.connect();
  const usage = new UsageService({ usageRetentionDays: 90 } as AppConfig, new RedisUsageStore(conns), new MetricsService());
  usage.maxPerFlush = 10_000;
  usage.maxEntries = 1_000_000;
  const now = Date.now();
  const t0 = performance.now();
  let records = 0;
  for (let h = DAYS * 24 - 1; h >= 0; h--) {
    const at = now - h * HOUR;
    for (let k = 0; k < KEYS; k++) {
      for (let m = 0; m < MODELS.length; m++) {
        usage.record({
          at,
          keyId: `key_${String(k).padStart(6, '0')}`,
          accountId: `acc_${k % 100}`,
          model: MODELS[m],
          dialect: m === 2 ? 'responses' : 'openai',
          endpoint: '/chat/completions',
          status: (h + k + m) % 50 === 0 ? 500 : 200,
          inputTokens: 100 + ((h * 7 + k) % 900),
          outputTokens: 20 + ((h + k * 3) % 400),
          cachedTokens: 0,
          initiator: 'user',
          premiumRequests: m === 1 ? 1 : m === 2 ? 0.33 : 0,
          creditsNanoAiu: 0,
          durationMs: 800,
        });
        records++;
      }
    }
    // A day's worth at a time, as a day of replicas' flushes would have written it.
    if (h % 24 === 0) {
      const left = await usage.flushAll(Date.now() + 600_000);
      if (left) throw new Error(`seeding: ${left} records not written`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  await conns.onModuleDestroy();
  return { records, seconds };
}

function startAuth(redisUrl: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['dist/apps/auth/src/main.js'], {
    env: { PATH: process.env.PATH!, PORT: String(port), HOST: '127.0.0.1', REDIS_URL: redisUrl, TOKEN_ENCRYPTION_KEY: 'ab'.repeat(32), ADMIN_TOKEN, LOG_LEVEL: 'warn', SHUTDOWN_DELAY_MS: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const poll = setInterval(async () => {
      const ok = await fetch(`http://127.0.0.1:${port}/health/live`).then((r) => r.ok, () => false);
      if (ok) {
        clearInterval(poll);
        resolve(child);
      }
    }, 100);
    child.stdout!.on('data', (d) => (out += d));
    child.once('exit', (code) => {
      clearInterval(poll);
      reject(new Error(`auth exited with ${code}: ${out}`));
    });
  });
}

async function timeQuery(base: string, query: string) {
  const times: number[] = [];
  let rows = 0;
  let bytes = 0;
  for (let i = 0; i <= ROUNDS; i++) {
    const t0 = performance.now();
    const res = await fetch(`${base}/auth/usage?${query}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const text = await res.text();
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`GET /auth/usage?${query} answered ${res.status}: ${text.slice(0, 300)}`);
    if (i === 0) continue; // the first opens the report connection
    times.push(ms);
    bytes = text.length;
    rows = query.includes('format=csv') ? text.trim().split('\r\n').length - 1 : JSON.parse(text).data.length;
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], min: times[0], max: times[times.length - 1], rows, bytes };
}

async function main() {
  const redis = await startRedis();
  cleanup.push(() => redis.stop());
  console.log(`node ${process.version}; seeding ${DAYS} days × 24 h × ${KEYS} keys × ${MODELS.length} models into a private redis-server …`);
  const seeded = await seed(redis.url);
  const raw = new Redis(redis.url);
  const memory = /used_memory_human:(\S+)/.exec(await raw.info('memory'))?.[1];
  const usageKeys = (await raw.keys('cgw:{usage}:*')).length;
  await raw.quit();
  console.log(`seeded ${seeded.records.toLocaleString('en')} records in ${seeded.seconds.toFixed(1)} s; ${usageKeys} usage hashes, Redis used_memory ${memory}`);

  const port = await freePort();
  await startAuth(redis.url, port);
  const base = `http://127.0.0.1:${port}`;
  const from = new Date(Date.now() - DAYS * 24 * HOUR).toISOString();
  const cases: [string, string][] = [
    ['month, group_by=key,model, bucket=day (the target)', `group_by=key,model&bucket=day&from=${from}`],
    ['month, group_by=key,model, bucket=day, format=csv', `group_by=key,model&bucket=day&from=${from}&format=csv`],
    ['month, group_by=key,model, totals', `group_by=key,model&from=${from}`],
    ['month, group_by=model, bucket=day', `group_by=model&bucket=day&from=${from}`],
    ['last 24 h, group_by=key, bucket=hour', `group_by=key&bucket=hour`],
  ];
  console.log(`\nGET /auth/usage, ${ROUNDS} rounds each (after one warm-up):`);
  console.log('| query | median ms | min | max | rows | bytes |');
  console.log('|---|---|---|---|---|---|');
  let target = 0;
  for (const [name, query] of cases) {
    const r = await timeQuery(base, query);
    if (!target) target = r.median;
    console.log(`| ${name} | ${r.median.toFixed(0)} | ${r.min.toFixed(0)} | ${r.max.toFixed(0)} | ${r.rows.toLocaleString('en')} | ${(r.bytes / 1e6).toFixed(1)} MB |`);
  }
  console.log(`\ntarget: < 500 ms for the first case → ${target < 500 ? 'met' : 'MISSED'} (${target.toFixed(0)} ms)`);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const c of children) c.kill('SIGKILL');
    for (const f of cleanup) await f().catch(() => {});
  });

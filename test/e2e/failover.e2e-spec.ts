import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeys } from '#libs/redis';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { startFake } from '../support/gateway.js';
import { ADMIN_TOKEN, clusterEnv, registerAccount, saveFigures, startProcess, timed, type AppProcess } from '../support/processes.js';
import { startRedis, type RunningRedis } from '../support/redis-server.js';

/** Issue 5, faults 2 and 3: replicas killed (SIGKILL) in the middle of fetching a Copilot token. */
let redis: RunningRedis;
let db: Redis;
const processes: AppProcess[] = [];
const until = async (check: () => boolean | Promise<boolean>, ms = 20_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
};
const chat = (key: string) => ({
  method: 'POST',
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }),
});

beforeAll(async () => {
  redis = await startRedis();
  db = new Redis(redis.url);
});
afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  db?.disconnect();
  await redis?.stop();
});

async function start(role: 'gateway' | 'auth', env: Record<string, string>) {
  const p = await startProcess(role, env);
  processes.push(p);
  return p;
}

describe('a gateway replica killed during a token exchange', () => {
  let fake: FakeCopilot;
  afterAll(() => fake?.stop());

  it('leaves the survivors serving every request, with one exchange for the window and no stuck lock', async () => {
    fake = await startFake();
    const env = clusterEnv(redis.url, fake.url, { REDIS_KEY_PREFIX: 'gwkill:' });
    const auth = await start('auth', env);
    const [a, b, c] = await Promise.all([start('gateway', env), start('gateway', env), start('gateway', env)]);
    const githubToken = `ghu_${randomBytes(18).toString('hex')}`;
    fake.addUser(githubToken, { login: 'kenny', id: 4242 });
    const { accountId, key } = await registerAccount(auth.url, githubToken);
    // The account's token window ends: nobody holds a usable token, every replica needs a new one.
    await db.del(new RedisKeys('gwkill:').copilot(accountId));
    fake.options.exchangeDelayMs = 2000;
    const before = { ...fake.counters };

    const victim = timed(`${a.url}/v1/chat/completions`, chat(key));
    expect(await until(() => fake.counters.exchanges === before.exchanges + 1)).toBe(true);
    expect(await db.exists(new RedisKeys('gwkill:').copilotLock(accountId))).toBe(1);
    const t0 = performance.now();
    const survivors = [b, c].flatMap((p) => Array.from({ length: 20 }, () => timed(`${p.url}/v1/chat/completions`, chat(key))));
    await new Promise((r) => setTimeout(r, 300));
    await a.kill('SIGKILL');
    const killedAt = performance.now() - t0;
    fake.options.exchangeDelayMs = 0;

    const results = await Promise.all(survivors);
    const lockGone = await until(async () => (await db.exists(new RedisKeys('gwkill:').copilotLock(accountId))) === 0, 2000);
    await new Promise((r) => setTimeout(r, 2100)); // the fake notices its caller left when its delay ends
    const figures = {
      survivor_requests: results.length,
      survivor_ok: results.filter((r) => r.status === 200).length,
      killed_replica_request: (await victim).status === 0 ? 'connection reset' : (await victim).status,
      killed_after_ms: Math.round(killedAt),
      slowest_survivor_ms: Math.round(Math.max(...results.map((r) => r.ms))),
      exchanges_started: fake.counters.exchanges - before.exchanges,
      exchanges_abandoned_by_the_killed_replica: fake.counters.exchangesAbandoned - before.exchangesAbandoned,
      lock_released: lockGone,
    };
    saveFigures('gateway-killed-mid-exchange', figures);

    expect(figures.survivor_ok).toBe(40);
    expect(figures.killed_replica_request).toBe('connection reset');
    // One exchange answered for the window: the dead replica's, which nobody received, and one more.
    expect(figures.exchanges_started).toBe(2);
    expect(figures.exchanges_abandoned_by_the_killed_replica).toBe(1);
    expect(figures.lock_released).toBe(true);
    // The dead holder's lock lapsed within its 5 s TTL; the survivors did not wait for their 20 s limit.
    expect(figures.slowest_survivor_ms).toBeLessThan(5000 + 2000);
    // And once there is a token, everyone uses it without another exchange.
    for (const p of [b, c]) expect((await timed(`${p.url}/v1/chat/completions`, chat(key))).status).toBe(200);
    expect(fake.counters.exchanges - before.exchanges).toBe(2);
  });
});

describe('an auth replica killed in the middle of a refresh job', () => {
  let fake: FakeCopilot;
  afterAll(() => fake?.stop());

  it('is recovered by BullMQ on the other replica, and the token is renewed before the gateway needs it', async () => {
    // 90 s tokens: renewed a second after issue; a gateway needs a new one 60 s before expiry.
    fake = await startFake({ tokenTtlSeconds: 90 });
    const env = clusterEnv(redis.url, fake.url, { REDIS_KEY_PREFIX: 'authkill:', RATE_LIMIT_REQUESTS: '10000' });
    const [auth1, auth2] = await Promise.all([start('auth', env), start('auth', env)]);
    const gateway = await start('gateway', env);
    const githubToken = `ghu_${randomBytes(18).toString('hex')}`;
    fake.addUser(githubToken, { login: 'stan', id: 4343 });
    const before = { ...fake.counters };
    const { accountId, key } = await registerAccount(auth1.url, githubToken);
    const issuedAt = Date.now();
    let admin = auth1;
    const account = async () =>
      (await (await fetch(`${admin.url}/auth/accounts`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()).data.find(
        (x: { id: string }) => x.id === accountId,
      );
    const firstExpiry = Date.parse((await account()).copilot_token_expires_at);
    fake.options.exchangeDelayMs = 8000;

    // The gateway keeps serving the account all along.
    let serving = true;
    const served: number[] = [];
    const traffic = (async () => {
      while (serving) {
        served.push((await timed(`${gateway.url}/v1/chat/completions`, chat(key))).status);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();

    // The refresh job starts (its exchange reaches GitHub and hangs there); kill the replica running it.
    expect(await until(() => fake.counters.exchanges === before.exchanges + 2)).toBe(true);
    const queue = new Queue('copilot-token-refresh', { connection: new Redis(redis.url, { maxRetriesPerRequest: null }), prefix: new RedisKeys('authkill:').bullPrefix() });
    try {
      const [job] = await queue.getActive();
      expect(job.data.accountId).toBe(accountId);
      const pid = Number(job.processedBy?.split(':').at(-1));
      const runner = [auth1, auth2].find((p) => p.pid === pid)!;
      const survivor = runner === auth1 ? auth2 : auth1;
      expect(runner).toBeDefined();
      await runner.kill('SIGKILL');
      admin = survivor;
      const killedAt = Date.now();
      fake.options.exchangeDelayMs = 0;

      const renewed = await until(async () => Date.parse((await account().catch(() => null))?.copilot_token_expires_at ?? '0') > firstExpiry, 30_000);
      const renewedAt = Date.now();
      const rerun = await queue.getJob(job.id!);
      // Past the first token's usable end (60 s before its expiry): the gateway still never fails.
      await new Promise((r) => setTimeout(r, Math.max(0, firstExpiry - 60_000 + 3000 - Date.now())));
      serving = false;
      await traffic;
      const gatewayStats = await (await fetch(`${gateway.url}/stats`)).json();
      const figures = {
        killed_after_job_started_ms: killedAt - issuedAt,
        renewed_after_kill_ms: renewedAt - killedAt,
        renewed_before_expiry_by_s: Math.round((firstExpiry - renewedAt) / 1000),
        rerun_by: rerun?.processedBy === `${survivor.pid}` || rerun?.processedBy?.endsWith(`:${survivor.pid}`) ? 'the surviving replica' : rerun?.processedBy,
        rerun_state: await rerun?.getState(),
        gateway_requests: served.length,
        gateway_failed: served.filter((s) => s !== 200).length,
        gateway_statuses: [...new Set(served)],
        gateway_own_exchanges: gatewayStats.token_cache_by_layer.exchange ?? 0,
      };
      saveFigures('auth-killed-mid-job', figures);

      expect(renewed).toBe(true);
      expect(figures.rerun_by).toBe('the surviving replica');
      expect(figures.rerun_state).toBe('completed');
      // Fresh before the gateway would have needed a token of its own (60 s before expiry).
      expect(renewedAt).toBeLessThan(firstExpiry - 60_000);
      expect(figures.gateway_failed).toBe(0);
      expect(figures.gateway_own_exchanges).toBe(0);
    } finally {
      await queue.close();
    }
  }, 90_000);
});

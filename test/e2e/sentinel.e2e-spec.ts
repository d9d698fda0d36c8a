import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeys } from '#libs/redis';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { startFake } from '../support/gateway.js';
import { ADMIN_TOKEN, clusterEnv, issueKey, percentile, registerAccount, runEntry, saveFigures, startProcess, timed, type AppProcess } from '../support/processes.js';
import { startSentinels, type RunningSentinels } from '../support/redis-sentinel.js';

/**
 * Issue 15: Redis through Sentinel on real processes (a primary, a replica, three sentinels; an
 * auth replica and two gateway replicas), with passwords on the data nodes and on the sentinels.
 */
const DATA_PASSWORD = 'data-node-secret-5d1e';
const SENTINEL_PASSWORD = 'sentinel-secret-9c3a';
const PREFIX = 'sent:';

let sentinels: RunningSentinels;
let fake: FakeCopilot;
let env: Record<string, string>;
let auth: AppProcess;
let gateways: AppProcess[];
const accounts: { accountId: string; key: string; keyId: string }[] = [];

beforeAll(async () => {
  // Tokens that live 200 s are renewed every second (refresh_in 1 s) and usable for 140 s: refresh
  // jobs run all through a failover, and no gateway needs a token of its own meanwhile.
  [sentinels, fake] = await Promise.all([startSentinels({ password: DATA_PASSWORD, sentinelPassword: SENTINEL_PASSWORD }), startFake({ tokenTtlSeconds: 200 })]);
  env = { ...clusterEnv('', fake.url, { REDIS_KEY_PREFIX: PREFIX, RATE_LIMIT_REQUESTS: '100000' }), ...sentinels.env };
  delete env.REDIS_URL;
  [auth, ...gateways] = await Promise.all([startProcess('auth', env), startProcess('gateway', env), startProcess('gateway', env)]);
  for (const login of ['ann', 'ben', 'cal']) {
    const token = `ghu_${randomBytes(18).toString('hex')}`;
    fake.addUser(token, { login, id: 7100 + accounts.length });
    accounts.push(await registerAccount(auth.url, token));
  }
}, 60_000);
afterAll(async () => {
  await Promise.all([auth, ...(gateways ?? [])].map((p) => p?.kill()));
  await fake?.stop();
  await sentinels?.stop();
});

const chat = (key: string, stream = false) => ({
  method: 'POST',
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body: JSON.stringify({ model: 'gpt-4o', stream, messages: [{ role: 'user', content: 'Hi' }] }),
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('start-up through Sentinel', () => {
  it.each([
    ['a wrong sentinel password', { REDIS_SENTINEL_PASSWORD: 'not-the-sentinel-secret' }, 'REDIS_SENTINEL_PASSWORD'],
    ['a master name no sentinel knows', { REDIS_SENTINEL_MASTER: 'nobody-here' }, 'REDIS_SENTINEL_MASTER'],
  ])('stops at once with one line naming the setting, and no password, on %s', async (_, wrong: Record<string, string>, setting) => {
    const p = runEntry({ ...env, ...wrong, HOST: '127.0.0.1', PORT: '0', DATA_DIR: mkdtempSync(join(tmpdir(), 'cgw-proc-')) }, ['gateway']);
    const code = await Promise.race([p.exited, sleep(10_000).then(() => 'still starting after 10 s')]);
    if (typeof code === 'string') p.child.kill('SIGKILL');
    expect(code).toBe(1);
    const line = p.output().trim().split('\n').at(-1);
    expect(line).toMatch(/^copilot-gateway cannot start: cannot connect to Redis at master '[^']+' through sentinels (127\.0\.0\.1:\d+,?){3}: /);
    expect(line).toContain(`(${setting})`);
    for (const secret of [DATA_PASSWORD, SENTINEL_PASSWORD, 'not-the-sentinel-secret']) expect(p.output()).not.toContain(secret);
  });
});

interface Outcome {
  at: number;
  status: number;
  ms: number;
}

/**
 * Steady traffic over warm keys on both gateways and readiness probes of every process, `fault`
 * in the middle (it returns the lost primary's port); then a key revoked on the new primary and
 * the refresh jobs read from it. Returns the figures for docs/reliability.md.
 */
async function failover(name: string, fault: () => Promise<number>) {
  const doomed = await issueKey(auth.url, accounts[0].accountId);
  const keys = accounts.map((a) => a.key);
  for (const key of [...keys, doomed.key]) for (const gw of gateways) expect((await timed(`${gw.url}/v1/chat/completions`, chat(key))).status).toBe(200);

  const t0 = performance.now();
  const at = () => performance.now() - t0;
  const outcomes: Outcome[] = [];
  const probes: { at: number; who: string; status: number }[] = [];
  let running = true;
  const traffic = (async () => {
    const inflight: Promise<void>[] = [];
    for (let i = 0; running; i++) {
      const start = at();
      const req = timed(`${gateways[i % 2].url}/v1/chat/completions`, chat(keys[i % keys.length], i % 4 < 2));
      inflight.push(req.then((r) => void outcomes.push({ at: start, status: r.status, ms: r.ms })));
      await sleep(40);
    }
    await Promise.all(inflight);
  })();
  const who = ['auth', 'gateway1', 'gateway2'];
  const probing = (async () => {
    while (running) {
      await Promise.all(
        [auth, ...gateways].map(async (p, i) => {
          const start = at();
          probes.push({ at: start, who: who[i], status: (await timed(`${p.url}/health/ready`)).status });
        }),
      );
      await sleep(100);
    }
  })();

  await sleep(1500);
  const oldPort = await fault();
  const faultAt = at();
  const promotion = await sentinels.waitForPromotion(oldPort);
  const promotedAt = promotion.at - t0;
  const promotedEpoch = Date.now();

  // Every process ready again, then a few seconds more for refresh jobs to run on the new primary.
  const readyAgain = (w: string) => probes.find((p) => p.who === w && p.at > promotedAt && p.status === 200)?.at;
  while (at() < promotedAt + 15_000 && !who.every(readyAgain)) await sleep(100);
  await sleep(3000);
  running = false;
  await Promise.all([traffic, probing]);

  // A key revoked now is refused by both gateways: events flow on the new primary.
  expect((await fetch(`${auth.url}/auth/keys/${doomed.keyId}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(204);
  const revokedAt = performance.now();
  const refusedAfter = await Promise.all(
    gateways.map(async (gw) => {
      while (performance.now() - revokedAt < 5000) {
        if ((await timed(`${gw.url}/v1/chat/completions`, chat(doomed.key))).status === 401) return Math.round(performance.now() - revokedAt);
        await sleep(20);
      }
      return -1;
    }),
  );

  // The refresh jobs, and their attempts (the queue's event stream), as the new primary holds them.
  const db = new Redis({ port: promotion.port, host: '127.0.0.1', password: DATA_PASSWORD, maxRetriesPerRequest: null });
  const queue = new Queue('copilot-token-refresh', { connection: db, prefix: new RedisKeys(PREFIX).bullPrefix() });
  const PENDING = ['delayed', 'waiting', 'active', 'prioritized'] as const;
  let jobs: Job[];
  let pending: number[] = [];
  let failedAttempts: number[];
  try {
    // Each account's chain: one job waiting for its time. A running job may have added its
    // successor already, so the count is read (one snapshot each) until every account shows one.
    for (let i = 0; i < 20 && !(pending.length && pending.every((n) => n === 1)); i++) {
      if (i) await sleep(100);
      const snapshot = await queue.getJobs([...PENDING]);
      pending = accounts.map((a) => snapshot.filter((j) => j.data.accountId === a.accountId).length);
    }
    jobs = await queue.getJobs(['completed', 'failed', ...PENDING]);
    failedAttempts = failedAttemptStarts((await db.xrange(`${new RedisKeys(PREFIX).bullPrefix()}:copilot-token-refresh:events`, '-', '+')) as [string, string[]][]);
  } finally {
    await queue.close();
    db.disconnect();
  }
  const faultEpoch = promotedEpoch - (promotedAt - faultAt);
  const perAccount = accounts.map((a, i) => {
    const own = jobs.filter((job) => job.data.accountId === a.accountId);
    return {
      pending: pending[i],
      completed_after_promotion: own.filter((job) => job.returnvalue && job.finishedOn! > promotedEpoch).length,
      // Started again without a failed attempt to account for: a stalled job picked up a second time.
      run_twice: own.filter((job) => job.stalledCounter > 0 || job.attemptsStarted > job.attemptsMade + (job.finishedOn ? 0 : 1)).length,
    };
  });

  const down = (w: string) => probes.filter((p) => p.who === w && p.status !== 200).map((p) => p.at);
  const during = outcomes.filter((o) => o.at >= faultAt && o.at < promotedAt);
  const gatewayExchanges = await Promise.all(gateways.map(async (gw) => (await (await fetch(`${gw.url}/stats`)).json()).token_cache_by_layer.exchange ?? 0));
  const figures = {
    fault_to_promotion_ms: Math.round(promotedAt - faultAt),
    readiness: Object.fromEntries(
      who.map((w) => {
        const d = down(w);
        const back = readyAgain(w);
        return [w, { first_503_after_fault_ms: d.length ? Math.max(0, Math.round(d[0] - faultAt)) : null, ready_after_promotion_ms: back === undefined ? null : Math.round(back - promotedAt) }];
      }),
    ),
    warm_requests: {
      total: outcomes.length,
      failed: outcomes.filter((o) => o.status !== 200).length,
      between_fault_and_promotion: during.length,
      p50_ms: Math.round(percentile(outcomes.map((o) => o.ms), 50)),
      max_ms_around_the_failover: Math.round(Math.max(...outcomes.filter((o) => o.at >= faultAt && o.at < promotedAt + 2000).map((o) => o.ms))),
    },
    revocation_refused_after_ms: refusedAfter,
    refresh_jobs: {
      per_account: perAccount,
      // Attempts that failed (and were retried with backoff): those caught mid-way by the fault, and
      // those started once Redis was back, which must not fail.
      failed_attempts_started_before_fault: failedAttempts.filter((t) => t > faultEpoch - 2000 && t <= faultEpoch).length,
      failed_attempts_started_after_promotion: failedAttempts.filter((t) => t > promotedEpoch).length,
      jobs_completed: jobs.filter((job) => job.returnvalue).length,
      attempts_started: jobs.reduce((n, job) => n + job.attemptsStarted, 0),
      token_exchanges: fake.counters.exchanges - accounts.length,
      gateway_own_exchanges: gatewayExchanges.reduce((a, b) => a + b, 0),
    },
  };
  saveFigures(name, figures);
  return figures;
}

function expectSmoothFailover(f: Awaited<ReturnType<typeof failover>>) {
  expect(f.warm_requests.between_fault_and_promotion).toBeGreaterThan(20);
  expect(f.warm_requests.failed).toBe(0);
  for (const r of Object.values(f.readiness)) {
    expect(r.first_503_after_fault_ms).not.toBeNull();
    expect(r.ready_after_promotion_ms).not.toBeNull();
    expect(r.ready_after_promotion_ms!).toBeLessThanOrEqual(15_000);
  }
  for (const ms of f.revocation_refused_after_ms) {
    expect(ms).toBeGreaterThanOrEqual(0);
    expect(ms).toBeLessThan(1000);
  }
  for (const a of f.refresh_jobs.per_account) {
    // One chain per account, still going: its next job is there, and jobs ran on the new primary.
    expect(a.pending).toBe(1);
    expect(a.completed_after_promotion).toBeGreaterThan(0);
    expect(a.run_twice).toBe(0);
  }
  expect(f.refresh_jobs.failed_attempts_started_after_promotion).toBe(0);
  // Every exchange GitHub saw after the registrations belongs to one attempt of one job.
  const { jobs_completed, attempts_started, token_exchanges, gateway_own_exchanges } = f.refresh_jobs;
  expect(gateway_own_exchanges).toBe(0);
  expect(token_exchanges).toBeGreaterThanOrEqual(jobs_completed);
  expect(token_exchanges).toBeLessThanOrEqual(attempts_started);
}

/** When each attempt that did not complete had started: an `active` event whose next event for the job is not `completed`. */
function failedAttemptStarts(events: [string, string[]][]): number[] {
  const started = new Map<string, number>();
  const failed: number[] = [];
  for (const [id, fields] of events) {
    const f: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) f[fields[i]] = fields[i + 1];
    const at = started.get(f.jobId);
    if (f.event === 'active') started.set(f.jobId, Number(id.split('-')[0]));
    else if (at !== undefined && f.event !== 'progress') {
      if (f.event !== 'completed') failed.push(at);
      started.delete(f.jobId);
    }
  }
  return failed;
}

describe('the primary lost under traffic', () => {
  let lostPort = 0;

  it('fails over when the primary is killed and the sentinel beside it freezes: warm keys never fail, readiness is back within seconds, refresh jobs neither lost nor run twice, revocations reach every gateway', async () => {
    const figures = await failover('sentinel-failover-kill', async () => {
      // The primary's host goes dark: Redis killed (its connections reset), and the sentinel beside
      // it frozen (connections stay open, nothing answers), the one every client asks first.
      lostPort = await sentinels.primaryPort();
      sentinels.freezeSentinel(0);
      return sentinels.killPrimary();
    });
    expectSmoothFailover(figures);
  }, 60_000);

  it('moves every connection off a primary that froze (no reset) once the sentinels promote its replica', async () => {
    // The lost node comes back as a replica of the new primary, ready to take over again.
    await sentinels.bringBack(lostPort);
    const figures = await failover('sentinel-failover-freeze', () => sentinels.freezePrimary());
    expectSmoothFailover(figures);
  }, 60_000);
});

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { startFake } from '../support/gateway.js';
import { ADMIN_TOKEN, clusterEnv, cpuSeconds, issueKey, percentile, registerAccount, saveFigures, startProcess, timed, type AppProcess } from '../support/processes.js';
import { onCluster, startOwnRedis, type OwnRedis } from '../support/redis-target.js';

/**
 * Issue 5, fault 1: Redis dies (SIGKILL) for 30 s under traffic and comes back on the same port
 * with its data (AOF, fsync per write). Real processes: a gateway and an auth replica. In the
 * `cluster` project Redis is a cluster of 3 primaries, and every node dies and comes back.
 */
const OUTAGE_MS = 30_000;
const LIMIT = 100;

let redis: OwnRedis;
let fake: FakeCopilot;
let gw: AppProcess;
let auth: AppProcess;

beforeAll(async () => {
  redis = await startOwnRedis({ persist: true });
  fake = await startFake();
  const env = clusterEnv(redis.target, fake.url, { RATE_LIMIT_REQUESTS: String(LIMIT), RATE_LIMIT_WINDOW: '60', KEY_RECHECK_SECONDS: '5' });
  [gw, auth] = await Promise.all([startProcess('gateway', env), startProcess('auth', env)]);
});
afterAll(async () => {
  await Promise.all([gw?.kill(), auth?.kill()]);
  await fake?.stop();
  await redis?.stop();
});

interface Outcome {
  kind: 'warm' | 'cold' | 'burst';
  at: number;
  status: number;
  ms: number;
  body: string;
}

const chat = (key: string, stream: boolean) => ({
  method: 'POST',
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body: JSON.stringify({ model: 'gpt-4o', stream, messages: [{ role: 'user', content: 'Hi' }] }),
});

describe('Redis stops for 30 s under traffic', () => {
  it('keeps serving cached keys and tokens, fails the rest fast, limits per process, and recovers without a restart', async () => {
    // Two accounts with three keys each, all used before the outage: keys and tokens are cached.
    const warm: { key: string; keyId: string }[] = [];
    let accountId = '';
    for (const login of ['alice', 'bob']) {
      const token = `ghu_${randomBytes(18).toString('hex')}`;
      fake.addUser(token, { login, id: 5000 + warm.length });
      const acc = await registerAccount(auth.url, token);
      accountId = acc.accountId;
      warm.push(acc, await issueKey(auth.url, acc.accountId), await issueKey(auth.url, acc.accountId));
    }
    const burstKey = warm[0].key;
    const background = warm.slice(1).map((k) => k.key);
    const cold = (await issueKey(auth.url, accountId)).key;
    for (const { key } of warm) expect((await timed(`${gw.url}/v1/chat/completions`, chat(key, false))).status).toBe(200);

    const outcomes: Outcome[] = [];
    const probes: { at: number; target: 'gateway' | 'auth'; probe: 'ready' | 'live'; status: number }[] = [];
    const t0 = Date.now();
    let running = true;
    let redisDown = false;
    const record = (kind: Outcome['kind'], p: Promise<{ status: number; ms: number; body: string }>) =>
      p.then((r) => void outcomes.push({ kind, at: Date.now() - t0, ...r }));

    // Background traffic: a request every 100 ms, round robin over five warm keys, stream and not.
    const traffic = (async () => {
      const inflight: Promise<void>[] = [];
      for (let i = 0; running; i++) {
        inflight.push(record('warm', timed(`${gw.url}/v1/chat/completions`, chat(background[i % background.length], i % 2 === 0))));
        // A key never used before: only Redis knows it (sent while Redis is down, so it stays uncached).
        if (i % 10 === 0 && redisDown) inflight.push(record('cold', timed(`${gw.url}/v1/chat/completions`, chat(cold, false))));
        await new Promise((r) => setTimeout(r, 100));
      }
      await Promise.all(inflight);
    })();
    const probing = (async () => {
      while (running) {
        for (const [target, p] of [['gateway', gw], ['auth', auth]] as const)
          for (const probe of ['ready', 'live'] as const) {
            const r = await timed(`${p.url}/health/${probe}`);
            probes.push({ at: Date.now() - t0, target, probe, status: r.status });
          }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    await new Promise((r) => setTimeout(r, 2000));
    const killedAt = Date.now() - t0;
    const cpuBefore = [gw, auth].map((p) => cpuSeconds(p.pid));
    await redis.kill();
    redisDown = true;

    // Five seconds in, one key bursts 150 requests: the per-process limit admits LIMIT of them.
    await new Promise((r) => setTimeout(r, 5000));
    for (let i = 0; i < 150; i += 10)
      await Promise.all(Array.from({ length: 10 }, () => record('burst', timed(`${gw.url}/v1/chat/completions`, chat(burstKey, false)))));

    // Halfway, Copilot refuses every token it issued: the gateway fetches new ones itself, since
    // the store that would coordinate the replicas is gone.
    await new Promise((r) => setTimeout(r, OUTAGE_MS / 2 - (Date.now() - t0 - killedAt)));
    const exchangesBefore = fake.counters.exchanges;
    fake.expireTokens();
    await new Promise((r) => setTimeout(r, OUTAGE_MS - (Date.now() - t0 - killedAt)));
    const exchangesDuring = fake.counters.exchanges - exchangesBefore;
    const restartedAt = Date.now() - t0;
    const cpuDuring = [gw, auth].map((p, i) => (cpuSeconds(p.pid) - cpuBefore[i]) / ((restartedAt - killedAt) / 1000));
    redisDown = false;
    await redis.restart();

    // Within 5 s: ready again, and a key only Redis knows works.
    let readyAfter = -1;
    let coldAfter = -1;
    while (Date.now() - t0 - restartedAt < 5000 && (readyAfter < 0 || coldAfter < 0)) {
      if (readyAfter < 0 && (await timed(`${gw.url}/health/ready`)).status === 200) readyAfter = Date.now() - t0 - restartedAt;
      if (coldAfter < 0 && (await timed(`${gw.url}/v1/chat/completions`, chat(cold, false))).status === 200) coldAfter = Date.now() - t0 - restartedAt;
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 5000));
    running = false;
    await Promise.all([traffic, probing]);

    // Events flow again: a key revoked on auth now is refused by the gateway within a second.
    expect((await fetch(`${auth.url}/auth/keys/${warm[1].keyId}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(204);
    const revokedAt = Date.now();
    let refusedAfter = -1;
    while (Date.now() - revokedAt < 2000 && refusedAfter < 0) {
      if ((await timed(`${gw.url}/v1/chat/completions`, chat(background[0], false))).status === 401) refusedAfter = Date.now() - revokedAt;
      else await new Promise((r) => setTimeout(r, 50));
    }

    const during = (o: { at: number }) => o.at > killedAt && o.at < restartedAt;
    const warmDuring = outcomes.filter((o) => o.kind === 'warm' && during(o));
    const coldDuring = outcomes.filter((o) => o.kind === 'cold' && during(o));
    const burst = outcomes.filter((o) => o.kind === 'burst');
    const settled = (o: { at: number }) => o.at > killedAt + 500 && o.at < restartedAt;
    const probesDuring = probes.filter(settled);
    const stats = await (await fetch(`${gw.url}/stats`)).json();
    const figures = {
      outage_ms: restartedAt - killedAt,
      warm: {
        during: warmDuring.length,
        served: warmDuring.filter((o) => o.status === 200).length,
        failed: warmDuring.filter((o) => o.status !== 200).length,
        p50_ms: Math.round(percentile(warmDuring.map((o) => o.ms), 50)),
        p99_ms: Math.round(percentile(warmDuring.map((o) => o.ms), 99)),
      },
      needs_redis: {
        during: coldDuring.length,
        answered_503: coldDuring.filter((o) => o.status === 503).length,
        max_ms: Math.round(Math.max(...coldDuring.map((o) => o.ms))),
        p50_ms: Math.round(percentile(coldDuring.map((o) => o.ms), 50)),
      },
      burst_one_key: { sent: burst.length, admitted: burst.filter((o) => o.status === 200).length, refused_429: burst.filter((o) => o.status === 429).length },
      probes_during: {
        gateway_ready: [...new Set(probesDuring.filter((p) => p.target === 'gateway' && p.probe === 'ready').map((p) => p.status))],
        gateway_live: [...new Set(probesDuring.filter((p) => p.target === 'gateway' && p.probe === 'live').map((p) => p.status))],
        auth_ready: [...new Set(probesDuring.filter((p) => p.target === 'auth' && p.probe === 'ready').map((p) => p.status))],
        auth_live: [...new Set(probesDuring.filter((p) => p.target === 'auth' && p.probe === 'live').map((p) => p.status))],
      },
      after_restart: { ready_ms: readyAfter, key_from_redis_ms: coldAfter, revocation_seen_ms: refusedAfter },
      requests_total: outcomes.length,
      failed_outside_outage: outcomes.filter((o) => !during(o) && o.kind === 'warm' && o.status !== 200).length,
      token_exchanges_while_down: exchangesDuring,
      cpu_share_while_down: { gateway: Number(cpuDuring[0].toFixed(2)), auth: Number(cpuDuring[1].toFixed(2)) },
      store_fallbacks: stats.store_fallbacks,
      log_lines: { gateway: gw.output().trim().split('\n').length, auth: auth.output().trim().split('\n').length },
    };
    saveFigures(onCluster() ? 'redis-cluster-outage' : 'redis-outage', figures);

    expect(figures.warm.during).toBeGreaterThan(200);
    expect(figures.warm.failed).toBe(0);
    expect(figures.needs_redis.during).toBeGreaterThan(20);
    expect(figures.needs_redis.answered_503).toBe(figures.needs_redis.during);
    expect(figures.needs_redis.max_ms).toBeLessThanOrEqual(100);
    expect(JSON.parse(coldDuring[0].body).error).toMatchObject({ type: 'server_error', code: 'store_unavailable' });
    expect(figures.burst_one_key).toEqual({ sent: 150, admitted: LIMIT, refused_429: 150 - LIMIT });
    expect(figures.probes_during).toEqual({ gateway_ready: [503], gateway_live: [200], auth_ready: [503], auth_live: [200] });
    expect(readyAfter).toBeGreaterThanOrEqual(0);
    expect(readyAfter).toBeLessThanOrEqual(5000);
    expect(coldAfter).toBeGreaterThanOrEqual(0);
    expect(coldAfter).toBeLessThanOrEqual(5000);
    expect(figures.failed_outside_outage).toBe(0);
    expect(refusedAfter).toBeGreaterThanOrEqual(0);
    expect(refusedAfter).toBeLessThan(1000);
    expect(stats.store_fallbacks).toMatchObject({ key: expect.any(Number), rate_limit: expect.any(Number), token: expect.any(Number) });
    expect(exchangesDuring).toBe(2); // one per account, single-flight in the process
    // Reconnecting is paced: no process spins on a Redis that is not there (about 0.06 of a core here).
    expect(figures.cpu_share_while_down.gateway).toBeLessThan(0.25);
    expect(figures.cpu_share_while_down.auth).toBeLessThan(0.25);
    // Ops hear of it once each way, not per reconnect attempt.
    expect(gw.output().match(/Redis connection lost/g)).toHaveLength(1);
    expect(gw.output()).toMatch(/Redis reachable again after 3\d\.\d s/);
    // Nobody restarted: the same processes answered from start to end.
    expect(gw.child.exitCode).toBeNull();
    expect(auth.child.exitCode).toBeNull();
    expect((await timed(`${auth.url}/auth/accounts`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(200);
  }, 90_000);
});

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { startFake } from '../support/gateway.js';
import { clusterEnv, registerAccount, saveFigures, startProcess, type AppProcess } from '../support/processes.js';
import { freezeRedis, killRedis, startRedis, thawRedis } from '../support/redis-server.js';

/**
 * Issue 10, item 11: SIGTERM while Redis is down. The auth service used to hang for minutes (its
 * BullMQ connections wait for Redis forever), gateways for ~80 s. Whatever Redis does, a process
 * must be gone by SHUTDOWN_DELAY_MS + DRAIN_TIMEOUT_MS + 5 s. Real processes, each on its own
 * redis-server, which is killed (connections reset) or frozen (SIGSTOP: sockets open, no answer).
 */
const DELAY_MS = 500;
const DRAIN_MS = 1000;
const BOUND_MS = DELAY_MS + DRAIN_MS + 5000;

type Role = 'auth' | 'gateway' | 'all';
type RedisState = 'healthy' | 'killed' | 'frozen';
interface Outcome {
  exit_ms: number | null;
  code: number | null;
  watchdog: boolean;
}

let fake: FakeCopilot;
const figures: Record<string, Outcome> = {};

beforeAll(async () => {
  fake = await startFake({ acceptAnyToken: true });
});
afterAll(async () => {
  await fake?.stop();
  saveFigures('shutdown', { delay_ms: DELAY_MS, drain_ms: DRAIN_MS, stream_cases_drain_ms: STREAM_DRAIN_MS, bound_ms: BOUND_MS, ...figures });
});

const chat = (body: Record<string, unknown>) => ({
  method: 'POST',
  headers: { authorization: 'Bearer ghu_0123456789abcdef0123456789abcdef', 'content-type': 'application/json' },
  body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], ...body }),
});

/**
 * A stream of ~1.2 s, begun before the signal; its cases get STREAM_DRAIN_MS, so a loaded machine
 * still finishes it within the drain (the stream, not the drain's deadline, should end it).
 */
const STREAM_DRAIN_MS = 3000;
async function openStream(p: AppProcess) {
  const res = await fetch(`${p.url}/v1/chat/completions`, chat({ stream: true, fake_stream: { events: 12, interval_ms: 100 } }));
  const reader = res.body!.getReader();
  let text = new TextDecoder().decode((await reader.read()).value);
  const rest = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text;
      text += new TextDecoder().decode(value);
    }
  })();
  return { rest };
}

/** Starts `role` on a fresh Redis, puts Redis in `state`, sends SIGTERM, and times the exit. */
async function sigtermWith(
  role: Role,
  state: RedisState,
  opts: {
    inflight?: (p: AppProcess) => Promise<{ rest?: Promise<string> } | void>;
    twice?: boolean;
    env?: Record<string, string>;
    name?: string;
    upstream?: FakeCopilot;
  } = {},
) {
  const upstream = opts.upstream ?? fake;
  const redis = await startRedis();
  const env = clusterEnv(redis.url, upstream.url, { SHUTDOWN_DELAY_MS: String(DELAY_MS), DRAIN_TIMEOUT_MS: String(DRAIN_MS), ...opts.env });
  const p = await startProcess(role, env);
  try {
    // Every worker up, so the signal finds each one serving.
    while ((p.output().match(/listening on/g) ?? []).length < Number(env.WORKERS ?? 1)) await new Promise((r) => setTimeout(r, 50));
    if (role !== 'gateway') {
      // An account, so the refresh worker has a job queued when Redis goes away.
      const token = `ghu_${randomBytes(18).toString('hex')}`;
      upstream.addUser(token, { login: `u${randomBytes(3).toString('hex')}`, id: 7000 });
      await registerAccount(p.url, token);
    }
    const work = await opts.inflight?.(p);
    if (state === 'killed') await killRedis(redis);
    if (state === 'frozen') freezeRedis(redis);
    // Let the clients notice (or, frozen, not notice) before the signal.
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    p.child.kill('SIGTERM');
    if (opts.twice) setTimeout(() => p.child.kill('SIGTERM'), 100);
    // A little past the bound, so a miss is measured rather than cut at the bound itself.
    const exited = await Promise.race([p.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), BOUND_MS + 1500))]);
    const outcome: Outcome = {
      exit_ms: exited ? Math.round(performance.now() - t0) : null,
      code: p.child.exitCode,
      watchdog: p.output().includes('shutdown watchdog'),
    };
    figures[opts.name ?? `${role}_redis_${state}`] = outcome;
    return { outcome, output: p.output(), streamed: await work?.rest };
  } finally {
    await p.kill();
    thawRedis(redis);
    await redis.stop();
  }
}

describe('SIGTERM exits within SHUTDOWN_DELAY_MS + DRAIN_TIMEOUT_MS + 5 s, whatever Redis does', () => {
  for (const role of ['auth', 'gateway'] as const) {
    for (const state of ['killed', 'frozen'] as const) {
      it.concurrent(`${role}, Redis ${state}`, async () => {
        const { outcome, output } = await sigtermWith(role, state);
        expect(outcome.exit_ms, `${role} still running ${BOUND_MS + 1500} ms after SIGTERM:\n${output}`).not.toBeNull();
        expect(outcome.exit_ms!).toBeLessThanOrEqual(BOUND_MS);
        expect(output).toContain('draining: readiness is 503');
      }, 30_000);
    }
  }

  for (const role of ['auth', 'gateway'] as const) {
    it.concurrent(`${role}, Redis healthy: exits 0 promptly, one drain for two signals`, async () => {
      const { outcome, output } = await sigtermWith(role, 'healthy', { twice: true });
      expect(outcome.code, output).toBe(0);
      expect(outcome.exit_ms!).toBeLessThan(DELAY_MS + 1500);
      expect(output.match(/draining: readiness is 503/g)).toHaveLength(1);
      expect(output).toContain('already shutting down');
      expect(output).not.toContain('going on without it');
    }, 30_000);
  }

  it.concurrent('all, Redis healthy: an open stream still gets its drain time, then exit 0', async () => {
    const { outcome, output, streamed } = await sigtermWith('all', 'healthy', { inflight: openStream, env: { DRAIN_TIMEOUT_MS: String(STREAM_DRAIN_MS) } });
    expect(streamed!.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(outcome.code, output).toBe(0);
    // It waited for the stream past the delay, and left once the stream was done, before the drain's deadline.
    expect(outcome.exit_ms!).toBeGreaterThan(DELAY_MS + 200);
    expect(outcome.exit_ms!).toBeLessThan(DELAY_MS + STREAM_DRAIN_MS);
    expect(output).not.toContain('drain timeout');
  }, 30_000);

  it.concurrent('gateway with WORKERS=2: the primary passes SIGTERM on, the stream finishes, exit 0', async () => {
    const { outcome, output, streamed } = await sigtermWith('gateway', 'healthy', {
      inflight: openStream,
      env: { WORKERS: '2', DRAIN_TIMEOUT_MS: String(STREAM_DRAIN_MS) },
      name: 'gateway_workers_2_redis_healthy',
    });
    expect(streamed!.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(outcome.code, output).toBe(0);
    expect(output.match(/draining: readiness is 503/g)).toHaveLength(2);
    expect(outcome.exit_ms!).toBeLessThan(DELAY_MS + STREAM_DRAIN_MS);
    expect(output).not.toContain('drain timeout');
  }, 30_000);

  for (const state of ['healthy', 'frozen'] as const) {
    it.concurrent(`auth, a refresh job waiting on GitHub, Redis ${state}: the job gets a moment, then the close is forced`, async () => {
      // Its own upstream: tokens that are due at once, and an exchange that hangs for the job.
      const slow = await startFake({ tokenTtlSeconds: 62 });
      try {
        const { outcome, output } = await sigtermWith('auth', state, {
          upstream: slow,
          name: `auth_refresh_job_running_redis_${state}`,
          inflight: async () => {
            const before = slow.counters.exchanges;
            slow.options.exchangeDelayMs = 60_000;
            for (let i = 0; i < 200 && slow.counters.exchanges === before; i++) await new Promise((r) => setTimeout(r, 50));
            expect(slow.counters.exchanges, 'the refresh job never reached GitHub').toBe(before + 1);
          },
        });
        expect(outcome.exit_ms, `still running ${BOUND_MS + 1500} ms after SIGTERM:\n${output}`).not.toBeNull();
        expect(outcome.exit_ms!).toBeLessThanOrEqual(BOUND_MS);
        expect(outcome.code, output).toBe(0);
      } finally {
        await slow.stop();
      }
    }, 30_000);
  }

  it.concurrent('all, Redis frozen', async () => {
    const { outcome, output } = await sigtermWith('all', 'frozen');
    expect(outcome.exit_ms, `still running ${BOUND_MS + 1500} ms after SIGTERM:\n${output}`).not.toBeNull();
    expect(outcome.exit_ms!).toBeLessThanOrEqual(BOUND_MS);
  }, 30_000);
});

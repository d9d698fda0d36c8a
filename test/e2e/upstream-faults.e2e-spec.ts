import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { startFake } from '../support/gateway.js';
import { clusterEnv, saveFigures, startProcess, timed, type AppProcess } from '../support/processes.js';
import { freePort, startRedis, type RunningRedis } from '../support/redis-server.js';
import { fakeTls, trustEnv } from '../support/tls.js';

/**
 * Issue 5, fault 4: Copilot misbehaving, against a real gateway process with short timeouts; each
 * test over HTTP/1.1 (plain HTTP) and over HTTP/2 (HTTPS, ALPN, UPSTREAM_HTTP2 on), where a reset is
 * a RST_STREAM of the one stream and a GOAWAY refuses it and ends the connection once the others on
 * it are done (on HTTP/1.1 both are a reset connection).
 */
const KEY = 'ghu_faultsfaultsfaultsfaultsfaults0123';
let redis: RunningRedis;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const ask = (base: string, extra: Record<string, unknown>) =>
  timed(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], ...extra }),
  });

const error = (body: string) => JSON.parse(body).error;

describe.each([
  { transport: 'HTTP/1.1', tls: false },
  { transport: 'HTTP/2', tls: true },
])('upstream misbehaving over $transport', ({ tls }) => {
  let fake: FakeCopilot;
  let gw: AppProcess;
  const scheme = tls ? 'https' : 'http';
  const env = (extra: Record<string, string> = {}) =>
    clusterEnv(redis.url, fake.url, { REDIS_KEY_PREFIX: `faults-${scheme}:`, ...(tls ? trustEnv() : {}), ...extra });

  beforeAll(async () => {
    fake = await startFake({ acceptAnyToken: true, ...(tls ? { tls: fakeTls() } : {}) });
    gw = await startProcess(
      'gateway',
      env({ UPSTREAM_HEADERS_TIMEOUT_MS: '500', UPSTREAM_BODY_TIMEOUT_MS: '500', RATE_LIMIT_REQUESTS: '1000000', HTTP_MAX_CONNECTIONS: '64' }),
    );
    // Every test below goes to Copilot over this transport.
    expect((await ask(gw.url, {})).status).toBe(200);
    expect(fake.http2.sessions > 0).toBe(tls);
  });
  afterAll(async () => {
    await gw?.kill();
    await fake?.stop();
  });

  it('headers that never come: 504 after UPSTREAM_HEADERS_TIMEOUT_MS', async () => {
    const r = await ask(gw.url, { fake_fault: 'slow_headers', fake_delay_ms: 3000 });
    expect(r.status).toBe(504);
    expect(error(r.body)).toMatchObject({ type: 'upstream_error', code: 'upstream_timeout' });
    expect(r.ms).toBeGreaterThanOrEqual(450);
    expect(r.ms).toBeLessThan(1500);
  });

  it('a stream that stalls: the idle timeout ends it with an error event and [DONE]', async () => {
    const r = await ask(gw.url, { fake_fault: 'stall', stream: true });
    expect(r.status).toBe(200);
    const events = r.body.split('\n\n').filter(Boolean);
    expect(events[0]).toContain('"content":"Hel"');
    expect(JSON.parse(events.at(-2)!.slice(6)).error).toMatchObject({ type: 'upstream_error', code: 'upstream_timeout' });
    expect(events.at(-1)).toBe('data: [DONE]');
  });

  it('connection refused: 502 after the retries, quickly', async () => {
    const closed = await freePort();
    const other = await startProcess('gateway', env({ COPILOT_API_URL: `${scheme}://127.0.0.1:${closed}`, REDIS_KEY_PREFIX: `refused-${scheme}:` }));
    try {
      const r = await ask(other.url, {});
      expect([502, 503]).toContain(r.status);
      expect(error(r.body)).toMatchObject({ type: 'upstream_error', code: 'upstream_unreachable' });
      expect(r.ms).toBeLessThan(2000);
    } finally {
      await other.kill();
    }
  });

  it.each([
    ['a body cut off mid-way (connection closed)', 'truncated', 502, 'upstream_unreachable'],
    ['truncated JSON', 'truncated_json', 502, 'upstream_invalid_response'],
    ['an HTML 500 page', 'html_500', 502, 'upstream_error'],
    ['a 200 whose body is not JSON', 'not_json', 502, 'upstream_invalid_response'],
    ['a reset connection (HTTP/2: a reset stream)', 'reset', 502, 'upstream_unreachable'],
    ['a GOAWAY (HTTP/1.1: a reset connection)', 'goaway', 502, 'upstream_unreachable'],
  ])('%s: a clean OpenAI error', async (_name, fault, status, code) => {
    const r = await ask(gw.url, { fake_fault: fault });
    expect(r.status).toBe(status);
    const e = error(r.body);
    expect(e).toMatchObject({ type: 'upstream_error', code });
    expect(e.message).not.toMatch(/<|html|Unicorn/i);
  });

  const networkErrors = async () => ((await (await fetch(`${gw.url}/stats`)).json()).upstream_errors_by_status.network ?? 0) as number;

  it.each([
    ['a GOAWAY (HTTP/1.1: a reset connection)', 'goaway'],
    ['a reset stream (HTTP/1.1: a reset connection)', 'reset'],
  ] as const)('%s before the first byte is retried: the client gets the whole stream', async (_name, fault) => {
    const before = await networkErrors();
    fake.faultNext('chat', fault);
    const r = await ask(gw.url, { stream: true });
    expect(r.status).toBe(200);
    expect(r.body).toContain('"finish_reason":"stop"');
    expect(r.body).not.toContain('"error"');
    expect(r.body.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(await networkErrors()).toBe(before + 1);
  });

  it.each([
    ['a GOAWAY (HTTP/1.1: a reset connection)', 'goaway_mid_stream'],
    ['a reset stream (HTTP/1.1: a reset connection)', 'reset_mid_stream'],
  ])('%s after the first byte ends the stream with an error event and [DONE]', async (_name, fault) => {
    const r = await ask(gw.url, { fake_fault: fault, stream: true });
    expect(r.status).toBe(200);
    const events = r.body.split('\n\n').filter(Boolean);
    expect(events[0]).toContain('"content":"Hel"');
    expect(JSON.parse(events.at(-2)!.slice(6)).error).toMatchObject({ type: 'upstream_error', code: 'upstream_unreachable' });
    expect(events.at(-1)).toBe('data: [DONE]');
  });

  it('leaks no upstream connection and no file descriptor over 2 × 1000 faulty requests', async () => {
    const faults = [
      { fake_fault: 'truncated' },
      { fake_fault: 'truncated_json' },
      { fake_fault: 'html_500' },
      { fake_fault: 'not_json' },
      { fake_fault: 'reset' },
      { fake_fault: 'goaway' },
      { fake_fault: 'stall', stream: true },
      { fake_fault: 'slow_headers', fake_delay_ms: 2000 },
      { stream: true },
      {},
    ];
    const fds = () => readdirSync(`/proc/${gw.pid}/fd`).length;
    const upstream = async () => Object.values((await (await fetch(`${gw.url}/stats`)).json()).upstream_connections as Record<string, { connected: number; running: number; pending: number }>);
    const round = async () => {
      const statuses: Record<string, number> = {};
      let next = 0;
      await Promise.all(
        Array.from({ length: 40 }, async () => {
          while (next < 1000) {
            const i = next++;
            const r = await ask(gw.url, faults[i % faults.length]);
            statuses[r.status] = (statuses[r.status] ?? 0) + 1;
          }
        }),
      );
      await new Promise((r) => setTimeout(r, 600)); // the stalled and slow ones time out upstream
      return statuses;
    };
    const fdsBefore = fds();
    const first = await round();
    const afterFirst = { fake: fake.openConnections, fds: fds(), pools: await upstream() };
    const second = await round();
    const afterSecond = { fake: fake.openConnections, fds: fds(), pools: await upstream() };
    const figures = { first_round: first, second_round: second, fds_before: fdsBefore, after_first: afterFirst, after_second: afterSecond };
    saveFigures(tls ? 'upstream-faults-http2' : 'upstream-faults', figures);

    for (const statuses of [first, second]) {
      expect(Object.keys(statuses).sort()).toEqual(['200', '502', '504']);
      expect(statuses['0']).toBeUndefined(); // no request lost its connection to the gateway
    }
    // Open upstream sockets are the pool's idle keep-alive ones: never more than the requests that
    // were in flight at once (40, plus the token exchange's), however many faulty ones went by. A
    // leak would leave hundreds after 1000 requests, and twice that after 2000.
    const peak = 40 + 1;
    for (const after of [afterFirst, afterSecond]) {
      expect(after.fake).toBeLessThanOrEqual(peak);
      for (const pool of after.pools) {
        expect(pool).toMatchObject({ running: 0, pending: 0 });
        expect(pool.connected).toBeLessThanOrEqual(peak);
      }
      // the 40 client keep-alive sockets, the upstream ones, Redis and a few of Node's own
      expect(after.fds).toBeLessThanOrEqual(fdsBefore + 40 + peak + 10);
    }
    expect(gw.child.exitCode).toBeNull();
    expect((await ask(gw.url, {})).status).toBe(200);
  }, 120_000);
});

import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { accountWithKey, chatBody, startFake, startGateway, uniquePrefix, type TestGateway } from '../support/gateway.js';
import { clusterEnv, startProcess, timed, type AppProcess } from '../support/processes.js';
import { fakeTls, trustEnv } from '../support/tls.js';
import { waitUntil } from '../support/until.js';

/**
 * Issue 15: HTTP/2 to the Copilot API. The fake serves HTTPS with a certificate of the run's own
 * CA, trusted through NODE_EXTRA_CA_CERTS (test/support/tls.ts), HTTP/2 and HTTP/1.1 by ALPN.
 */
const KEY = 'ghu_http2http2http2http2http2http2h2';

const stream = (base: string, extra: Record<string, unknown> = {}, signal?: AbortSignal) =>
  fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(chatBody({ stream: true, ...extra })),
    signal,
  });

const stats = async (gw: AppProcess) => (await fetch(`${gw.url}/stats`)).json();


describe('a gateway process against an HTTP/2 upstream', () => {
  let fake: FakeCopilot;
  let gw: AppProcess;
  const start = async (maxConcurrentStreams: number, env: Record<string, string> = {}) => {
    fake = await startFake({ acceptAnyToken: true, tls: fakeTls(), maxConcurrentStreams });
    gw = await startProcess('gateway', clusterEnv(inject('redisUrl'), fake.url, { REDIS_KEY_PREFIX: uniquePrefix(), RATE_LIMIT_REQUESTS: '1000000', ...trustEnv(), ...env }));
    expect((await timed(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(chatBody()) })).status).toBe(200);
  };
  afterEach(async () => {
    await gw?.kill();
    await fake?.stop();
  });

  it("never puts more streams on a connection than the server's SETTINGS_MAX_CONCURRENT_STREAMS, and spreads them over connections", async () => {
    await start(5, { HTTP_MAX_CONNECTIONS: '8' });
    fake.resetPeaks();
    const sessionsBefore = fake.http2.sessions;
    // 40 streams of 1.5 s at once: 5 per connection on 8 connections, all at the same time (a
    // stream that waits for a place takes 3 s); twice, the second time on the connections the
    // first opened.
    for (let round = 0; round < 2; round++) {
      const t0 = performance.now();
      const bodies = await Promise.all(Array.from({ length: 40 }, async () => (await stream(gw.url, { fake_stream: { events: 5, interval_ms: 300 } })).text()));
      const ms = performance.now() - t0;
      for (const body of bodies) {
        expect(body).not.toContain('"error"');
        expect(body.trimEnd().endsWith('data: [DONE]')).toBe(true);
      }
      // None waited in line behind a full connection, none was refused and retried.
      expect(ms, `round ${round + 1}`).toBeLessThan(2400);
    }
    expect(fake.http2.peakStreams).toBeLessThanOrEqual(5);
    expect(fake.http2.sessions - sessionsBefore).toBeLessThanOrEqual(8);
    expect(fake.peakConnections).toBeLessThanOrEqual(8 + 1); // and GitHub's HTTP/1.1 connection
    expect((await stats(gw)).upstream_errors_by_status.network).toBeUndefined();
  });

  it('carries many streams on one connection', async () => {
    await start(100);
    fake.resetPeaks();
    const sessionsBefore = fake.http2.sessions;
    const bodies = await Promise.all(Array.from({ length: 60 }, async () => (await stream(gw.url, { fake_stream: { events: 3, interval_ms: 200 } })).text()));
    for (const body of bodies) expect(body.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(fake.http2.peakStreams).toBeGreaterThanOrEqual(50);
    expect(fake.http2.sessions - sessionsBefore).toBe(0);
    const upstream = Object.values((await stats(gw)).upstream_connections as Record<string, { connected: number }>);
    expect(upstream.reduce((n, p) => n + p.connected, 0)).toBeLessThanOrEqual(2); // Copilot's one, GitHub's one
  });

  it('lets the streams of a connection that gets a GOAWAY finish, and retries the one refused', async () => {
    await start(100);
    const { sessions } = fake.http2;
    const arrived = fake.counters.chatRequests;
    const slow = Array.from({ length: 5 }, async () => (await stream(gw.url, { fake_stream: { events: 5, interval_ms: 150 } })).text());
    await waitUntil('the slow streams to reach the fake', () => fake.counters.chatRequests >= arrived + 5);
    fake.faultNext('chat', 'goaway');
    expect((await (await stream(gw.url)).text()).trimEnd().endsWith('data: [DONE]')).toBe(true);
    for (const body of await Promise.all(slow)) {
      expect(body).not.toContain('"error"');
      expect(body.trimEnd().endsWith('data: [DONE]')).toBe(true);
    }
    expect(fake.http2.sessions).toBe(sessions + 1);
    expect((await stats(gw)).upstream_errors_by_status.network).toBe(1);
  });

  it('resets the upstream stream, not the connection, when the client hangs up', async () => {
    await start(100);
    const { sessions, openSessions, streamsReset } = fake.http2;
    const cancelled = fake.counters.streamsCancelled;
    const ac = new AbortController();
    const res = await stream(gw.url, { fake_stream: { events: 50, interval_ms: 100 } }, ac.signal);
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    await waitUntil('the fake to see the stream reset', () => fake.http2.streamsReset > streamsReset && fake.counters.streamsCancelled > cancelled);
    expect(fake.http2.openSessions).toBe(openSessions);
    expect((await (await stream(gw.url)).text()).trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(fake.http2.sessions).toBe(sessions);
  });
});

describe('an in-process gateway against an HTTP/2 upstream', () => {
  let fake: FakeCopilot;
  let gw: TestGateway;
  beforeAll(async () => {
    fake = await startFake({ tls: fakeTls() });
  });
  afterAll(async () => {
    await fake?.stop();
  });
  afterEach(async () => {
    await gw?.close();
  });

  it("trusts the fake's certificate through NODE_EXTRA_CA_CERTS, as Vitest's workers inherit it: Copilot over HTTP/2, GitHub over HTTP/1.1", async () => {
    gw = await startGateway(fake, {}, { redis: false });
    const { key } = await accountWithKey(gw, fake);
    const res = await gw.post('/v1/chat/completions', chatBody(), key);
    expect(res.status).toBe(200);
    expect(fake.httpVersions.get('POST /chat/completions')).toBe('2.0');
    expect(fake.httpVersions.get('GET /copilot_internal/v2/token')).toBe('1.1');
  });

  it('speaks HTTP/1.1 to the Copilot API with UPSTREAM_HTTP2=false', async () => {
    gw = await startGateway(fake, { UPSTREAM_HTTP2: 'false' }, { redis: false });
    const { key } = await accountWithKey(gw, fake);
    const res = await gw.post('/v1/chat/completions', chatBody({ stream: true }), key);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('[DONE]');
    expect(fake.httpVersions.get('POST /chat/completions')).toBe('1.1');
  });
});

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { startFake } from '../support/gateway.js';
import { clusterEnv, saveFigures, startProcess, timed, type AppProcess } from '../support/processes.js';
import { startRedis, type RunningRedis } from '../support/redis-server.js';

/**
 * Issue 10, item 4: a client that asks for a big stream and never reads it. Real processes, a fake
 * upstream that writes as a real server does (waiting for its socket to drain), raw client sockets
 * that stop reading after the request.
 */
const STALL_MS = 2000;
const HEADERS_TIMEOUT_MS = 1000;
const EVENT_BYTES = 16 * 1024;
const EVENTS = 192; // 3 MiB
/** 16 MiB: more than the kernel's socket buffers between fake, gateway and client take in */
const BIG_EVENTS = 1024;

let redis: RunningRedis;
let fake: FakeCopilot;

beforeAll(async () => {
  redis = await startRedis();
  fake = await startFake();
});
afterAll(async () => {
  await fake?.stop();
  await redis?.stop();
});

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

function newToken(login: string) {
  const token = `ghu_${randomBytes(18).toString('hex')}`;
  fake.addUser(token, { login, id: 9000 + Math.floor(Math.random() * 1e5) });
  return token;
}

/** Sends a streaming chat request for a big reply, reads the first bytes, then stops reading. */
function nonReadingStream(port: number, token: string, events = EVENTS) {
  const body = JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'big' }], fake_stream: { events, pad_bytes: EVENT_BYTES } });
  const socket: Socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.setNoDelay(true);
  const started = performance.now();
  let received = '';
  const headers = new Promise<string>((resolve) =>
    socket.once('data', (d) => {
      socket.pause();
      received += d;
      resolve(String(d).split('\r\n')[0]);
      socket.on('data', (more) => (received = (received + more).slice(-200)));
    }),
  );
  /** Reads what the kernel holds; resolves when the gateway has closed the connection. */
  const drainedToClose = () => {
    socket.resume();
    return new Promise<string>((resolve) => socket.once('close', () => resolve(received)));
  };
  socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  return { socket, headers, drainedToClose, started };
}

/** Polls `done` until it holds; returns how long that took, or throws after `ms`. */
async function waitFor(done: () => boolean | Promise<boolean>, ms: number): Promise<number> {
  const t0 = performance.now();
  while (!(await done())) {
    if (performance.now() - t0 > ms) throw new Error(`not done within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return performance.now() - t0;
}

const chat = (url: string, token: string) =>
  timed(`${url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }) });

describe('clients that stop reading a stream', () => {
  it('do not starve other accounts: the pool wait is bounded (504) and stalled streams are cut at CLIENT_STALL_TIMEOUT_MS', async () => {
    const gw = await startProcess(
      'gateway',
      clusterEnv(redis.url, fake.url, { HTTP_MAX_CONNECTIONS: '4', CLIENT_STALL_TIMEOUT_MS: String(STALL_MS), UPSTREAM_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), RATE_LIMIT_REQUESTS: '100000' }),
    );
    try {
      const other = newToken('patient');
      expect((await chat(gw.url, other)).status).toBe(200); // its token is cached: only the pool matters below
      const cancelledBefore = fake.counters.streamsCancelled;
      const stalled = Array.from({ length: 4 }, () => nonReadingStream(gw.port, newToken(`stall${randomBytes(2).toString('hex')}`), BIG_EVENTS));
      expect(await Promise.all(stalled.map((s) => s.headers))).toEqual(Array(4).fill('HTTP/1.1 200 OK'));
      const t0 = performance.now();
      const waiting = await chat(gw.url, other);
      const waitedMs = performance.now() - t0;
      expect(waiting.status).toBe(504);
      expect(JSON.parse(waiting.body).error.code).toBe('upstream_timeout');
      expect(waitedMs).toBeLessThan(HEADERS_TIMEOUT_MS + 1500);
      // The gateway gives up on them: their upstream calls are aborted, their sockets closed.
      // (Generous: under a loaded CI box filling the kernel's buffers before the stall takes a while.)
      const cutAfter = await waitFor(() => fake.counters.streamsCancelled - cancelledBefore >= 4, STALL_MS + 10_000);
      const tails = await Promise.all(stalled.map((s) => s.drainedToClose()));
      for (const tail of tails) expect(tail).not.toContain('[DONE]');
      expect((await chat(gw.url, other)).status).toBe(200);
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      expect(metrics).toMatch(/^cgw_client_stalls_total 4$/m);
      // A client that stopped reading is not Copilot failing: no upstream error is counted for it.
      expect(metrics).not.toMatch(/cgw_upstream_errors_total\{status="stream"\}/);
      const conns = await (await fetch(`${gw.url}/stats`)).json();
      saveFigures('stalled-streams-pool', { stalled: 4, max_connections: 4, other_wait_ms: Math.round(waitedMs), other_status: waiting.status, stalled_cut_after_ms: Math.round(cutAfter), upstream_connections: conns.upstream_connections });
    } finally {
      await gw.kill();
    }
  }, 40_000);

  it('hold bounded memory: 50 non-reading 16 MiB streams', async () => {
    const gw = await startProcess('gateway', clusterEnv(redis.url, fake.url, { CLIENT_STALL_TIMEOUT_MS: String(STALL_MS), RATE_LIMIT_REQUESTS: '100000' }));
    try {
      const token = newToken('hoarder');
      expect((await chat(gw.url, token)).status).toBe(200);
      const before = rssMiB(gw.pid);
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(gw.pid))), 25);
      const streams = Array.from({ length: 50 }, () => nonReadingStream(gw.port, token, BIG_EVENTS));
      await Promise.all(streams.map((s) => s.headers));
      // Every stream is over on the gateway's side (finished into the kernel's buffers, or cut)
      // within the stall timeout: nothing is held upstream, and no answer waits in its memory.
      const settled = await waitFor(async () => /^cgw_active_streams 0$/m.test(await (await fetch(`${gw.url}/metrics`)).text()), STALL_MS + 5000);
      clearInterval(sampler);
      const growth = peak - before;
      const upstream = Object.values((await (await fetch(`${gw.url}/stats`)).json()).upstream_connections as Record<string, { running: number }>);
      expect(upstream.every((p) => p.running === 0)).toBe(true);
      // 800 MiB of replies were asked for (the bound leaves room for a busy box's late garbage collection); what the gateway took in before the clients stalled is
      // bounded per stream (undici's highWaterMark, the socket's), and let go when they are cut.
      expect(growth).toBeLessThan(256);
      streams.forEach((s) => s.socket.destroy());
      expect((await chat(gw.url, token)).status).toBe(200);
      saveFigures('stalled-streams-memory', { streams: 50, reply_mib: (BIG_EVENTS * EVENT_BYTES) / 2 ** 20, rss_before_mib: Math.round(before), rss_peak_mib: Math.round(peak), settled_within_ms: Math.round(settled) });
    } finally {
      await gw.kill();
    }
  }, 40_000);
});

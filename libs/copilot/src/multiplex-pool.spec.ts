import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createSecureServer } from 'node:http2';
import type { AddressInfo, Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/support/redis-server.js';
import { testCertificates } from '../../../test/support/tls.js';
import { MultiplexPool } from './multiplex-pool.js';

/** Real TLS servers with the run's certificate (trusted through NODE_EXTRA_CA_CERTS). */
const tls = () => {
  const c = testCertificates();
  return { key: readFileSync(c.keyFile), cert: readFileSync(c.certFile) };
};
const slow = (ms: number) => (_req: unknown, res: { writeHead(s: number): void; end(b: string): void }) => setTimeout(() => (res.writeHead(200), res.end('ok')), ms);

const servers: Server[] = [];
const pools: MultiplexPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function pool(origin: string, connections = 8) {
  const p = new MultiplexPool(origin, { connections, maxStreams: 1000, headersTimeout: 10_000, bodyTimeout: 10_000, keepAliveTimeout: 10_000 });
  pools.push(p);
  return p;
}

const post = (p: MultiplexPool, signal?: AbortSignal) => p.request({ method: 'POST', path: '/', body: '{}', signal }).then((r) => r.body.text());

describe('MultiplexPool', () => {
  it('gives an origin that answers HTTP/1.1 by ALPN one request per connection, opened side by side', async () => {
    let sockets = 0;
    const server = createHttpsServer(tls(), slow(300));
    server.on('secureConnection', () => sockets++);
    const p = pool(await listen(server));
    const t0 = performance.now();
    expect(await Promise.all(Array.from({ length: 5 }, () => post(p)))).toEqual(Array(5).fill('ok'));
    expect(performance.now() - t0).toBeLessThan(550);
    expect(sockets).toBe(5);
    expect(p.stats).toMatchObject({ connected: 5, running: 0, pending: 0 });
  });

  it('lets a request whose signal aborts while it waits for a stream go at once', async () => {
    const server = createSecureServer({ ...tls(), settings: { maxConcurrentStreams: 1 } }, slow(1000));
    const p = pool(await listen(server as unknown as Server), 1);
    const first = post(p);
    const ac = new AbortController();
    const t0 = performance.now();
    const second = post(p, ac.signal).catch((err: Error) => err);
    setTimeout(() => ac.abort(), 50);
    expect(await second).toBeInstanceOf(Error);
    expect(performance.now() - t0).toBeLessThan(500);
    expect(p.stats.pending).toBe(0);
    expect(await first).toBe('ok');
  });

  it('fails every request waiting for an origin it cannot reach with the connect error, and keeps nothing', async () => {
    const p = pool(`https://127.0.0.1:${await freePort()}`);
    const t0 = performance.now();
    const errors = await Promise.all(Array.from({ length: 20 }, () => post(p).catch((err: { code?: string }) => err.code)));
    expect(errors).toEqual(Array(20).fill('ECONNREFUSED'));
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(p.stats).toEqual({ connected: 0, free: 0, pending: 0, running: 0 });
  });
});

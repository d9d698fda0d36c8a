import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Pool } from 'undici';
import { RedisStore, generateApiKey, sha256 } from '#libs/accounts';
import { RedisConnections } from '#libs/redis';
import { startRedis } from '../test/support/redis-server.js';

/**
 * `npm run bench`: the gateway (Redis mode, rate limit and metrics on) against a bare undici
 * pass-through, both in front of the same fake upstream, measured in one run and interleaved so
 * that machine noise lands on both. See docs/benchmarks.md for the targets and the figures.
 */
const DURATION = Number(process.env.BENCH_DURATION ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SLOW_STREAMS = Number(process.env.BENCH_SLOW_STREAMS ?? 1000);
const ONLY = process.env.BENCH_ONLY; // 'throughput' | 'latency' | 'slow'
const GITHUB_TOKEN = `ghu_${randomBytes(18).toString('hex')}`;
const children: ChildProcess[] = [];

function start(script: string, args: string[], env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /(http:\/\/127\.0\.0\.1:\d+)|"port":(\d+)/.exec(out);
      if (m) resolve({ child, url: m[1] ?? `http://127.0.0.1:${m[2]}` });
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}: ${out}`)));
  });
}

const body = (extra: object = {}) => JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello' }], ...extra });

interface Run {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function cannon(url: string, key: string, payload: string, connections: number, duration: number): Promise<Run> {
  const r = await autocannon({
    url: `${url}/v1/chat/completions`,
    method: 'POST',
    connections,
    duration,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: payload,
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx + r.timeouts };
}

/**
 * c=1 latency, timed with hrtime: one request to bare, then the same to the gateway, alternating,
 * so both see the same machine noise. The added latency is the median of the paired differences.
 */
async function pairedLatency(bareUrl: string, gatewayUrl: string, key: string, payload: string, pairs: number) {
  const clients = [new Client(bareUrl, { pipelining: 1 }), new Client(gatewayUrl, { pipelining: 1 })];
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const once = async (c: Client) => {
    const t = process.hrtime.bigint();
    const res = await c.request({ method: 'POST', path: '/v1/chat/completions', headers, body: payload });
    await res.body.text();
    if (res.statusCode !== 200) throw new Error(`c=1 got ${res.statusCode}`);
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const bare: number[] = [];
  const gw: number[] = [];
  const diff: number[] = [];
  for (let i = 0; i < pairs; i++) {
    const b = await once(clients[0]);
    const g = await once(clients[1]);
    bare.push(b);
    gw.push(g);
    diff.push(g - b);
  }
  await Promise.all(clients.map((c) => c.close()));
  return { bare: median(bare), gateway: median(gw), added: median(diff) };
}

/**
 * Opens `n` keep-alive connections first (as SDK clients hold them), then starts `n` streams at
 * once and times each from request to its last byte. The client reads with 'data' listeners:
 * async iteration over 40,000 chunks would cost the driver more than the servers it measures.
 */
async function slowStreams(url: string, key: string, n: number) {
  const pool = new Pool(url, { connections: n, pipelining: 1, bodyTimeout: 30_000, headersTimeout: 30_000 });
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const warm = body();
  await Promise.all(Array.from({ length: n }, () => pool.request({ method: 'POST', path: '/v1/chat/completions', headers, body: warm }).then((r) => r.body.text())));
  const payload = body({ stream: true, fake_stream: { events: 40, interval_ms: 50 } });
  let errors = 0;
  const ttfb: number[] = [];
  const times = await Promise.all(
    Array.from({ length: n }, async () => {
      const t = performance.now();
      try {
        const res = await pool.request({ method: 'POST', path: '/v1/chat/completions', headers, body: payload });
        ttfb.push(performance.now() - t);
        let text = '';
        await new Promise<void>((ok, no) => {
          res.body.setEncoding('utf8');
          res.body.on('data', (d: string) => (text = d.length > 20 ? d.slice(-20) : d));
          res.body.on('end', ok);
          res.body.on('error', no);
        });
        if (res.statusCode !== 200 || !text.includes('[DONE]')) errors++;
      } catch {
        errors++;
      }
      return performance.now() - t;
    }),
  );
  await pool.close();
  times.sort((a, b) => a - b);
  ttfb.sort((a, b) => a - b);
  return { p50: pct(times, 50), p99: pct(times, 99), ttfbP99: pct(ttfb, 99), errors };
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

async function main() {
  const redis = await startRedis();
  const fake = await start('dist/test/fake-copilot/main.js', ['0'], { FAKE_SPLIT_WRITES: 'false', FAKE_STREAM_EVENTS: '5' });
  const bare = await start('dist/bench/bare-proxy.js', [], { UPSTREAM: fake.url, GITHUB_TOKEN, PORT: '0', CONNECTIONS: String(Math.max(256, SLOW_STREAMS + 100)) });
  const prefix = 'bench:';
  const gateway = await start(process.env.BENCH_PROFILE ? '--cpu-prof' : 'dist/apps/all/src/main.js', process.env.BENCH_PROFILE ? ['--cpu-prof-dir=/tmp/prof', 'dist/apps/all/src/main.js', 'gateway'] : ['gateway'], {
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: prefix,
    TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    GITHUB_API_URL: fake.url,
    GITHUB_BASE_URL: fake.url,
    GITHUB_TOKEN,
    RATE_LIMIT_ENABLED: 'true',
    RATE_LIMIT_REQUESTS: '1000000000',
    // Each upstream stream holds one HTTP/1.1 connection: 1000 concurrent streams need more than the default 256.
    HTTP_MAX_CONNECTIONS: String(Math.max(256, SLOW_STREAMS + 100)),
    LOG_LEVEL: 'info',
    // e.g. BENCH_GATEWAY_ENV='{"RATE_LIMIT_ENABLED":"false"}' to see what one setting costs
    ...(process.env.BENCH_GATEWAY_ENV ? JSON.parse(process.env.BENCH_GATEWAY_ENV) : {}),
  });
  const gatewayUrl = gateway.url.replace('0.0.0.0', '127.0.0.1');

  // An issued key for the account GITHUB_TOKEN registered at the gateway's start.
  const user = (await (await fetch(`${fake.url}/user`, { headers: { authorization: `Bearer ${GITHUB_TOKEN}` } })).json()) as { id: number };
  const conns = new RedisConnections(redis.url, prefix);
  await conns.connect();
  const key = generateApiKey();
  for (let i = 0; i < 50 && !(await new RedisStore(conns).getAccount(`acc_${user.id}`)); i++) await sleep(100);
  await new RedisStore(conns).putKey({ id: 'key_bench', hash: sha256(key), account_id: `acc_${user.id}`, name: 'bench', prefix: key.slice(0, 11), created_at: new Date().toISOString(), last_used_at: null, expires_at: null, revoked_at: null });
  await conns.onModuleDestroy();

  const targets = { bare: { url: bare.url, key: 'unused' }, gateway: { url: gatewayUrl, key } };
  const lines: string[] = [];
  const say = (s: string) => {
    console.log(s);
    lines.push(s);
  };
  say(`node ${process.version}, ${DURATION}s x ${ROUNDS} rounds per target, ${CONNECTIONS} connections, interleaved bare/gateway`);

  for (const [name, payload] of [
    ['non-stream', body()],
    ['stream', body({ stream: true })],
  ] as const) {
    if (ONLY && ONLY !== 'throughput') break;
    for (const t of Object.values(targets)) await cannon(t.url, t.key, payload, CONNECTIONS, 1); // warm-up
    const bares: Run[] = [];
    const gateways: Run[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which goes first, so neither always gets the fresher machine.
      const order = r % 2 ? (['gateway', 'bare'] as const) : (['bare', 'gateway'] as const);
      const got: Partial<Record<'bare' | 'gateway', Run>> = {};
      for (const tn of order) got[tn] = await cannon(targets[tn].url, targets[tn].key, payload, CONNECTIONS, DURATION);
      bares.push(got.bare!);
      gateways.push(got.gateway!);
      ratios.push(got.gateway!.rps / got.bare!.rps);
    }
    for (const [tn, rs] of [
      ['bare', bares],
      ['gateway', gateways],
    ] as const) {
      const errors = rs.reduce((a, x) => a + x.errors, 0);
      say(`${name.padEnd(10)} ${tn.padEnd(7)} ${median(rs.map((x) => x.rps)).toFixed(0).padStart(6)} req/s  p50 ${median(rs.map((x) => x.p50))} ms  p99 ${median(rs.map((x) => x.p99))} ms  errors ${errors}`);
    }
    say(`${name.padEnd(10)} ratio gateway/bare = ${median(ratios).toFixed(2)}, median of ${ROUNDS} paired rounds [${ratios.map((x) => x.toFixed(2)).join(' ')}] (target >= 0.60)`);
  }

  if (!ONLY || ONLY === 'latency') await measureLatency();
  if (!ONLY || ONLY === 'slow') await measureSlowStreams();

  async function measureLatency() {
    const payload = body();
    await pairedLatency(bare.url, gatewayUrl, key, payload, 300);
    const r = await pairedLatency(bare.url, gatewayUrl, key, payload, Number(process.env.BENCH_PAIRS ?? 5000));
    say(`c=1 p50    bare ${r.bare.toFixed(3)} ms  gateway ${r.gateway.toFixed(3)} ms  added ${r.added.toFixed(3)} ms, median of paired differences (target <= 0.300)`);
  }

  async function measureSlowStreams() {
  // 1000 slow streams at once: 40 events 50 ms apart, so each takes at least 2 s.
  for (const [tn, t] of Object.entries(targets)) {
    const pid = (tn === 'bare' ? bare : gateway).child.pid!;
    let peakRss = rssMiB(pid);
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMiB(pid))), 50);
    const r = await slowStreams(t.url, t.key, SLOW_STREAMS);
    clearInterval(sampler);
    say(
      `slow streams ${tn.padEnd(7)} ${SLOW_STREAMS} concurrent x 40 events @ 50 ms: first byte p99 ${r.ttfbP99.toFixed(0)} ms, ` +
        `complete p50 ${r.p50.toFixed(0)} ms p99 ${r.p99.toFixed(0)} ms (target <= 2400), errors ${r.errors}, peak RSS ${peakRss.toFixed(0)} MiB` +
        (tn === 'gateway' ? ' (target <= 200)' : ''),
    );
  }

  }

  for (const c of children) c.kill('SIGTERM');
  await sleep(500);
  await redis.stop();
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));

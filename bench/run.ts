import autocannon from 'autocannon';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Pool } from 'undici';
import { RedisStore, generateApiKey, sha256 } from '#libs/accounts';
import { messagesToChat, parseMessagesRequest, parseResponsesRequest, prepareNativeResponsesBody, responsesToChat } from '#libs/dialects';
import { RedisConnections } from '#libs/redis';
import { startRedis } from '../test/support/redis-server.js';
import { makeTestCertificates } from '../test/support/tls.js';

/**
 * `npm run bench`: the gateway (Redis mode, rate limit and metrics on) against a bare undici
 * pass-through, both in front of the same fake upstream, measured in one run and interleaved so
 * that machine noise lands on both. See docs/benchmarks.md for the targets and the figures.
 *
 * BENCH_MODE=wrk (the default) drives the throughput cases with wrk, from outside Node: a C load
 * generator on one thread, so the driver takes little of the CPU the proxies share with it.
 * BENCH_MODE=autocannon drives them with autocannon in this process, as earlier figures were taken.
 */
const MODE = (process.env.BENCH_MODE ?? 'wrk') as 'wrk' | 'autocannon';
const DURATION = Number(process.env.BENCH_DURATION ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? (MODE === 'wrk' ? 32 : 50));
const WRK_THREADS = Number(process.env.BENCH_WRK_THREADS ?? 1);
const SLOW_STREAMS = Number(process.env.BENCH_SLOW_STREAMS ?? 1000);
const ONLY = process.env.BENCH_ONLY; // 'throughput' | 'latency' | 'slow' | 'streams' (only when asked) | 'none'
/** BENCH_STREAMS=1000,5000: how many concurrent streams the streams mode starts at once, one size after the other */
const STREAMS = (process.env.BENCH_STREAMS ?? '1000,5000').split(',').map(Number);
/** BENCH_STREAM_TARGETS=bare-h2,gateway-h2: a subset of the streams mode's targets (see measureStreams) */
const STREAM_TARGETS = process.env.BENCH_STREAM_TARGETS?.split(',').map((s) => s.trim());
/** BENCH_HOLD=1: once set up (and after BENCH_ONLY's parts), print the URLs, key and wrk scripts and keep running until Ctrl-C */
const HOLD = !!process.env.BENCH_HOLD;
/** BENCH_CASES=chat,chat-stream: a subset of the throughput cases */
const CASES = process.env.BENCH_CASES?.split(',').map((s) => s.trim());
/** BENCH_PROFILE=1 (or a directory): the gateway runs under --cpu-prof; the profile is written when it exits */
const PROFILE = process.env.BENCH_PROFILE ? (process.env.BENCH_PROFILE === '1' ? '/tmp/prof' : process.env.BENCH_PROFILE) : null;
const GITHUB_TOKEN = `ghu_${randomBytes(18).toString('hex')}`;
const children: ChildProcess[] = [];

if (MODE !== 'wrk' && MODE !== 'autocannon') throw new Error(`BENCH_MODE must be wrk or autocannon, not ${MODE}`);
if (MODE === 'wrk' && (!ONLY || ONLY === 'throughput') && spawnSync('wrk', ['-v']).error) {
  console.error(
    'wrk is not installed, and BENCH_MODE=wrk (the default) needs it for the throughput cases.\n' +
      '  Debian/Ubuntu: sudo apt-get install -y wrk      macOS: brew install wrk\n' +
      'or run them with autocannon instead: BENCH_MODE=autocannon npm run bench',
  );
  process.exit(2);
}

function start(script: string, args: string[], env: Record<string, string>, nodeArgs: string[] = []): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /(https?:\/\/127\.0\.0\.1:\d+)|"port":(\d+)/.exec(out);
      if (m) resolve({ child, url: m[1] ?? `http://127.0.0.1:${m[2]}` });
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}: ${out}`)));
  });
}

const USER = [{ role: 'user', content: 'Say hello' }];
const chatBody = (extra: object = {}) => JSON.stringify({ model: 'gpt-4o', messages: USER, ...extra });
const body = chatBody;
const messagesBody = (model: string) => ({ model, max_tokens: 256, stream: true, messages: USER });

/** One request shape: where it goes and what it carries. */
interface Req {
  path: string;
  body: string;
  /** extra headers (the gateway's key is added per target) */
  headers?: Record<string, string>;
}

/** A throughput case: what the gateway gets, what the bare pass-through gets, and the ratio to reach. */
interface Case {
  name: string;
  gateway: Req;
  bare: Req;
  target: number;
}

/**
 * The throughput cases. A Messages stream on a GPT model is translated by the gateway
 * (Messages → chat completions upstream → Messages events back); its bare baseline is the bare
 * pass-through piping the chat completions stream that very request becomes upstream (the body
 * the gateway's translator sends), so both make the same upstream call and the ratio counts the
 * translation, both ways, as the gateway's cost. A Claude model goes to Copilot's /v1/messages,
 * and bare pipes the same Messages request to the same /v1/messages.
 */
function cases(): Case[] {
  const anthropic = { 'anthropic-version': '2023-06-01' };
  const translated = messagesBody('gpt-4o');
  // What the gateway sends upstream for it: gpt-4o in the fake's /models takes no thinking budget and caps output at 4096.
  const upstreamChat = messagesToChat(parseMessagesRequest(translated), { model: 'gpt-4o', thinking: null, maxOutputTokens: 4096 });
  const native = JSON.stringify(messagesBody('claude-sonnet-4'));
  const responsesNative = { model: 'gpt-5-codex', input: 'Say hello', stream: true, store: false };
  const responsesTranslated = { model: 'gpt-4o', input: 'Say hello', stream: true, store: false };
  const all: Case[] = [
    { name: 'chat', target: 0.7, gateway: { path: '/v1/chat/completions', body: chatBody() }, bare: { path: '/v1/chat/completions', body: chatBody() } },
    {
      name: 'chat-stream',
      target: 0.6,
      gateway: { path: '/v1/chat/completions', body: chatBody({ stream: true }) },
      bare: { path: '/v1/chat/completions', body: chatBody({ stream: true }) },
    },
    {
      name: 'messages-translated',
      target: 0.6,
      gateway: { path: '/v1/messages', body: JSON.stringify(translated), headers: anthropic },
      bare: { path: '/v1/chat/completions', body: JSON.stringify(upstreamChat) },
    },
    { name: 'messages-native', target: 0.6, gateway: { path: '/v1/messages', body: native, headers: anthropic }, bare: { path: '/v1/messages', body: native, headers: anthropic } },
    // The Responses API, the same way: native on a /responses-only model (bare pipes the body the
    // gateway sends upstream), translated on a chat model (bare pipes the chat stream it becomes).
    // store:false: what is measured is the relay and the translation, not the stored conversation.
    {
      name: 'responses-native',
      target: 0.6,
      gateway: { path: '/v1/responses', body: JSON.stringify(responsesNative) },
      bare: { path: '/v1/responses', body: JSON.stringify(prepareNativeResponsesBody(parseResponsesRequest(responsesNative), responsesNative, { model: 'gpt-5-codex' })) },
    },
    {
      name: 'responses-translated',
      target: 0.6,
      gateway: { path: '/v1/responses', body: JSON.stringify(responsesTranslated) },
      bare: { path: '/v1/chat/completions', body: JSON.stringify(responsesToChat(parseResponsesRequest(responsesTranslated), { model: 'gpt-4o' })) },
    },
  ];
  return CASES ? all.filter((c) => CASES.includes(c.name)) : all;
}

interface Run {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function cannon(url: string, key: string, req: Req, connections: number, duration: number): Promise<Run> {
  const r = await autocannon({
    url: `${url}${req.path}`,
    method: 'POST',
    connections,
    duration,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...req.headers },
    body: req.body,
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx + r.timeouts };
}

/** A Lua long string holding `s` as it is (no escapes to get right). */
function luaString(s: string): string {
  let eq = '=';
  while (s.includes(`]${eq}]`)) eq += '=';
  return `[${eq}[${s}]${eq}]`;
}

/** The wrk script of one case and target: method, path, headers and body, nothing per request. */
function wrkScript(dir: string, name: string, key: string, req: Req): string {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Authorization: `Bearer ${key}`, ...req.headers };
  const file = join(dir, `${name}.lua`);
  writeFileSync(
    file,
    [
      `-- ${name}: POST ${req.path}`,
      'wrk.method = "POST"',
      `wrk.path = ${luaString(req.path)}`,
      ...Object.entries(headers).map(([k, v]) => `wrk.headers[ ${luaString(k)} ] = ${luaString(v)}`),
      `wrk.body = ${luaString(req.body)}`,
      '',
    ].join('\n'),
  );
  return file;
}

/** wrk's durations ("850.00us", "12.31ms", "1.02s", "1.00m") in ms. */
function wrkMs(value: string, unit: string): number {
  const v = Number(value);
  return unit === 'us' ? v / 1000 : unit === 'ms' ? v : unit === 's' ? v * 1000 : v * 60_000;
}

/** `wrk -t1 -c32 -d3s --latency -s <case>.lua <url>`: requests/s, p50, p99, and every non-2xx or socket error. */
function wrk(url: string, script: string, connections: number, duration: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t', String(WRK_THREADS), '-c', String(connections), '-d', `${duration}s`, '--latency', '-s', script, url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      if (code !== 0 || !rps) return reject(new Error(`wrk exited with ${code}:\n${out}`));
      const pct = (p: number) => {
        const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
        return m ? wrkMs(m[1], m[2]) : NaN;
      };
      const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const errors = non2xx + (socket ? socket.slice(1).reduce((a, x) => a + Number(x), 0) : 0);
      resolve({ rps: Number(rps[1]), p50: Number(pct(50).toFixed(2)), p99: Number(pct(99).toFixed(2)), errors });
    });
  });
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

interface StreamLoad {
  p50: number;
  p99: number;
  ttfbP99: number;
  errors: number;
  failures: Record<string, number>;
  wallMs: number;
  driverCpuMs: number;
}

/** Runs bench/stream-load.ts against `url`: `n` streams at once, from a process of its own; `warm` once its connections are open. */
function streamLoad(url: string, key: string, n: number, body: string, warm: () => void): Promise<StreamLoad> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['dist/bench/stream-load.js', url, key, String(n), body], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      if (!out.includes('warm') && (out + d).includes('warm')) warm();
      out += d;
    });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!)) : reject(new Error(`stream-load exited with ${code}: ${out}`))));
  });
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

/** One request through each target before the case is timed: it must answer 200 with the bytes the case expects. */
async function check(name: string, url: string, key: string, req: Req, expect: RegExp) {
  const res = await fetch(`${url}${req.path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...req.headers }, body: req.body });
  const text = await res.text();
  if (res.status !== 200 || !expect.test(text)) throw new Error(`${name} answered ${res.status}: ${text.slice(0, 300)}`);
}

async function main() {
  const redis = await startRedis();
  const fake = await start('dist/test/fake-copilot/main.js', ['0'], { FAKE_SPLIT_WRITES: 'false', FAKE_STREAM_EVENTS: '5' });
  const bare = await start('dist/bench/bare-proxy.js', [], { UPSTREAM: fake.url, GITHUB_TOKEN, PORT: '0', CONNECTIONS: String(Math.max(256, SLOW_STREAMS + 100)) });
  const prefix = 'bench:';
  if (PROFILE) mkdirSync(PROFILE, { recursive: true });
  const profile = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : [];
  const encryptionKey = randomBytes(32).toString('hex');
  /** A gateway replica in Redis mode under `prefix`, rate limit on, GitHub and Copilot at `upstream`. */
  const gatewayEnv = (upstream: string, prefix: string, extra: Record<string, string> = {}): Record<string, string> => ({
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: prefix,
    TOKEN_ENCRYPTION_KEY: encryptionKey,
    GITHUB_API_URL: upstream,
    GITHUB_BASE_URL: upstream,
    GITHUB_TOKEN,
    RATE_LIMIT_ENABLED: 'true',
    RATE_LIMIT_REQUESTS: '1000000000',
    LOG_LEVEL: 'info',
    // The bench stops the gateway at the end: no load balancer to wait for (and a profile gets written at once).
    SHUTDOWN_DELAY_MS: '0',
    DRAIN_TIMEOUT_MS: '1000',
    ...extra,
    // e.g. BENCH_GATEWAY_ENV='{"RATE_LIMIT_ENABLED":"false"}' to see what one setting costs
    ...(process.env.BENCH_GATEWAY_ENV ? JSON.parse(process.env.BENCH_GATEWAY_ENV) : {}),
  });
  const gateway = await start(
    'dist/apps/all/src/main.js',
    ['gateway'],
    // Each upstream stream holds one HTTP/1.1 connection: 1000 concurrent streams need more than the default 256.
    gatewayEnv(fake.url, prefix, { HTTP_MAX_CONNECTIONS: String(Math.max(256, SLOW_STREAMS + 100)) }),
    ONLY === 'streams' ? [] : profile,
  );
  const gatewayUrl = gateway.url.replace('0.0.0.0', '127.0.0.1');
  const gateways = new Set([gateway.child]);
  /** the gateway under BENCH_PROFILE: this one, or in the streams mode gateway-h2 */
  let profiled = gateway.child;

  /** An issued key for the account GITHUB_TOKEN registers at a gateway's start, under `prefix`. */
  async function issueKey(github: Client, prefix: string): Promise<string> {
    const res = await github.request({ method: 'GET', path: '/user', headers: { authorization: `Bearer ${GITHUB_TOKEN}` } });
    const user = (await res.body.json()) as { id: number };
    const conns = RedisConnections.single(redis.url, prefix);
    await conns.connect();
    const key = generateApiKey();
    for (let i = 0; i < 50 && !(await new RedisStore(conns).getAccount(`acc_${user.id}`)); i++) await sleep(100);
    await new RedisStore(conns).putKey({ id: 'key_bench', hash: sha256(key), account_id: `acc_${user.id}`, name: 'bench', prefix: key.slice(0, 11), created_at: new Date().toISOString(), last_used_at: null, expires_at: null, revoked_at: null });
    await conns.onModuleDestroy();
    return key;
  }
  const plainFake = new Client(fake.url);
  const key = await issueKey(plainFake, prefix);

  const targets = { bare: { url: bare.url, key: 'unused' }, gateway: { url: gatewayUrl, key } };
  const lines: string[] = [];
  const say = (s: string) => {
    console.log(s);
    lines.push(s);
  };
  const driver = MODE === 'wrk' ? `wrk -t${WRK_THREADS} -c${CONNECTIONS}` : `autocannon, ${CONNECTIONS} connections`;
  say(`node ${process.version}, ${driver}, ${DURATION}s x ${ROUNDS} rounds per target, interleaved bare/gateway`);

  const scripts = mkdtempSync(join(tmpdir(), 'cgw-bench-'));
  try {
    if (!ONLY || ONLY === 'throughput') await measureThroughput();
    if (!ONLY || ONLY === 'latency') await measureLatency();
    if (!ONLY || ONLY === 'slow') await measureSlowStreams();
    if (ONLY === 'streams') await measureStreams();
    if (HOLD) await hold();
  } finally {
    rmSync(scripts, { recursive: true, force: true });
  }

  /** Leaves everything running for measurements by hand: wrk, curl, a profiler attached to the gateway. */
  async function hold() {
    console.log(`fake ${fake.url}  bare ${bare.url} (pid ${bare.child.pid})  gateway ${gatewayUrl} (pid ${gateway.child.pid})  redis ${redis.url}\nkey ${key}`);
    for (const c of cases())
      for (const tn of ['bare', 'gateway'] as const)
        console.log(`wrk -t${WRK_THREADS} -c${CONNECTIONS} -d${DURATION}s --latency -s ${wrkScript(scripts, `${c.name}-${tn}`, targets[tn].key, c[tn])} ${targets[tn].url}`);
    console.log('Ctrl-C to stop');
    await new Promise((resolve) => process.once('SIGINT', resolve));
  }

  async function measureThroughput() {
    for (const c of cases()) {
      const expect = c.name === 'chat' ? /"choices"/ : c.name === 'chat-stream' ? /\[DONE\]/ : c.name.startsWith('responses') ? /response\.completed/ : /message_stop/;
      await check(`${c.name} gateway`, gatewayUrl, key, c.gateway, expect);
      await check(`${c.name} bare`, bare.url, 'unused', c.bare, c.name.endsWith('-translated') ? /\[DONE\]/ : expect);
      const load = (tn: 'bare' | 'gateway', duration: number): Promise<Run> => {
        const req = c[tn];
        if (MODE === 'autocannon') return cannon(targets[tn].url, targets[tn].key, req, CONNECTIONS, duration);
        return wrk(targets[tn].url, wrkScript(scripts, `${c.name}-${tn}`, targets[tn].key, req), CONNECTIONS, duration);
      };
      for (const tn of ['bare', 'gateway'] as const) await load(tn, 1); // warm-up
      const bares: Run[] = [];
      const gateways: Run[] = [];
      const ratios: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        // Alternate which goes first, so neither always gets the fresher machine.
        const order = r % 2 ? (['gateway', 'bare'] as const) : (['bare', 'gateway'] as const);
        const got: Partial<Record<'bare' | 'gateway', Run>> = {};
        for (const tn of order) got[tn] = await load(tn, DURATION);
        bares.push(got.bare!);
        gateways.push(got.gateway!);
        ratios.push(got.gateway!.rps / got.bare!.rps);
      }
      for (const [tn, rs] of [
        ['bare', bares],
        ['gateway', gateways],
      ] as const) {
        const errors = rs.reduce((a, x) => a + x.errors, 0);
        say(`${c.name.padEnd(19)} ${tn.padEnd(7)} ${median(rs.map((x) => x.rps)).toFixed(0).padStart(6)} req/s  p50 ${median(rs.map((x) => x.p50))} ms  p99 ${median(rs.map((x) => x.p99))} ms  errors ${errors}`);
      }
      say(`${c.name.padEnd(19)} ratio gateway/bare = ${median(ratios).toFixed(2)}, median of ${ROUNDS} paired rounds [${ratios.map((x) => x.toFixed(2)).join(' ')}] (target >= ${c.target.toFixed(2)})`);
    }
  }

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
      // What the process holds before the streams (the throughput cases may have grown its heap).
      const startRss = rssMiB(pid);
      let peakRss = startRss;
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMiB(pid))), 50);
      const r = await slowStreams(t.url, t.key, SLOW_STREAMS);
      clearInterval(sampler);
      say(
        `slow streams ${tn.padEnd(7)} ${SLOW_STREAMS} concurrent x 40 events @ 50 ms: first byte p99 ${r.ttfbP99.toFixed(0)} ms, ` +
          `complete p50 ${r.p50.toFixed(0)} ms p99 ${r.p99.toFixed(0)} ms (target <= 2400), errors ${r.errors}, RSS ${startRss.toFixed(0)} → peak ${peakRss.toFixed(0)} MiB` +
          (tn === 'gateway' ? ' (target <= 200)' : ''),
      );
    }
  }

  /**
   * Concurrent streams on one replica (issue 15; BENCH_ONLY=streams): each stream's first token at
   * 200 ms, then 20 chunks 100 ms apart (about 2.1 s), all started at once by a load generator of
   * their own (bench/stream-load.ts). The targets, each a process, one at a time:
   * - bare-h2, the bare pass-through on undici's own HTTP/2 (Pool with allowH2), and gateway-h2
   *   (UPSTREAM_HTTP2 on, the default), against an HTTPS fake that speaks HTTP/2 and advertises
   *   1,000 streams per connection;
   * - gateway-h1-tls: UPSTREAM_HTTP2=false against that fake (HTTP/1.1 by ALPN);
   * - bare-h1 and gateway-h1 over plain HTTP/1.1, as before.
   * Each has a fake of its own. The gateways keep the default HTTP_MAX_CONNECTIONS (256). Upstream
   * connections are counted at the fake (the most TCP connections open at once during a run, idle
   * ones from earlier runs included); RSS is sampled every 50 ms.
   */
  async function measureStreams() {
    const certs = makeTestCertificates();
    const trust = { NODE_EXTRA_CA_CERTS: certs.caFile };
    const ca = readFileSync(certs.caFile);
    const clients: Client[] = [];
    /** Each target has a fake of its own, so that what the fake counts is that target's. */
    const fakeAt = async (tls: boolean) => {
      const tlsEnv = { FAKE_TLS_KEY: certs.keyFile, FAKE_TLS_CERT: certs.certFile, FAKE_MAX_CONCURRENT_STREAMS: '1000' };
      const { url } = await start('dist/test/fake-copilot/main.js', ['0'], { FAKE_SPLIT_WRITES: 'false', ...(tls ? tlsEnv : {}) });
      // This process started without NODE_EXTRA_CA_CERTS: it asks the fake with the CA in hand.
      const client = new Client(url, tls ? { connect: { ca } } : {});
      clients.push(client);
      return { url, client };
    };
    const gatewayAt = async (tls: boolean, prefix: string, env: Record<string, string>, nodeArgs: string[] = []) => {
      const upstream = await fakeAt(tls);
      const proc = await start('dist/apps/all/src/main.js', ['gateway'], gatewayEnv(upstream.url, prefix, { ...(tls ? trust : {}), ...env }), nodeArgs);
      gateways.add(proc.child);
      if (nodeArgs.length) profiled = proc.child;
      return { proc, key: await issueKey(upstream.client, prefix), upstream: upstream.client };
    };
    const bareAt = async (tls: boolean, env: Record<string, string>) => {
      const upstream = await fakeAt(tls);
      const proc = await start('dist/bench/bare-proxy.js', [], { UPSTREAM: upstream.url, GITHUB_TOKEN, PORT: '0', ...(tls ? trust : {}), ...env });
      return { proc, key: 'unused', upstream: upstream.client };
    };
    const all = {
      'bare-h2': () => bareAt(true, { H2: 'true' }),
      'gateway-h2': () => gatewayAt(true, 'bench-h2:', {}, profile),
      'gateway-h1-tls': () => gatewayAt(true, 'bench-h1-tls:', { UPSTREAM_HTTP2: 'false' }),
      'bare-h1': () => bareAt(false, { CONNECTIONS: String(Math.max(...STREAMS) + 100) }),
      'gateway-h1': () => gatewayAt(false, 'bench-h1:', {}),
    };
    const names = (Object.keys(all) as (keyof typeof all)[]).filter((n) => !STREAM_TARGETS || STREAM_TARGETS.includes(n));
    const running = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await all[n]()] as const)));
    const payload = chatBody({ stream: true, fake_stream: { events: 20, interval_ms: 100, first_ms: 200 } });
    const p99s: Record<string, number> = {};
    say(`streams: ${STREAMS.join(', ')} at once, first token at 200 ms then 20 chunks 100 ms apart; the fake advertises 1,000 streams per HTTP/2 connection`);
    try {
      for (const n of STREAMS) {
        for (const name of names) {
          const { proc, key, upstream } = running[name];
          const fakeStats = async (method: 'GET' | 'DELETE') =>
            (await (await upstream.request({ method, path: '/_fake/connections' })).body.json()) as {
              peak: number;
              http2: { sessions: number; peakSessions: number; peakStreams: number };
            };
          const before = await fakeStats('DELETE');
          const pid = proc.child.pid!;
          const startRss = rssMiB(pid);
          let peakRss = startRss;
          const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMiB(pid))), 50);
          let warmRss = 0;
          const r = await streamLoad(proc.url, key, n, payload, () => ((warmRss = peakRss), (peakRss = rssMiB(pid))));
          clearInterval(sampler);
          const after = await fakeStats('GET');
          p99s[`${name} ${n}`] = r.p99;
          const sessions = after.http2.sessions - before.http2.sessions;
          say(
            `streams ${String(n).padStart(5)} ${name.padEnd(14)} complete p50 ${r.p50} ms p99 ${r.p99} ms (first byte p99 ${r.ttfbP99} ms), ` +
              `errors ${r.errors}${r.errors ? ` ${JSON.stringify(r.failures)}` : ''}, upstream connections ${after.peak}` +
              (name.endsWith('h2') ? ` (HTTP/2: ${after.http2.peakSessions} at most, ${sessions} made, at most ${after.http2.peakStreams} streams on one)` : '') +
              `, RSS ${startRss.toFixed(0)} → ${warmRss.toFixed(0)} after the connections' first requests → peak ${peakRss.toFixed(0)} MiB streaming; load generator CPU ${(r.driverCpuMs / 1000).toFixed(1)} s in ${(r.wallMs / 1000).toFixed(1)} s`,
          );
        }
        const ratio = p99s[`gateway-h2 ${n}`] / p99s[`bare-h2 ${n}`];
        if (Number.isFinite(ratio)) say(`streams ${String(n).padStart(5)} p99 gateway-h2 / bare-h2 = ${ratio.toFixed(2)}${n === 1000 ? ' (target <= 1.20)' : ''}`);
      }
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      rmSync(certs.dir, { recursive: true, force: true });
    }
  }

  // SIGINT: a gateway skips its load-balancer delay; under BENCH_PROFILE, wait for the profiled one to write its profile.
  const profiledExit = new Promise((r) => profiled.once('exit', r));
  for (const c of children) c.kill(gateways.has(c) ? 'SIGINT' : 'SIGTERM');
  await Promise.race([profiledExit, sleep(PROFILE ? 15_000 : 500)]);
  await plainFake.close();
  if (PROFILE) say(`gateway CPU profile written to ${PROFILE} (summary: node dist/bench/profile-top.js ${PROFILE}/<file>.cpuprofile)`);
  await redis.stop();
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => children.forEach((c) => c.exitCode === null && c.signalCode === null && c.kill('SIGKILL')));

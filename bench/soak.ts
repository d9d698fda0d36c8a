import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { freePort, startRedis } from '../test/support/redis-server.js';

/**
 * `npm run soak`: SOAK_SECONDS (600) of mixed traffic through two gateway replicas and an auth
 * replica on one Redis, in front of the fake upstream (its own process). Every SAMPLE_SECONDS it
 * reads each gateway's RSS (/proc) and event-loop lag p99 (its /metrics, which resets the lag
 * histogram at each scrape). Reports RSS growth, lag, and every error; see docs/reliability.md.
 */
const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const SAMPLE_SECONDS = Number(process.env.SOAK_SAMPLE_SECONDS ?? 10);
const WORKERS = Number(process.env.SOAK_CONCURRENCY ?? 24);
const ACCOUNTS = 20;
const ADMIN_TOKEN = randomBytes(24).toString('hex');
const children: ChildProcess[] = [];

function spawnNode(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH!, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  child.stderr!.on('data', (d) => process.stderr.write(d));
  return child;
}

async function waitFor(child: ChildProcess, pattern: RegExp): Promise<string> {
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = pattern.exec(out);
      if (m) resolve(m[1] ?? m[0]);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
  });
}

async function startApp(role: 'gateway' | 'auth', env: Record<string, string>) {
  const port = await freePort();
  const child = spawnNode(['dist/apps/all/src/main.js', role], { ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', DATA_DIR: mkdtempSync(join(tmpdir(), 'soak-')) });
  await waitFor(child, /listening on/);
  return { child, url: `http://127.0.0.1:${port}`, pid: child.pid! };
}

const agent = new Agent({ connections: WORKERS * 2, keepAliveTimeout: 30_000 });
async function call(url: string, init: { method?: 'GET' | 'POST'; key: string; body?: unknown }): Promise<number> {
  const res = await request(url, {
    method: init.method ?? 'GET',
    dispatcher: agent,
    headers: { authorization: `Bearer ${init.key}`, 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
  });
  await res.body.dump({ limit: Infinity });
  return res.statusCode;
}

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
async function lagP99Ms(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^nodejs_eventloop_lag_p99_seconds (\S+)/m.exec(text)?.[1] ?? NaN) * 1000;
}

async function main() {
  const redis = await startRedis();
  const fake = spawnNode(['dist/test/fake-copilot/main.js', '0'], { FAKE_STREAM_EVENTS: '10', FAKE_STREAM_INTERVAL_MS: '20' });
  const fakeUrl = await waitFor(fake, /(http:\/\/\S+)/);
  const env = {
    REDIS_URL: redis.url,
    TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    GITHUB_API_URL: fakeUrl,
    GITHUB_BASE_URL: fakeUrl,
    ADMIN_TOKEN,
    RATE_LIMIT_REQUESTS: '1000000',
  };
  const auth = await startApp('auth', env);
  const gateways = [await startApp('gateway', env), await startApp('gateway', env)];

  const keys: string[] = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    const res = await fetch(`${auth.url}/auth/accounts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ github_token: `ghu_${randomBytes(18).toString('hex')}` }),
    });
    keys.push((await res.json()).key.key);
  }

  // The mix: what each request is, what answer it expects.
  const mix: { name: string; weight: number; expect: number; run: (gw: string, key: string) => Promise<number> }[] = [
    { name: 'chat', weight: 45, expect: 200, run: (gw, key) => call(`${gw}/v1/chat/completions`, { method: 'POST', key, body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] } }) },
    { name: 'stream', weight: 30, expect: 200, run: (gw, key) => call(`${gw}/v1/chat/completions`, { method: 'POST', key, body: { model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] } }) },
    { name: 'models', weight: 10, expect: 200, run: (gw, key) => call(`${gw}/v1/models`, { key }) },
    { name: 'embeddings', weight: 5, expect: 200, run: (gw, key) => call(`${gw}/v1/embeddings`, { method: 'POST', key, body: { model: 'text-embedding-3-small', input: ['a', 'b'] } }) },
    { name: 'bad_key', weight: 5, expect: 401, run: (gw) => call(`${gw}/v1/models`, { key: `sk-cgw-${randomBytes(16).toString('hex')}` }) },
    { name: 'bad_body', weight: 5, expect: 400, run: (gw, key) => call(`${gw}/v1/chat/completions`, { method: 'POST', key, body: '{"model":' }) },
  ];
  const total = mix.reduce((a, m) => a + m.weight, 0);
  const pick = () => {
    let r = Math.random() * total;
    for (const m of mix) if ((r -= m.weight) < 0) return m;
    return mix[0];
  };
  const counts: Record<string, { ok: number; unexpected: Record<string, number> }> = Object.fromEntries(mix.map((m) => [m.name, { ok: 0, unexpected: {} }]));

  const samples: { t: number; rss: number[]; lagP99: number[]; requests: number }[] = [];
  let requests = 0;
  const started = Date.now();
  const deadline = started + SECONDS * 1000;
  const workers = Array.from({ length: WORKERS }, async (_, w) => {
    for (let i = 0; Date.now() < deadline; i++) {
      const m = pick();
      const gw = gateways[(w + i) % 2].url;
      let status: number | string;
      try {
        status = await m.run(gw, keys[(w * 7 + i) % keys.length]);
      } catch (err) {
        status = (err as NodeJS.ErrnoException).code ?? 'network';
      }
      requests++;
      if (status === m.expect) counts[m.name].ok++;
      else counts[m.name].unexpected[status] = (counts[m.name].unexpected[status] ?? 0) + 1;
    }
  });
  const sampler = (async () => {
    while (Date.now() < deadline) {
      await sleep(SAMPLE_SECONDS * 1000);
      const sample = {
        t: Math.round((Date.now() - started) / 1000),
        rss: gateways.map((g) => Math.round(rssMiB(g.pid))),
        lagP99: await Promise.all(gateways.map((g) => lagP99Ms(g.url).then((v) => Math.round(v * 10) / 10))),
        requests,
      };
      samples.push(sample);
      console.error(`[soak] t=${sample.t}s requests=${requests} rss=${sample.rss.join('/')} MiB lag p99=${sample.lagP99.join('/')} ms`);
    }
  })();
  await Promise.all([...workers, sampler]);

  const errors = Object.values(counts).reduce((a, c) => a + Object.values(c.unexpected).reduce((x, y) => x + y, 0), 0);
  // Heap growth shows as a trend, not as one sample (a GC can drop RSS by 60 MiB): compare the
  // median of the second minute with the median of the last.
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const window = (from: number, to: number, i: number) => samples.filter((s) => s.t > from && s.t <= to).map((s) => s.rss[i]);
  const early = gateways.map((_, i) => median(window(60, 120, i).length ? window(60, 120, i) : samples.map((s) => s.rss[i])));
  const late = gateways.map((_, i) => median(window(SECONDS - 60, SECONDS + SAMPLE_SECONDS, i)));
  const lags = samples.flatMap((s) => s.lagP99).sort((a, b) => a - b);
  const report = {
    seconds: SECONDS,
    concurrency: WORKERS,
    requests,
    requests_per_second: Math.round(requests / SECONDS),
    unexpected_answers: errors,
    by_kind: counts,
    rss_mib: {
      second_minute_median: early,
      last_minute_median: late,
      growth: late.map((r, i) => r - early[i]),
      min: gateways.map((_, i) => Math.min(...samples.map((s) => s.rss[i]))),
      max: gateways.map((_, i) => Math.max(...samples.map((s) => s.rss[i]))),
    },
    event_loop_lag_p99_ms: { median_of_samples: lags[Math.floor(lags.length / 2)], worst_sample: lags.at(-1) },
    samples,
  };
  mkdirSync('test-artifacts/reliability', { recursive: true });
  writeFileSync('test-artifacts/reliability/soak.json', JSON.stringify(report, null, 2));
  const { samples: _, ...summary } = report;
  console.log(JSON.stringify(summary, null, 2));
  await agent.close();
  children.forEach((c) => c.kill('SIGTERM'));
  await redis.stop();
  process.exit(errors ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  children.forEach((c) => c.kill('SIGKILL'));
  process.exit(1);
});

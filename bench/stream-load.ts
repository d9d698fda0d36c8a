import { Pool } from 'undici';

/**
 * The load generator of `npm run bench`'s concurrent-streams mode (BENCH_ONLY=streams), a process
 * of its own so that the thousands of streams it reads do not share an event loop with what it
 * measures:
 *   node dist/bench/stream-load.js <url> <key> <streams> '<chat body>'
 * Opens <streams> keep-alive connections (one request each, as SDK clients hold them), then starts
 * that many streams at once and times each from request to last byte. A stream counts as an error
 * when it does not answer 200, carries an error event, or ends without [DONE]. Prints `warm` once
 * the connections are open, then one line of JSON: the percentiles, the errors, and the CPU this
 * process used while streaming (to see that it is not the limit).
 */
const [url, key, count, body] = process.argv.slice(2);
const n = Number(count);
const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
const pool = new Pool(url, { connections: n, pipelining: 1, bodyTimeout: 120_000, headersTimeout: 120_000 });

const warm = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello' }] });
await Promise.all(Array.from({ length: n }, () => pool.request({ method: 'POST', path: '/v1/chat/completions', headers, body: warm }).then((r) => r.body.text())));
console.log('warm');

const cpu = process.cpuUsage();
const ttfb: number[] = [];
const failures: Record<string, number> = {};
const fail = (why: string) => (failures[why] = (failures[why] ?? 0) + 1);
const t0 = performance.now();
const times = await Promise.all(
  Array.from({ length: n }, async () => {
    const t = performance.now();
    try {
      const res = await pool.request({ method: 'POST', path: '/v1/chat/completions', headers, body });
      ttfb.push(performance.now() - t);
      let tail = '';
      let broken = false;
      // 'data' listeners: async iteration over 100,000 chunks would cost more than the servers measured
      await new Promise<void>((ok, no) => {
        res.body.setEncoding('utf8');
        res.body.on('data', (d: string) => {
          if (d.includes('"error"')) broken = true;
          tail = (tail + d).slice(-20);
        });
        res.body.on('end', ok);
        res.body.on('error', no);
      });
      if (res.statusCode !== 200) fail(`status ${res.statusCode}`);
      else if (broken) fail('error event');
      else if (!tail.includes('[DONE]')) fail('no [DONE]');
    } catch (err) {
      fail((err as { code?: string }).code ?? String(err));
    }
    return performance.now() - t;
  }),
);
const wall = performance.now() - t0;
const used = process.cpuUsage(cpu);
await pool.destroy();

times.sort((a, b) => a - b);
ttfb.sort((a, b) => a - b);
const pct = (xs: number[], p: number) => Math.round(xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN);
const errors = Object.values(failures).reduce((a, b) => a + b, 0);
console.log(
  JSON.stringify({
    streams: n,
    p50: pct(times, 50),
    p99: pct(times, 99),
    max: pct(times, 100),
    ttfbP99: pct(ttfb, 99),
    errors,
    failures,
    wallMs: Math.round(wall),
    driverCpuMs: Math.round((used.user + used.system) / 1000),
  }),
);

import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { startFake } from '../support/gateway.js';
import { ADMIN_TOKEN, clusterEnv, issueKey, registerAccount, startProcess, type AppProcess } from '../support/processes.js';
import { startRedis, type RunningRedis } from '../support/redis-server.js';

/**
 * Issue 13, items 1 and 2, on real processes: usage counted on every replica is exact in
 * GET /auth/usage (2 gateway replicas, 1,000 requests); a replica SIGTERMed right after a burst,
 * before its 1 s flush, loses nothing; embedded mode keeps its counts across a restart.
 */
let fake: FakeCopilot;
let redis: RunningRedis;
let auth: AppProcess;
let gateways: AppProcess[] = [];

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const usage = async (base: string, query: string) => {
  const res = await fetch(`${base}/auth/usage?${query}`, { headers: admin });
  return { status: res.status, type: res.headers.get('content-type'), body: res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text() };
};

/** One account per GitHub user, its first key and `extraKeys` more, through the admin API. */
async function account(base: string, extraKeys: number) {
  const token = `ghu_${randomBytes(18).toString('hex')}`;
  fake.addUser(token, { login: `u${randomBytes(3).toString('hex')}`, id: 5000 + Math.floor(Math.random() * 1e6) });
  const first = await registerAccount(base, token);
  const keys = [{ key: first.key, keyId: first.keyId }];
  for (let i = 0; i < extraKeys; i++) keys.push(await issueKey(base, first.accountId));
  return { accountId: first.accountId, keys };
}

interface Sent {
  keyId: string;
  accountId: string;
  model: string;
  status: number;
  input: number;
  output: number;
}

/** A chat completion (stream or not), with the usage the client was told; fails the test on anything but 200. */
async function chat(base: string, key: string, model: string, stream: boolean, nano: number): Promise<{ status: number; input: number; output: number }> {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model,
      messages: [{ role: 'user', content: 'Hello' }],
      fake_usage: { total_nano_aiu: nano },
      ...(stream ? { stream: true, stream_options: { include_usage: true }, fake_stream: { events: 1 + (nano % 4), interval_ms: 0 } } : {}),
    }),
  });
  const text = await res.text();
  if (res.status !== 200) return { status: res.status, input: 0, output: 0 };
  const usage = stream
    ? text
        .split('\n\n')
        .filter((b) => b.startsWith('data: {'))
        .map((b) => JSON.parse(b.slice(6)))
        .find((c) => c.usage)?.usage
    : JSON.parse(text).usage;
  if (!usage) throw new Error(`no usage in the answer: ${text.slice(0, 300)}`);
  return { status: 200, input: usage.prompt_tokens, output: usage.completion_tokens };
}

/** Polls until the report counts `requests` in all (flushes are every second), then a little longer to catch an over-count. */
async function settled(base: string, query: string, requests: number) {
  const deadline = Date.now() + 10_000;
  let rows: any[] = [];
  while (Date.now() < deadline) {
    rows = (await usage(base, query)).body.data;
    if (rows.reduce((s, r) => s + r.requests, 0) >= requests) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 1500));
  return (await usage(base, query)).body.data as any[];
}

const sum = (list: Sent[], pick: (s: Sent) => number) => list.reduce((a, s) => a + pick(s), 0);
const metricSum = (text: string, name: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);

beforeAll(async () => {
  fake = await startFake();
  redis = await startRedis();
  const env = clusterEnv(redis.url, fake.url, { RATE_LIMIT_REQUESTS: '100000' });
  auth = await startProcess('auth', env);
  gateways = await Promise.all([startProcess('gateway', env), startProcess('gateway', env)]);
}, 60_000);
afterAll(async () => {
  await Promise.all([auth?.kill(), ...gateways.map((g) => g.kill())]);
  await redis?.stop();
  await fake?.stop();
});

describe('GET /auth/usage on two gateway replicas', () => {
  it('counts 1,000 requests over both replicas exactly: per key, per model, per account', async () => {
    const accounts = [await account(auth.url, 2), await account(auth.url, 1)];
    const keys = accounts.flatMap((a) => a.keys.map((k) => ({ ...k, accountId: a.accountId })));
    const models = ['gpt-4o', 'gpt-4.1', 'claude-haiku-4.5'];
    const multiplier: Record<string, number> = { 'gpt-4o': 0, 'gpt-4.1': 0, 'claude-haiku-4.5': 0.33 };
    const sent: Sent[] = [];
    let nanoSent = 0;
    const N = 1000;
    let next = 0;
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < N) {
          const i = next++;
          const k = keys[i % keys.length];
          const model = models[Math.floor(i / keys.length) % models.length];
          const nano = 1000 + i;
          const r = await chat(gateways[i % 2].url, k.key, model, i % 3 === 0, nano);
          sent.push({ keyId: k.keyId, accountId: k.accountId, model, ...r });
          if (r.status === 200) nanoSent += nano;
        }
      }),
    );
    const ok = sent.filter((s) => s.status === 200);
    expect(ok).toHaveLength(N);

    const rows = await settled(auth.url, 'group_by=key,model&from=' + (t0 - 3_600_000), N);
    const expected = new Map<string, { requests: number; input_tokens: number; output_tokens: number; premium_requests: number; errors: number }>();
    for (const s of sent) {
      const id = `${s.keyId} ${s.model}`;
      const e = expected.get(id) ?? { requests: 0, input_tokens: 0, output_tokens: 0, premium_requests: 0, errors: 0 };
      e.requests++;
      e.input_tokens += s.input;
      e.output_tokens += s.output;
      e.premium_requests = Math.round((e.premium_requests + multiplier[s.model]) * 1000) / 1000;
      expected.set(id, e);
    }
    expect(rows).toHaveLength(expected.size);
    for (const row of rows) expect({ requests: row.requests, input_tokens: row.input_tokens, output_tokens: row.output_tokens, premium_requests: row.premium_requests, errors: row.errors }).toEqual(expected.get(`${row.key_id} ${row.model}`));

    // Per model and per account: the same sums, grouped by the store.
    const byModel = (await usage(auth.url, 'group_by=model&from=' + (t0 - 3_600_000))).body.data;
    for (const model of models) {
      const mine = ok.filter((s) => s.model === model);
      expect(byModel.find((r: any) => r.model === model)).toMatchObject({
        requests: mine.length,
        input_tokens: sum(mine, (s) => s.input),
        output_tokens: sum(mine, (s) => s.output),
        premium_requests: Math.round(mine.length * multiplier[model] * 1000) / 1000,
      });
    }
    const byAccount = (await usage(auth.url, 'group_by=account&from=' + (t0 - 3_600_000))).body.data;
    expect(byAccount.map((r: any) => [r.account_id, r.requests]).sort()).toEqual(accounts.map((a) => [a.accountId, ok.filter((s) => s.accountId === a.accountId).length]).sort());
    const [total] = (await usage(auth.url, 'from=' + (t0 - 3_600_000))).body.data;
    expect(total).toEqual({ requests: N, input_tokens: sum(ok, (s) => s.input), output_tokens: sum(ok, (s) => s.output), premium_requests: Math.round(fake.premiumRequests() * 1000) / 1000, errors: 0 });

    // The metrics of both replicas add up to the same: premium requests and credits.
    const metrics = await Promise.all(gateways.map((g) => fetch(`${g.url}/metrics`).then((r) => r.text())));
    expect(Math.round(metrics.reduce((a, m) => a + metricSum(m, 'cgw_premium_requests_total'), 0) * 1000) / 1000).toBe(total.premium_requests);
    expect(metrics.reduce((a, m) => a + metricSum(m, 'cgw_credits_nano_aiu_total'), 0)).toBe(nanoSent);
    for (const m of metrics) expect(m).toMatch(/^cgw_usage_flush_lag_seconds 0$/m);
    console.log(
      `[usage] ${N} requests over 2 replicas: report requests=${total.requests} input=${total.input_tokens} output=${total.output_tokens} premium=${total.premium_requests}; ` +
        `${rows.length} key×model rows, all equal to what was sent`,
    );
  }, 60_000);

  it('counts errors, buckets by hour and day, and exports CSV', async () => {
    const { keys } = await account(auth.url, 0);
    const t0 = Date.now();
    await chat(gateways[0].url, keys[0].key, 'gpt-4o', false, 1);
    const bad = await fetch(`${gateways[1].url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys[0].key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], fake_fault: 'html_500' }),
    });
    await bad.text();
    const rows = await settled(auth.url, `group_by=key&from=${t0 - 1000}`, 1);
    const row = rows.find((r) => r.key_id === keys[0].keyId);
    expect(bad.status).toBeGreaterThanOrEqual(500);
    expect(row).toMatchObject({ requests: 2, errors: 1 });

    const hourly = (await usage(auth.url, `group_by=key&bucket=hour&from=${new Date(t0 - 3_600_000).toISOString()}`)).body.data;
    const mine = hourly.filter((r: any) => r.key_id === keys[0].keyId);
    expect(mine.reduce((s: number, r: any) => s + r.requests, 0)).toBe(row.requests);
    expect(mine[0].bucket_start).toMatch(/T\d{2}:00:00\.000Z$/);
    const daily = (await usage(auth.url, `group_by=key&bucket=day&from=${Math.floor((t0 - 86_400_000) / 1000)}`)).body.data;
    expect(daily.find((r: any) => r.key_id === keys[0].keyId).bucket_start).toMatch(/T00:00:00\.000Z$/);

    const csv = await usage(auth.url, `group_by=key,model&bucket=day&format=csv`);
    expect(csv.status).toBe(200);
    expect(csv.type).toMatch(/^text\/csv/);
    const lines = (csv.body as string).trim().split('\r\n');
    expect(lines[0]).toBe('key_id,model,bucket_start,requests,input_tokens,output_tokens,premium_requests,errors');
    expect(lines.some((l) => l.startsWith(`${keys[0].keyId},gpt-4o,`))).toBe(true);
  }, 30_000);

  it('refuses bad parameters with 400 in OpenAI shape, and anyone without the admin token', async () => {
    for (const [query, param] of [
      ['group_by=user', 'group_by'],
      ['from=yesterday', 'from'],
      ['to=2020-01-01&from=2021-01-01', 'from'],
      ['bucket=week', 'bucket'],
      ['format=xml', 'format'],
      ['bucket=hour&from=2020-01-01', 'from'],
    ]) {
      const res = await usage(auth.url, query);
      expect(res.status, query).toBe(400);
      expect(res.body).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param, code: 'invalid_value' } });
    }
    const anon = await fetch(`${auth.url}/auth/usage`);
    expect(anon.status).toBe(401);
    expect((await anon.json()).error.code).toBe('missing_admin_token');
  });
});

describe('a replica SIGTERMed right after a burst', () => {
  it('loses nothing: its last batch is flushed in the drain, before Redis closes', async () => {
    const env = clusterEnv(redis.url, fake.url, { RATE_LIMIT_REQUESTS: '100000', DRAIN_TIMEOUT_MS: '5000' });
    const replica = await startProcess('gateway', env);
    const { keys } = await account(auth.url, 0);
    const key = keys[0];
    const raw = new Redis(redis.url);
    const day = new Date().toISOString().slice(0, 10).replaceAll('-', '');
    const stored = async () => Number((await raw.hget(`cgw:{usage}:k:${key.keyId}:day:${day}`, 'r')) ?? 0);
    try {
      // A burst; if a 1 s flush happened to land between its end and the look at Redis, another.
      let sentOk = 0;
      let before = 0;
      for (let attempt = 0; attempt < 3 && before === sentOk; attempt++) {
        const results = await Promise.all(Array.from({ length: 200 }, (_, i) => chat(replica.url, key.key, 'gpt-4o', i % 2 === 0, 1)));
        sentOk += results.filter((r) => r.status === 200).length;
        before = await stored();
      }
      expect(before).toBeLessThan(sentOk); // some of it only in the replica's batch
      // And one stream still open when the signal comes: the drain lets it finish, and counts it.
      const open = fetch(`${replica.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Hi' }], fake_stream: { events: 8, interval_ms: 100 } }),
      }).then((r) => r.text());
      await new Promise((r) => setTimeout(r, 150));
      replica.child.kill('SIGTERM');
      expect(await replica.exited).toBe(0);
      expect(await open).toContain('[DONE]');
      const after = await stored();
      console.log(`[usage] SIGTERM after a burst: ${sentOk + 1} requests sent, ${before} in Redis before the signal, ${after} after the exit`);
      expect(after).toBe(sentOk + 1);
      expect(replica.output()).not.toContain('could not be written');
    } finally {
      await raw.quit();
      await replica.kill();
    }
  }, 60_000);
});

describe('embedded mode', () => {
  it('keeps its usage across a restart (DATA_DIR/usage.json)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cgw-usage-emb-'));
    const env = { GITHUB_API_URL: fake.url, GITHUB_BASE_URL: fake.url, ADMIN_TOKEN, DATA_DIR: dataDir };
    let p = await startProcess('all', env);
    try {
      const { keys } = await account(p.url, 0);
      for (let i = 0; i < 20; i++) expect((await chat(p.url, keys[0].key, i < 5 ? 'claude-haiku-4.5' : 'gpt-4o', false, 1)).status).toBe(200);
      const live = (await usage(p.url, 'group_by=key')).body.data;
      expect(live).toEqual([{ key_id: keys[0].keyId, requests: 20, input_tokens: 240, output_tokens: 100, premium_requests: 1.65, errors: 0 }]);
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
      p = await startProcess('all', env);
      expect((await usage(p.url, 'group_by=key')).body.data).toEqual(live);
      const byModel = (await usage(p.url, 'group_by=model&bucket=day')).body.data;
      expect(byModel.map((r: any) => [r.model, r.requests])).toEqual([
        ['claude-haiku-4.5', 5],
        ['gpt-4o', 15],
      ]);
    } finally {
      await p.kill();
    }
  }, 60_000);
});

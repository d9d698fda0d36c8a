import { Redis } from 'ioredis';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RedisKeys } from '#libs/redis';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { accountWithKey, chatBody, startFake, startGateway, uniquePrefix, type TestGateway } from '../support/gateway.js';

/**
 * Issue 13, items 3 and 5: GET /v1/usage (the caller's own key: its counts, limits, what remains,
 * and its account's Copilot quota cached 60 s) and the accounts' plan and premium quota that the
 * refresh worker reads from copilot_internal/user.
 */
const ADMIN = 'admin-token-usage-view-0123456789';

/**
 * GitHub's API in front of the fake: counts copilot_internal/user calls per token, and can change
 * the premium remaining it answers, so a test sees the refresh worker read it again.
 */
class GithubTap {
  readonly quotaReads = new Map<string, number>();
  remaining: number | null = null;
  private server!: Server;
  url = '';

  constructor(private readonly upstream: string) {}

  reads(githubToken: string) {
    return this.quotaReads.get(githubToken) ?? 0;
  }

  async start() {
    const target = new URL(this.upstream);
    this.server = createServer((req, res) => {
      const quota = req.method === 'GET' && req.url === '/copilot_internal/user';
      if (quota) {
        const token = String(req.headers.authorization ?? '').replace(/^token\s+/i, '');
        this.quotaReads.set(token, this.reads(token) + 1);
      }
      const out = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        if (!quota || this.remaining === null || up.statusCode !== 200) {
          res.writeHead(up.statusCode ?? 502, up.headers);
          return void up.pipe(res);
        }
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString());
          body.quota_snapshots.premium_interactions.remaining = this.remaining;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        });
      });
      out.on('error', () => res.destroy());
      req.pipe(out);
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  stop() {
    this.server.closeAllConnections();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const until = async <T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 8000): Promise<T> => {
  const end = Date.now() + ms;
  let v = await read();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    v = await read();
  }
  return v;
};

const adminGet = (gw: TestGateway, path: string) => fetch(gw.url + path, { headers: { authorization: `Bearer ${ADMIN}` } }).then((r) => r.json());
const usageOf = async (gw: TestGateway, key: string) => {
  const res = await gw.get('/v1/usage', key);
  expect(res.status).toBe(200);
  return res.json();
};

describe.each([
  ['Redis, BullMQ worker', true],
  ['embedded, timers', false],
])('accounts show their Copilot plan and premium quota after a refresh (%s)', (_mode, redis) => {
  let fake: FakeCopilot;
  let tap: GithubTap;
  let gw: TestGateway;
  beforeAll(async () => {
    // Tokens that live 65 s say refresh_in 1 s: the worker renews (and reads the quota) every second.
    fake = await startFake({ tokenTtlSeconds: 65 });
    tap = await new GithubTap(fake.url).start();
    gw = await startGateway(fake, { GITHUB_API_URL: tap.url, ADMIN_TOKEN: ADMIN }, { redis });
  });
  afterAll(async () => {
    await gw?.close();
    await tap?.stop();
    await fake?.stop();
  });

  it('GET /auth/accounts has plan, premium_entitlement, premium_remaining, quota_reset_at, read again on each refresh; and the gauge', async () => {
    const { account, githubToken } = await accountWithKey(gw, fake, 'quota-reader');
    const row = async () => ((await adminGet(gw, '/auth/accounts')).data as Record<string, unknown>[]).find((a) => a.id === account.id)!;

    const first = await until(row, (a) => a.premium_remaining === 280);
    expect(first).toMatchObject({
      plan: 'individual',
      premium_entitlement: 300,
      premium_remaining: 280,
      premium_unlimited: false,
      quota_reset_at: '2026-12-01T00:00:00.000Z',
    });

    // GitHub's count moves; the next scheduled refresh brings it in.
    const readsBefore = tap.reads(githubToken);
    tap.remaining = 271.5;
    const later = await until(row, (a) => a.premium_remaining === 271.5);
    expect(later.premium_remaining).toBe(271.5);
    expect(tap.reads(githubToken)).toBeGreaterThan(readsBefore);
    expect(JSON.stringify(later)).not.toContain(githubToken);

    const metrics = await (await gw.get('/metrics')).text();
    expect(metrics).toContain('# TYPE cgw_copilot_premium_remaining gauge');
    expect(metrics).toMatch(new RegExp(`cgw_copilot_premium_remaining\\{account="${account.id}"\\} 271\\.5`));
  });
});

describe('GET /v1/usage', () => {
  const prefix = uniquePrefix();
  let fake: FakeCopilot;
  let tap: GithubTap;
  let gw: TestGateway;
  let replica: TestGateway;
  let redis: Redis;
  beforeAll(async () => {
    fake = await startFake();
    tap = await new GithubTap(fake.url).start();
    gw = await startGateway(fake, { GITHUB_API_URL: tap.url, ADMIN_TOKEN: ADMIN }, { prefix });
    replica = await startGateway(fake, { GITHUB_API_URL: tap.url }, { prefix, role: 'gateway' });
    redis = new Redis(inject('redisUrl'));
  });
  afterAll(async () => {
    redis?.disconnect();
    await Promise.all([gw?.close(), replica?.close()]);
    await tap?.stop();
    await fake?.stop();
  });

  it('answers 401 without a key or with an unknown one', async () => {
    const none = await gw.get('/v1/usage');
    expect(none.status).toBe(401);
    expect((await none.json()).error).toMatchObject({ type: 'authentication_error', code: 'missing_api_key' });
    const unknown = await gw.get('/v1/usage', 'sk-cgw-0000000000000000000000000000000000000000');
    expect(unknown.status).toBe(401);
    expect((await unknown.json()).error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
  });

  it('shows the key its counts for the minute, day and month, its limits and what remains, and the Copilot quota', async () => {
    const { account } = await accountWithKey(gw, fake, 'usage-viewer');
    const { key, record } = await gw.accounts.issueKey(account.id, { name: 'limited', limits: { requests_per_day: 20, premium_requests_per_month: 50 } });

    const asked = Date.now();
    const fresh = await usageOf(gw, key);
    const minuteStarts = [asked, Date.now()].map((t) => new Date(Math.floor(t / 60_000) * 60_000).toISOString());
    expect(Object.keys(fresh).sort()).toEqual(['copilot', 'key', 'object']);
    expect(fresh.object).toBe('usage');
    expect(fresh.key.id).toBe(record.id);
    expect(fresh.key.limits).toEqual({ requests_per_minute: null, requests_per_day: 20, tokens_per_day: null, tokens_per_month: null, premium_requests_per_month: 50 });
    const now = new Date();
    expect(minuteStarts).toContain(fresh.key.periods.minute.start);
    expect(fresh.key.periods.day.start).toBe(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())).toISOString());
    expect(fresh.key.periods.month.start).toBe(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString());
    for (const period of ['minute', 'day', 'month'])
      expect(fresh.key.periods[period]).toMatchObject({ requests: 0, input_tokens: 0, output_tokens: 0, premium_requests: 0 });
    expect(fresh.key.periods.minute.remaining).toEqual({ requests_per_minute: null });
    expect(fresh.key.periods.day.remaining).toEqual({ requests_per_day: 20, tokens_per_day: null });
    expect(fresh.key.periods.month.remaining).toEqual({ tokens_per_month: null, premium_requests_per_month: 50 });
    expect(fresh.copilot).toMatchObject({
      copilot_plan: 'individual',
      quota_reset_date: '2026-12-01',
      quota_snapshots: { premium_interactions: { entitlement: 300, remaining: 280, unlimited: false } },
    });

    // Three free calls (gpt-4o) and two premium ones (claude-sonnet-4, multiplier 1, the user's words).
    let input = 0;
    let output = 0;
    for (let i = 0; i < 3; i++) {
      const res = await gw.post('/v1/chat/completions', chatBody(), key);
      expect(res.status).toBe(200);
      const { usage } = await res.json();
      input += usage.prompt_tokens;
      output += usage.completion_tokens;
    }
    for (let i = 0; i < 2; i++) {
      const res = await gw.post('/v1/messages', { model: 'claude-sonnet-4', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] }, key);
      expect(res.status).toBe(200);
      const { usage } = await res.json();
      input += usage.input_tokens;
      output += usage.output_tokens;
    }

    // Records are flushed in batches (every second): the counts arrive shortly, on every replica.
    const seen = await until(() => usageOf(replica, key), (u) => u.key.periods.day.requests === 5);
    const counts = { requests: 5, input_tokens: input, output_tokens: output, premium_requests: 2 };
    expect(seen.key.periods.day).toMatchObject(counts);
    expect(seen.key.periods.month).toMatchObject(counts);
    // The minute may have turned over between the calls and the read.
    expect(seen.key.periods.minute.requests).toBeLessThanOrEqual(5);
    expect(seen.key.periods.day.remaining).toEqual({ requests_per_day: 15, tokens_per_day: null });
    expect(seen.key.periods.month.remaining).toEqual({ tokens_per_month: null, premium_requests_per_month: 48 });
    expect((await usageOf(gw, key)).key.periods.day).toMatchObject(counts);
    // /usage without the /v1 prefix is the same route.
    const bare = await gw.get('/usage', key);
    expect(bare.status).toBe(200);
    expect((await bare.json()).key.id).toBe(record.id);
  });

  it("never shows another key's data: a key of the same account, of another account, or a passthrough token", async () => {
    const owner = await accountWithKey(gw, fake, 'busy-owner');
    for (let i = 0; i < 2; i++) expect((await gw.post('/v1/chat/completions', chatBody(), owner.key)).status).toBe(200);
    await until(() => usageOf(gw, owner.key), (u) => u.key.periods.day.requests === 2);

    const sibling = await gw.accounts.issueKey(owner.account.id, { name: 'sibling' });
    const stranger = await accountWithKey(gw, fake, 'stranger');
    for (const [key, id] of [
      [sibling.key, sibling.record.id],
      [stranger.key, stranger.record.id],
    ]) {
      const view = await usageOf(gw, key);
      expect(view.key.id).toBe(id);
      expect(view.key.periods.day).toMatchObject({ requests: 0, input_tokens: 0, output_tokens: 0, premium_requests: 0 });
      expect(JSON.stringify(view)).not.toContain(owner.record.id);
      // Nothing in the request names another key: a query naming one is ignored.
      const asked = await (await gw.get(`/v1/usage?key_id=${owner.record.id}&key=${owner.record.id}`, key)).json();
      expect(asked.key.id).toBe(id);
      expect(asked.key.periods.day.requests).toBe(0);
    }

    // A GitHub token used as the key sees its own account's usage, under its own id.
    const passthrough = `ghu_${'p'.repeat(36)}`;
    fake.addUser(passthrough, { login: 'passer', id: 777_001 });
    expect((await gw.post('/v1/chat/completions', chatBody(), passthrough)).status).toBe(200);
    const own = await until(() => usageOf(gw, passthrough), (u) => u.key.periods.day.requests === 1);
    expect(own.key.id).toMatch(/^gh_/);
    expect(own.key.periods.day.requests).toBe(1);
    expect(Object.values(own.key.limits)).toEqual([null, null, null, null, null]);
    expect(own.copilot).toMatchObject({ copilot_plan: 'individual' });
    expect(JSON.stringify(own)).not.toContain(passthrough);
    expect((await usageOf(gw, owner.key)).key.periods.day.requests).toBe(2);
  });

  it('reads the Copilot quota from GitHub once for two reads, on two replicas (cquota:{account}, 60 s)', async () => {
    const { account, key, githubToken } = await accountWithKey(gw, fake, 'cached-quota');
    // The account's registration reads its quota once for the accounts list; that read is done first.
    await until(async () => tap.reads(githubToken), (n) => n >= 1);
    await new Promise((r) => setTimeout(r, 200));
    const before = tap.reads(githubToken);

    const [a, b] = [await usageOf(gw, key), await usageOf(replica, key)];
    expect(tap.reads(githubToken) - before).toBe(1);
    expect(b.copilot).toEqual(a.copilot);
    const ttl = await redis.pttl(new RedisKeys(prefix).copilotQuota(account.id));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);

    // Many reads at once are still one: the cache holds for a minute.
    await Promise.all(Array.from({ length: 10 }, (_, i) => usageOf(i % 2 ? gw : replica, key)));
    expect(tap.reads(githubToken) - before).toBe(1);
  });

  it('answers with copilot null when GitHub cannot be asked, and the key counts still', async () => {
    const { key, githubToken } = await accountWithKey(gw, fake, 'no-quota');
    await until(async () => tap.reads(githubToken), (n) => n >= 1);
    // GitHub forgets the token (revoked): the quota read fails, the rest of the answer does not.
    fake.users.delete(githubToken);
    const view = await usageOf(gw, key);
    expect(view.copilot).toBeNull();
    expect(view.key.periods.day.requests).toBe(0);
  });
});

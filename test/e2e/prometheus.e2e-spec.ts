import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { accountWithKey, chatBody, startFake, startGateway, type TestGateway } from '../support/gateway.js';
import { freePort } from '../support/redis-server.js';

/**
 * A real Prometheus (Debian's package) scrapes a running gateway under mixed traffic; every
 * expression of the Grafana dashboard must evaluate and return data.
 */
const PROMETHEUS = process.env.PROMETHEUS_PATH ?? '/usr/bin/prometheus';
const dashboard = JSON.parse(readFileSync('grafana/dashboards/gateway.json', 'utf8'));
const panels: { title: string; targets: { expr: string }[] }[] = dashboard.panels;
const toPromQL = (expr: string) => expr.replaceAll('$__rate_interval', '1m').replaceAll('$job', 'cgw');

let fake: FakeCopilot;
let gw: TestGateway;
let prometheus: ChildProcess;
let promUrl: string;

async function query(expr: string) {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
}

beforeAll(async () => {
  if (!existsSync(PROMETHEUS)) throw new Error(`The dashboard test needs Prometheus at ${PROMETHEUS}: apt-get install -y prometheus (or set PROMETHEUS_PATH).`);
  // Tokens renewed every second, so refresh metrics move during the test.
  fake = await startFake({ tokenTtlSeconds: 65 });
  gw = await startGateway(fake, { RATE_LIMIT_REQUESTS: '5' });
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'cgw-prom-'));
  const target = new URL(gw.url).host;
  writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - ${process.cwd()}/prometheus/alerts.yml\nscrape_configs:\n  - job_name: cgw\n    static_configs:\n      - targets: ['${target}']\n`);
  prometheus = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });

  const { key } = await accountWithKey(gw, fake, 'dashboard');
  const limited = await accountWithKey(gw, fake, 'limited');
  // The limit is 5 a minute per key: the other dialects get keys of their own.
  const anthropic = await accountWithKey(gw, fake, 'anthropic');
  const responses = await accountWithKey(gw, fake, 'responses');
  // A key with a day limit of one request: the rest of its traffic is refused (quota refusals panel).
  const capped = await gw.accounts.issueKey(limited.account.id, { name: 'capped', limits: { requests_per_day: 1 } });
  fake.script('chat', { status: 500, body: '<html>oops</html>' }, 3);
  const started = Date.now();
  while (Date.now() - started < 5000) {
    await Promise.all([
      gw.post('/v1/chat/completions', chatBody(), key).then((r) => r.text()),
      gw.post('/v1/chat/completions', chatBody({ stream: true }), key).then((r) => r.text()),
      gw.get('/v1/models', key).then((r) => r.text()),
      gw.post('/v1/chat/completions', chatBody(), limited.key).then((r) => r.text()),
      // The Anthropic dialect, native (Claude) and translated (GPT), for its panel.
      gw.post('/v1/messages', { model: 'claude-sonnet-4', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] }, anthropic.key).then((r) => r.text()),
      gw.post('/v1/messages', { model: 'gpt-4o', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hi' }] }, anthropic.key).then((r) => r.text()),
      // The Responses dialect, native (gpt-5-codex) and translated (gpt-4o), for its panel.
      gw.post('/v1/responses', { model: 'gpt-5-codex', input: 'hi', store: false }, responses.key).then((r) => r.text()),
      gw.post('/v1/responses', { model: 'gpt-4o', input: 'hi', stream: true, store: false }, responses.key).then((r) => r.text()),
      gw.post('/v1/chat/completions', chatBody(), capped.key).then((r) => r.text()),
    ]);
    await new Promise((r) => setTimeout(r, 100));
  }
  for (let i = 0; i < 50; i++) {
    const up = await query('sum(count_over_time(up{job="cgw"}[1m]))').catch(() => null);
    if (Number((up?.data?.result[0] as { value?: [number, string] } | undefined)?.value?.[1] ?? 0) >= 4) break;
    await new Promise((r) => setTimeout(r, 200));
  }
}, 60_000);

afterAll(async () => {
  prometheus?.kill('SIGTERM');
  await gw?.close();
  await fake?.stop();
});

describe('the Grafana dashboard against a real Prometheus', () => {
  it('exposes metrics that pass promtool check metrics', async () => {
    const scrape = await (await gw.get('/metrics')).text();
    const promtool = PROMETHEUS.replace(/prometheus$/, 'promtool');
    // promtool exits non-zero and names the metric on any problem; execFileSync throws then.
    expect(execFileSync(promtool, ['check', 'metrics'], { input: scrape }).toString()).toBe('');
    expect(scrape).toContain('cgw_refresh_jobs_total{result="success"}');
  });

  it('scrapes the gateway', async () => {
    const up = await query('up{job="cgw"}');
    expect(up.status).toBe('success');
    expect((up.data!.result[0] as { value: [number, string] }).value[1]).toBe('1');
  });

  it.each(panels.map((p) => [p.title, p]))('panel "%s": every expression evaluates and returns data', async (_title, panel) => {
    for (const t of panel.targets) {
      const r = await query(toPromQL(t.expr));
      expect([t.expr, r.status, r.error]).toEqual([t.expr, 'success', undefined]);
      expect([t.expr, r.data!.result.length > 0]).toEqual([t.expr, true]);
    }
  });
});

describe('the alert rules (prometheus/alerts.yml)', () => {
  const rules: { alert: string; expr: string }[] = [];
  for (const m of readFileSync('prometheus/alerts.yml', 'utf8').matchAll(/- alert: (\S+)\n\s+expr: (\|\n((?:\s{10}.*\n)+)|.*)/g))
    rules.push({ alert: m[1], expr: (m[3] ?? m[2]).trim() });

  it('pass promtool check rules, and name the five alerts the ops issue asks for', () => {
    const promtool = PROMETHEUS.replace(/prometheus$/, 'promtool');
    expect(execFileSync(promtool, ['check', 'rules', 'prometheus/alerts.yml']).toString()).toContain('SUCCESS: 5 rules found');
    expect(rules.map((r) => r.alert)).toEqual([
      'CopilotGatewayHigh5xxRate',
      'CopilotUpstream429Surge',
      'CopilotTokenRefreshFailing',
      'CopilotAccountsRevoked',
      'CopilotGatewayRedisDown',
    ]);
  });

  it('evaluate without error against the live gateway, none firing on a healthy one', async () => {
    for (const r of rules) {
      const q = await query(r.expr);
      expect([r.alert, q.status, q.error]).toEqual([r.alert, 'success', undefined]);
    }
    const store = await query('min(cgw_store_up)');
    expect((store.data!.result[0] as { value: [number, string] }).value[1]).toBe('1');
    const firing = await fetch(`${promUrl}/api/v1/alerts`).then((r) => r.json());
    expect(firing.data.alerts.filter((a: { state: string }) => a.state === 'firing')).toEqual([]);
    const loaded = await fetch(`${promUrl}/api/v1/rules`).then((r) => r.json());
    expect(loaded.data.groups[0].rules.map((r: { health: string }) => r.health)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
  });
});

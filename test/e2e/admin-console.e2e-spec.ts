import Anthropic from '@anthropic-ai/sdk';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import OpenAI from 'openai';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser.js';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { startFake, startGateway, type TestGateway } from '../support/gateway.js';

/**
 * Issue 14: the /admin console in Debian's Chromium, against one embedded process (role 'all') and
 * the fake upstream — sign in, import an account, create a key, use it through the openai and
 * Anthropic clients with the settings the page shows, see the usage chart and table count it,
 * edit limits, rotate, revoke and see the client refused; a wrong token refused with the API's
 * reason; screenshots in light and dark; axe-core in every view; a keyboard walk of every view.
 */
const ARTIFACTS = 'test-artifacts';
const ADMIN = `adm-${randomBytes(16).toString('hex')}`;
const GH_MAIN = `ghu_${randomBytes(18).toString('hex')}`;
const GH_TEMP = `ghu_${randomBytes(18).toString('hex')}`;
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const VIEWS = ['accounts', 'keys', 'usage'] as const;
type View = (typeof VIEWS)[number];

let fake: FakeCopilot;
let gw: TestGateway;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const problems: string[] = [];

/** What the flow learns as it goes: the keys the page showed and the settings it gave. */
const seen: { firstKey?: string; key?: string; keyId?: string; rotated?: string; settings?: Record<string, string> } = {};

const adminApi = async (path: string) => (await fetch(gw.url + path, { headers: { authorization: `Bearer ${ADMIN}` } })).json();

async function newPage(ctx: BrowserContext): Promise<Page> {
  const p = await ctx.newPage();
  p.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  // A CSP violation is a console error ("Refused to …"); refused API calls log "Failed to load resource", expected here.
  p.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && problems.push(m.text()));
  return p;
}

/** Runs `action` and waits until the view has finished the load it starts (data-loads counts them). */
async function reloaded(p: Page, view: View, action: () => Promise<unknown>) {
  const before = Number((await p.locator(`#view-${view}`).getAttribute('data-loads')) ?? 0);
  await action();
  await p.waitForFunction(([v, n]) => Number(document.getElementById(`view-${v}`)?.dataset.loads ?? 0) > n, [view, before] as const, { timeout: 10_000 });
}
const go = (p: Page, view: View) => reloaded(p, view, () => p.click(`#nav a[href="#${view}"]`));

async function signIn(p: Page, token = ADMIN) {
  await p.fill('#token', token);
  await p.press('#token', 'Enter');
}

const text = async (p: Page, selector: string) => ((await p.locator(selector).textContent()) ?? '').trim();
const rowOf = (p: Page, table: string, name: string) => p.locator(`#${table} tbody tr`).filter({ has: p.locator('th', { hasText: name }) });

/** The settings blocks of the key dialog, as name → value (export X=… and X=… lines). */
function settingsOf(...blocks: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of blocks.join('\n').split('\n').map((l) => l.trim().replace(/^# and in the shell: /, ''))) {
    const m = /^(?:export\s+)?([A-Z_]+)=(\S+)$/.exec(line) ?? /^(\w+)\s*=\s*"([^"]*)"$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

async function shot(p: Page, name: string, scheme: 'light' | 'dark') {
  await p.emulateMedia({ colorScheme: scheme });
  await p.screenshot({ path: `${ARTIFACTS}/admin-console-${name}-${scheme}.png`, fullPage: true });
}

beforeAll(async () => {
  fake = await startFake();
  fake.addUser(GH_MAIN, { login: 'octo-ops', id: 7001 });
  fake.addUser(GH_TEMP, { login: 'temp-account', id: 7002 });
  gw = await startGateway(fake, { ADMIN_TOKEN: ADMIN }, { redis: false });
  browser = await launchChromium();
  context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gw.url });
  page = await newPage(context);
  mkdirSync(ARTIFACTS, { recursive: true });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await gw?.close();
  await fake?.stop();
});

describe('the /admin console', () => {
  it('is one page with a strict CSP (a fresh nonce each time), no-store, no-referrer and no external resource', async () => {
    const [a, b] = await Promise.all([fetch(`${gw.url}/admin`), fetch(`${gw.url}/admin`)]);
    expect(a.status).toBe(200);
    expect(a.headers.get('content-type')).toContain('text/html');
    expect(a.headers.get('cache-control')).toBe('no-store');
    expect(a.headers.get('referrer-policy')).toBe('no-referrer');
    const csp = a.headers.get('content-security-policy')!;
    const nonce = /script-src 'nonce-([A-Za-z0-9+/=]{20,})'/.exec(csp)?.[1];
    expect(csp).toBe(
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    );
    expect(b.headers.get('content-security-policy')).not.toContain(nonce);
    const html = await a.text();
    expect(html.match(/<script\b[^>]*>/g)).toEqual([`<script nonce="${nonce}">`]);
    expect(html.match(/<style\b[^>]*>/g)).toEqual([`<style nonce="${nonce}">`]);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/\sstyle="/);
  });

  it('refuses a wrong token and shows the reason the admin API gave', async () => {
    await page.goto(`${gw.url}/admin`);
    await expect(page.locator('#nav').isHidden()).resolves.toBe(true);
    await page.click('#signin');
    expect(await text(page, '#signin-error')).toBe('Enter the admin token.');
    await signIn(page, 'not-the-admin-token');
    await page.locator('#signin-error', { hasText: 'Wrong admin token' }).waitFor({ timeout: 5000 });
    expect(await text(page, '#signin-error')).toBe('Sign-in refused: Wrong admin token');
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(await page.locator('#view-accounts').isHidden()).toBe(true);
    await shot(page, 'signin-refused', 'light');
    await shot(page, 'signin-refused', 'dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('signs in, imports an account from a GitHub token and creates a key, shown once with its client settings', async () => {
    await reloaded(page, 'accounts', () => signIn(page));
    expect(await page.evaluate(() => sessionStorage.getItem('cgw-admin-token'))).toBe(ADMIN);
    expect(await page.locator('#accounts-empty').isVisible()).toBe(true);
    expect(await page.locator('#nav a[aria-current="page"]').textContent()).toBe('Accounts');

    await page.fill('#import-token', GH_MAIN);
    await reloaded(page, 'accounts', () => page.click('#import-form button[type="submit"]'));
    await page.locator('#secret-dialog[open]').waitFor({ timeout: 5000 });
    seen.firstKey = await text(page, '#secret-key');
    expect(seen.firstKey).toMatch(/^sk-cgw-[0-9A-Za-z]{40}$/);
    await page.click('#secret-done');
    expect(await page.locator('#secret-dialog').getAttribute('open')).toBeNull();
    expect(await text(page, '#secret-key')).toBe('');
    const account = rowOf(page, 'accounts-table', 'octo-ops');
    await account.waitFor({ timeout: 5000 });
    expect(await account.locator('td').nth(0).textContent()).toBe('Active');

    await go(page, 'keys');
    await page.fill('#create-name', 'console-key');
    await page.selectOption('#create-expiry', '2592000');
    await reloaded(page, 'keys', () => page.click('#create'));
    await page.locator('#secret-dialog[open]').waitFor({ timeout: 5000 });
    seen.key = await text(page, '#secret-key');
    expect(seen.key).toMatch(/^sk-cgw-[0-9A-Za-z]{40}$/);
    expect(seen.key).not.toBe(seen.firstKey);
    const blocks = await Promise.all(['#cfg-openai', '#cfg-claude', '#cfg-codex'].map((s) => text(page, s)));
    seen.settings = settingsOf(...blocks);
    expect(seen.settings).toMatchObject({
      OPENAI_BASE_URL: `${gw.url}/v1`,
      OPENAI_API_KEY: seen.key,
      ANTHROPIC_BASE_URL: gw.url,
      ANTHROPIC_AUTH_TOKEN: seen.key,
      ANTHROPIC_MODEL: 'claude-sonnet-4',
      base_url: `${gw.url}/v1`,
      env_key: 'CGW_KEY',
      wire_api: 'responses',
      CGW_KEY: seen.key,
    });
    expect(blocks[2]).toContain('[model_providers.copilot-gateway]');
    expect(blocks[2]).toContain('model_provider = "copilot-gateway"');

    await page.click('button[data-copy="secret-key"]');
    await page.locator('button[data-copy="secret-key"]', { hasText: 'Copied' }).waitFor({ timeout: 2000 });
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(seen.key);
    await shot(page, 'key-created', 'light');
    await shot(page, 'key-created', 'dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.click('#secret-done');

    const row = rowOf(page, 'keys-table', 'console-key');
    seen.keyId = (await row.getAttribute('data-id'))!;
    const cells = await row.locator('td').allTextContents();
    expect(cells[0]).toBe('octo-ops');
    expect(seen.key.startsWith(cells[1].replace('…', ''))).toBe(true);
    expect(cells[6]).toBe('Active');
    const listed = (await adminApi('/auth/keys')).data.find((k: { id: string }) => k.id === seen.keyId);
    expect(Date.parse(listed.expires_at) - Date.parse(listed.created_at)).toBe(30 * 86400_000);
    // The page keeps nothing of the key once the dialog is closed.
    expect(await page.content()).not.toContain(seen.key);
  }, 60_000);

  it('the key works with the settings shown; the usage chart and the month table count it; CSV export', async () => {
    const s = seen.settings!;
    const openai = new OpenAI({ baseURL: s.OPENAI_BASE_URL, apiKey: s.OPENAI_API_KEY, maxRetries: 0 });
    const a1 = await openai.chat.completions.create({ model: 'claude-sonnet-4', messages: [{ role: 'user', content: 'Hello' }] });
    const a2 = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }] });
    expect(a2.choices[0].message.content).toBe('Hello from gpt-4o!');
    const anthropic = new Anthropic({ baseURL: s.ANTHROPIC_BASE_URL, authToken: s.ANTHROPIC_AUTH_TOKEN, apiKey: null, maxRetries: 0 });
    const m = await anthropic.messages.create({ model: s.ANTHROPIC_MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'Hello' }] });
    expect(m.type).toBe('message');
    const first = new OpenAI({ baseURL: s.OPENAI_BASE_URL, apiKey: seen.firstKey, maxRetries: 0 });
    await first.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
    expect(a1.usage!.total_tokens).toBeGreaterThan(0);

    // Usage is flushed every second: refresh the view until it counts the four requests.
    await go(page, 'usage');
    const deadline = Date.now() + 15_000;
    while (Number(await page.locator('#total-requests').getAttribute('data-value')) < 4 && Date.now() < deadline)
      await reloaded(page, 'usage', async () => {
        await page.waitForTimeout(300);
        await page.click('#view-usage button.refresh');
      });
    expect(await page.locator('#total-requests').getAttribute('data-value')).toBe('4');

    // What the chart draws is what the admin API counts, day by day.
    const from = new Date(Math.floor(Date.now() / 86400_000) * 86400_000 - 29 * 86400_000).toISOString();
    const rows: { key_id: string; model: string; bucket_start: string; requests: number; input_tokens: number; output_tokens: number }[] = (
      await adminApi(`/auth/usage?group_by=key,model&bucket=day&from=${from}`)
    ).data;
    const apiTokens = rows.reduce((n, r) => n + r.input_tokens + r.output_tokens, 0);
    expect(apiTokens).toBeGreaterThan(0);
    const bars = (chart: string) =>
      page.locator(`#${chart} rect.bar`).evaluateAll((rs) => rs.map((r) => ({ day: r.getAttribute('data-day'), series: r.getAttribute('data-series') ?? '', value: Number(r.getAttribute('data-value')) })));
    const sum = (list: { value: number }[]) => list.reduce((n, b) => n + b.value, 0);
    const today = new Date().toISOString().slice(0, 10);
    expect(await bars('chart-requests')).toEqual([{ day: today, series: 'All', value: 4 }]);
    expect(sum(await bars('chart-tokens'))).toBe(apiTokens);
    expect(Number(await page.locator('#total-tokens').getAttribute('data-value'))).toBe(apiTokens);
    expect(await page.locator('#chart-requests svg').getAttribute('aria-label')).toMatch(/^Requests per day, last 30 days \(UTC\): 4 in all; busiest day \w+ \d+ with 4\.$/);

    await page.selectOption('#stack', 'model');
    const byModel = await bars('chart-requests');
    expect(Object.fromEntries(byModel.map((b) => [b.series, b.value]))).toEqual({ 'claude-sonnet-4': 2, 'gpt-4o': 2 });
    expect(await page.locator('#legend li').allTextContents()).toEqual(['claude-sonnet-4', 'gpt-4o']);
    await page.selectOption('#stack', 'key');
    const byKey = Object.fromEntries((await bars('chart-requests')).map((b) => [b.series.replace(/ \(.*\)$/, ''), b.value]));
    expect(byKey).toEqual({ 'console-key': 3, 'first key': 1 });
    const keyTokens = rows.filter((r) => r.key_id === seen.keyId).reduce((n, r) => n + r.input_tokens + r.output_tokens, 0);
    expect(sum((await bars('chart-tokens')).filter((b) => b.series.startsWith('console-key')))).toBe(keyTokens);
    await shot(page, 'usage', 'light');
    await shot(page, 'usage', 'dark');
    await page.emulateMedia({ colorScheme: 'light' });

    // Keys by premium requests this month: claude-sonnet-4 costs 1 each time the user asks.
    const table = async () => (await page.locator('#month-body tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.firstChild?.textContent ?? ''))));
    expect(await page.locator('#month-table th[aria-sort]').getAttribute('data-col')).toBe('premium');
    expect(await table()).toEqual([
      ['console-key', 'octo-ops', '3', keyTokens.toLocaleString('en-US'), '2'],
      ['first key', 'octo-ops', '1', (apiTokens - keyTokens).toLocaleString('en-US'), '0'],
    ]);
    await page.click('#month-table button[data-sort="premium"]');
    expect(await page.locator('#month-table th[data-col="premium"]').getAttribute('aria-sort')).toBe('ascending');
    expect((await table()).map((r) => r[0])).toEqual(['first key', 'console-key']);
    await page.click('#month-table button[data-sort="key"]');
    expect(await page.locator('#month-table th[data-col="key"]').getAttribute('aria-sort')).toBe('ascending');
    expect((await table()).map((r) => r[0])).toEqual(['console-key', 'first key']);
    await page.click('#month-table button[data-sort="requests"]');
    expect((await table()).map((r) => r[2])).toEqual(['3', '1']);

    // CSV export: the admin API's format=csv, downloaded as a file.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
    expect(download.suggestedFilename()).toMatch(/^usage-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv$/);
    const csv = readFileSync((await download.path())!, 'utf8').trim().split('\r\n');
    expect(csv[0]).toBe('key_id,model,bucket_start,requests,input_tokens,output_tokens,premium_requests,errors');
    const csvRows = csv.slice(1).map((l) => l.split(','));
    expect(csvRows.reduce((n, r) => n + Number(r[3]), 0)).toBe(4);
    expect(csvRows.filter((r) => r[0] === seen.keyId).map((r) => [r[1], r[3], r[6]])).toEqual([
      ['claude-sonnet-4', '2', '2'],
      ['gpt-4o', '1', '0'],
    ]);
  }, 60_000);

  it('edits a key’s limits through PATCH /auth/keys/{id}, refusing what the API would refuse', async () => {
    await go(page, 'keys');
    await page.click('button[aria-label="Limits of console-key"]');
    await page.locator('#limits-dialog[open]').waitFor();
    await page.fill('#limit-requests_per_day', '0');
    await page.click('#limits-save');
    expect(await text(page, '#limits-error')).toBe('Requests per day (UTC): a positive whole number, or empty for none.');
    await shot(page, 'limits-dialog', 'light');
    await shot(page, 'limits-dialog', 'dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.fill('#limit-requests_per_day', '500');
    await page.fill('#limit-premium_requests_per_month', '40');
    await reloaded(page, 'keys', () => page.click('#limits-save'));
    expect(await page.locator('#limits-dialog').getAttribute('open')).toBeNull();
    expect(await text(page, '#notice')).toBe('Limits of console-key saved.');
    expect(await rowOf(page, 'keys-table', 'console-key').locator('td').nth(5).locator('li').allTextContents()).toEqual(['requests/day 500', 'premium/month 40']);
    const listed = (await adminApi('/auth/keys')).data.find((k: { id: string }) => k.id === seen.keyId);
    expect(listed.limits).toEqual({ requests_per_minute: null, requests_per_day: 500, tokens_per_day: null, tokens_per_month: null, premium_requests_per_month: 40 });
    await shot(page, 'keys', 'light');
    await shot(page, 'keys', 'dark');
    await page.emulateMedia({ colorScheme: 'light' });
  }, 30_000);

  it('rotates a key with a grace period: a new key shown once, the old one still works until then', async () => {
    await page.click('button[aria-label="Rotate console-key"]');
    await page.locator('#rotate-dialog[open]').waitFor();
    expect(await page.locator('#rotate-grace').inputValue()).toBe('3600');
    await reloaded(page, 'keys', () => page.click('#rotate-ok'));
    await page.locator('#secret-dialog[open]').waitFor({ timeout: 5000 });
    seen.rotated = await text(page, '#secret-key');
    expect(seen.rotated).toMatch(/^sk-cgw-[0-9A-Za-z]{40}$/);
    expect(seen.rotated).not.toBe(seen.key);
    expect(await text(page, '#secret-note')).toMatch(/^Key console-key rotated: the old key works until .+\.$/);
    expect(settingsOf(await text(page, '#cfg-openai')).OPENAI_API_KEY).toBe(seen.rotated);
    await page.click('#secret-done');

    const old = page.locator(`#keys-body tr[data-id="${seen.keyId}"]`);
    expect(await old.getAttribute('data-state')).toBe('rotating');
    expect(await old.locator('td').nth(6).textContent()).toMatch(/^Rotated: works until /);
    const fresh = page.locator('#keys-body tr[data-state="active"]').filter({ has: page.locator('th', { hasText: 'console-key' }) });
    expect(await fresh.count()).toBe(1);
    expect(await fresh.locator('td').nth(5).locator('li').allTextContents()).toEqual(['requests/day 500', 'premium/month 40']);
    for (const key of [seen.key!, seen.rotated]) {
      const client = new OpenAI({ baseURL: seen.settings!.OPENAI_BASE_URL, apiKey: key, maxRetries: 0 });
      expect((await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }] })).choices[0].message.content).toBe('Hello from gpt-4o!');
    }
    const listed = (await adminApi('/auth/keys')).data.find((k: { id: string }) => k.id === seen.keyId);
    const graceLeft = Date.parse(listed.revoked_at) - Date.now();
    expect(graceLeft).toBeGreaterThan(3500_000);
    expect(graceLeft).toBeLessThanOrEqual(3600_000);
  }, 30_000);

  it('revokes a key after a confirmation, and the client is refused with 401', async () => {
    // Ended keys are listed on request only.
    expect(await text(page, '#show-ended-label')).toBe('Show revoked and expired keys (0)');
    await page.check('#show-ended');
    const fresh = page.locator('#keys-body tr[data-state="active"]').filter({ has: page.locator('th', { hasText: 'console-key' }) });
    const id = (await fresh.getAttribute('data-id'))!;
    await page.click(`#keys-body tr[data-id="${id}"] button[aria-label="Revoke console-key"]`);
    await page.locator('#confirm-dialog[open]').waitFor();
    expect(await text(page, '#confirm-title')).toBe('Revoke console-key?');
    await page.click('#confirm-cancel');
    expect(await page.locator(`#keys-body tr[data-id="${id}"]`).getAttribute('data-state')).toBe('active');
    await page.click(`#keys-body tr[data-id="${id}"] button[aria-label="Revoke console-key"]`);
    await reloaded(page, 'keys', () => page.click('#confirm-ok'));
    expect(await page.locator(`#keys-body tr[data-id="${id}"]`).getAttribute('data-state')).toBe('revoked');
    expect(await page.locator(`#keys-body tr[data-id="${id}"] button`).count()).toBe(0);
    expect(await text(page, '#notice')).toBe('Key console-key revoked.');
    // And the one still in its grace window: revoked now.
    await page.click(`#keys-body tr[data-id="${seen.keyId}"] button[aria-label="Revoke console-key"]`);
    await reloaded(page, 'keys', () => page.click('#confirm-ok'));
    expect(await page.locator(`#keys-body tr[data-id="${seen.keyId}"]`).getAttribute('data-state')).toBe('revoked');

    expect(await text(page, '#show-ended-label')).toBe('Show revoked and expired keys (2)');
    await page.uncheck('#show-ended');
    expect(await page.locator('#keys-body tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-state')))).toEqual(['active']);
    await page.check('#show-ended');
    await shot(page, 'keys-rotated-revoked', 'light');
    await shot(page, 'keys-rotated-revoked', 'dark');
    await page.emulateMedia({ colorScheme: 'light' });
    for (const key of [seen.rotated!, seen.key!]) {
      const client = new OpenAI({ baseURL: seen.settings!.OPENAI_BASE_URL, apiKey: key, maxRetries: 0 });
      await expect(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }] })).rejects.toMatchObject({ status: 401 });
    }
  }, 30_000);

  it('deletes an account only after a confirmation', async () => {
    await go(page, 'accounts');
    await page.fill('#import-token', GH_TEMP);
    await reloaded(page, 'accounts', () => page.click('#import-form button[type="submit"]'));
    await page.locator('#secret-dialog[open]').waitFor({ timeout: 5000 });
    await page.click('#secret-done');
    await rowOf(page, 'accounts-table', 'temp-account').waitFor();
    await page.click('button[aria-label="Delete account temp-account"]');
    expect(await text(page, '#confirm-title')).toBe('Delete account temp-account?');
    expect(await text(page, '#confirm-text')).toBe('Its keys (1) stop working at once, on every replica. This cannot be undone.');
    await page.keyboard.press('Escape');
    expect(await page.locator('#confirm-dialog').getAttribute('open')).toBeNull();
    expect(await rowOf(page, 'accounts-table', 'temp-account').count()).toBe(1);
    await page.click('button[aria-label="Delete account temp-account"]');
    await reloaded(page, 'accounts', () => page.click('#confirm-ok'));
    expect(await rowOf(page, 'accounts-table', 'temp-account').count()).toBe(0);
    expect((await adminApi('/auth/accounts')).data.map((a: { login: string }) => a.login)).toEqual(['octo-ops']);
    await shot(page, 'accounts', 'light');
    await shot(page, 'accounts', 'dark');
    await page.emulateMedia({ colorScheme: 'light' });
  }, 30_000);

  it('speaks 中文', async () => {
    await page.click('#lang');
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('zh-CN');
    expect(await page.locator('#nav a').allTextContents()).toEqual(['账号', '密钥', '用量']);
    expect(await text(page, '#accounts-title')).toBe('账号');
    expect(await rowOf(page, 'accounts-table', 'octo-ops').locator('td').nth(0).textContent()).toBe('正常');
    await go(page, 'usage');
    expect(await text(page, '#month-title')).toBe('本月按高级请求排序的密钥（UTC）');
    expect(await text(page, '#usage-totals')).toMatch(/^最近 30 天共 \d+ 次请求、[\d,]+ 个令牌$/);
    await shot(page, 'usage-zh', 'light');
    await page.click('#lang');
    expect(await text(page, '#usage-title')).toBe('Usage');
  }, 30_000);

  it('a keyboard walk: Tab reaches every control of each view, in reading order', async () => {
    const walk = async (p: Page) => {
      const expected = await p.evaluate(() => {
        const all = [...document.querySelectorAll<HTMLElement>('a[href], button, input, select, textarea, summary, [tabindex]')];
        const focusable = all.filter((el) => !(el as HTMLButtonElement).disabled && el.tabIndex >= 0 && el.checkVisibility() && !el.closest('dialog:not([open])'));
        focusable.forEach((el, i) => (el.dataset.walk = String(i)));
        return focusable.map((el) => {
          const r = el.getBoundingClientRect();
          return { i: el.dataset.walk!, name: `${el.tagName.toLowerCase()} ${el.getAttribute('aria-label') ?? el.id ?? ''} ${el.textContent?.trim().slice(0, 30) ?? ''}`, top: r.top + scrollY, bottom: r.bottom + scrollY, left: r.left };
        });
      });
      await p.click('.brand'); // the start of sequential focus navigation: before every control
      const reached: string[] = [];
      for (let n = 0; n < expected.length; n++) {
        await p.keyboard.press('Tab');
        reached.push(await p.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.walk ?? `not a control: ${document.activeElement?.tagName}`));
      }
      expect(reached).toEqual(expected.map((e) => e.i));
      // Reading order: each control starts below the one before, or on the same line to its right.
      for (let n = 1; n < expected.length; n++) {
        const [a, b] = [expected[n - 1], expected[n]];
        const sameLine = b.top < a.bottom && a.top < b.bottom;
        expect([a.name, b.name, sameLine ? b.left >= a.left : b.top >= a.bottom - 1]).toEqual([a.name, b.name, true]);
      }
      return expected.map((e) => e.name);
    };
    const walked: Record<string, number> = {};
    for (const view of VIEWS) {
      await reloaded(page, view, () => page.goto(`${gw.url}/admin#${view}`));
      walked[view] = (await walk(page)).length;
    }
    // A dialog: focus starts in it and Tab walks its controls in order.
    await go(page, 'keys');
    await page.click('#keys-body tr[data-state="active"] button[aria-label^="Limits of"]');
    await page.locator('#limits-dialog[open]').waitFor();
    const inDialog: string[] = [];
    for (let n = 0; n < 9; n++) {
      inDialog.push(await page.evaluate(() => document.activeElement?.id ?? ''));
      await page.keyboard.press('Tab');
    }
    expect(inDialog.slice(0, 7)).toEqual(['limit-requests_per_minute', 'limit-requests_per_day', 'limit-tokens_per_day', 'limit-tokens_per_month', 'limit-premium_requests_per_month', 'limits-cancel', 'limits-save']);
    await page.keyboard.press('Escape');
    // The sign-in view.
    const signedOut = await newPage(context);
    await signedOut.goto(`${gw.url}/admin`);
    walked.signin = (await walk(signedOut)).length;
    await signedOut.close();
    expect(walked.accounts).toBeGreaterThanOrEqual(9); // nav ×3, language, sign out, refresh, a delete, token field, import
    expect(walked.keys).toBeGreaterThan(walked.accounts);
    expect(walked.usage).toBeGreaterThanOrEqual(14);
    expect(walked.signin).toBe(3);
  }, 60_000);

  it('axe-core finds no serious or critical violation in any view, light or dark', async () => {
    // axe is injected as a script, which the page's CSP refuses: this context alone bypasses it.
    const axeContext = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 }, bypassCSP: true });
    const p = await newPage(axeContext);
    const report: string[] = [];
    const serious: string[] = [];
    const passed: number[] = [];
    const incomplete = new Set<string>();
    const audit = async (name: string) => {
      await p.addScriptTag({ content: AXE });
      const result = await p.evaluate(() => (window as any).axe.run(document, { resultTypes: ['violations'] }));
      passed.push(result.passes.length);
      for (const r of result.incomplete as { id: string; nodes: { target: string[]; any: { message: string }[] }[] }[])
        incomplete.add(`${name}: ${r.id} (${r.nodes.length} element(s), e.g. ${r.nodes[0]?.target.join(' ')}: ${r.nodes[0]?.any[0]?.message})`);
      for (const v of result.violations as { id: string; impact: string; help: string; nodes: { target: string[] }[] }[]) {
        const line = `${name}: ${v.impact} ${v.id} (${v.help}) at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`;
        report.push(line);
        if (v.impact === 'serious' || v.impact === 'critical') serious.push(line);
      }
    };
    let audits = 0;
    for (const scheme of ['light', 'dark'] as const) {
      await p.emulateMedia({ colorScheme: scheme });
      await p.goto(`${gw.url}/admin`);
      await p.evaluate(() => sessionStorage.clear());
      await p.goto(`${gw.url}/admin`);
      await audit(`${scheme} sign-in`);
      await signIn(p, 'wrong');
      await p.locator('#signin-error:not([hidden])').waitFor();
      await audit(`${scheme} sign-in refused`);
      await reloaded(p, 'accounts', () => signIn(p));
      await audit(`${scheme} accounts`);
      await go(p, 'keys');
      await audit(`${scheme} keys`);
      await p.click('#keys-body tr[data-state="active"] button[aria-label^="Limits of"]');
      await audit(`${scheme} keys, limits dialog`);
      await p.keyboard.press('Escape');
      await p.fill('#create-name', `axe-${scheme}`);
      await reloaded(p, 'keys', () => p.click('#create'));
      await p.locator('#secret-dialog[open]').waitFor();
      await audit(`${scheme} keys, new key dialog`);
      await p.click('#secret-done');
      await go(p, 'usage');
      await p.selectOption('#stack', 'model');
      await p.click('details.daily summary');
      await audit(`${scheme} usage`);
      audits += 7;
    }
    await axeContext.close();
    console.log(
      `axe-core ${JSON.parse(readFileSync(createRequire(import.meta.url).resolve('axe-core/package.json'), 'utf8')).version}: ${audits} audits, ` +
        `${Math.min(...passed)}–${Math.max(...passed)} rules passed in each, ${report.length} violation(s)${report.length ? `:\n  ${report.join('\n  ')}` : ''}` +
        `${incomplete.size ? `\n  to review by hand (axe could not decide): ${[...incomplete].join('\n    ')}` : ''}`,
    );
    expect(passed.every((n) => n >= 15)).toBe(true);
    expect(serious).toEqual([]);
  }, 90_000);

  it('ran without a script error or a CSP violation, and the page itself holds no admin data', async () => {
    expect(problems).toEqual([]);
    const html = await (await fetch(`${gw.url}/admin`)).text();
    for (const datum of ['octo-ops', 'console-key', seen.keyId!, seen.firstKey!.slice(0, 12), ADMIN]) expect(html).not.toContain(datum);
    // Without the token, the page's own API calls are refused.
    expect((await fetch(`${gw.url}/auth/keys`)).status).toBe(401);
  });
});

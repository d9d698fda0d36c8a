import { mkdirSync } from 'node:fs';
import OpenAI from 'openai';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser.js';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { startFake, startGateway, type TestGateway } from '../support/gateway.js';

/** The /auth/device page in a real headless Chromium (Debian's package), as a person uses it. */
const ARTIFACTS = 'test-artifacts';

let fake: FakeCopilot;
let gw: TestGateway;
let browser: Browser;

beforeAll(async () => {
  fake = await startFake({ deviceIntervalSeconds: 1 });
  // Every test starts a flow from 127.0.0.1: more than DEVICE_START_LIMIT's default a minute.
  gw = await startGateway(fake, { DEVICE_START_LIMIT: '1000' }, { redis: false });
  browser = await launchChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await gw?.close();
  await fake?.stop();
});

describe('the /auth/device page', () => {
  it('starts the flow, shows the code, and after approval shows a key that works with the openai client', async () => {
    const page = await browser.newPage({ locale: 'en-US' });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    await page.goto(`${gw.url}/auth/device`);
    await page.click('#start');
    // textContent does not wait for the text: the element is in the page, empty, before the start
    // answers. On a loaded box it was read empty, and the denial went to no device at all.
    await page.locator('#step-code').waitFor({ state: 'visible', timeout: 10_000 });
    const code = (await page.locator('#user-code').textContent())!;
    expect(code).toMatch(/^[0-9A-F]{4}-[0-9A-F]{4}$/);
    expect(await page.locator('#open-github').getAttribute('href')).toBe(`${fake.url}/login/device?user_code=${code}`);

    fake.addUser('ghu_browseruser000000000000000000000000', { login: 'browser-user', id: 8080 });
    fake.approveDevice(code, 'ghu_browseruser000000000000000000000000');
    await page.locator('#step-key').waitFor({ state: 'visible', timeout: 10_000 });
    const key = (await page.locator('#api-key').textContent())!;
    const baseUrl = (await page.locator('#base-url').textContent())!;
    expect(key).toMatch(/^sk-cgw-[0-9A-Za-z]{40}$/);
    expect(baseUrl).toBe(`${gw.url}/v1`);
    expect(await page.locator('[data-t="done"]').textContent()).toContain('browser-user');

    await page.screenshot({ path: `${ARTIFACTS}/device-page.png`, fullPage: true });
    await page.click('#lang');
    expect(await page.locator('h1').textContent()).toBe('登录 Copilot Gateway');
    expect(await page.locator('[data-t="key"]').textContent()).toBe('你的 API 密钥：');
    expect(problems).toEqual([]);

    const client = new OpenAI({ baseURL: baseUrl, apiKey: key, maxRetries: 0 });
    const answer = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }] });
    expect(answer.choices[0].message.content).toBe('Hello from gpt-4o!');
  });

  it('shows the error when the person denies on GitHub', async () => {
    const page = await browser.newPage({ locale: 'en-US' });
    // What the page asked and heard, for the failure message: this test has timed out on loaded
    // CI machines and passed everywhere else, so a failure must say what the flow was doing.
    const t0 = Date.now();
    const seen: string[] = [];
    page.on('request', (r) => r.url().includes('/auth/device/') && seen.push(`${Date.now() - t0} ms → ${r.method()} ${new URL(r.url()).pathname}`));
    page.on('requestfailed', (r) => seen.push(`${Date.now() - t0} ms ✗ ${new URL(r.url()).pathname}: ${r.failure()?.errorText}`));
    page.on('response', (r) => r.url().includes('/auth/device/') && void r.text().then((b) => seen.push(`${Date.now() - t0} ms ← ${r.status()} ${b.slice(0, 160)}`), () => {}));
    page.on('pageerror', (e) => seen.push(`pageerror ${e.message}`));
    await page.goto(`${gw.url}/auth/device`);
    await page.click('#start');
    // textContent does not wait for the text: the element is in the page, empty, before the start
    // answers. On a loaded box it was read empty, and the denial went to no device at all.
    await page.locator('#step-code').waitFor({ state: 'visible', timeout: 10_000 });
    const code = (await page.locator('#user-code').textContent())!;
    fake.denyDevice(code);
    // On a loaded machine a poll can meet GitHub's slow_down (+5 s) or a passing 5xx, after which the
    // page doubles its interval (1, 2, 4, … s): the denial still shows, later.
    await page
      .locator('#error')
      .waitFor({ state: 'visible', timeout: 70_000 })
      .catch((err: Error) => {
        const d = [...fake.devices.values()].find((x) => x.userCode === code);
        throw new Error(`${err.message}\nGitHub's side: ${JSON.stringify(d && { state: d.state, interval: d.interval, lastPoll: d.lastPoll - t0 })}, polls ${fake.counters.devicePolls}\nthe page:\n${seen.join('\n')}`);
      });
    expect(await page.locator('#error').textContent()).toBe('The authorization was denied on GitHub.');
    expect(await page.locator('#start').textContent()).toBe('Start again');
  }, 90_000);

  it('is served with a strict CSP and no external resource', async () => {
    const res = await fetch(`${gw.url}/auth/device`);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'nonce-[^']+'/);
    const html = await res.text();
    expect(html).not.toMatch(/(src|href)="https?:/);
  });
});

import { request as httpRequest } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { freePort } from '../support/redis-server.js';
import { startFake } from '../support/gateway.js';
import { runEntry } from '../support/processes.js';

let fake: FakeCopilot;
const run = runEntry;

beforeAll(async () => {
  fake = await startFake({ acceptAnyToken: true });
});
afterAll(async () => {
  await fake?.stop();
});

describe('the gateway process', () => {
  it('refuses bad configuration with one line per variable and exit code 1', async () => {
    const p = run({ PORT: 'abc', RATE_LIMIT_WINDOW: '-5', REDIS_URL: 'http://nope' });
    expect(await p.exited).toBe(1);
    expect(p.output().trim().split('\n')).toEqual([
      'Invalid configuration:',
      '  PORT: must be a number',
      '  REDIS_URL: must be a redis:// or rediss:// URL',
      '  RATE_LIMIT_WINDOW: must be at least 1',
    ]);
  });

  it('says in one line that Redis cannot be reached, without the password, and exits 1', async () => {
    const port = await freePort();
    const p = run({ REDIS_URL: `redis://:hunter2secret@127.0.0.1:${port}`, TOKEN_ENCRYPTION_KEY: 'ab'.repeat(32) }, ['gateway']);
    expect(await p.exited).toBe(1);
    const lines = p.output().trim().split('\n');
    expect(lines.at(-1)).toMatch(new RegExp(`^copilot-gateway cannot start: cannot connect to Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}`));
    expect(p.output()).not.toContain('hunter2secret');
  });

  it('starts embedded without Redis and serves a chat completion through a passthrough GitHub token', async () => {
    const port = await freePort();
    const p = run({ PORT: String(port), HOST: '127.0.0.1', GITHUB_API_URL: fake.url, GITHUB_BASE_URL: fake.url, DATA_DIR: mkdtempSync(join(tmpdir(), 'cgw-proc-')), SHUTDOWN_DELAY_MS: '0' });
    for (let i = 0; i < 100 && !p.output().includes('listening'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(p.output()).toContain(`listening on 127.0.0.1:${port}, embedded mode (no REDIS_URL)`);
    const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer ghu_0123456789abcdef0123456789abcdef', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }] }),
    });
    expect(res.status).toBe(200);
    expect((await res.json()).choices[0].message.content).toBe('Hello from gpt-4o!');
    expect(p.output()).not.toContain('ghu_0123456789abcdef0123456789abcdef');
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });

  it('drains on SIGTERM: readiness 503 at once, open streams finish, new connections refused, exit 0', async () => {
    const port = await freePort();
    const p = run({
      PORT: String(port),
      HOST: '127.0.0.1',
      GITHUB_API_URL: fake.url,
      DATA_DIR: mkdtempSync(join(tmpdir(), 'cgw-drain-')),
      SHUTDOWN_DELAY_MS: '400',
      DRAIN_TIMEOUT_MS: '10000',
    });
    for (let i = 0; i < 100 && !p.output().includes('listening'); i++) await new Promise((r) => setTimeout(r, 100));
    const base = `http://127.0.0.1:${port}`;
    const streams = await Promise.all(
      [1, 2, 3].map(async () => {
        const res = await fetch(`${base}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: 'Bearer ghu_0123456789abcdef0123456789abcdef', 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Hi' }], fake_stream: { events: 12, interval_ms: 100 } }),
        });
        const reader = res.body!.getReader();
        let text = new TextDecoder().decode((await reader.read()).value);
        return (async () => {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return text;
            text += new TextDecoder().decode(value);
          }
        })();
      }),
    );
    p.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 50));
    expect((await fetch(`${base}/health/ready`)).status).toBe(503);
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
    for (const text of await Promise.all(streams)) expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    const refused = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/health', agent: false }, () => resolve('answered'));
      req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      req.end();
    });
    expect(refused).toBe('ECONNREFUSED');
    expect(await p.exited).toBe(0);
    expect(p.output()).toContain('draining: readiness is 503');
  });
});

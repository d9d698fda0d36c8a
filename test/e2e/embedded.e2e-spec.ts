import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { accountWithKey, chatBody, startFake, startGateway } from '../support/gateway.js';

/** No REDIS_URL: the same code paths on the memory driver, state in DATA_DIR. */
let fake: FakeCopilot;
beforeAll(async () => {
  fake = await startFake();
});
afterAll(async () => {
  await fake?.stop();
});

describe('embedded mode', () => {
  it('serves chat without Redis and keeps accounts and keys across a restart', async () => {
    const gw = await startGateway(fake, {}, { redis: false });
    const dataDir = gw.config.dataDir;
    expect(gw.config.mode).toBe('embedded');
    const { key, githubToken } = await accountWithKey(gw, fake, 'embedded');
    expect((await gw.post('/v1/chat/completions', chatBody(), key)).status).toBe(200);
    const ready = await (await gw.get('/health/ready')).json();
    expect(ready.info.store).toEqual({ status: 'up', driver: 'memory' });
    await gw.close();

    const state = readFileSync(join(dataDir, 'state.json'), 'utf8');
    expect(state).not.toContain(githubToken);
    expect(state).not.toContain(key);
    expect(statSync(join(dataDir, 'state.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'encryption.key')).mode & 0o777).toBe(0o600);

    const again = await startGateway(fake, { DATA_DIR: dataDir }, { redis: false });
    try {
      fake.resetCounters();
      const res = await again.post('/v1/chat/completions', chatBody({ stream: true }), key);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('data: [DONE]');
      // The token cache is in memory only: the restarted process exchanged the stored GitHub token.
      expect(fake.counters.exchanges).toBe(1);
    } finally {
      await again.close();
    }
  });

  it('limits the rate per key in memory', async () => {
    const gw = await startGateway(fake, { RATE_LIMIT_REQUESTS: '2' }, { redis: false });
    try {
      const { key } = await accountWithKey(gw, fake, 'embedded-rl');
      expect((await gw.post('/v1/chat/completions', chatBody(), key)).status).toBe(200);
      expect((await gw.post('/v1/chat/completions', chatBody(), key)).status).toBe(200);
      const res = await gw.post('/v1/chat/completions', chatBody(), key);
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    } finally {
      await gw.close();
    }
  });

  it('turns passthrough off with ALLOW_GITHUB_TOKEN_PASSTHROUGH=false', async () => {
    const gw = await startGateway(fake, { ALLOW_GITHUB_TOKEN_PASSTHROUGH: 'false' }, { redis: false });
    try {
      fake.addUser('ghu_notallowedpassthrough00000000000', { login: 'nope', id: 5 });
      const res = await gw.post('/v1/chat/completions', chatBody(), 'ghu_notallowedpassthrough00000000000');
      expect(res.status).toBe(401);
      expect((await res.json()).error.message).toBe('GitHub tokens are not accepted as API keys here; use an issued key (sk-cgw-...)');
    } finally {
      await gw.close();
    }
  });
});

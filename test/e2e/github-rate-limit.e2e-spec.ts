import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { accountWithKey, chatBody, startFake, startGateway, type TestGateway } from '../support/gateway.js';

/**
 * GitHub answers its rate limit on the token exchange with 403 as often as with 429. A 403 that
 * says "rate limit" is a passing failure: the account keeps its status and its keys work again
 * once the limit lifts. (Before, it marked the account no_subscription and its keys stopped.)
 */
let fake: FakeCopilot;
let gw: TestGateway;

beforeAll(async () => {
  fake = await startFake();
  gw = await startGateway(fake, {}, { redis: false });
});
afterAll(async () => {
  await gw?.close();
  await fake?.stop();
});

const statusOf = async (id: string) => (await gw.accounts.listAccounts()).find((a) => a.id === id)?.status;

describe("GitHub's rate limit on the token exchange", () => {
  const limits = {
    'x-ratelimit-remaining: 0': { status: 403, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 60) }, body: '{"message":"API rate limit exceeded"}' },
    'retry-after (secondary limit)': { status: 403, headers: { 'retry-after': '30' }, body: '{"message":"You have exceeded a secondary rate limit."}' },
    'a message only': { status: 403, body: '{"message":"API rate limit exceeded for user ID 1."}' },
  };
  for (const [name, answer] of Object.entries(limits)) {
    it(`is passing, not "no subscription": ${name}`, async () => {
      const { account, key } = await accountWithKey(gw, fake, `rl-${name.length}`);
      fake.expireTokens(); // the next call re-exchanges
      fake.script('exchange', answer);
      const refused = await gw.post('/v1/chat/completions', chatBody(), key);
      expect(refused.status).toBeGreaterThanOrEqual(500);
      expect((await statusOf(account.id))).not.toBe('no_subscription');
      // The limit lifted: the same key works again.
      const ok = await gw.post('/v1/chat/completions', chatBody(), key);
      expect(ok.status).toBe(200);
      expect((await statusOf(account.id))).toBe('active');
    });
  }

  it('a plain 403 still means no Copilot for the account', async () => {
    const { account, key } = await accountWithKey(gw, fake, 'no-copilot');
    fake.expireTokens();
    fake.script('exchange', { status: 403, body: '{"message":"Resource not accessible by integration"}' });
    await gw.post('/v1/chat/completions', chatBody(), key);
    expect((await statusOf(account.id))).toBe('no_subscription');
  });
});

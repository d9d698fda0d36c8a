import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { accountWithKey, chatBody, startFake, startGateway, uniquePrefix } from '../support/gateway.js';

/**
 * An upgrade from a release that named keys without Cluster hash tags (`account:<id>`, `key:<sha>`,
 * `resp:<id>`, `ritem:<key id>:<item>`): its accounts, API keys and stored responses keep working.
 * The old layout is made by renaming what this release wrote back to the old names.
 */
let fake: FakeCopilot;
let redis: Redis;

beforeAll(async () => {
  fake = await startFake();
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  redis?.disconnect();
  await fake?.stop();
});

describe('the hash-tagged key layout', () => {
  it('moves an older release’s accounts, keys and stored responses at start, once, and drops its refresh queue', async () => {
    const p = uniquePrefix();
    const before = await startGateway(fake, {}, { prefix: p });
    const { account, key, record } = await accountWithKey(before, fake);
    const created = await before.post('/v1/responses', { model: 'gpt-4o', input: 'Remember this' }, key);
    expect(created.status).toBe(200);
    const response = await created.json();
    await before.close();

    // As 0.1.0 left it.
    const tagged = await redis.keys(`${p}*{*`);
    const untag = (k: string) => k.replace(/\{([^}]*)\}/, '$1');
    for (const k of tagged.filter((k) => /:(account|key|resp|ritem):\{/.test(k))) await redis.rename(k, untag(k));
    await redis.del(`${p}layout`);
    await redis.hset(`${p}bull:refresh:meta`, 'opts.maxLenEvents', '10000');
    await redis.set(`${p}bull:refresh:id`, '7');
    expect(await redis.exists(`${p}account:${account.id}`, `${p}key:${record.hash}`, `${p}resp:${response.id}`)).toBe(3);

    const after = await startGateway(fake, {}, { prefix: p });
    try {
      expect((await after.post('/v1/chat/completions', chatBody(), key)).status).toBe(200);
      const again = await after.get(`/v1/responses/${response.id}`, key);
      expect(again.status).toBe(200);
      expect((await again.json()).id).toBe(response.id);
      const item = response.output.find((o: { type: string }) => o.type === 'message');
      const followUp = await after.post('/v1/responses', { model: 'gpt-4o', input: [{ type: 'item_reference', id: item.id }, { role: 'user', content: 'and?' }] }, key);
      expect(followUp.status).toBe(200);

      expect(await redis.exists(`${p}account:${account.id}`, `${p}key:${record.hash}`, `${p}resp:${response.id}`)).toBe(0);
      expect(await redis.keys(`${p}bull:*`)).toEqual([]);
      expect(await redis.get(`${p}layout`)).toBe('2');
      expect(await redis.exists(`${p}lock:layout`)).toBe(0);
    } finally {
      await after.close();
    }
  });
});

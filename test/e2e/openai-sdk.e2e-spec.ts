import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { accountWithKey, startFake, startGateway, type TestGateway } from '../support/gateway.js';

/** The official client, unmodified, against the gateway: what every OpenAI-compatible tool does. */
let fake: FakeCopilot;
let gw: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  fake = await startFake();
  gw = await startGateway(fake);
  const { key } = await accountWithKey(gw, fake, 'sdk-user');
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.close();
  await fake?.stop();
});

describe('the official openai npm client', () => {
  it('completes a chat', async () => {
    const answer = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }] });
    expect(answer.choices[0].message.content).toBe('Hello from gpt-4o!');
    expect(answer.usage?.total_tokens).toBe(17);
  });

  it('streams a chat, with usage when asked', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Hello' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: unknown = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('Hello from gpt-4o — ünïcödé ✓!');
    expect(usage).toEqual({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 });
  });

  it('lists and retrieves models, and embeds', async () => {
    const models = [];
    for await (const m of client.models.list()) models.push(m.id);
    expect(models).toContain('claude-sonnet-4');
    expect((await client.models.retrieve('gpt-4o')).id).toBe('gpt-4o');
    const emb = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
    expect(emb.data[0].embedding).toHaveLength(3);
  });

  it('raises the SDK error classes with the gateway error body', async () => {
    const bad = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-cgw-' + 'x'.repeat(40), maxRetries: 0 });
    await expect(bad.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({
      status: 401,
      code: 'invalid_api_key',
      type: 'authentication_error',
    });
    await expect(client.chat.completions.create({ model: 'gpt-9', messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});

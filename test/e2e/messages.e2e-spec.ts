import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { accountWithKey, startFake, startGateway, type TestGateway } from '../support/gateway.js';

/** Issue 11: the Anthropic Messages API on a native Claude model and a translated GPT model. */
let fake: FakeCopilot;
let gw: TestGateway;
let key: string;

beforeAll(async () => {
  fake = await startFake({ streamEvents: 3 });
  gw = await startGateway(fake, { MODEL_ALIASES: 'my-fast=gpt-4o' });
  ({ key } = await accountWithKey(gw, fake));
});
afterAll(async () => {
  await gw?.close();
  await fake?.stop();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(gw.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key, 'anthropic-version': '2023-06-01', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const ask = (model: string, extra: Record<string, unknown> = {}) => ({ model, max_tokens: 256, messages: [{ role: 'user', content: 'Say hello' }], ...extra });

/** The SSE frames of an Anthropic stream: [event name, data]. */
async function frames(res: Response): Promise<[string, any][]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((f) => f.trim())
    .map((f) => {
      const event = /^event: (.*)$/m.exec(f)?.[1] ?? '';
      const data = /^data: (.*)$/m.exec(f)?.[1] ?? 'null';
      return [event, JSON.parse(data)];
    });
}

/** The Anthropic stream grammar: names equal types, message_start first, one block open at a time, rising indices, message_stop last. */
function expectGrammar(events: [string, any][]) {
  for (const [name, data] of events) expect(name).toBe(data.type);
  const types = events.map(([n]) => n).filter((n) => n !== 'ping');
  expect(types[0]).toBe('message_start');
  expect(types.at(-1)).toBe('message_stop');
  expect(types.at(-2)).toBe('message_delta');
  let open: number | null = null;
  let next = 0;
  for (const [, d] of events) {
    if (d.type === 'content_block_start') {
      expect(open).toBeNull();
      expect(d.index).toBe(next++);
      open = d.index;
    } else if (d.type === 'content_block_delta') expect(d.index).toBe(open);
    else if (d.type === 'content_block_stop') {
      expect(d.index).toBe(open);
      open = null;
    }
  }
  expect(open).toBeNull();
}

describe.each([
  ['native', 'claude-sonnet-4', '/v1/messages'],
  ['translated', 'gpt-4o', '/chat/completions'],
])('POST /v1/messages, %s (%s)', (_kind, model, endpoint) => {
  it('answers a message, non-stream', async () => {
    fake.resetCounters();
    const res = await post('/v1/messages', ask(model));
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ type: 'message', role: 'assistant', model, stop_reason: 'end_turn' });
    expect(body.id).toMatch(/^msg_/);
    expect(body.content[0]).toMatchObject({ type: 'text' });
    expect(body.usage).toMatchObject({ input_tokens: expect.any(Number), output_tokens: expect.any(Number) });
    expect(fake.initiators.at(-1)).toMatchObject({ route: endpoint === '/v1/messages' ? 'messages' : 'chat', initiator: 'user' });
  });

  it('streams the exact Anthropic event sequence', async () => {
    const res = await post('/v1/messages?beta=true', ask(model, { stream: true }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await frames(res);
    expectGrammar(events);
    const text = events.filter(([, d]) => d.delta?.type === 'text_delta').map(([, d]) => d.delta.text).join('');
    expect(text.length).toBeGreaterThan(0);
    const delta = events.find(([n]) => n === 'message_delta')![1];
    expect(delta.delta.stop_reason).toBe('end_turn');
    expect(delta.usage.output_tokens).toBeGreaterThan(0);
  });

  it('runs a tool loop that costs one premium request', async () => {
    fake.resetCounters();
    const tools = [{ name: 'get_weather', description: 'Weather of a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }];
    const first = await post('/v1/messages', ask(model, { tools, messages: [{ role: 'user', content: 'Weather in Paris?' }] }));
    const answer = await first.json();
    expect(answer.stop_reason).toBe('tool_use');
    const use = answer.content.find((b: { type: string }) => b.type === 'tool_use');
    expect(use).toMatchObject({ name: 'get_weather', input: { city: 'Paris' } });
    expect(use.id).toBeTruthy();
    const second = await post(
      '/v1/messages',
      ask(model, {
        tools,
        messages: [
          { role: 'user', content: 'Weather in Paris?' },
          { role: 'assistant', content: answer.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'Sunny, 21 °C' }] },
        ],
      }),
    );
    expect(second.status).toBe(200);
    expect((await second.json()).stop_reason).toBe('end_turn');
    expect(fake.initiators.map((r) => r.initiator)).toEqual(['user', 'agent']);
  });
});

describe('Messages specifics', () => {
  it('maps Claude Code dated ids and MODEL_ALIASES to Copilot ids, and answers with the asked id', async () => {
    const dated = await post('/v1/messages', ask('claude-sonnet-4-20250514'));
    expect(dated.status).toBe(200);
    expect((await dated.json()).model).toBe('claude-sonnet-4-20250514');
    expect(fake.lastMessagesBody.model).toBe('claude-sonnet-4');
    expect((await post('/v1/messages', ask('claude-haiku-4-5-20251001'))).status).toBe(200);
    expect(fake.lastMessagesBody.model).toBe('claude-haiku-4.5');
    expect((await post('/v1/messages', ask('my-fast'))).status).toBe(200);
    expect(fake.lastChatBody.model).toBe('gpt-4o');
    const chat = await gw.post('/v1/chat/completions', { model: 'claude-opus-4-1-20250805', messages: [{ role: 'user', content: 'hi' }] }, key);
    expect(chat.status).toBe(200);
    expect(fake.lastChatBody.model).toBe('claude-opus-4.1');
  });

  it('forwards only the betas Copilot takes, and drops the web_search server tool', async () => {
    const res = await post(
      '/v1/messages',
      ask('claude-sonnet-4', { tools: [{ type: 'web_search_20250305', name: 'web_search' }] }),
      { 'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,prompt-caching-scope-2026-01-05' },
    );
    expect(res.status).toBe(200);
    expect(fake.lastHeaders['anthropic-beta']).toBe('interleaved-thinking-2025-05-14,context-management-2025-06-27');
    expect(fake.lastMessagesBody.tools ?? []).toEqual([]);
  });

  it('sends a compaction call as agent with x-interaction-type conversation-compaction', async () => {
    fake.resetCounters();
    const summary =
      'Your task is to create a detailed summary of the conversation so far, paying close attention to the user\'s explicit requests and your previous actions.';
    const res = await post('/v1/messages', ask('claude-sonnet-4', { messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }, { role: 'user', content: summary }] }));
    expect(res.status).toBe(200);
    expect(fake.initiators.at(-1)).toMatchObject({ initiator: 'agent', interaction: 'conversation-compaction' });
  });

  it('replays the recorded Claude Code request on a Claude and a GPT model', async () => {
    const recorded = JSON.parse(readFileSync('test/fixtures/clients/claude-code-2.1.197/2-after-tool-use.json', 'utf8'));
    const betas = recorded.headers['anthropic-beta'];
    for (const model of ['claude-sonnet-4', 'gpt-4o']) {
      const res = await post('/v1/messages?beta=true', { ...recorded.body, model }, { 'anthropic-beta': betas });
      expect(res.status, model).toBe(200);
      expectGrammar(await frames(res));
    }
  });

  it('counts tokens with the model tokenizer, without calling Copilot', async () => {
    const before = fake.counters.messagesRequests + fake.counters.chatRequests;
    const res = await post('/v1/messages/count_tokens', { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello, world' }] });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ input_tokens: 10 });
    const claude = await (await post('/v1/messages/count_tokens', { model: 'claude-sonnet-4', messages: [{ role: 'user', content: 'Hello, world' }] })).json();
    expect(claude.input_tokens).toBe(12);
    expect(fake.counters.messagesRequests + fake.counters.chatRequests).toBe(before);
  });

  it.each([
    ['no key', {}, ask('claude-sonnet-4'), 401, 'authentication_error'],
    ['a bad key', { 'x-api-key': 'sk-cgw-nonononononononononononononononononono' }, ask('claude-sonnet-4'), 401, 'authentication_error'],
    ['an unknown model', {}, ask('claude-9'), 404, 'not_found_error'],
    ['no max_tokens', {}, { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }, 400, 'invalid_request_error'],
    ['broken JSON', {}, '{"model":', 400, 'invalid_request_error'],
  ])('answers %s in Anthropic error shape', async (_name, headers, body, status, type) => {
    const h: Record<string, string> = { ...(headers as Record<string, string>) };
    const res =
      _name === 'no key'
        ? await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
        : await post('/v1/messages', body, h);
    expect(res.status).toBe(status);
    const err = await res.json();
    expect(err).toEqual({ type: 'error', error: { type, message: expect.any(String) } });
  });

  it('turns a 466 from Copilot into a 502 that names the identity settings', async () => {
    fake.options.requireEditorVersion = 'vscode/9.9.9';
    try {
      const res = await post('/v1/messages', ask('claude-sonnet-4'));
      expect(res.status).toBe(502);
      const err = await res.json();
      expect(err.error.type).toBe('api_error');
      expect(err.error.message).toMatch(/COPILOT_EDITOR_VERSION/);
    } finally {
      delete fake.options.requireEditorVersion;
    }
  });

  it('labels metrics by dialect, upstream endpoint and model', async () => {
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/cgw_proxied_requests_total\{dialect="anthropic",endpoint="\/v1\/messages",model="claude-sonnet-4",status="200"\} \d+/);
    expect(metrics).toMatch(/cgw_proxied_requests_total\{dialect="anthropic",endpoint="\/chat\/completions",model="gpt-4o",status="200"\} \d+/);
  });
});

import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { accountWithKey, startFake, startGateway, type TestGateway } from '../support/gateway.js';

/**
 * The official Anthropic client, unmodified, against POST /v1/messages and /v1/messages/count_tokens
 * of an in-process gateway (Redis, a registered account) on the fake upstream: on claude-sonnet-4,
 * which the gateway forwards to Copilot's own /v1/messages, and on gpt-4o, which it translates to
 * /chat/completions and back.
 */
let fake: FakeCopilot;
let gw: TestGateway;
let key: string;
let client: Anthropic;

beforeAll(async () => {
  fake = await startFake();
  gw = await startGateway(fake);
  ({ key } = await accountWithKey(gw, fake, 'anthropic-sdk-user'));
  client = new Anthropic({ baseURL: gw.url, apiKey: key, maxRetries: 0, timeout: 15_000 });
});
afterAll(async () => {
  await gw?.close();
  await fake?.stop();
});
beforeEach(() => fake.resetCounters());

const weatherTool: Anthropic.Tool = {
  name: 'get_weather',
  description: 'The weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

/**
 * The fake answers tool calls by itself on /v1/messages (any tool offered, no tool_result yet); on
 * chat it does so only for Claude models, so for gpt-4o the first chat answer is scripted: the
 * Copilot shape of a get_weather call, whole or streamed in fragments.
 */
function scriptChatToolCall(stream: boolean) {
  const base = { id: 'chatcmpl-tool1', created: Math.floor(Date.now() / 1000), model: 'gpt-4o' };
  const usage = { prompt_tokens: 12, completion_tokens: 8, total_tokens: 20 };
  if (!stream) {
    const body = { ...base, choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_w1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] } }], usage };
    return fake.script('chat', { status: 200, body: JSON.stringify(body) });
  }
  const events = [
    { choices: [], created: 0, id: '', prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] },
    { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_w1', type: 'function', function: { name: 'get_weather', arguments: '' } }] } }] },
    { ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] } }] },
    { ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] } }] },
    { ...base, choices: [{ index: 0, finish_reason: 'tool_calls', delta: { content: null } }], usage },
  ];
  const body = events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + 'data: [DONE]\n\n';
  return fake.script('chat', { status: 200, body, headers: { 'content-type': 'text/event-stream' } });
}

const textOf = (m: Anthropic.Message) =>
  m.content
    .filter((b): b is Anthropic.TextBlock => b.type === 'text')
    .map((b) => b.text)
    .join('');

/** What the upstream was sent for the follow-up turn: the tool call and its result, in its own dialect. */
function upstreamToolTurn(model: string): { callId: string; resultId: string; result: string } {
  if (model.startsWith('claude')) {
    const messages = fake.lastMessagesBody.messages;
    const use = messages.at(-2).content.find((b: any) => b.type === 'tool_use');
    const result = messages.at(-1).content.find((b: any) => b.type === 'tool_result');
    const text = typeof result.content === 'string' ? result.content : result.content.map((b: any) => b.text).join('');
    return { callId: use.id, resultId: result.tool_use_id, result: text };
  }
  const messages = JSON.parse(fake.lastChatRaw).messages;
  const call = messages.find((m: any) => m.role === 'assistant' && m.tool_calls?.length).tool_calls[0];
  const tool = messages.find((m: any) => m.role === 'tool');
  const text = typeof tool.content === 'string' ? tool.content : tool.content.map((b: any) => b.text).join('');
  return { callId: call.id, resultId: tool.tool_call_id, result: text };
}

describe.each([
  { model: 'claude-sonnet-4', how: 'native: forwarded to Copilot /v1/messages' },
  { model: 'gpt-4o', how: 'translated to /chat/completions' },
])('the official @anthropic-ai/sdk on $model ($how)', ({ model }) => {
  const native = model.startsWith('claude');
  const upstreamCalls = () => (native ? fake.counters.messagesRequests : fake.counters.chatRequests);

  it('creates a message (non-stream)', async () => {
    const answer = await client.messages.create({ model, max_tokens: 256, messages: [{ role: 'user', content: 'Hello' }] });
    expect(answer.type).toBe('message');
    expect(answer.role).toBe('assistant');
    expect(answer.id).toMatch(/^msg_/);
    expect(answer.model).toBe(model);
    expect(answer.content[0].type).toBe('text');
    expect(textOf(answer)).toContain(`Hello from ${model}`);
    expect(answer.stop_reason).toBe('end_turn');
    expect(answer.usage.input_tokens).toBeGreaterThan(0);
    expect(answer.usage.output_tokens).toBeGreaterThan(0);
    expect(upstreamCalls()).toBe(1);
  });

  it('streams a message: text deltas add up to finalMessage()', async () => {
    const stream = client.messages.stream({ model, max_tokens: 256, messages: [{ role: 'user', content: 'Hello' }] });
    const types: string[] = [];
    let text = '';
    stream.on('streamEvent', (e) => types.push(e.type));
    stream.on('text', (delta) => (text += delta));
    const final = await stream.finalMessage();
    expect(text).toBe(`Hello from ${model} — ünïcödé ✓!`);
    expect(textOf(final)).toBe(text);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBeGreaterThan(0);
    expect(types[0]).toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');
    expect(types.at(-2)).toBe('message_delta');
    expect(types).toContain('content_block_delta');
    expect(types.filter((t) => t === 'content_block_start').length).toBe(types.filter((t) => t === 'content_block_stop').length);
  });

  it.each([false, true])('completes a tool round trip (stream: %s)', async (streamed) => {
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'What is the weather in Paris?' }];
    if (!native) scriptChatToolCall(streamed);
    const first = streamed
      ? await client.messages.stream({ model, max_tokens: 256, tools: [weatherTool], messages }).finalMessage()
      : await client.messages.create({ model, max_tokens: 256, tools: [weatherTool], messages });
    expect(first.stop_reason).toBe('tool_use');
    const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
    expect(use).toBeDefined();
    expect(use!.name).toBe('get_weather');
    expect(use!.input).toEqual({ city: 'Paris' });
    expect(use!.id).toBeTruthy();

    messages.push({ role: 'assistant', content: first.content });
    messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: use!.id, content: '18°C and sunny' }] });
    const second = streamed
      ? await client.messages.stream({ model, max_tokens: 256, tools: [weatherTool], messages }).finalMessage()
      : await client.messages.create({ model, max_tokens: 256, tools: [weatherTool], messages });
    expect(second.stop_reason).toBe('end_turn');
    expect(textOf(second).length).toBeGreaterThan(0);
    if (native) expect(textOf(second)).toBe('Done: 18°C and sunny');

    // The upstream got the call and its result back, ids paired, in its own dialect.
    const turn = upstreamToolTurn(model);
    expect(turn.resultId).toBe(turn.callId);
    expect(turn.result).toBe('18°C and sunny');
    expect(upstreamCalls()).toBe(2);
    // A person asked once; the follow-up carrying the tool result is the agent's.
    expect(fake.initiators.map((r) => r.initiator)).toEqual(['user', 'agent']);
  });

  it('counts tokens', async () => {
    const short = await client.messages.countTokens({ model, messages: [{ role: 'user', content: 'Hello' }] });
    expect(Number.isInteger(short.input_tokens)).toBe(true);
    expect(short.input_tokens).toBeGreaterThan(0);
    const long = await client.messages.countTokens({
      model,
      system: 'You are a helpful assistant.',
      tools: [weatherTool],
      messages: [{ role: 'user', content: 'Hello, what is the weather in Paris and in Lyon today and tomorrow?' }],
    });
    expect(long.input_tokens).toBeGreaterThan(short.input_tokens);
    // counted by the gateway: no model call, no premium request
    expect(upstreamCalls()).toBe(0);
  });

  it('raises BadRequestError 400 invalid_request_error for a bad body', async () => {
    const err = await client.messages
      .create({ model, max_tokens: 64, messages: [{ role: 'tool', content: 'not a role here' }] } as unknown as Anthropic.MessageCreateParamsNonStreaming)
      .catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.status).toBe(400);
    expect(err.type).toBe('invalid_request_error');
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.any(String) } });
  });
});

describe('the official @anthropic-ai/sdk: errors', () => {
  it('raises AuthenticationError 401 authentication_error for a bad key (x-api-key and Bearer)', async () => {
    for (const bad of [
      new Anthropic({ baseURL: gw.url, apiKey: 'sk-cgw-' + 'x'.repeat(40), maxRetries: 0 }),
      new Anthropic({ baseURL: gw.url, authToken: 'sk-cgw-' + 'y'.repeat(40), apiKey: null, maxRetries: 0 }),
    ]) {
      const err = await bad.messages.create({ model: 'claude-sonnet-4', max_tokens: 64, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
      expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
      expect(err.status).toBe(401);
      expect(err.type).toBe('authentication_error');
      expect(err.error).toMatchObject({ type: 'error', error: { type: 'authentication_error', message: expect.any(String) } });
    }
    expect(fake.counters.messagesRequests + fake.counters.chatRequests).toBe(0);
  });

  it('raises NotFoundError 404 not_found_error for an unknown model', async () => {
    const err = await client.messages.create({ model: 'claude-nonexistent-9', max_tokens: 64, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expect(err.status).toBe(404);
    expect(err.type).toBe('not_found_error');
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'not_found_error', message: expect.any(String) } });
    const stream = client.messages.stream({ model: 'claude-nonexistent-9', max_tokens: 64, messages: [{ role: 'user', content: 'x' }] });
    const streamErr = await stream.finalMessage().catch((e) => e);
    expect(streamErr).toBeInstanceOf(Anthropic.NotFoundError);
    expect(fake.counters.messagesRequests + fake.counters.chatRequests).toBe(0);
  });
});

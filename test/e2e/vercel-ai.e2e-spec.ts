import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, streamText, tool, type ModelMessage } from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { accountWithKey, startFake, startGateway, type TestGateway } from '../support/gateway.js';

/**
 * The Vercel AI SDK (`ai` 6, `@ai-sdk/openai` 3), unmodified, with its default OpenAI provider
 * pointed at an in-process gateway: `openai(model)` speaks the Responses API (POST /v1/responses,
 * stream or not). On gpt-5-codex (Copilot's own /responses) and gpt-4o (translated to chat).
 *
 * What the SDK does on its own matters here: it leaves `store` unset (OpenAI's default, true), and
 * in a multi-step tool loop it sends the earlier steps' items back as
 * `{type:"item_reference", id}` — reasoning items always, an assistant text part too — with the
 * function_call and function_call_output in full, and no previous_response_id. With
 * `providerOptions.openai.store = false` it sends every item in full instead (reasoning with its
 * encrypted_content, which it then asks for), as Codex does.
 */
let fake: FakeCopilot;
let gw: TestGateway;
let openai: ReturnType<typeof createOpenAI>;
/** what the SDK sent to the gateway in this test (POST bodies, in order) */
const sent: any[] = [];

beforeAll(async () => {
  fake = await startFake();
  gw = await startGateway(fake);
  const { key } = await accountWithKey(gw, fake, 'vercel-ai-user');
  // the bodies the SDK posts, for the failure messages
  const recording: typeof fetch = async (input, init) => {
    if (typeof init?.body === 'string') sent.push(JSON.parse(init.body));
    return fetch(input, init);
  };
  openai = createOpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, fetch: recording });
});
afterAll(async () => {
  await gw?.close();
  await fake?.stop();
});
beforeEach(() => {
  fake.resetCounters();
  sent.length = 0;
});

/** The SDK's requests' input items, type and id only: what to look at when the gateway refused one. */
const sentInputs = () => JSON.stringify(sent.map((b) => (Array.isArray(b.input) ? b.input.map((i: any) => `${i.type ?? 'message'}${i.role ? `:${i.role}` : ''}${i.id ? `#${i.id}` : ''}`) : b.input)));

const MODELS = [
  { model: 'gpt-5-codex', how: 'native: Copilot /responses', route: 'responses' },
  { model: 'gpt-4o', how: 'translated to /chat/completions', route: 'chat' },
] as const;

const routes = () => fake.initiators.map((r) => r.route);
const greets = (model: string) => new RegExp(`^Hello from ${model}`);

/** One tool whose execution the tests can see. */
function weatherTool() {
  const calls: { city: string }[] = [];
  const get_weather = tool({
    description: 'The weather in a city',
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      calls.push({ city });
      return `18°C and sunny in ${city}`;
    },
  });
  return { calls, tools: { get_weather } };
}

/** The second model call as the upstream got it: the call and its result, ids paired, in its own dialect. */
function upstreamToolTurn(route: string): { callId: string; name: string; args: unknown; resultId: string; result: string } {
  if (route === 'responses') {
    const items: any[] = fake.lastResponsesBody.input;
    const call = items.find((i) => i.type === 'function_call');
    const out = items.find((i) => i.type === 'function_call_output');
    return { callId: call?.call_id, name: call?.name, args: JSON.parse(call?.arguments ?? 'null'), resultId: out?.call_id, result: typeof out?.output === 'string' ? out.output : JSON.stringify(out?.output) };
  }
  const messages: any[] = JSON.parse(fake.lastChatRaw).messages;
  const call = messages.find((m) => m.role === 'assistant' && m.tool_calls?.length)?.tool_calls[0];
  const out = messages.find((m) => m.role === 'tool');
  return {
    callId: call?.id,
    name: call?.function.name,
    args: JSON.parse(call?.function.arguments ?? 'null'),
    resultId: out?.tool_call_id,
    result: typeof out?.content === 'string' ? out.content : (out?.content ?? []).map((p: any) => p.text).join(''),
  };
}

describe.each(MODELS)('the Vercel AI SDK (default OpenAI provider, Responses API) on $model ($how)', ({ model, route }) => {
  it('generateText', async () => {
    const result = await generateText({ model: openai(model), prompt: 'Hello', maxRetries: 0 });
    expect(result.text).toMatch(greets(model));
    expect(result.finishReason).toBe('stop');
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.usage.outputTokens).toBeGreaterThan(0);
    expect(result.response.id).toMatch(/^resp_/);
    expect(result.response.modelId).toBe(model);
    expect(routes()).toEqual([route]);
    expect(fake.initiators.map((r) => r.initiator)).toEqual(['user']);
  });

  it('streamText: the textStream adds up to the text', async () => {
    const errors: unknown[] = [];
    const result = streamText({ model: openai(model), prompt: 'Hello', maxRetries: 0, onError: ({ error }) => void errors.push(error) });
    let text = '';
    let chunks = 0;
    for await (const delta of result.textStream) {
      text += delta;
      chunks++;
    }
    expect(errors).toEqual([]);
    expect(text).toMatch(greets(model));
    expect(chunks).toBeGreaterThan(1);
    expect(await result.text).toBe(text);
    expect(await result.finishReason).toBe('stop');
    const usage = await result.usage;
    expect(usage.inputTokens).toBeGreaterThan(0);
    expect(usage.outputTokens).toBeGreaterThan(0);
    expect((await result.response).id).toMatch(/^resp_/);
    expect(routes()).toEqual([route]);
  });

  describe.each([
    { store: 'default', providerOptions: undefined },
    { store: 'false', providerOptions: { openai: { store: false } } },
  ])('a tool round trip (tools + stopWhen), store: $store', ({ providerOptions }) => {
    const check = (steps: { text: string; toolCalls: any[]; toolResults: any[] }[], text: string, calls: { city: string }[]) => {
      expect(steps).toHaveLength(2);
      expect(steps[0].toolCalls).toHaveLength(1);
      expect(steps[0].toolCalls[0]).toMatchObject({ toolName: 'get_weather', input: { city: 'Paris' } });
      expect(steps[0].toolResults[0]).toMatchObject({ toolName: 'get_weather', output: '18°C and sunny in Paris' });
      expect(calls).toEqual([{ city: 'Paris' }]);
      expect(steps[1].toolCalls).toHaveLength(0);
      expect(text.length).toBeGreaterThan(0);
      // the fake's /responses answers "Done: <the tool's output>" after it; its chat the greeting
      if (route === 'responses') expect(text).toBe('Done: 18°C and sunny in Paris');

      const turn = upstreamToolTurn(route);
      expect(turn.name).toBe('get_weather');
      expect(turn.args).toEqual({ city: 'Paris' });
      expect(turn.resultId).toBe(turn.callId);
      expect(turn.result).toContain('18°C and sunny in Paris');
      // what the model said before calling (gpt-4o's chat stream has text ahead of the call) is part of the conversation too
      if (steps[0].text)
        expect(route === 'responses' ? JSON.stringify(fake.lastResponsesBody.input) : fake.lastChatRaw, `the first step's text reached the upstream; the SDK sent: ${sentInputs()}`).toContain(steps[0].text);
      expect(routes()).toEqual([route, route]);
      expect(fake.initiators.map((r) => r.initiator)).toEqual(['user', 'agent']);
    };

    it('generateText', async () => {
      const { calls, tools } = weatherTool();
      const result = await generateText({
        model: openai(model),
        tools,
        stopWhen: stepCountIs(4),
        prompt: 'What is the weather in Paris?',
        maxRetries: 0,
        providerOptions,
      }).catch((err) => {
        throw new Error(`${err.statusCode} ${err.message}\nthe SDK sent: ${sentInputs()}`);
      });
      check(result.steps, result.text, calls);
      expect(result.finishReason).toBe('stop');
    });

    it('streamText', async () => {
      const { calls, tools } = weatherTool();
      const errors: unknown[] = [];
      const result = streamText({
        model: openai(model),
        tools,
        stopWhen: stepCountIs(4),
        prompt: 'What is the weather in Paris?',
        maxRetries: 0,
        providerOptions,
        onError: ({ error }) => void errors.push(error),
      });
      let text = '';
      for await (const delta of result.textStream) text += delta;
      expect(errors.map((e: any) => `${e.statusCode} ${e.message}`), `the SDK sent: ${sentInputs()}`).toEqual([]);
      const steps = await result.steps;
      check(steps, await result.text, calls);
      expect(text).toContain(steps[1].text);
      expect(await result.finishReason).toBe('stop');
    });
  });

  it('continues a conversation kept by the client (messages from the last result)', async () => {
    const first = await generateText({ model: openai(model), prompt: 'My name is Ada.', maxRetries: 0 });
    const messages: ModelMessage[] = [{ role: 'user', content: 'My name is Ada.' }, ...first.response.messages, { role: 'user', content: 'What is my name?' }];
    const second = await generateText({ model: openai(model), messages, maxRetries: 0 }).catch((err) => {
      throw new Error(`${err.statusCode} ${err.message}\nthe SDK sent: ${sentInputs()}`);
    });
    expect(second.text).toMatch(greets(model));
    expect(routes()).toEqual([route, route]);
    expect(fake.initiators.map((r) => r.initiator)).toEqual(['user', 'user']);
    // the earlier answer reached the upstream as the assistant's turn
    const upstream = route === 'responses' ? JSON.stringify(fake.lastResponsesBody.input) : fake.lastChatRaw;
    expect(upstream).toContain('My name is Ada.');
    expect(upstream, `the SDK sent: ${sentInputs()}`).toContain(first.text);
    expect(upstream).toContain('What is my name?');
  });

  it('continues a stored conversation with providerOptions.openai.previousResponseId', async () => {
    const first = await generateText({ model: openai(model), prompt: 'My name is Ada.', maxRetries: 0 });
    const second = await generateText({
      model: openai(model),
      prompt: 'What is my name?',
      maxRetries: 0,
      providerOptions: { openai: { previousResponseId: first.response.id } },
    });
    expect(second.text).toMatch(greets(model));
    const upstream = route === 'responses' ? JSON.stringify(fake.lastResponsesBody.input) : fake.lastChatRaw;
    expect(upstream).toContain('My name is Ada.');
    expect(upstream).toContain(first.text);
    expect(upstream).toContain('What is my name?');
  });
});

describe('the Vercel AI SDK: errors', () => {
  it('an unknown model and a bad key surface as APICallError with the gateway status', async () => {
    const err = await generateText({ model: openai('gpt-9'), prompt: 'x', maxRetries: 0 }).catch((e) => e);
    expect(err?.name, String(err)).toBe('AI_APICallError');
    expect(err.statusCode).toBe(404);
    const bad = createOpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-cgw-' + 'x'.repeat(40) });
    const authErr = await generateText({ model: bad('gpt-4o'), prompt: 'x', maxRetries: 0 }).catch((e) => e);
    expect(authErr?.name, String(authErr)).toBe('AI_APICallError');
    expect(authErr.statusCode).toBe(401);
    expect(routes()).toEqual([]);
  });
});

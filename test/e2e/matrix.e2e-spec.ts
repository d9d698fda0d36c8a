import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { accountWithKey, startFake, startGateway, type TestGateway } from '../support/gateway.js';

/**
 * Any dialect reaches any model (design.md §4): the three client dialects × models Copilot serves on
 * chat completions only, on its Messages API (and chat), on the Responses API only; stream and
 * non-stream; a text answer and a tool call each. Every cell asserts the answer in the client's
 * own terms and which upstream endpoint served it.
 */
let fake: FakeCopilot;
let gw: TestGateway;
let key: string;

beforeAll(async () => {
  fake = await startFake({ streamEvents: 3 });
  gw = await startGateway(fake);
  ({ key } = await accountWithKey(gw, fake));
});
afterAll(async () => {
  await gw?.close();
  await fake?.stop();
});

const MODELS = [
  ['gpt-4o', 'chat'],
  ['claude-sonnet-4', 'messages'],
  ['gpt-5-codex', 'responses'],
] as const;

const weather = { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };

interface Outcome {
  text: string;
  tool: { name: string; args: Record<string, unknown> } | null;
}

/** SSE frames → the data payloads, parsed (`[DONE]` dropped). */
async function sse(res: Response): Promise<any[]> {
  const text = await res.text();
  return text
    .split(/\n\n/)
    .map((f) => /^data: (.*)$/m.exec(f)?.[1])
    .filter((d): d is string => !!d && d !== '[DONE]')
    .map((d) => JSON.parse(d));
}

const post = (path: string, body: unknown) =>
  fetch(gw.url + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

const CLIENTS: Record<string, (model: string, stream: boolean, tools: boolean) => Promise<Outcome>> = {
  async chat(model, stream, tools) {
    const res = await post('/v1/chat/completions', { model, stream, messages: [{ role: 'user', content: 'Weather in Paris?' }], ...(tools ? { tools: [{ type: 'function', function: weather }] } : {}) });
    expect(res.status, await res.clone().text()).toBe(200);
    if (!stream) {
      const body = await res.json();
      expect(body.object).toBe('chat.completion');
      const msg = body.choices[0].message;
      const call = msg.tool_calls?.[0];
      return { text: msg.content ?? '', tool: call ? { name: call.function.name, args: JSON.parse(call.function.arguments) } : null };
    }
    const chunks = await sse(res);
    for (const c of chunks) {
      expect(c.object).toBe('chat.completion.chunk');
      expect(c.choices.length).toBeGreaterThan(0);
    }
    const text = chunks.map((c) => c.choices[0].delta.content ?? '').join('');
    const parts = chunks.flatMap((c) => c.choices[0].delta.tool_calls ?? []);
    const name = parts.find((p: any) => p.function?.name)?.function.name;
    return { text, tool: name ? { name, args: JSON.parse(parts.map((p: any) => p.function?.arguments ?? '').join('')) } : null };
  },
  async messages(model, stream, tools) {
    const res = await post('/v1/messages', {
      model,
      stream,
      max_tokens: 512,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      ...(tools ? { tools: [{ name: weather.name, description: weather.description, input_schema: weather.parameters }] } : {}),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    if (!stream) {
      const body = await res.json();
      expect(body.type).toBe('message');
      const use = body.content.find((b: any) => b.type === 'tool_use');
      return { text: body.content.filter((b: any) => b.type === 'text').map((b: any) => b.text).join(''), tool: use ? { name: use.name, args: use.input } : null };
    }
    const events = await sse(res);
    expect(events[0].type).toBe('message_start');
    expect(events.at(-1).type).toBe('message_stop');
    const text = events.filter((e) => e.delta?.type === 'text_delta').map((e) => e.delta.text).join('');
    const start = events.find((e) => e.type === 'content_block_start' && e.content_block.type === 'tool_use');
    const json = events.filter((e) => e.delta?.type === 'input_json_delta').map((e) => e.delta.partial_json).join('');
    return { text, tool: start ? { name: start.content_block.name, args: JSON.parse(json || '{}') } : null };
  },
  async responses(model, stream, tools) {
    const res = await post('/v1/responses', { model, stream, input: 'Weather in Paris?', ...(tools ? { tools: [{ type: 'function', ...weather }] } : {}) });
    expect(res.status, await res.clone().text()).toBe(200);
    let response: any;
    if (!stream) response = await res.json();
    else {
      const events = await sse(res);
      expect(events[0].type).toBe('response.created');
      const seq = events.map((e) => e.sequence_number);
      expect(seq).toEqual([...seq].sort((a, b) => a - b));
      const done = events.at(-1);
      expect(done.type).toBe('response.completed');
      response = done.response;
      // The items the events built are the ones the final response lists.
      const added = events.filter((e) => e.type === 'response.output_item.done').map((e) => e.item.id);
      expect(added).toEqual(response.output.map((i: any) => i.id));
    }
    expect(response.object).toBe('response');
    expect(response.id).toMatch(/^resp_/);
    const text = response.output.filter((i: any) => i.type === 'message').flatMap((i: any) => i.content.map((c: any) => c.text ?? '')).join('');
    const call = response.output.find((i: any) => i.type === 'function_call');
    return { text, tool: call ? { name: call.name, args: JSON.parse(call.arguments) } : null };
  },
};

const UPSTREAM_ROUTE: Record<string, (client: string) => string> = {
  chat: () => 'chat',
  messages: (client) => (client === 'messages' ? 'messages' : 'chat'),
  responses: () => 'responses',
};

describe.each(Object.keys(CLIENTS))('%s client', (client) => {
  describe.each(MODELS)('on %s (served on %s)', (model, servedOn) => {
    it.each([
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ])('stream=%s tools=%s', async (stream, tools) => {
      fake.resetCounters();
      const out = await CLIENTS[client](model, stream, tools);
      if (tools) {
        expect(out.tool).toEqual({ name: 'get_weather', args: { city: 'Paris' } });
      } else {
        expect(out.tool).toBeNull();
        expect(out.text.length).toBeGreaterThan(0);
      }
      expect(fake.initiators.map((r) => r.route)).toEqual([UPSTREAM_ROUTE[servedOn](client)]);
    });
  });
});

import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { accountWithKey, startFake, startGateway, uniquePrefix, type TestGateway } from '../support/gateway.js';

/**
 * The official `openai` client, unmodified, on the Responses API (`client.responses.*`) of two
 * gateway replicas sharing one Redis (the same key prefix), on the fake upstream: gpt-5-codex
 * (Copilot's own /responses), gpt-4o (translated to /chat/completions) and claude-sonnet-4
 * (translated to Copilot's /v1/messages or chat, whichever the gateway picks). Responses are kept by
 * the gateway (Copilot keeps none), so a conversation begun on one replica continues, is read and
 * is deleted on the other.
 */
let fake: FakeCopilot;
let gwA: TestGateway;
let gwB: TestGateway;
/** the same key on replica A and on replica B */
let a: OpenAI;
let b: OpenAI;
/** another account's key, on replica A */
let other: OpenAI;

const client = (gw: TestGateway, apiKey: string) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey, maxRetries: 0, timeout: 15_000 });

beforeAll(async () => {
  fake = await startFake();
  const prefix = uniquePrefix();
  gwA = await startGateway(fake, {}, { prefix });
  gwB = await startGateway(fake, {}, { prefix });
  const { key } = await accountWithKey(gwA, fake, 'responses-sdk-user');
  const { key: otherKey } = await accountWithKey(gwA, fake, 'responses-sdk-other');
  a = client(gwA, key);
  b = client(gwB, key);
  other = client(gwA, otherKey);
});
afterAll(async () => {
  await gwA?.close();
  await gwB?.close();
  await fake?.stop();
});
beforeEach(() => fake.resetCounters());

const weatherTool: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: false,
};

/** Which Copilot endpoint serves each model: its own /responses, or a translation. */
const MODELS = [
  { model: 'gpt-5-codex', how: 'native: Copilot /responses', routes: ['responses'] },
  { model: 'gpt-4o', how: 'translated to /chat/completions', routes: ['chat'] },
  { model: 'claude-sonnet-4', how: 'translated (Copilot /v1/messages or chat)', routes: ['messages', 'chat'] },
] as const;

/** The model calls that reached the fake, by route. */
const routes = () => fake.initiators.filter((r) => r.route !== 'embeddings').map((r) => r.route);

/** A conversation as the upstream received it, in one shape whatever the dialect. */
type Turn =
  | { kind: 'message'; role: string; text: string }
  | { kind: 'call'; id: string; name: string; args: unknown }
  | { kind: 'result'; id: string; text: string }
  | { kind: 'reasoning' };

const textOf = (content: unknown): string =>
  typeof content === 'string'
    ? content
    : Array.isArray(content)
      ? content.map((p: any) => (typeof p?.text === 'string' ? p.text : typeof p === 'string' ? p : '')).join('')
      : '';

const parseArgs = (s: unknown) => {
  try {
    return typeof s === 'string' ? JSON.parse(s) : s;
  } catch {
    return s;
  }
};

/** The last model call's conversation, read from whichever endpoint it went to, plus its raw body. */
function lastUpstream(): { route: string; turns: Turn[]; body: any } {
  const route = fake.initiators.at(-1)?.route;
  const turns: Turn[] = [];
  if (route === 'responses') {
    const body = fake.lastResponsesBody;
    const items: any[] = typeof body.input === 'string' ? [{ type: 'message', role: 'user', content: body.input }] : body.input;
    if (body.instructions) turns.push({ kind: 'message', role: 'system', text: body.instructions });
    for (const item of items) {
      const type = item.type ?? 'message';
      if (type === 'message') turns.push({ kind: 'message', role: item.role, text: textOf(item.content) });
      else if (type === 'function_call') turns.push({ kind: 'call', id: item.call_id, name: item.name, args: parseArgs(item.arguments) });
      else if (type === 'function_call_output') turns.push({ kind: 'result', id: item.call_id, text: textOf(item.output) });
      else if (type === 'reasoning') turns.push({ kind: 'reasoning' });
    }
    return { route, turns, body };
  }
  if (route === 'chat') {
    const body = JSON.parse(fake.lastChatRaw);
    for (const m of body.messages) {
      if (m.role === 'tool') turns.push({ kind: 'result', id: m.tool_call_id, text: textOf(m.content) });
      else {
        if (textOf(m.content)) turns.push({ kind: 'message', role: m.role, text: textOf(m.content) });
        for (const c of m.tool_calls ?? []) turns.push({ kind: 'call', id: c.id, name: c.function.name, args: parseArgs(c.function.arguments) });
      }
    }
    return { route, turns, body };
  }
  if (route === 'messages') {
    const body = fake.lastMessagesBody;
    if (body.system) turns.push({ kind: 'message', role: 'system', text: textOf(body.system) });
    for (const m of body.messages) {
      if (typeof m.content === 'string') {
        turns.push({ kind: 'message', role: m.role, text: m.content });
        continue;
      }
      for (const block of m.content) {
        if (block.type === 'text') turns.push({ kind: 'message', role: m.role, text: block.text });
        else if (block.type === 'tool_use') turns.push({ kind: 'call', id: block.id, name: block.name, args: block.input });
        else if (block.type === 'tool_result') turns.push({ kind: 'result', id: block.tool_use_id, text: textOf(block.content) });
        else if (block.type === 'thinking' || block.type === 'redacted_thinking') turns.push({ kind: 'reasoning' });
      }
    }
    return { route, turns, body };
  }
  throw new Error(`no model call reached the fake (initiators: ${JSON.stringify(fake.initiators)})`);
}

/** Without what the SDK's stream helper adds to output_text parts (`parsed: null`), for comparing with a retrieved response. */
const plain = <T>(x: T): T => JSON.parse(JSON.stringify(x, (k, v) => (k === 'parsed' ? undefined : v)));

/** The index of the first turn matching, after `from`; -1 when none. */
const indexOf = (turns: Turn[], want: (t: Turn) => boolean, from = -1) => turns.findIndex((t, i) => i > from && want(t));

/** What the fake writes as text: "Hello from <model>…" on a fresh turn, "Done: <output>" after a tool's output (responses, messages). */
const greets = (model: string) => new RegExp(`^Hello from ${model.replace(/[.]/g, '\\.')}`);

/** Retrieve and expect the SDK's 404 class (the gateway answers 404 for an unknown id and for another key's). */
async function expectNotFound(p: Promise<unknown>) {
  const err = await p.then(
    () => null,
    (e) => e,
  );
  expect(err, 'expected a 404 NotFoundError').toBeInstanceOf(OpenAI.NotFoundError);
  expect(err.status).toBe(404);
  return err as InstanceType<typeof OpenAI.NotFoundError>;
}

describe.each(MODELS)('the official openai client, responses.* on $model ($how)', ({ model, routes: expected }) => {
  it('creates a response (non-stream): output_text, usage, stored', async () => {
    const r = await a.responses.create({ model, input: 'Hello' });
    expect(r.object).toBe('response');
    expect(r.id).toMatch(/^resp_/);
    expect(r.status).toBe('completed');
    expect(r.model).toBe(model);
    expect(r.output_text).toMatch(greets(model));
    const message = r.output.find((i): i is OpenAI.Responses.ResponseOutputMessage => i.type === 'message');
    expect(message, JSON.stringify(r.output)).toMatchObject({ role: 'assistant', id: expect.any(String), content: [{ type: 'output_text', text: r.output_text }] });
    expect(r.usage!.input_tokens).toBeGreaterThan(0);
    expect(r.usage!.output_tokens).toBeGreaterThan(0);
    expect(r.usage!.total_tokens).toBe(r.usage!.input_tokens + r.usage!.output_tokens);
    expect.soft((r as any).store, 'a stored response says store: true').toBe(true);

    expect(routes()).toHaveLength(1);
    expect(expected).toContain(routes()[0]);
    expect(fake.initiators.map((x) => x.initiator)).toEqual(['user']);
  });

  it('streams a response: the events add up to finalResponse()', async () => {
    const stream = a.responses.stream({ model, input: 'Hello' });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    let text = '';
    for await (const e of stream) {
      events.push(e);
      if (e.type === 'response.output_text.delta') text += e.delta;
    }
    const final = await stream.finalResponse();
    const types = events.map((e) => e.type);

    expect(types[0]).toBe('response.created');
    expect(types[1]).toBe('response.in_progress');
    expect(types.at(-1)).toBe('response.completed');
    for (const t of ['response.output_item.added', 'response.content_part.added', 'response.output_text.delta', 'response.output_text.done', 'response.content_part.done', 'response.output_item.done'])
      expect(types, t).toContain(t);
    expect(types.filter((t) => t === 'response.output_item.added').length).toBe(types.filter((t) => t === 'response.output_item.done').length);
    // sequence_number 0, 1, 2, … on every event
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    // every item event names the item at its output_index by the id the final response lists
    for (const e of events as any[]) {
      if (e.type === 'response.output_item.added' || e.type === 'response.output_item.done') expect(e.item.id, e.type).toBe(final.output[e.output_index]?.id);
      else if (typeof e.item_id === 'string') expect(e.item_id, e.type).toBe(final.output[e.output_index]?.id);
    }

    expect(text).toMatch(greets(model));
    expect(final.output_text).toBe(text);
    expect(final.status).toBe('completed');
    expect(final.id).toMatch(/^resp_/);
    expect((events[0] as OpenAI.Responses.ResponseCreatedEvent).response.id).toBe(final.id);
    expect(final.model).toBe(model);
    expect(final.usage!.output_tokens).toBeGreaterThan(0);
    expect(final.usage!.total_tokens).toBe(final.usage!.input_tokens + final.usage!.output_tokens);

    // a streamed response is stored too, readable on the other replica
    const got = await b.responses.retrieve(final.id);
    expect(got.output_text).toBe(text);
    expect(plain(got.output)).toEqual(plain(final.output));

    expect(routes()).toHaveLength(1);
    expect(expected).toContain(routes()[0]);
  });

  it.each([false, true])('completes a function-tool round trip, continued on the other replica (stream: %s)', async (streamed) => {
    const create = (c: OpenAI, body: OpenAI.Responses.ResponseCreateParamsNonStreaming): Promise<OpenAI.Responses.Response> =>
      streamed ? c.responses.stream({ ...body, stream: true }).finalResponse() : c.responses.create(body);

    const first = await create(a, { model, input: 'What is the weather in Paris?', tools: [weatherTool] });
    expect(first.status).toBe('completed');
    const call = first.output.find((i): i is OpenAI.Responses.ResponseFunctionToolCall => i.type === 'function_call');
    expect(call, JSON.stringify(first.output)).toBeDefined();
    expect(call!.name).toBe('get_weather');
    expect(JSON.parse(call!.arguments)).toEqual({ city: 'Paris' });
    expect(call!.call_id).toBeTruthy();

    // replica B: only the tool's output, the rest is the stored conversation
    const second = await create(b, {
      model,
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call!.call_id, output: '18°C and sunny' }],
      tools: [weatherTool],
    });
    expect(second.status).toBe('completed');
    expect.soft(second.previous_response_id, 'the response echoes previous_response_id').toBe(first.id);
    expect(second.output.some((i) => i.type === 'function_call')).toBe(false);
    expect(second.output_text.length).toBeGreaterThan(0);

    // What reached Copilot: the whole conversation, the call and its output paired, in its own dialect.
    const up = lastUpstream();
    if (up.route !== 'chat') expect(second.output_text).toBe('Done: 18°C and sunny');
    const asked = indexOf(up.turns, (t) => t.kind === 'message' && t.role === 'user' && t.text === 'What is the weather in Paris?');
    const called = indexOf(up.turns, (t) => t.kind === 'call' && t.name === 'get_weather', asked);
    expect(asked, JSON.stringify(up.turns)).toBeGreaterThanOrEqual(0);
    expect(called, JSON.stringify(up.turns)).toBeGreaterThan(asked);
    const callTurn = up.turns[called] as Extract<Turn, { kind: 'call' }>;
    expect(callTurn.args).toEqual({ city: 'Paris' });
    const answered = indexOf(up.turns, (t) => t.kind === 'result', called);
    expect(answered, JSON.stringify(up.turns)).toBeGreaterThan(called);
    expect(up.turns[answered]).toEqual({ kind: 'result', id: callTurn.id, text: '18°C and sunny' });
    if (up.route === 'responses') {
      expect(callTurn.id).toBe(call!.call_id);
      expect(up.body.previous_response_id).toBeUndefined();
      expect(up.body.store).toBe(false);
    }

    expect(routes()).toHaveLength(2);
    expect(expected).toContain(routes()[0]);
    // a person asked once; the follow-up carrying the tool's output is the agent's
    expect(fake.initiators.map((x) => x.initiator)).toEqual(['user', 'agent']);
  });

  it('continues a conversation with previous_response_id on the other replica; retrieve and inputItems.list on either', async () => {
    const first = await a.responses.create({ model, input: 'My name is Ada.' });
    const second = await b.responses.create({ model, previous_response_id: first.id, input: 'What is my name?' });
    expect(second.status).toBe('completed');
    expect(second.id).not.toBe(first.id);
    expect.soft(second.previous_response_id, 'the response echoes previous_response_id').toBe(first.id);
    expect(second.output_text).toMatch(greets(model));

    // the upstream got the earlier turn (question and answer) ahead of the new question
    const up = lastUpstream();
    const q1 = indexOf(up.turns, (t) => t.kind === 'message' && t.role === 'user' && t.text === 'My name is Ada.');
    const a1 = indexOf(up.turns, (t) => t.kind === 'message' && t.role === 'assistant' && t.text === first.output_text, q1);
    const q2 = indexOf(up.turns, (t) => t.kind === 'message' && t.role === 'user' && t.text === 'What is my name?', a1);
    expect([q1, a1, q2].every((i) => i >= 0), JSON.stringify(up.turns)).toBe(true);
    expect(q2).toBe(up.turns.length - 1);
    if (up.route === 'responses') expect(up.body.previous_response_id).toBeUndefined();
    expect(fake.initiators.map((x) => x.initiator)).toEqual(['user', 'user']);

    // retrieve: the same response on both replicas
    for (const c of [a, b]) {
      const got = await c.responses.retrieve(second.id);
      expect(got).toMatchObject({ id: second.id, object: 'response', status: 'completed', model });
      expect.soft(got.previous_response_id, 'retrieve echoes previous_response_id').toBe(first.id);
      expect(plain(got.output)).toEqual(plain(second.output));
      expect(got.output_text).toBe(second.output_text);
      expect(got.usage).toEqual(second.usage);
    }

    // input items: the first response's is its one message; the second's end with its own input
    const firstItems: OpenAI.Responses.ResponseItem[] = [];
    for await (const item of b.responses.inputItems.list(first.id)) firstItems.push(item);
    expect(firstItems).toHaveLength(1);
    expect(firstItems[0]).toMatchObject({ type: 'message', role: 'user', id: expect.any(String) });
    expect(textOf((firstItems[0] as any).content)).toBe('My name is Ada.');

    const asc: OpenAI.Responses.ResponseItem[] = [];
    for await (const item of a.responses.inputItems.list(second.id, { order: 'asc' })) asc.push(item);
    const last = asc.at(-1) as any;
    expect(last, JSON.stringify(asc)).toMatchObject({ type: 'message', role: 'user', id: expect.any(String) });
    expect(textOf(last.content)).toBe('What is my name?');
    for (const item of asc) expect((item as any).id, JSON.stringify(item)).toEqual(expect.any(String));
    // OpenAI's default order (the `order` parameter of GET /v1/responses/{id}/input_items) is desc: newest first
    const byDefault: OpenAI.Responses.ResponseItem[] = [];
    for await (const item of a.responses.inputItems.list(second.id)) byDefault.push(item);
    expect.soft(byDefault.map((i) => i.id), 'input_items lists newest first by default').toEqual([...asc].reverse().map((i) => i.id));
  });

  it('deletes a response: retrieve, inputItems, delete and previous_response_id then answer 404 on both replicas', async () => {
    const r = await a.responses.create({ model, input: 'Hello' });
    expect((await b.responses.retrieve(r.id)).id).toBe(r.id);
    await b.responses.delete(r.id);
    for (const c of [a, b]) {
      const err = await expectNotFound(c.responses.retrieve(r.id));
      expect(err.code).toBe('response_not_found');
      await expectNotFound(c.responses.inputItems.list(r.id));
    }
    await expectNotFound(a.responses.delete(r.id));
    fake.resetCounters();
    const err = await a.responses.create({ model, previous_response_id: r.id, input: 'Again' }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect([400, 404]).toContain(err.status);
    expect(err.code).toBe('previous_response_not_found');
    expect(routes()).toEqual([]);
  });

  it("keeps another key's responses out of reach (404, as an unknown id)", async () => {
    const r = await a.responses.create({ model, input: 'Hello' });
    const err = await expectNotFound(other.responses.retrieve(r.id));
    expect(err.code).toBe('response_not_found');
    await expectNotFound(other.responses.inputItems.list(r.id));
    await expectNotFound(other.responses.delete(r.id));
    fake.resetCounters();
    const cont = await other.responses.create({ model, previous_response_id: r.id, input: 'Whose is this?' }).catch((e) => e);
    expect(cont).toBeInstanceOf(OpenAI.APIError);
    expect([400, 404]).toContain(cont.status);
    expect(cont.code).toBe('previous_response_not_found');
    expect(routes()).toEqual([]);
    // still there for its owner
    expect((await b.responses.retrieve(r.id)).id).toBe(r.id);
    await expectNotFound(a.responses.retrieve('resp_' + '0'.repeat(48)));
  });

  it('store:false answers but keeps nothing: retrieve 404, no continuation', async () => {
    const r = await a.responses.create({ model, input: 'Hello', store: false });
    expect(r.status).toBe('completed');
    expect(r.output_text).toMatch(greets(model));
    expect.soft((r as any).store, 'the request said store: false').toBe(false);
    for (const c of [a, b]) await expectNotFound(c.responses.retrieve(r.id));
    const cont = await b.responses.create({ model, previous_response_id: r.id, input: 'Again' }).catch((e) => e);
    expect(cont).toBeInstanceOf(OpenAI.APIError);
    expect(cont.code).toBe('previous_response_not_found');

    const streamed = await a.responses.stream({ model, input: 'Hello', store: false }).finalResponse();
    expect(streamed.output_text).toMatch(greets(model));
    await expectNotFound(b.responses.retrieve(streamed.id));
  });
});

describe('the official openai client, responses.*: errors', () => {
  it('raises AuthenticationError 401 for a bad key (create and stream)', async () => {
    const bad = client(gwA, 'sk-cgw-' + 'x'.repeat(40));
    const err = await bad.responses.create({ model: 'gpt-5-codex', input: 'x' }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err.status).toBe(401);
    expect(err.type).toBe('authentication_error');
    const streamErr = await bad.responses.stream({ model: 'gpt-4o', input: 'x' }).finalResponse().catch((e) => e);
    expect(streamErr).toBeInstanceOf(OpenAI.AuthenticationError);
    const getErr = await bad.responses.retrieve('resp_x').catch((e) => e);
    expect(getErr).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(routes()).toEqual([]);
  });

  it('raises NotFoundError 404 model_not_found for an unknown model (create and stream)', async () => {
    const err = await a.responses.create({ model: 'gpt-9', input: 'x' }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.status).toBe(404);
    expect(err.code).toBe('model_not_found');
    const streamErr = await a.responses.stream({ model: 'gpt-9', input: 'x' }).finalResponse().catch((e) => e);
    expect(streamErr).toBeInstanceOf(OpenAI.NotFoundError);
    expect(routes()).toEqual([]);
  });

  it('raises BadRequestError 400 invalid_request_error for a bad body', async () => {
    for (const body of [
      { model: 'gpt-5-codex', input: 42 },
      { model: 'gpt-4o', input: [{ type: 'message', role: 'robot', content: 'x' }] },
      { model: 'gpt-4o', input: 'x', tools: [{ type: 'function' }] },
      { model: 'gpt-5-codex', input: 'x', max_output_tokens: 'many' },
    ]) {
      const err = await a.responses.create(body as unknown as OpenAI.Responses.ResponseCreateParamsNonStreaming).catch((e) => e);
      expect(err, JSON.stringify(body)).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.status).toBe(400);
      expect(err.type).toBe('invalid_request_error');
      expect(err.error).toMatchObject({ message: expect.any(String) });
    }
    expect(routes()).toEqual([]);
  });
});

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { fixNativeResponse, NativeResponsesStream, prepareNativeResponsesBody, WHITESPACE_LIMIT } from './native.js';
import type { ResponsesRequest } from './types.js';
import { parseResponsesRequest } from './validate.js';

type Json = Record<string, any>;

const fixtures = fileURLToPath(new URL('../../../../test/fixtures/clients/codex-0.169.0/', import.meta.url));
const recordedBody = (name: string): Json => JSON.parse(readFileSync(fixtures + name, 'utf8')).body;

const prepare = (raw: Json, history?: unknown[], model = 'gpt-5-codex') => prepareNativeResponsesBody(parseResponsesRequest(raw), raw, { model, history });

const ENCRYPTED = { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'Plan' }], encrypted_content: 'gAAAAB…' };
const SUMMARY_ONLY = { type: 'reasoning', id: 'rs_2', summary: [{ type: 'summary_text', text: 'Plan' }] };
const user = (text: string) => ({ type: 'message', role: 'user', content: [{ type: 'input_text', text }] });

describe('prepareNativeResponsesBody: the recorded Codex requests', () => {
  it.each([['1-first-turn.json'], ['2-after-function-call.json']])('passes %s on with only the model mapped and store:false', (name) => {
    const raw = recordedBody(name);
    const before = JSON.stringify(raw);
    const body = prepare(raw, undefined, 'gpt-5-codex-copilot') as Json;
    expect(JSON.stringify(raw)).toBe(before);
    expect(body).toEqual({ ...raw, model: 'gpt-5-codex-copilot', store: false });
    // Codex's own tools (namespace, web_search) and its include go to /responses as sent
    expect(body.tools).toBe(raw.tools);
    expect(body.include).toEqual(['reasoning.encrypted_content']);
    expect(body.tools.map((t: Json) => t.type)).toContain('namespace');
    expect(body.tools.map((t: Json) => t.type)).toContain('web_search');
  });

  it('keeps the function_call, its output and an encrypted reasoning item of a later turn untouched', () => {
    const raw = recordedBody('2-after-function-call.json');
    raw.input.splice(4, 0, ENCRYPTED);
    raw.service_tier = 'priority';
    const body = prepare(raw) as Json;
    expect(body.input.slice(-3)).toEqual([ENCRYPTED, raw.input.at(-2), raw.input.at(-1)]);
    expect(body.input[4]).toBe(raw.input[4]);
    expect(body.input.at(-2)).toMatchObject({ type: 'function_call', call_id: 'call_cap1' });
    expect(body.input.at(-1)).toMatchObject({ type: 'function_call_output', call_id: 'call_cap1' });
    expect(body).not.toHaveProperty('service_tier');
  });
});

describe('prepareNativeResponsesBody', () => {
  it.each<[string, Json, unknown[] | undefined, Json]>([
    ['model mapped, store:false, encrypted reasoning asked for the gateway’s store', { model: 'gpt-5', input: 'Hi' }, undefined, { model: 'gpt-5-codex', input: 'Hi', store: false, include: ['reasoning.encrypted_content'] }],
    ['store:false from the client: include as sent', { model: 'gpt-5', input: 'Hi', store: false, include: ['message.output_text.logprobs'] }, undefined, { model: 'gpt-5-codex', input: 'Hi', store: false, include: ['message.output_text.logprobs'] }],
    ['store:true: include kept, encrypted reasoning added', { model: 'gpt-5', input: 'Hi', store: true, include: ['x'] }, undefined, { model: 'gpt-5-codex', input: 'Hi', store: false, include: ['x', 'reasoning.encrypted_content'] }],
    ['service_tier dropped', { model: 'gpt-5', input: 'Hi', store: false, service_tier: 'flex' }, undefined, { model: 'gpt-5-codex', input: 'Hi', store: false }],
    [
      'previous_response_id removed, the history ahead of a string input',
      { model: 'gpt-5', input: 'Second', store: false, previous_response_id: 'resp_1' },
      [user('First'), { type: 'message', id: 'msg_1', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'One', annotations: [] }] }],
      {
        model: 'gpt-5-codex',
        store: false,
        input: [user('First'), { type: 'message', id: 'msg_1', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'One', annotations: [] }] }, user('Second')],
      },
    ],
    ['an empty input continuing a stored response', { model: 'gpt-5', input: [], store: false, previous_response_id: 'resp_1' }, [user('First')], { model: 'gpt-5-codex', store: false, input: [user('First')] }],
    [
      'reasoning items without encrypted_content left out (store:false cannot look them up); with it kept',
      { model: 'gpt-5', input: [SUMMARY_ONLY, ENCRYPTED, user('Go')], store: false },
      [{ ...SUMMARY_ONLY, id: 'rs_0' }],
      { model: 'gpt-5-codex', store: false, input: [ENCRYPTED, user('Go')] },
    ],
    [
      'an item_reference to a stored item left out (the history has it); another passed on',
      { model: 'gpt-5', input: [{ type: 'item_reference', id: 'msg_1' }, { type: 'item_reference', id: 'msg_9' }, user('Go')], store: false, previous_response_id: 'resp_1' },
      [{ ...user('First'), id: 'msg_1' }],
      { model: 'gpt-5-codex', store: false, input: [{ ...user('First'), id: 'msg_1' }, { type: 'item_reference', id: 'msg_9' }, user('Go')] },
    ],
    [
      'everything else as sent',
      { model: 'gpt-5', input: 'Hi', store: false, prompt_cache_key: 'k', client_metadata: { a: 1 }, reasoning: { effort: 'high', summary: 'auto' }, text: { verbosity: 'low' }, max_output_tokens: 10, metadata: { a: 'b' } },
      undefined,
      { model: 'gpt-5-codex', input: 'Hi', store: false, prompt_cache_key: 'k', client_metadata: { a: 1 }, reasoning: { effort: 'high', summary: 'auto' }, text: { verbosity: 'low' }, max_output_tokens: 10, metadata: { a: 'b' } },
    ],
  ])('%s', (_, raw, history, expected) => {
    expect(prepare(raw, history)).toEqual(expected);
  });
});

describe('fixNativeResponse', () => {
  it('puts the gateway’s id and the client’s model on a non-stream answer', () => {
    expect(fixNativeResponse({ id: 'resp_up', object: 'response', model: 'gpt-5-codex-2025', output: [] }, { id: 'resp_gw', model: 'gpt-5-codex' })).toEqual({
      id: 'resp_gw',
      object: 'response',
      model: 'gpt-5-codex',
      output: [],
    });
  });
});

/** The events of an SSE text, checking each frame's event name equals its data.type and the sequence numbers run 0, 1, 2, … */
function events(text: string): Json[] {
  return text
    .split('\n\n')
    .filter(Boolean)
    .map((frame, i) => {
      const [event, data, ...rest] = frame.split('\n');
      expect(rest).toEqual([]);
      const parsed = JSON.parse(data.replace(/^data: /, ''));
      expect(event).toBe(`event: ${parsed.type}`);
      expect(parsed.sequence_number).toBe(i);
      const { sequence_number, ...without } = parsed;
      return without;
    });
}

const CTX = { id: 'resp_gw', model: 'gpt-5-codex' };
const run = (upstream: Json[], last: (s: NativeResponsesStream) => string = (s) => s.end()) => {
  const s = new NativeResponsesStream(CTX);
  return { s, events: events(upstream.map((e) => s.push(e)).join('') + last(s)) };
};

// Copilot's /responses stream, as OpenAI writes it; sequence numbers with a gap, as after a dropped event.
const upResponse = (status: string, output: Json[] = [], usage: Json | null = null) => ({
  id: 'resp_up',
  object: 'response',
  created_at: 1_700_000_000,
  status,
  model: 'gpt-5-codex-2025-09-15',
  output,
  usage,
  error: null,
  store: false,
});
const UP_USAGE = { input_tokens: 100, input_tokens_details: { cached_tokens: 80 }, output_tokens: 20, output_tokens_details: { reasoning_tokens: 12 }, total_tokens: 120 };
const gwResponse = (status: string, output: Json[] = [], usage: Json | null = null) => ({ ...upResponse(status, output, usage), id: 'resp_gw', model: 'gpt-5-codex' });
let upSeq = 3;
const up = (event: Json) => ({ ...event, sequence_number: (upSeq += 2) });
const created = up({ type: 'response.created', response: upResponse('in_progress') });
const inProgress = up({ type: 'response.in_progress', response: upResponse('in_progress') });
const FC_ADDED = { id: 'fc_A', type: 'function_call', status: 'in_progress', arguments: '', call_id: 'call_1', name: 'exec_command' };
const fcDone = (id: string, args: string) => ({ ...FC_ADDED, id, status: 'completed', arguments: args });
const argsDelta = (item_id: string, delta: string) => up({ type: 'response.function_call_arguments.delta', item_id, output_index: 1, delta });
const REASONING = { id: 'rs_1', type: 'reasoning', summary: [], encrypted_content: 'gAAA' };
const strip = (e: Json) => {
  const { sequence_number, ...rest } = e;
  return rest;
};

describe('NativeResponsesStream', () => {
  it('makes an item’s ids equal (.added’s id for every event of its output_index), replaces the response id and model, renumbers', () => {
    const upstream = [
      created,
      inProgress,
      up({ type: 'response.output_item.added', output_index: 0, item: { id: 'rs_1', type: 'reasoning', summary: [] } }),
      up({ type: 'response.output_item.done', output_index: 0, item: REASONING }),
      up({ type: 'response.output_item.added', output_index: 1, item: FC_ADDED }),
      argsDelta('fc_A', '{"cmd":'),
      argsDelta('fc_B', '"ls"}'),
      up({ type: 'response.function_call_arguments.done', item_id: 'fc_B', output_index: 1, arguments: '{"cmd":"ls"}' }),
      up({ type: 'response.output_item.done', output_index: 1, item: fcDone('fc_B', '{"cmd":"ls"}') }),
      up({ type: 'response.completed', response: upResponse('completed', [REASONING, fcDone('fc_B', '{"cmd":"ls"}')], UP_USAGE) }),
    ];
    const { s, events: evs } = run(upstream);
    const fixedDone = fcDone('fc_A', '{"cmd":"ls"}');
    expect(evs).toEqual([
      { type: 'response.created', response: gwResponse('in_progress') },
      { type: 'response.in_progress', response: gwResponse('in_progress') },
      { type: 'response.output_item.added', output_index: 0, item: { id: 'rs_1', type: 'reasoning', summary: [] } },
      { type: 'response.output_item.done', output_index: 0, item: REASONING },
      { type: 'response.output_item.added', output_index: 1, item: FC_ADDED },
      { type: 'response.function_call_arguments.delta', item_id: 'fc_A', output_index: 1, delta: '{"cmd":' },
      { type: 'response.function_call_arguments.delta', item_id: 'fc_A', output_index: 1, delta: '"ls"}' },
      { type: 'response.function_call_arguments.done', item_id: 'fc_A', output_index: 1, arguments: '{"cmd":"ls"}' },
      { type: 'response.output_item.done', output_index: 1, item: fixedDone },
      { type: 'response.completed', response: gwResponse('completed', [REASONING, fixedDone], UP_USAGE) },
    ]);
    expect(s.response).toEqual(gwResponse('completed', [REASONING, fixedDone], UP_USAGE));
    expect(s.usage).toEqual({ ...UP_USAGE, input_tokens_details: { cached_tokens: 80, cache_write_tokens: 0 } });
    expect(s.push(up({ type: 'response.output_text.delta', item_id: 'x', output_index: 2, delta: 'late' })) + s.end()).toBe('');
  });

  it('push with the event’s text says what push says without it, and passes an event that needs no change as the very text that came', () => {
    const asCopilot = (e: Json, seq: number) => JSON.stringify({ ...e, sequence_number: seq }).replace(/,"/g, ', "'); // spacing JSON.stringify would not write
    const upstream = [
      up({ type: 'response.output_item.added', output_index: 0, item: { id: 'msg_1', type: 'message', status: 'in_progress', role: 'assistant', content: [] } }),
      up({ type: 'response.output_text.delta', item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'Hi "there"\n', logprobs: [] }),
      up({ type: 'response.output_text.delta', item_id: 'msg_2', output_index: 0, content_index: 0, delta: '!', logprobs: [] }),
      up({ type: 'response.output_item.done', output_index: 0, item: { id: 'msg_2', type: 'message', status: 'completed', role: 'assistant', content: [] } }),
    ];
    const texts = upstream.map((e, i) => asCopilot(e, i));
    const viaData = new NativeResponsesStream(CTX);
    const out = ['', ...texts.map((t) => viaData.push(JSON.parse(t), t))];
    const viaObjects = new NativeResponsesStream(CTX);
    const expected = upstream.map((e) => viaObjects.push(e));
    expect(events(out.join(''))).toEqual(events(expected.join('')));
    // numbered as the gateway numbers and the ids agree: untouched, spacing and all
    expect(out[1]).toBe(`event: response.output_item.added\ndata: ${texts[0]}\n\n`);
    expect(out[2]).toBe(`event: response.output_text.delta\ndata: ${texts[1]}\n\n`);
    // the other item id, and then the other one on .done: rewritten
    const data = (frame: string) => JSON.parse(frame.split('\ndata: ')[1]);
    expect(data(out[3])).toMatchObject({ item_id: 'msg_1', sequence_number: 2 });
    expect(data(out[4]).item.id).toBe('msg_1');
    // a sequence number out of step is renumbered
    const gap = new NativeResponsesStream(CTX);
    const late = asCopilot(upstream[0], 7);
    expect(gap.push(JSON.parse(late), late)).toContain('"sequence_number":0');
  });

  it('passes text, reasoning summary and other events through with their ids fixed', () => {
    const upstream = [
      created,
      up({ type: 'response.output_item.added', output_index: 0, item: { id: 'msg_1', type: 'message', status: 'in_progress', role: 'assistant', content: [] } }),
      up({ type: 'response.content_part.added', item_id: 'msg_1', output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }),
      up({ type: 'response.output_text.delta', item_id: 'msg_2', output_index: 0, content_index: 0, delta: 'Hi', logprobs: [] }),
      up({ type: 'response.output_text.done', item_id: 'msg_2', output_index: 0, content_index: 0, text: 'Hi', logprobs: [] }),
      up({ type: 'response.some_future_event', item_id: 'msg_2', output_index: 0, whatever: true }),
      up({ type: 'response.incomplete', response: { ...upResponse('incomplete', [{ id: 'msg_2', type: 'message' }]), incomplete_details: { reason: 'max_output_tokens' } } }),
    ];
    const evs = run(upstream).events;
    expect(evs.slice(2).map((e) => e.item_id)).toEqual(['msg_1', 'msg_1', 'msg_1', 'msg_1', undefined]);
    expect(evs.at(-1)).toEqual({ type: 'response.incomplete', response: { ...gwResponse('incomplete', [{ id: 'msg_1', type: 'message' }]), incomplete_details: { reason: 'max_output_tokens' } } });
  });

  it(`cuts a run of more than ${WHITESPACE_LIMIT} whitespace-only argument deltas off with response.failed, and nothing after it`, () => {
    const blanks = Array.from({ length: 30 }, (_, i) => argsDelta('fc_A', i % 3 === 0 ? '\n' : i % 3 === 1 ? '  ' : ''));
    const upstream = [created, up({ type: 'response.output_item.done', output_index: 0, item: REASONING }), up({ type: 'response.output_item.added', output_index: 1, item: FC_ADDED }), argsDelta('fc_A', '{"cmd":'), ...blanks];
    const { s, events: evs } = run(upstream, () => '');
    expect(evs.map((e) => e.type)).toEqual([
      'response.created',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      ...Array(WHITESPACE_LIMIT).fill('response.function_call_arguments.delta'),
      'response.failed',
    ]);
    expect(evs.at(-1)).toEqual({
      type: 'response.failed',
      response: {
        ...gwResponse('failed', [REASONING]),
        error: { code: 'upstream_whitespace_loop', message: expect.stringMatching(/whitespace/) },
        incomplete_details: null,
      },
    });
    expect(s.push(up({ type: 'response.completed', response: upResponse('completed') })) + s.end()).toBe('');
    expect(s.response).toMatchObject({ id: 'resp_gw', status: 'failed' });
    expect(s.usage).toBeNull();
  });

  it('lets whitespace through when the run is broken in time', () => {
    const run20 = Array.from({ length: WHITESPACE_LIMIT }, () => argsDelta('fc_A', ' '));
    const upstream = [created, up({ type: 'response.output_item.added', output_index: 1, item: FC_ADDED }), ...run20, argsDelta('fc_A', '{}'), ...run20];
    const evs = run(upstream, () => '').events;
    expect(evs).toHaveLength(2 + 2 * WHITESPACE_LIMIT + 1);
    expect(evs.every((e) => e.type !== 'response.failed')).toBe(true);
  });

  it.each<[string, Json, Json]>([
    ['an upstream error event', { type: 'error', code: 'rate_limit_exceeded', message: 'Slow down', param: null }, { code: 'rate_limit_exceeded', message: 'Slow down' }],
    ['an error event without a code', { type: 'error', message: 'Boom' }, { code: 'upstream_error', message: 'Boom' }],
  ])('turns %s into response.failed', (_, error, expected) => {
    const { events: evs } = run([created, up(error)], () => '');
    expect(evs.map(strip)).toEqual([
      { type: 'response.created', response: gwResponse('in_progress') },
      { type: 'response.failed', response: { ...gwResponse('failed'), error: expected, incomplete_details: null } },
    ]);
  });

  it('fails a stream that ends without a final event', () => {
    const { s, events: evs } = run([created]);
    expect(evs.at(-1)).toMatchObject({ type: 'response.failed', response: { id: 'resp_gw', status: 'failed', error: { code: 'upstream_incomplete' } } });
    expect(s.response?.status).toBe('failed');
  });

  it('fail() before anything came still says which response failed', () => {
    const { events: evs } = run([], (s) => s.fail({ code: 'upstream_error', message: 'Gone' }));
    expect(evs).toEqual([
      {
        type: 'response.failed',
        response: { id: 'resp_gw', object: 'response', created_at: expect.any(Number), model: 'gpt-5-codex', status: 'failed', output: [], usage: null, error: { code: 'upstream_error', message: 'Gone' }, incomplete_details: null },
      },
    ]);
  });

  it('has no response or usage before the end', () => {
    const s = new NativeResponsesStream(CTX);
    s.push(created);
    expect(s.response).toBeNull();
    expect(s.usage).toBeNull();
  });
});

describe('NativeResponsesStream read by the OpenAI SDK', () => {
  it('accumulates into the final response with the gateway’s ids', async () => {
    const s = new NativeResponsesStream(CTX);
    const sse = [
      created,
      up({ type: 'response.output_item.added', output_index: 0, item: FC_ADDED }),
      up({ type: 'response.function_call_arguments.delta', item_id: 'fc_B', output_index: 0, delta: '{}' }),
      up({ type: 'response.output_item.done', output_index: 0, item: fcDone('fc_B', '{}') }),
      up({ type: 'response.completed', response: upResponse('completed', [fcDone('fc_B', '{}')], UP_USAGE) }),
    ]
      .map((e) => s.push(e))
      .join('');
    const client = new OpenAI({ apiKey: 'x', baseURL: 'http://gateway.test/v1', maxRetries: 0, fetch: async () => new Response(sse + s.end(), { headers: { 'content-type': 'text/event-stream' } }) });
    const response = await client.responses.stream({ model: 'gpt-5-codex', input: 'ls' }).finalResponse();
    expect(response).toMatchObject({ id: 'resp_gw', model: 'gpt-5-codex', output: [{ id: 'fc_A', type: 'function_call', arguments: '{}' }] });
  });
});

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { responseShell } from './from-chat.js';
import { ChatToResponsesStream } from './stream.js';
import { flatToolName } from './to-chat.js';
import type { ResponsesRequest } from './types.js';
import { parseResponsesRequest } from './validate.js';

type Json = Record<string, any>;

const REQUEST: ResponsesRequest = {
  model: 'gpt-4o',
  input: 'Weather in Paris?',
  stream: true,
  tools: [
    { type: 'function', name: 'get_weather', parameters: { type: 'object' } },
    { type: 'namespace', name: 'multi_agent_v1', description: 'agents', tools: [{ type: 'function', name: 'spawn_agent' }] },
  ],
};
const CTX = { id: 'resp_abc', model: 'gpt-4o', createdAt: 1_700_000_000, request: REQUEST };

/** The events of an SSE text, checking each frame's event name equals its data.type and the sequence numbers rise from 0. */
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

/** Every event of one output_index names the item its output_item.added named. */
function expectConsistentItemIds(evs: Json[]) {
  const ids = new Map<number, string>();
  for (const e of evs) {
    if (typeof e.output_index !== 'number') continue;
    const id = e.item?.id ?? e.item_id;
    if (!ids.has(e.output_index)) ids.set(e.output_index, id);
    expect(id).toBe(ids.get(e.output_index));
  }
}

function run(chunks: Json[], last: (s: ChatToResponsesStream) => string = (s) => s.end()) {
  const s = new ChatToResponsesStream(CTX);
  const text = chunks.map((c) => s.push(c)).join('') + last(s);
  const evs = events(text);
  expectConsistentItemIds(evs);
  return { s, events: evs };
}

const MSG = expect.stringMatching(/^msg_[0-9a-f]{24}$/);
const FC = expect.stringMatching(/^fc_[0-9a-f]{24}$/);
const RS = expect.stringMatching(/^rs_[0-9a-f]{24}$/);
const SHELL = responseShell(CTX);
const created = { type: 'response.created', response: SHELL };
const inProgress = { type: 'response.in_progress', response: SHELL };
const added = (output_index: number, item: Json) => ({ type: 'response.output_item.added', output_index, item });
const done = (output_index: number, item: Json) => ({ type: 'response.output_item.done', output_index, item });
const at = (output_index: number, item_id: unknown) => ({ output_index, item_id });
const msgItem = (status: string, text?: string) => ({ type: 'message', id: MSG, status, role: 'assistant', content: text === undefined ? [] : [{ type: 'output_text', text, annotations: [] }] });
const partAdded = (i: number) => ({ type: 'response.content_part.added', ...at(i, MSG), content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
const textDelta = (i: number, delta: string) => ({ type: 'response.output_text.delta', ...at(i, MSG), content_index: 0, delta, logprobs: [] });
const textDone = (i: number, text: string) => [
  { type: 'response.output_text.done', ...at(i, MSG), content_index: 0, text, logprobs: [] },
  { type: 'response.content_part.done', ...at(i, MSG), content_index: 0, part: { type: 'output_text', text, annotations: [] } },
];
const rsItem = (text?: string) => ({ type: 'reasoning', id: RS, summary: text === undefined ? [] : [{ type: 'summary_text', text }] });
const summaryAdded = (i: number) => ({ type: 'response.reasoning_summary_part.added', ...at(i, RS), summary_index: 0, part: { type: 'summary_text', text: '' } });
const summaryDelta = (i: number, delta: string) => ({ type: 'response.reasoning_summary_text.delta', ...at(i, RS), summary_index: 0, delta });
const summaryDone = (i: number, text: string) => [
  { type: 'response.reasoning_summary_text.done', ...at(i, RS), summary_index: 0, text },
  { type: 'response.reasoning_summary_part.done', ...at(i, RS), summary_index: 0, part: { type: 'summary_text', text } },
];
const fcItem = (status: string, call_id: string, name: string, args: string, extra: Json = {}) => ({ type: 'function_call', id: FC, status, call_id, name, arguments: args, ...extra });
const argsDelta = (i: number, delta: string) => ({ type: 'response.function_call_arguments.delta', ...at(i, FC), delta });
const argsDone = (i: number, args: string, name: string) => ({ type: 'response.function_call_arguments.done', ...at(i, FC), arguments: args, name });

const CHAT_USAGE = { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150, prompt_tokens_details: { cached_tokens: 100 } };
const USAGE = { input_tokens: 120, input_tokens_details: { cached_tokens: 100, cache_write_tokens: 0 }, output_tokens: 30, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 150 };
const ZERO = { input_tokens: 0, input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 };
const final = (type: string, status: string, output: Json[], extra: Json = {}) => ({ type, response: { ...SHELL, status, output, usage: USAGE, ...extra } });
const completed = (output: Json[], extra: Json = {}) => final('response.completed', 'completed', output, extra);

// Copilot's chat stream (copilot-upstream.md §3): an empty-choices first event, filter fields on
// the deltas, finish_reason and usage together on the last chunk (or usage alone after it).
const FIRST = { choices: [], created: 0, id: '', prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] };
const chunk = (delta: Json, extra: Json = {}) => ({ id: 'c1', created: 7, model: 'gpt-4o', choices: [{ index: 0, delta, content_filter_offsets: { check_offset: 1 }, ...extra }] });
const finish = (reason: string, usage?: Json) => ({ id: 'c1', choices: [{ index: 0, delta: {}, finish_reason: reason }], ...(usage && { usage }) });

describe('ChatToResponsesStream', () => {
  it.each<[string, Json[], Json[]]>([
    [
      'plain text',
      [FIRST, chunk({ role: 'assistant', content: '' }), chunk({ content: 'Hel' }), chunk({ content: 'lo' }), finish('stop', CHAT_USAGE)],
      [
        created,
        inProgress,
        added(0, msgItem('in_progress')),
        partAdded(0),
        textDelta(0, 'Hel'),
        textDelta(0, 'lo'),
        ...textDone(0, 'Hello'),
        done(0, msgItem('completed', 'Hello')),
        completed([msgItem('completed', 'Hello')]),
      ],
    ],
    [
      'reasoning then text',
      [FIRST, chunk({ reasoning_text: 'Let me ' }), chunk({ reasoning_text: 'think.' }), chunk({ reasoning_opaque: 'sig==' }), chunk({ content: 'Sunny.' }), finish('stop', CHAT_USAGE)],
      [
        created,
        inProgress,
        added(0, rsItem()),
        summaryAdded(0),
        summaryDelta(0, 'Let me '),
        summaryDelta(0, 'think.'),
        ...summaryDone(0, 'Let me think.'),
        done(0, rsItem('Let me think.')),
        added(1, msgItem('in_progress')),
        partAdded(1),
        textDelta(1, 'Sunny.'),
        ...textDone(1, 'Sunny.'),
        done(1, msgItem('completed', 'Sunny.')),
        completed([rsItem('Let me think.'), msgItem('completed', 'Sunny.')]),
      ],
    ],
    [
      'text then two tool calls, the first one’s id and name arriving after its first argument fragment',
      [
        FIRST,
        chunk({ content: 'Let me check.' }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"ci' } }] }),
        chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: 'ty":' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
        chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'multi_agent_v1__spawn_agent', arguments: '' } }] }),
        chunk({ tool_calls: [{ index: 1, function: { arguments: '{}' } }] }),
        finish('tool_calls', CHAT_USAGE),
      ],
      [
        created,
        inProgress,
        added(0, msgItem('in_progress')),
        partAdded(0),
        textDelta(0, 'Let me check.'),
        ...textDone(0, 'Let me check.'),
        done(0, msgItem('completed', 'Let me check.')),
        added(1, fcItem('in_progress', 'call_a', 'get_weather', '')),
        argsDelta(1, '{"city":'),
        argsDelta(1, '"Paris"}'),
        argsDone(1, '{"city":"Paris"}', 'get_weather'),
        done(1, fcItem('completed', 'call_a', 'get_weather', '{"city":"Paris"}')),
        added(2, fcItem('in_progress', 'call_b', 'spawn_agent', '', { namespace: 'multi_agent_v1' })),
        argsDelta(2, '{}'),
        argsDone(2, '{}', 'spawn_agent'),
        done(2, fcItem('completed', 'call_b', 'spawn_agent', '{}', { namespace: 'multi_agent_v1' })),
        completed([
          msgItem('completed', 'Let me check.'),
          fcItem('completed', 'call_a', 'get_weather', '{"city":"Paris"}'),
          fcItem('completed', 'call_b', 'spawn_agent', '{}', { namespace: 'multi_agent_v1' }),
        ]),
      ],
    ],
    [
      'Claude’s split choices: text on choice 0 finishing stop, a tool call on choice 1',
      [
        { choices: [{ index: 0, delta: { content: 'On it.' } }] },
        { choices: [{ index: 1, delta: { tool_calls: [{ index: 0, id: 'toolu_x', function: { name: 'get_weather', arguments: '{}' } }] } }] },
        { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
        { choices: [{ index: 1, delta: {}, finish_reason: 'tool_calls' }], usage: CHAT_USAGE },
      ],
      [
        created,
        inProgress,
        added(0, msgItem('in_progress')),
        partAdded(0),
        textDelta(0, 'On it.'),
        ...textDone(0, 'On it.'),
        done(0, msgItem('completed', 'On it.')),
        added(1, fcItem('in_progress', 'toolu_x', 'get_weather', '')),
        argsDelta(1, '{}'),
        argsDone(1, '{}', 'get_weather'),
        done(1, fcItem('completed', 'toolu_x', 'get_weather', '{}')),
        completed([msgItem('completed', 'On it.'), fcItem('completed', 'toolu_x', 'get_weather', '{}')]),
      ],
    ],
    [
      'length → the open item incomplete, then response.incomplete (max_output_tokens)',
      [FIRST, chunk({ content: 'Once upon' }), finish('length', CHAT_USAGE)],
      [
        created,
        inProgress,
        added(0, msgItem('in_progress')),
        partAdded(0),
        textDelta(0, 'Once upon'),
        ...textDone(0, 'Once upon'),
        done(0, msgItem('incomplete', 'Once upon')),
        final('response.incomplete', 'incomplete', [msgItem('incomplete', 'Once upon')], { incomplete_details: { reason: 'max_output_tokens' } }),
      ],
    ],
    [
      'content_filter → response.incomplete (content_filter)',
      [chunk({ content: 'Hm' }), finish('content_filter', CHAT_USAGE)],
      [
        created,
        inProgress,
        added(0, msgItem('in_progress')),
        partAdded(0),
        textDelta(0, 'Hm'),
        ...textDone(0, 'Hm'),
        done(0, msgItem('incomplete', 'Hm')),
        final('response.incomplete', 'incomplete', [msgItem('incomplete', 'Hm')], { incomplete_details: { reason: 'content_filter' } }),
      ],
    ],
    [
      'usage arriving late, in a chunk of its own after the finish_reason',
      [FIRST, chunk({ content: 'Hi' }), finish('stop'), { id: 'c1', choices: [], usage: CHAT_USAGE }],
      [created, inProgress, added(0, msgItem('in_progress')), partAdded(0), textDelta(0, 'Hi'), ...textDone(0, 'Hi'), done(0, msgItem('completed', 'Hi')), completed([msgItem('completed', 'Hi')])],
    ],
    [
      'a tool call whose id never comes: opened at the end with an id of its own',
      [chunk({ tool_calls: [{ index: 0, function: { name: 'get_weather', arguments: '{}' } }] }), finish('tool_calls', CHAT_USAGE)],
      [
        created,
        inProgress,
        added(0, fcItem('in_progress', expect.stringMatching(/^call_[0-9a-f]{24}$/), 'get_weather', '')),
        argsDelta(0, '{}'),
        argsDone(0, '{}', 'get_weather'),
        done(0, fcItem('completed', expect.stringMatching(/^call_/), 'get_weather', '{}')),
        completed([fcItem('completed', expect.stringMatching(/^call_/), 'get_weather', '{}')]),
      ],
    ],
    [
      'a tool call with no name is never made',
      [chunk({ content: 'x' }), chunk({ tool_calls: [{ index: 0, id: 'call_1', function: { arguments: '{}' } }] }), finish('tool_calls', CHAT_USAGE)],
      [created, inProgress, added(0, msgItem('in_progress')), partAdded(0), textDelta(0, 'x'), ...textDone(0, 'x'), done(0, msgItem('completed', 'x')), completed([msgItem('completed', 'x')])],
    ],
    ['nothing at all but usage: an empty completed response', [FIRST, finish('stop', CHAT_USAGE)], [created, inProgress, completed([])]],
  ])('%s', (_, chunks, expected) => {
    expect(run(chunks).events).toEqual(expected);
  });

  it('fail mid-item: response.failed with the error, the open item left as it was, nothing after', () => {
    const { s, events: evs } = run([FIRST, chunk({ content: 'Hal' })], (s) => s.fail({ code: 'upstream_error', message: 'Upstream went away' }));
    expect(evs).toEqual([
      created,
      inProgress,
      added(0, msgItem('in_progress')),
      partAdded(0),
      textDelta(0, 'Hal'),
      { type: 'response.failed', response: { ...SHELL, status: 'failed', output: [msgItem('in_progress')], usage: null, error: { code: 'upstream_error', message: 'Upstream went away' } } },
    ]);
    expect(s.push(chunk({ content: 'more' })) + s.end() + s.fail({ code: 'x', message: 'y' })).toBe('');
    expect(s.response.status).toBe('failed');
  });

  it('an error chunk from upstream fails the response', () => {
    const { events: evs } = run([chunk({ content: 'a' }), { error: { code: 'rate_limited', message: 'Slow down' } }], () => '');
    expect(evs.at(-1)).toMatchObject({ type: 'response.failed', response: { status: 'failed', error: { code: 'rate_limited', message: 'Slow down' } } });
  });

  it('starts with the first chunk that carries a choice, not before', () => {
    const s = new ChatToResponsesStream(CTX);
    expect(s.push(FIRST)).toBe('');
    expect(s.started).toBe(false);
    expect(s.push(chunk({ content: 'a' }))).toContain('event: response.created');
    expect(s.started).toBe(true);
  });

  it('reports usage once it has come, and the response as it stands', () => {
    const s = new ChatToResponsesStream(CTX);
    s.push(chunk({ content: 'a' }));
    expect(s.usage).toBeNull();
    expect(s.response).toMatchObject({ id: 'resp_abc', status: 'in_progress', output: [{ type: 'message', status: 'in_progress' }] });
    s.push(finish('stop', CHAT_USAGE));
    expect(s.usage).toEqual(USAGE);
    s.end();
    expect(s.response).toEqual({ ...SHELL, status: 'completed', output: [msgItem('completed', 'a')], usage: USAGE });
  });

  it('completes with zero usage when none came', () => {
    const { events: evs } = run([chunk({ content: 'a' }), finish('stop')]);
    expect(evs.at(-1)?.response.usage).toEqual(ZERO);
  });
});

describe('ChatToResponsesStream read by the OpenAI SDK', () => {
  const client = (sse: string) =>
    new OpenAI({ apiKey: 'x', baseURL: 'http://gateway.test/v1', maxRetries: 0, fetch: async () => new Response(sse, { headers: { 'content-type': 'text/event-stream' } }) });

  it('accumulates into the response the stream describes', async () => {
    const s = new ChatToResponsesStream(CTX);
    const sse =
      [
        FIRST,
        chunk({ reasoning_text: 'Needs a tool.' }),
        chunk({ content: 'Checking.' }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
        chunk({ tool_calls: [{ index: 0, id: 'call_a', function: { name: 'get_weather', arguments: '"Paris"}' } }] }),
        finish('tool_calls'),
        { choices: [], usage: CHAT_USAGE },
      ]
        .map((c) => s.push(c))
        .join('') + s.end();
    const response = await client(sse).responses.stream({ model: 'gpt-4o', input: 'Weather in Paris?' }).finalResponse();
    expect(response).toMatchObject({
      id: 'resp_abc',
      status: 'completed',
      output: [
        { type: 'reasoning', summary: [{ type: 'summary_text', text: 'Needs a tool.' }] },
        { type: 'message', content: [{ type: 'output_text', text: 'Checking.' }] },
        { type: 'function_call', call_id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
      ],
      usage: USAGE,
    });
    expect(response.output_text).toBe('Checking.');
  });
});

describe('ChatToResponsesStream on the recorded Codex requests', () => {
  const fixtures = fileURLToPath(new URL('../../../../test/fixtures/clients/codex-0.169.0/', import.meta.url));
  it.each([['1-first-turn.json'], ['2-after-function-call.json']])(
    'echoes %s’s settings whole (its namespace and web_search tools, include, …) in every response event, and names a namespaced call by its namespace',
    (name) => {
      const request = parseResponsesRequest(JSON.parse(readFileSync(fixtures + name, 'utf8')).body);
      const ctx = { id: 'resp_codex', model: request.model, createdAt: 1_700_000_000, request };
      const flat = flatToolName('multi_agent_v1', 'spawn_agent');
      const s = new ChatToResponsesStream(ctx);
      const text =
        s.push(chunk({ content: 'Spawning.' })) +
        s.push(chunk({ tool_calls: [{ index: 0, id: 'call_x', type: 'function', function: { name: flat, arguments: '{"task":"t"}' } }] })) +
        s.push(finish('tool_calls', CHAT_USAGE)) +
        s.end();
      const evs = events(text);
      const shell = responseShell(ctx);
      expect(shell.tools).toEqual(request.tools);
      expect(evs[0]).toEqual({ type: 'response.created', response: shell });
      expect(evs[1]).toEqual({ type: 'response.in_progress', response: shell });
      const last = evs.at(-1)!;
      expect(last.type).toBe('response.completed');
      expect(last.response).toEqual(s.response);
      expect(last.response.tools).toEqual(request.tools);
      expect(last.response.output.at(-1)).toEqual(fcItem('completed', 'call_x', 'spawn_agent', '{"task":"t"}', { namespace: 'multi_agent_v1' }));
    },
  );
});

import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { ChatToMessagesStream } from './stream.js';

type Json = Record<string, any>;
const MODEL = 'claude-sonnet-4-20250514';

/** The events of an SSE text, checking each frame's event name equals its data.type. */
function events(text: string): Json[] {
  return text
    .split('\n\n')
    .filter(Boolean)
    .map((frame) => {
      const [event, data, ...rest] = frame.split('\n');
      expect(rest).toEqual([]);
      const parsed = JSON.parse(data.replace(/^data: /, ''));
      expect(event).toBe(`event: ${parsed.type}`);
      return parsed;
    });
}

function run(chunks: Json[], last: (s: ChatToMessagesStream) => string = (s) => s.end()) {
  const s = new ChatToMessagesStream(MODEL);
  const text = chunks.map((c) => s.push(c)).join('') + last(s);
  return { s, events: events(text) };
}

const zero = { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const start = (usage = zero) => ({
  type: 'message_start',
  message: { id: expect.stringMatching(/^msg_[0-9a-f]{24}$/), type: 'message', role: 'assistant', model: MODEL, content: [], stop_reason: null, stop_sequence: null, usage },
});
const blockStart = (index: number, content_block: Json) => ({ type: 'content_block_start', index, content_block });
const text = (index: number, t: string) => ({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: t } });
const thinking = (index: number, t: string) => ({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: t } });
const signature = (index: number, s: string) => ({ type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: s } });
const json = (index: number, partial_json: string) => ({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } });
const stop = (index: number) => ({ type: 'content_block_stop', index });
const messageDelta = (stop_reason: string, usage: Json = zero) => ({ type: 'message_delta', delta: { stop_reason, stop_sequence: null }, usage });
const TEXT_BLOCK = { type: 'text', text: '' };
const THINKING_BLOCK = { type: 'thinking', thinking: '', signature: '' };

// Copilot's chat stream (copilot-upstream.md §3): an empty-choices first event, filter fields on
// the deltas, finish_reason and usage together on the last chunk.
const FIRST = { choices: [], created: 0, id: '', prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] };
const chunk = (delta: Json, extra: Json = {}) => ({ id: 'c1', created: 7, model: 'claude-sonnet-4', choices: [{ index: 0, delta, content_filter_offsets: { check_offset: 1 }, ...extra }] });
const finish = (reason: string, usage?: Json) => ({ id: 'c1', choices: [{ index: 0, delta: {}, finish_reason: reason }], ...(usage && { usage }) });
const USAGE = { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150, prompt_tokens_details: { cached_tokens: 100 } };
const ANTHROPIC_USAGE = { input_tokens: 20, output_tokens: 30, cache_read_input_tokens: 100, cache_creation_input_tokens: 0 };

describe('ChatToMessagesStream', () => {
  it.each<[string, Json[], Json[]]>([
    [
      'plain text',
      [FIRST, chunk({ role: 'assistant', content: 'Hel' }), chunk({ content: 'lo' }), finish('stop', USAGE)],
      [start(), blockStart(0, TEXT_BLOCK), text(0, 'Hel'), text(0, 'lo'), stop(0), messageDelta('end_turn', ANTHROPIC_USAGE), { type: 'message_stop' }],
    ],
    [
      'thinking then text',
      [
        FIRST,
        chunk({ role: 'assistant', reasoning_text: 'Let me ' }),
        chunk({ reasoning_text: 'think.' }),
        chunk({ reasoning_opaque: 'sig==' }),
        chunk({ content: 'Answer.' }),
        finish('stop', USAGE),
      ],
      [
        start(),
        blockStart(0, THINKING_BLOCK),
        thinking(0, 'Let me '),
        thinking(0, 'think.'),
        signature(0, 'sig=='),
        stop(0),
        blockStart(1, TEXT_BLOCK),
        text(1, 'Answer.'),
        stop(1),
        messageDelta('end_turn', ANTHROPIC_USAGE),
        { type: 'message_stop' },
      ],
    ],
    [
      'the signature on the same delta as the first text',
      [chunk({ reasoning_text: 'Hmm.' }), chunk({ reasoning_opaque: 'sig', content: 'Yes.' }), finish('stop')],
      [start(), blockStart(0, THINKING_BLOCK), thinking(0, 'Hmm.'), signature(0, 'sig'), stop(0), blockStart(1, TEXT_BLOCK), text(1, 'Yes.'), stop(1), messageDelta('end_turn'), { type: 'message_stop' }],
    ],
    [
      'thinking after a signature: a new thinking block (the signature ends one)',
      [chunk({ reasoning_text: 'A.' }), chunk({ reasoning_opaque: 's1' }), chunk({ reasoning_text: 'B.' }), chunk({ reasoning_opaque: 's2' }), finish('stop')],
      [
        start(),
        blockStart(0, THINKING_BLOCK),
        thinking(0, 'A.'),
        signature(0, 's1'),
        stop(0),
        blockStart(1, THINKING_BLOCK),
        thinking(1, 'B.'),
        signature(1, 's2'),
        stop(1),
        messageDelta('end_turn'),
        { type: 'message_stop' },
      ],
    ],
    [
      'a signature with no thinking text: a thinking block of its own',
      [chunk({ reasoning_opaque: 'enc' }), chunk({ content: 'Hi' }), finish('stop')],
      [start(), blockStart(0, THINKING_BLOCK), signature(0, 'enc'), stop(0), blockStart(1, TEXT_BLOCK), text(1, 'Hi'), stop(1), messageDelta('end_turn'), { type: 'message_stop' }],
    ],
    [
      'text then two tool calls, the first one’s id and name arriving after its first argument fragment',
      [
        FIRST,
        chunk({ content: 'Let me check.' }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"ci' } }] }),
        chunk({ tool_calls: [{ index: 0, id: 'toolu_a', type: 'function', function: { name: 'get_weather', arguments: 'ty":' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
        chunk({ tool_calls: [{ index: 1, id: 'toolu_b', type: 'function', function: { name: 'get_time', arguments: '' } }] }),
        chunk({ tool_calls: [{ index: 1, function: { arguments: '{"tz":"CET"}' } }] }),
        finish('tool_calls', USAGE),
      ],
      [
        start(),
        blockStart(0, TEXT_BLOCK),
        text(0, 'Let me check.'),
        stop(0),
        blockStart(1, { type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: {} }),
        json(1, '{"city":'),
        json(1, '"Paris"}'),
        stop(1),
        blockStart(2, { type: 'tool_use', id: 'toolu_b', name: 'get_time', input: {} }),
        json(2, '{"tz":"CET"}'),
        stop(2),
        messageDelta('tool_use', ANTHROPIC_USAGE),
        { type: 'message_stop' },
      ],
    ],
    [
      'Claude’s split choices: text on choice 0 finishing stop, a tool call on choice 1',
      [
        { choices: [{ index: 0, delta: { content: 'On it.' } }] },
        { choices: [{ index: 1, delta: { tool_calls: [{ index: 0, id: 'toolu_x', function: { name: 'ls', arguments: '{}' } }] } }] },
        { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
      ],
      [
        start(),
        blockStart(0, TEXT_BLOCK),
        text(0, 'On it.'),
        stop(0),
        blockStart(1, { type: 'tool_use', id: 'toolu_x', name: 'ls', input: {} }),
        json(1, '{}'),
        stop(1),
        messageDelta('tool_use'),
        { type: 'message_stop' },
      ],
    ],
    [
      'usage arriving late, in a chunk of its own with empty choices',
      [chunk({ content: 'Hi' }), finish('stop'), { id: 'c1', choices: [], usage: USAGE }],
      [start(), blockStart(0, TEXT_BLOCK), text(0, 'Hi'), stop(0), messageDelta('end_turn', ANTHROPIC_USAGE), { type: 'message_stop' }],
    ],
    ['a length stop', [chunk({ content: 'Lorem' }), finish('length')], [start(), blockStart(0, TEXT_BLOCK), text(0, 'Lorem'), stop(0), messageDelta('max_tokens'), { type: 'message_stop' }]],
    ['a content-filter stop', [chunk({ content: 'x' }), finish('content_filter')], [start(), blockStart(0, TEXT_BLOCK), text(0, 'x'), stop(0), messageDelta('end_turn'), { type: 'message_stop' }]],
    [
      'a tool call that never got an id: opened at the end with one made up',
      [chunk({ tool_calls: [{ index: 0, function: { name: 'f', arguments: '{"a":1}' } }] }), finish('tool_calls')],
      [start(), blockStart(0, { type: 'tool_use', id: expect.stringMatching(/^toolu_/), name: 'f', input: {} }), json(0, '{"a":1}'), stop(0), messageDelta('tool_use'), { type: 'message_stop' }],
    ],
    ['nothing at all: a complete empty message', [], [start(), messageDelta('end_turn'), { type: 'message_stop' }]],
    ['only Copilot’s empty first event', [FIRST], [start(), messageDelta('end_turn'), { type: 'message_stop' }]],
  ])('%s', (_, chunks, expected) => {
    expect(run(chunks).events).toEqual(expected);
  });

  it('writes nothing for Copilot’s empty first event and starts with the first choice', () => {
    const s = new ChatToMessagesStream(MODEL);
    expect(s.push(FIRST)).toBe('');
    expect(s.started).toBe(false);
    expect(events(s.push(chunk({ role: 'assistant', content: '' })))).toEqual([start()]);
    expect(s.started).toBe(true);
    expect(s.push(chunk({ content: '' }))).toBe('');
  });

  it('keeps one message id for the whole stream', () => {
    const { events: out } = run([chunk({ content: 'a' })]);
    expect(out[0].message.id).toMatch(/^msg_/);
  });

  it.each<[string, Json[], Json[]]>([
    ['mid text block: closes it, then the error', [FIRST, chunk({ content: 'Hal' })], [start(), blockStart(0, TEXT_BLOCK), text(0, 'Hal'), stop(0)]],
    [
      'mid tool block',
      [chunk({ tool_calls: [{ index: 0, id: 't', function: { name: 'f', arguments: '{"a"' } }] })],
      [start(), blockStart(0, { type: 'tool_use', id: 't', name: 'f', input: {} }), json(0, '{"a"'), stop(0)],
    ],
    ['before anything: the error alone', [FIRST], []],
  ])('fail() %s', (_, chunks, before) => {
    const { s, events: out } = run(chunks, (st) => st.fail({ type: 'overloaded_error', message: 'Overloaded' }));
    expect(out).toEqual([...before, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }]);
    expect(s.end()).toBe('');
    expect(s.push(chunk({ content: 'more' }))).toBe('');
    expect(s.ping()).toBe('');
    expect(s.fail({ type: 'api_error', message: 'again' })).toBe('');
  });

  it('fails on an error event in the upstream stream', () => {
    const { events: out } = run([chunk({ content: 'a' }), { error: { message: 'boom', code: 'internal' } }], () => '');
    expect(out.slice(-2)).toEqual([stop(0), { type: 'error', error: { type: 'api_error', message: 'boom' } }]);
  });

  it('pings in Anthropic’s shape', () => {
    expect(new ChatToMessagesStream(MODEL).ping()).toBe('event: ping\ndata: {"type":"ping"}\n\n');
  });

  it('ends once', () => {
    const s = new ChatToMessagesStream(MODEL);
    expect(s.end()).toMatch(/event: message_stop\ndata: \{"type":"message_stop"\}\n\n$/);
    expect(s.end()).toBe('');
  });

  it('reports usage in Anthropic terms once it has come', () => {
    const s = new ChatToMessagesStream(MODEL);
    s.push(chunk({ content: 'x' }));
    expect(s.usage).toBeNull();
    s.push({ choices: [], usage: USAGE });
    expect(s.usage).toEqual({ input_tokens: 20, output_tokens: 30, cache_read_input_tokens: 100 });
  });
});

describe('ChatToMessagesStream read by the Anthropic SDK', () => {
  it('accumulates into the message the stream describes', async () => {
    const s = new ChatToMessagesStream(MODEL);
    const sse = [
      FIRST,
      chunk({ reasoning_text: 'Weather needs a tool.' }),
      chunk({ reasoning_opaque: 'sig==' }),
      chunk({ content: 'Checking.' }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      chunk({ tool_calls: [{ index: 0, id: 'toolu_a', function: { name: 'get_weather', arguments: '"Paris"}' } }] }),
      finish('tool_calls'),
      { choices: [], usage: USAGE },
    ]
      .map((c) => s.push(c) + s.ping())
      .join('') + s.end();
    const client = new Anthropic({ apiKey: 'x', baseURL: 'http://gateway.test', fetch: async () => new Response(sse, { headers: { 'content-type': 'text/event-stream' } }) });
    const message = await client.messages.stream({ model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: 'Weather in Paris?' }] }).finalMessage();
    expect(message).toMatchObject({
      type: 'message',
      model: MODEL,
      content: [
        { type: 'thinking', thinking: 'Weather needs a tool.', signature: 'sig==' },
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: { city: 'Paris' } },
      ],
      stop_reason: 'tool_use',
      usage: ANTHROPIC_USAGE,
    });
  });

  it('throws the error event as an APIError of its type', async () => {
    const s = new ChatToMessagesStream(MODEL);
    const sse = s.push(chunk({ content: 'Hal' })) + s.fail({ type: 'overloaded_error', message: 'Overloaded' });
    const client = new Anthropic({ apiKey: 'x', baseURL: 'http://gateway.test', maxRetries: 0, fetch: async () => new Response(sse, { headers: { 'content-type': 'text/event-stream' } }) });
    const stream = client.messages.stream({ model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] });
    await expect(stream.finalMessage()).rejects.toMatchObject({ type: 'overloaded_error' });
  });
});

import { StreamNormalizer } from '#libs/copilot';
import { describe, expect, it } from 'vitest';
import { ChatToMessagesStream } from '../anthropic-messages/stream.js';
import { ResponsesToChatStream } from './responses-stream.js';

type Json = Record<string, any>;
const ASKED = 'gpt-5-codex';
const ID = 'chatcmpl-68af1b2c';
const CREATED = 1756000000;

const USAGE = { input_tokens: 1200, input_tokens_details: { cached_tokens: 1024 }, output_tokens: 300, output_tokens_details: { reasoning_tokens: 256 }, total_tokens: 1500 };
const CHAT_USAGE = {
  prompt_tokens: 1200,
  completion_tokens: 300,
  total_tokens: 1500,
  prompt_tokens_details: { cached_tokens: 1024 },
  completion_tokens_details: { reasoning_tokens: 256 },
};

const resp = (status: string, extra: Json = {}) => ({ id: 'resp_68af1b2c', object: 'response', created_at: CREATED, status, model: 'gpt-5-codex', output: [], usage: null, ...extra });

/** Numbers the events as Copilot does (sequence_number), so the inputs look like the real thing. */
const numbered = (events: Json[]) => events.map((e, i) => ({ ...e, sequence_number: i }));

function run(events: Json[], model = ASKED) {
  const s = new ResponsesToChatStream(model);
  const chunks = [...numbered(events).flatMap((e) => s.push(e)), ...s.end()];
  return { s, chunks };
}

const chunk = (delta: Json, finish_reason: string | null = null) => ({ id: ID, created: CREATED, model: ASKED, choices: [{ index: 0, delta, finish_reason }] });
const final = (finish: string, usage: Json | undefined = CHAT_USAGE) => ({ ...chunk({}, finish), ...(usage && { usage }) });

const created = { type: 'response.created', response: resp('in_progress') };
const inProgress = { type: 'response.in_progress', response: resp('in_progress') };
const textDelta = (delta: string, output_index = 0, item_id = 'msg_1') => ({ type: 'response.output_text.delta', item_id, output_index, content_index: 0, delta, logprobs: [] });
const messageAdded = (output_index = 0, id = 'msg_1') => ({
  type: 'response.output_item.added',
  output_index,
  item: { id, type: 'message', status: 'in_progress', role: 'assistant', content: [] },
});
const messageDone = (text: string, output_index = 0, id = 'msg_1') => ({
  type: 'response.output_item.done',
  output_index,
  item: { id, type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] },
});
const callAdded = (output_index: number, call_id: string, name: string, id = `fc_${call_id}`) => ({
  type: 'response.output_item.added',
  output_index,
  item: { id, type: 'function_call', status: 'in_progress', call_id, name, arguments: '' },
});
const argsDelta = (output_index: number, delta: string, item_id = 'fc_x') => ({ type: 'response.function_call_arguments.delta', item_id, output_index, delta });
const callDone = (output_index: number, call_id: string, name: string, args: string, id = `fc_${call_id}`) => ({
  type: 'response.output_item.done',
  output_index,
  item: { id, type: 'function_call', status: 'completed', call_id, name, arguments: args },
});
const completed = (output: Json[] = [], usage: Json = USAGE) => ({ type: 'response.completed', response: resp('completed', { output, usage }) });

describe('ResponsesToChatStream', () => {
  it('translates a full answer: reasoning summary, text, a function call, then finish and usage', () => {
    const reasoningItem = { id: 'rs_1', type: 'reasoning', summary: [], encrypted_content: null };
    const reasoningDone = {
      id: 'rs_1',
      type: 'reasoning',
      summary: [
        { type: 'summary_text', text: '**Planning** the call' },
        { type: 'summary_text', text: 'Then answer' },
      ],
      encrypted_content: 'gAAAAenc',
    };
    const events = [
      created,
      inProgress,
      { type: 'response.output_item.added', output_index: 0, item: reasoningItem },
      { type: 'response.reasoning_summary_part.added', item_id: 'rs_1', output_index: 0, summary_index: 0, part: { type: 'summary_text', text: '' } },
      { type: 'response.reasoning_summary_text.delta', item_id: 'rs_1', output_index: 0, summary_index: 0, delta: '**Planning**' },
      { type: 'response.reasoning_summary_text.delta', item_id: 'rs_1', output_index: 0, summary_index: 0, delta: ' the call' },
      { type: 'response.reasoning_summary_text.done', item_id: 'rs_1', output_index: 0, summary_index: 0, text: '**Planning** the call' },
      { type: 'response.reasoning_summary_part.done', item_id: 'rs_1', output_index: 0, summary_index: 0, part: { type: 'summary_text', text: '**Planning** the call' } },
      { type: 'response.reasoning_summary_part.added', item_id: 'rs_1', output_index: 0, summary_index: 1, part: { type: 'summary_text', text: '' } },
      { type: 'response.reasoning_summary_text.delta', item_id: 'rs_1', output_index: 0, summary_index: 1, delta: 'Then answer' },
      { type: 'response.output_item.done', output_index: 0, item: reasoningDone },
      messageAdded(1),
      { type: 'response.content_part.added', item_id: 'msg_1', output_index: 1, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } },
      textDelta('Checking', 1),
      textDelta(' the weather.', 1),
      { type: 'response.output_text.done', item_id: 'msg_1', output_index: 1, content_index: 0, text: 'Checking the weather.' },
      { type: 'response.content_part.done', item_id: 'msg_1', output_index: 1, content_index: 0, part: { type: 'output_text', text: 'Checking the weather.', annotations: [] } },
      messageDone('Checking the weather.', 1),
      callAdded(2, 'call_abc', 'get_weather'),
      argsDelta(2, '{"city":'),
      argsDelta(2, '"Paris"}'),
      { type: 'response.function_call_arguments.done', item_id: 'fc_call_abc', output_index: 2, arguments: '{"city":"Paris"}' },
      callDone(2, 'call_abc', 'get_weather', '{"city":"Paris"}'),
      completed([reasoningDone, messageDone('Checking the weather.', 1).item, callDone(2, 'call_abc', 'get_weather', '{"city":"Paris"}').item]),
    ];
    const { s, chunks } = run(events);
    expect(chunks).toEqual([
      chunk({ role: 'assistant', reasoning_text: '**Planning**' }),
      chunk({ reasoning_text: ' the call' }),
      chunk({ reasoning_text: '\n\nThen answer' }),
      chunk({ reasoning_opaque: 'responses:gAAAAenc' }),
      chunk({ content: 'Checking' }),
      chunk({ content: ' the weather.' }),
      chunk({ tool_calls: [{ index: 0, id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      final('tool_calls'),
    ]);
    expect(s.usage).toEqual(CHAT_USAGE);
    expect(s.failed).toBeNull();
  });

  describe('feeds the same consumers as Copilot\'s chat stream', () => {
    const reasoningDone = { id: 'rs_1', type: 'reasoning', summary: [{ type: 'summary_text', text: 'Plan' }], encrypted_content: 'gAAAAenc' };
    const events = [
      created,
      { type: 'response.output_item.added', output_index: 0, item: { id: 'rs_1', type: 'reasoning', summary: [] } },
      { type: 'response.reasoning_summary_text.delta', item_id: 'rs_1', output_index: 0, summary_index: 0, delta: 'Plan' },
      { type: 'response.output_item.done', output_index: 0, item: reasoningDone },
      messageAdded(1),
      textDelta('Sure.', 1),
      callAdded(2, 'call_1', 'Bash'),
      argsDelta(2, '{"command":"ls"}'),
      completed(),
    ];

    it('the OpenAI normalizer: object on every chunk, one id, the usage chunk last when asked', () => {
      const { chunks } = run(events);
      const normalizer = new StreamNormalizer(ASKED, true);
      const out = chunks.flatMap((c) => normalizer.push(c));
      expect(out.every((c) => c.object === 'chat.completion.chunk' && c.id === ID && c.model === ASKED)).toBe(true);
      expect(out.slice(0, -1).every((c) => c.choices.length === 1 && c.choices[0].logprobs === null)).toBe(true);
      expect(out.at(-1)).toMatchObject({ choices: [], usage: CHAT_USAGE });
      expect(out.at(-2)!.choices[0].finish_reason).toBe('tool_calls');
    });

    it('the Anthropic translator: thinking with its signature, text, tool_use, stop_reason tool_use', () => {
      const { chunks } = run(events);
      const anthropic = new ChatToMessagesStream('claude-via-gpt');
      const text = chunks.map((c) => anthropic.push(c)).join('') + anthropic.end();
      const data = text
        .split('\n\n')
        .filter(Boolean)
        .map((f) => JSON.parse(f.split('\n')[1].replace(/^data: /, '')));
      const blocks = data.filter((e) => e.type === 'content_block_start').map((e) => e.content_block.type);
      expect(blocks).toEqual(['thinking', 'text', 'tool_use']);
      expect(data).toContainEqual({ type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'responses:gAAAAenc' } });
      expect(data).toContainEqual({ type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{"command":"ls"}' } });
      expect(data.find((e) => e.type === 'message_delta')).toMatchObject({
        delta: { stop_reason: 'tool_use' },
        usage: { input_tokens: 176, output_tokens: 300, cache_read_input_tokens: 1024 },
      });
    });
  });

  it.each<[string, Json[], Json[]]>([
    [
      'text only: nothing goes out before the first delta',
      [created, inProgress, messageAdded(), textDelta('Hi'), textDelta('!'), messageDone('Hi!'), completed()],
      [chunk({ role: 'assistant', content: 'Hi' }), chunk({ content: '!' }), final('stop')],
    ],
    [
      'two calls get rising indices; whitespace argument floods pass through',
      [
        created,
        callAdded(0, 'call_a', 'a'),
        argsDelta(0, '{}'),
        callAdded(1, 'call_b', 'b'),
        argsDelta(1, '   '),
        argsDelta(1, '\n\n'),
        argsDelta(1, '{"x":1}'),
        completed(),
      ],
      [
        chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'a', arguments: '' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{}' } }] }),
        chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'b', arguments: '' } }] }),
        chunk({ tool_calls: [{ index: 1, function: { arguments: '   ' } }] }),
        chunk({ tool_calls: [{ index: 1, function: { arguments: '\n\n' } }] }),
        chunk({ tool_calls: [{ index: 1, function: { arguments: '{"x":1}' } }] }),
        final('tool_calls'),
      ],
    ],
    [
      'an item whose id changes between .added and .done is still one item (keyed by output_index)',
      [
        created,
        callAdded(0, 'call_a', 'a', 'fc_first'),
        argsDelta(0, '{"k":', 'fc_first'),
        argsDelta(0, '1}', 'fc_other'),
        callDone(0, 'call_a', 'a', '{"k":1}', 'fc_second'),
        completed(),
      ],
      [
        chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'a', arguments: '' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"k":' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] }),
        final('tool_calls'),
      ],
    ],
    [
      'arguments that only arrive with .done are sent then',
      [created, callAdded(0, 'call_a', 'a'), callDone(0, 'call_a', 'a', '{"q":2}'), completed()],
      [
        chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'a', arguments: '' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"q":2}' } }] }),
        final('tool_calls'),
      ],
    ],
    [
      'text cut short in the deltas is completed from .done',
      [created, messageAdded(), textDelta('Hel'), messageDone('Hello'), completed()],
      [chunk({ role: 'assistant', content: 'Hel' }), chunk({ content: 'lo' }), final('stop')],
    ],
    [
      'a response with no deltas at all is read from response.completed',
      [
        created,
        completed([
          { id: 'rs_1', type: 'reasoning', summary: [{ type: 'summary_text', text: 'Hmm.' }] },
          messageDone('All of it.').item,
          callDone(2, 'call_z', 'z', '{}').item,
        ]),
      ],
      [
        chunk({ role: 'assistant', reasoning_text: 'Hmm.' }),
        chunk({ content: 'All of it.' }),
        chunk({ tool_calls: [{ index: 0, id: 'call_z', type: 'function', function: { name: 'z', arguments: '' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{}' } }] }),
        final('tool_calls'),
      ],
    ],
    [
      'incomplete at max_output_tokens → length, with usage',
      [
        created,
        messageAdded(),
        textDelta('Once upon'),
        { type: 'response.incomplete', response: resp('incomplete', { incomplete_details: { reason: 'max_output_tokens' }, usage: USAGE }) },
      ],
      [chunk({ role: 'assistant', content: 'Once upon' }), final('length')],
    ],
    [
      'incomplete by the content filter',
      [created, messageAdded(), textDelta('x'), { type: 'response.incomplete', response: resp('incomplete', { incomplete_details: { reason: 'content_filter' }, usage: USAGE }) }],
      [chunk({ role: 'assistant', content: 'x' }), final('content_filter')],
    ],
    [
      'an empty answer still ends with one chunk, carrying the role',
      [created, completed([], { input_tokens: 3, output_tokens: 0, total_tokens: 3 })],
      [
        {
          ...chunk({ role: 'assistant' }, 'stop'),
          usage: { prompt_tokens: 3, completion_tokens: 0, total_tokens: 3, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } },
        },
      ],
    ],
    [
      'reasoning after other output starts afresh; reasoning items back to back are paragraphs apart',
      [
        created,
        { type: 'response.reasoning_summary_text.delta', item_id: 'rs_1', output_index: 0, summary_index: 0, delta: 'One' },
        { type: 'response.reasoning_summary_text.delta', item_id: 'rs_2', output_index: 1, summary_index: 0, delta: 'Two' },
        textDelta('Text', 2),
        { type: 'response.reasoning_summary_text.delta', item_id: 'rs_3', output_index: 3, summary_index: 0, delta: 'Three' },
        completed(),
      ],
      [
        chunk({ role: 'assistant', reasoning_text: 'One' }),
        chunk({ reasoning_text: '\n\nTwo' }),
        chunk({ content: 'Text' }),
        chunk({ reasoning_text: 'Three' }),
        final('stop'),
      ],
    ],
    [
      'refusal deltas',
      [created, messageAdded(), { type: 'response.refusal.delta', item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'No.' }, completed()],
      [chunk({ role: 'assistant', refusal: 'No.' }), final('stop')],
    ],
    [
      'unknown and bookkeeping events are ignored; so is anything after the end',
      [
        created,
        { type: 'response.queued' },
        { type: 'keepalive' },
        { type: 'response.output_text.annotation.added', output_index: 0 },
        messageAdded(),
        textDelta(''),
        textDelta('ok'),
        completed(),
        textDelta('late'),
      ],
      [chunk({ role: 'assistant', content: 'ok' }), final('stop')],
    ],
  ])('%s', (_, events, expected) => {
    expect(run(events).chunks).toEqual(expected);
  });

  it('keeps one id for the whole stream, a fresh one when no response.created came', () => {
    const { chunks } = run([textDelta('a'), textDelta('b'), completed()]);
    const ids = new Set(chunks.map((c) => c.id));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^chatcmpl-[\w-]{16}$/);
    expect(chunks.every((c) => c.model === ASKED && c.created > 0)).toBe(true);
  });

  it.each<[string, Json, Json]>([
    [
      'response.failed',
      { type: 'response.failed', response: resp('failed', { error: { code: 'server_error', message: 'The model crashed' } }) },
      { code: 'server_error', message: 'The model crashed' },
    ],
    ['an error event', { type: 'error', code: 'rate_limit_exceeded', message: 'Slow down', param: null }, { code: 'rate_limit_exceeded', message: 'Slow down' }],
    ['an error event with a nested error', { type: 'error', error: { type: 'server_error', message: 'Boom' } }, { code: 'upstream_failed', message: 'Boom' }],
  ])('%s mid-stream sets failed and ends without more chunks', (_, failure, expected) => {
    const { s, chunks } = run([created, messageAdded(), textDelta('Par'), failure, textDelta('tial'), completed()]);
    expect(chunks).toEqual([chunk({ role: 'assistant', content: 'Par' })]);
    expect(s.failed).toEqual(expected);
  });

  it('a failure before any content leaves nothing sent, so the pipeline can still answer with an HTTP error', () => {
    const { s, chunks } = run([created, inProgress, { type: 'response.failed', response: resp('failed', { error: { code: 'server_error', message: 'x' } }) }]);
    expect(chunks).toEqual([]);
    expect(s.failed).toEqual({ code: 'server_error', message: 'x' });
    expect(s.usage).toBeNull();
  });

  it('a stream that stops without a final event is a failure', () => {
    const { s, chunks } = run([created, messageAdded(), textDelta('Hal')]);
    expect(chunks).toEqual([chunk({ role: 'assistant', content: 'Hal' })]);
    expect(s.failed).toEqual({ code: 'stream_truncated', message: 'The model stream ended before the answer was complete' });
    expect(s.usage).toBeNull();
  });

  it('sends the encrypted reasoning once though .done and response.completed both carry it', () => {
    const item = { id: 'rs_1', type: 'reasoning', summary: [], encrypted_content: 'gAAAAenc' };
    const { chunks } = run([created, { type: 'response.output_item.added', output_index: 0, item: { ...item, encrypted_content: null } }, { type: 'response.output_item.done', output_index: 0, item }, completed([item])]);
    expect(chunks).toEqual([chunk({ role: 'assistant', reasoning_opaque: 'responses:gAAAAenc' }), final('stop')]);
  });

  it('takes raw reasoning text deltas when a model streams those instead of a summary, never both', () => {
    const raw = (delta: string) => ({ type: 'response.reasoning_text.delta', item_id: 'rs_1', output_index: 0, content_index: 0, delta });
    const summary = (delta: string) => ({ type: 'response.reasoning_summary_text.delta', item_id: 'rs_1', output_index: 0, summary_index: 0, delta });
    const { chunks } = run([created, { type: 'response.output_item.added', output_index: 0, item: { id: 'rs_1', type: 'reasoning', summary: [] } }, raw('a'), summary('A'), raw('b'), completed()]);
    expect(chunks).toEqual([chunk({ role: 'assistant', reasoning_text: 'a' }), chunk({ reasoning_text: 'b' }), final('stop')]);
  });
});

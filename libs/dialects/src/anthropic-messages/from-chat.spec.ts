import { describe, expect, it } from 'vitest';
import { chatToMessage } from './from-chat.js';

const filter = { hate: { filtered: false, severity: 'safe' } };
const usage = { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150, prompt_tokens_details: { cached_tokens: 100 } };
const anthropicUsage = { input_tokens: 20, output_tokens: 30, cache_read_input_tokens: 100, cache_creation_input_tokens: 0 };

describe('chatToMessage', () => {
  it.each<[string, Record<string, any>, Record<string, any>]>([
    [
      'a plain text answer (no object field, filter results)',
      {
        id: 'chatcmpl-1',
        created: 5,
        model: 'gpt-4o-2024-11-20',
        prompt_filter_results: [{ prompt_index: 0, content_filter_results: filter }],
        choices: [{ index: 0, finish_reason: 'stop', content_filter_results: filter, message: { role: 'assistant', content: 'Hello!' } }],
        usage,
      },
      { content: [{ type: 'text', text: 'Hello!' }], stop_reason: 'end_turn', stop_sequence: null, usage: anthropicUsage },
    ],
    [
      'Claude split over two choices: text in one, tool_calls in the other',
      {
        choices: [
          { index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Checking the weather.' } },
          {
            index: 1,
            finish_reason: 'tool_calls',
            message: { role: 'assistant', tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
          },
        ],
        usage,
      },
      {
        content: [
          { type: 'text', text: 'Checking the weather.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
        ],
        stop_reason: 'tool_use',
      },
    ],
    [
      'reasoning before text: thinking (with signature) comes first',
      {
        choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: '4', reasoning_text: '2+2 is 4.', reasoning_opaque: 'sig==' } }],
      },
      {
        content: [
          { type: 'thinking', thinking: '2+2 is 4.', signature: 'sig==' },
          { type: 'text', text: '4' },
        ],
        stop_reason: 'end_turn',
      },
    ],
    [
      'thinking, text and two tool calls in one message, in that order',
      {
        choices: [
          {
            finish_reason: 'tool_calls',
            message: {
              tool_calls: [
                { id: 'call_a', type: 'function', function: { name: 'a', arguments: '' } },
                { id: 'call_b', type: 'function', function: { name: 'b', arguments: '{"x":' } },
              ],
              content: 'Both.',
              reasoning_text: 'Need a and b.',
            },
          },
        ],
      },
      {
        content: [
          { type: 'thinking', thinking: 'Need a and b.', signature: '' },
          { type: 'text', text: 'Both.' },
          { type: 'tool_use', id: 'call_a', name: 'a', input: {} },
          { type: 'tool_use', id: 'call_b', name: 'b', input: {} },
        ],
        stop_reason: 'tool_use',
      },
    ],
    [
      'no choices and no usage',
      { choices: [] },
      { content: [], stop_reason: 'end_turn', usage: { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 } },
    ],
    [
      'usage without cached tokens',
      { choices: [{ finish_reason: 'stop', message: { content: 'x' } }], usage: { prompt_tokens: 7, completion_tokens: 2 } },
      { usage: { input_tokens: 7, output_tokens: 2, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 } },
    ],
  ])('%s', (_, chat, expected) => {
    expect(chatToMessage(chat, 'claude-sonnet-4-20250514')).toMatchObject({ type: 'message', role: 'assistant', model: 'claude-sonnet-4-20250514', ...expected });
  });

  it.each([
    ['stop', 'end_turn'],
    ['length', 'max_tokens'],
    ['tool_calls', 'tool_use'],
    ['content_filter', 'end_turn'],
    [null, 'end_turn'],
  ])('finish_reason %s → stop_reason %s', (finish, stop) => {
    expect(chatToMessage({ choices: [{ finish_reason: finish, message: { content: 'x' } }] }, 'm').stop_reason).toBe(stop);
  });

  it('answers with a fresh msg_ id whatever the chat id was', () => {
    const a = chatToMessage({ id: 'chatcmpl-1', choices: [] }, 'm');
    const b = chatToMessage({ id: 'chatcmpl-1', choices: [] }, 'm');
    expect(a.id).toMatch(/^msg_[0-9a-f]{24}$/);
    expect(a.id).not.toBe(b.id);
  });

  it('gives a tool call without an id a toolu_ id', () => {
    const out = chatToMessage({ choices: [{ finish_reason: 'tool_calls', message: { tool_calls: [{ function: { name: 'f', arguments: '{}' } }] } }] }, 'm');
    expect(out.content[0]).toMatchObject({ type: 'tool_use', name: 'f', input: {} });
    expect((out.content[0] as { id: string }).id).toMatch(/^toolu_/);
  });

  it.each([
    ['{"a":1}', { a: 1 }],
    ['', {}],
    ['{"a":', {}],
    ['[1,2]', {}],
    ['null', {}],
  ])('tool arguments %j → input %j', (args, input) => {
    const out = chatToMessage({ choices: [{ finish_reason: 'tool_calls', message: { tool_calls: [{ id: 't', function: { name: 'f', arguments: args } }] } }] }, 'm');
    expect(out.content).toEqual([{ type: 'tool_use', id: 't', name: 'f', input }]);
  });
});

import { describe, expect, it } from 'vitest';
import { chatToResponse, responseShell, responseUsage } from './from-chat.js';
import type { ResponsesRequest } from './types.js';

type Json = Record<string, any>;

const REQUEST: ResponsesRequest = {
  model: 'gpt-4o',
  input: 'Hi',
  tools: [
    { type: 'function', name: 'get_weather', parameters: { type: 'object' } },
    { type: 'namespace', name: 'multi_agent_v1', description: 'agents', tools: [{ type: 'function', name: 'spawn_agent' }] },
  ],
};
const ctx = (request: ResponsesRequest = REQUEST) => ({ id: 'resp_abc', model: 'gpt-4o', createdAt: 1_700_000_000, request });

// Copilot's non-stream chat answer (copilot-upstream.md §3): no `object`, filter results on the side.
const answer = (choices: Json[], usage: Json = { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150, prompt_tokens_details: { cached_tokens: 100 } }) => ({
  id: 'chatcmpl-1',
  created: 1,
  model: 'gpt-4o-2024-11-20',
  prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }],
  choices,
  usage,
});
const choice = (message: Json, finish_reason: string | null = 'stop', index = 0) => ({ index, message: { role: 'assistant', ...message }, finish_reason, content_filter_results: {} });

const MSG_ID = expect.stringMatching(/^msg_[0-9a-f]{24}$/);
const FC_ID = expect.stringMatching(/^fc_[0-9a-f]{24}$/);
const RS_ID = expect.stringMatching(/^rs_[0-9a-f]{24}$/);
const message = (text: string, status = 'completed') => ({ type: 'message', id: MSG_ID, status, role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] });
const fnCall = (call_id: string, name: string, args: string, extra: Json = {}) => ({ type: 'function_call', id: FC_ID, status: 'completed', call_id, name, arguments: args, ...extra });
const USAGE = { input_tokens: 120, input_tokens_details: { cached_tokens: 100, cache_write_tokens: 0 }, output_tokens: 30, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 150 };

describe('chatToResponse', () => {
  it.each<[string, Json, Json]>([
    ['plain text', answer([choice({ content: 'Hello!' })]), { status: 'completed', output: [message('Hello!')], incomplete_details: null }],
    [
      'reasoning_text → a reasoning item (summary text) before the message',
      answer([choice({ content: 'Yes.', reasoning_text: 'Let me think.', reasoning_opaque: 'sig' })]),
      { status: 'completed', output: [{ type: 'reasoning', id: RS_ID, summary: [{ type: 'summary_text', text: 'Let me think.' }] }, message('Yes.')] },
    ],
    [
      'tool calls → function_call items (call_id = the tool call id), no empty message',
      answer([
        choice(
          {
            content: null,
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
              { id: 'call_2', type: 'function', function: { name: 'now', arguments: '' } },
            ],
          },
          'tool_calls',
        ),
      ]),
      { status: 'completed', output: [fnCall('call_1', 'get_weather', '{"city":"Paris"}'), fnCall('call_2', 'now', '')] },
    ],
    [
      'Claude’s split choices: text on one, tool calls on another → one output',
      answer([choice({ content: 'Checking.' }, 'stop', 0), choice({ tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] }, 'tool_calls', 1)]),
      { status: 'completed', output: [message('Checking.'), fnCall('toolu_1', 'get_weather', '{}')] },
    ],
    [
      'a namespaced function’s flat name → name and namespace',
      answer([choice({ tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'multi_agent_v1__spawn_agent', arguments: '{}' } }] }, 'tool_calls')]),
      { output: [fnCall('call_1', 'spawn_agent', '{}', { namespace: 'multi_agent_v1' })] },
    ],
    [
      'a plain name holding __ stays as it is',
      answer([choice({ tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'mcp__fs__read', arguments: '{}' } }] }, 'tool_calls')]),
      { output: [fnCall('call_1', 'mcp__fs__read', '{}')] },
    ],
    [
      'length → incomplete (max_output_tokens)',
      answer([choice({ content: 'Once upon' }, 'length')]),
      { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, output: [message('Once upon', 'incomplete')] },
    ],
    ['content_filter → incomplete (content_filter)', answer([choice({ content: '' }, 'content_filter')]), { status: 'incomplete', incomplete_details: { reason: 'content_filter' }, output: [message('', 'incomplete')] }],
    ['an empty answer → one empty message', answer([choice({ content: null })]), { status: 'completed', output: [message('')] }],
    ['no choices at all', answer([]), { status: 'completed', output: [message('')] }],
  ])('%s', (_, chat, expected) => {
    expect(chatToResponse(chat, ctx())).toMatchObject({ id: 'resp_abc', object: 'response', created_at: 1_700_000_000, model: 'gpt-4o', error: null, usage: USAGE, ...expected });
    expect(chatToResponse(chat, ctx()).output).toEqual(expected.output);
  });

  it('echoes the request’s settings', () => {
    const request: ResponsesRequest = {
      model: 'gpt-4o',
      input: 'Hi',
      instructions: 'Be brief',
      tools: [{ type: 'function', name: 'f' }],
      tool_choice: 'required',
      parallel_tool_calls: false,
      temperature: 0.5,
      top_p: 0.9,
      max_output_tokens: 100,
      previous_response_id: 'resp_prev',
      reasoning: { effort: 'low' },
      text: { format: { type: 'json_object' } },
      store: false,
      metadata: { k: 'v' },
    };
    const { id, created_at, output, usage, status, ...echo } = chatToResponse(answer([choice({ content: '{}' })]), ctx(request));
    expect(echo).toEqual({
      object: 'response',
      model: 'gpt-4o',
      error: null,
      incomplete_details: null,
      instructions: 'Be brief',
      tools: [{ type: 'function', name: 'f' }],
      tool_choice: 'required',
      parallel_tool_calls: false,
      temperature: 0.5,
      top_p: 0.9,
      max_output_tokens: 100,
      previous_response_id: 'resp_prev',
      reasoning: { effort: 'low' },
      text: { format: { type: 'json_object' } },
      store: false,
      metadata: { k: 'v' },
    });
  });

  it('echoes OpenAI’s defaults for what the request left out', () => {
    const shell = responseShell(ctx({ model: 'gpt-4o', input: 'Hi' }));
    expect(shell).toEqual({
      id: 'resp_abc',
      object: 'response',
      created_at: 1_700_000_000,
      status: 'in_progress',
      model: 'gpt-4o',
      output: [],
      usage: null,
      error: null,
      incomplete_details: null,
      instructions: null,
      tools: [],
      tool_choice: 'auto',
      parallel_tool_calls: true,
      temperature: null,
      top_p: null,
      max_output_tokens: null,
      previous_response_id: null,
      reasoning: null,
      text: { format: { type: 'text' } },
      store: true,
      metadata: {},
    });
  });
});

describe('responseUsage', () => {
  it.each<[string, Json | null, Json]>([
    ['none', null, { input_tokens: 0, input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 }],
    ['with cached tokens (kept inside input_tokens)', { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150, prompt_tokens_details: { cached_tokens: 100 } }, USAGE],
    [
      'with reasoning tokens',
      { prompt_tokens: 10, completion_tokens: 50, total_tokens: 60, completion_tokens_details: { reasoning_tokens: 40 } },
      { input_tokens: 10, input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 }, output_tokens: 50, output_tokens_details: { reasoning_tokens: 40 }, total_tokens: 60 },
    ],
    [
      'with cache writes',
      { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 2, cache_write_tokens: 8 } },
      { input_tokens: 10, input_tokens_details: { cached_tokens: 2, cache_write_tokens: 8 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 15 },
    ],
    ['no total: the sum', { prompt_tokens: 10, completion_tokens: 5 }, { input_tokens: 10, input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 15 }],
  ])('%s', (_, usage, expected) => {
    expect(responseUsage(usage)).toEqual(expected);
  });
});

import { ApiError } from '#libs/copilot';
import { describe, expect, it } from 'vitest';
import { responseToChatCompletion } from './from-responses.js';
import { chatToResponsesRequest } from './to-responses.js';

type Json = Record<string, any>;
const ASKED = 'gpt-5-codex';

const USAGE = {
  input_tokens: 1200,
  input_tokens_details: { cached_tokens: 1024 },
  output_tokens: 300,
  output_tokens_details: { reasoning_tokens: 256 },
  total_tokens: 1500,
};
const CHAT_USAGE = {
  prompt_tokens: 1200,
  completion_tokens: 300,
  total_tokens: 1500,
  prompt_tokens_details: { cached_tokens: 1024 },
  completion_tokens_details: { reasoning_tokens: 256 },
};

const response = (output: Json[], extra: Json = {}) => ({
  id: 'resp_68af1b2c',
  object: 'response',
  created_at: 1756000000,
  status: 'completed',
  model: 'gpt-5-codex',
  output,
  usage: USAGE,
  ...extra,
});
const message = (...texts: string[]) => ({
  id: 'msg_1',
  type: 'message',
  status: 'completed',
  role: 'assistant',
  content: texts.map((text) => ({ type: 'output_text', text, annotations: [] })),
});
const reasoning = (texts: string[], encrypted?: string) => ({
  id: 'rs_1',
  type: 'reasoning',
  summary: texts.map((text) => ({ type: 'summary_text', text })),
  ...(encrypted && { encrypted_content: encrypted }),
});
const call = (call_id: string, name: string, args: string) => ({ id: `fc_${call_id}`, type: 'function_call', status: 'completed', call_id, name, arguments: args });

describe('responseToChatCompletion', () => {
  it('turns a text answer into a chat completion', () => {
    expect(responseToChatCompletion(response([message('Hello!')]), ASKED)).toEqual({
      id: 'chatcmpl-68af1b2c',
      object: 'chat.completion',
      created: 1756000000,
      model: ASKED,
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!', refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: CHAT_USAGE,
    });
  });

  it('turns reasoning and function calls into reasoning_text, reasoning_opaque and tool_calls', () => {
    const resp = response([
      reasoning(['Need the weather.', 'Then the time.'], 'gAAAAenc'),
      call('call_1', 'get_weather', '{"city":"Paris"}'),
      call('call_2', 'get_time', '{}'),
    ]);
    expect(responseToChatCompletion(resp, ASKED)).toEqual({
      id: 'chatcmpl-68af1b2c',
      object: 'chat.completion',
      created: 1756000000,
      model: ASKED,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            refusal: null,
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
              { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
            ],
            reasoning_text: 'Need the weather.\n\nThen the time.',
            reasoning_opaque: 'responses:gAAAAenc',
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: CHAT_USAGE,
    });
  });

  it.each<[string, Json, Json, string]>([
    ['text parts and message items are joined', response([message('a', 'b'), message('c')]), { content: 'abc' }, 'stop'],
    ['a refusal', response([{ type: 'message', role: 'assistant', content: [{ type: 'refusal', refusal: 'I cannot.' }] }]), { content: null, refusal: 'I cannot.' }, 'stop'],
    ['no output at all', response([]), { content: null, refusal: null }, 'stop'],
    [
      'raw reasoning text when there is no summary',
      response([{ type: 'reasoning', summary: [], content: [{ type: 'reasoning_text', text: 'raw' }] }, message('x')]),
      { content: 'x', reasoning_text: 'raw' },
      'stop',
    ],
    [
      'incomplete at max_output_tokens → length',
      response([reasoning(['Thinking…'])], { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } }),
      { content: null, reasoning_text: 'Thinking…' },
      'length',
    ],
    [
      'incomplete at max_output_tokens in the middle of a call → length, not tool_calls',
      response([call('c', 'f', '{"a":')], { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } }),
      { tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"a":' } }] },
      'length',
    ],
    ['incomplete by the content filter', response([message('Par')], { status: 'incomplete', incomplete_details: { reason: 'content_filter' } }), { content: 'Par' }, 'content_filter'],
    ['text then a call → tool_calls', response([message('Let me check.'), call('c', 'f', '{}')]), { content: 'Let me check.' }, 'tool_calls'],
  ])('%s', (_, resp, expectedMessage, finish) => {
    const out = responseToChatCompletion(resp, ASKED) as Json;
    expect(out.choices).toHaveLength(1);
    expect(out.choices[0].message).toMatchObject({ role: 'assistant', ...expectedMessage });
    expect(out.choices[0].finish_reason).toBe(finish);
  });

  it('gives a message that, sent back on the next turn, brings back the reasoning item and the calls', () => {
    const resp = response([reasoning(['Plan.'], 'gAAAAenc'), message('Checking.'), call('call_1', 'f', '{"a":1}')]);
    const assistant = (responseToChatCompletion(resp, ASKED) as Json).choices[0].message;
    const next = chatToResponsesRequest({ messages: [assistant, { role: 'tool', tool_call_id: 'call_1', content: 'ok' }] }, { model: ASKED });
    expect(next.input).toEqual([
      { type: 'reasoning', summary: [{ type: 'summary_text', text: 'Plan.' }], encrypted_content: 'gAAAAenc' },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking.' }] },
      { type: 'function_call', call_id: 'call_1', name: 'f', arguments: '{"a":1}' },
      { type: 'function_call_output', call_id: 'call_1', output: 'ok' },
    ]);
  });

  it.each<[string, Json | undefined, Json | undefined]>([
    ['no usage', undefined, undefined],
    [
      'usage without details, and Copilot credits',
      { input_tokens: 10, output_tokens: 5, copilot_usage: { total_nano_aiu: 123 } },
      { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 }, copilot_usage: { total_nano_aiu: 123 } },
    ],
  ])('usage: %s', (_, usage, expected) => {
    expect(responseToChatCompletion({ ...response([message('x')]), usage }, ASKED).usage).toEqual(expected);
  });

  it('gives a fresh chatcmpl id and the current time when the response has none', () => {
    const out = responseToChatCompletion({ status: 'completed', output: [message('x')] }, ASKED) as Json;
    expect(out.id).toMatch(/^chatcmpl-[\w-]{16}$/);
    expect(Math.abs(out.created - Date.now() / 1000)).toBeLessThan(5);
  });

  it('throws a 502 with the upstream message for a failed response', () => {
    const failed = response([], { status: 'failed', error: { code: 'server_error', message: 'The model crashed' }, usage: null });
    expect(() => responseToChatCompletion(failed, ASKED)).toThrow(ApiError);
    expect(() => responseToChatCompletion(failed, ASKED)).toThrow(expect.objectContaining({ status: 502, type: 'upstream_error', code: 'server_error', message: 'The model crashed' }));
    expect(() => responseToChatCompletion(response([], { status: 'failed', error: null }), ASKED)).toThrow(
      expect.objectContaining({ status: 502, code: 'upstream_failed', message: 'The model failed to answer' }),
    );
  });
});

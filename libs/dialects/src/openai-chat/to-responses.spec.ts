import { ApiError } from '#libs/copilot';
import { describe, expect, it } from 'vitest';
import { chatToResponsesRequest, effortForBudget } from './to-responses.js';

type Json = Record<string, any>;
const MODEL = 'gpt-5-codex';
const opts = { model: MODEL };
/** What every request carries whatever the chat body held. */
const always = { reasoning: { summary: 'auto' }, include: ['reasoning.encrypted_content'], store: false };
const user = (text: string) => ({ type: 'message', role: 'user', content: [{ type: 'input_text', text }] });
const dev = (text: string) => ({ type: 'message', role: 'developer', content: [{ type: 'input_text', text }] });

const WEATHER_PARAMS = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };

describe('chatToResponsesRequest', () => {
  it('translates a whole tool-using conversation with structured output', () => {
    const chat = {
      model: 'gpt-5-codex',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Weather in Paris, as JSON?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '18°C, sunny' },
      ],
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Current weather', parameters: WEATHER_PARAMS } }],
      tool_choice: 'auto',
      parallel_tool_calls: false,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'weather', strict: true, schema: { type: 'object', properties: { temp: { type: 'number' } }, required: ['temp'], additionalProperties: false } },
      },
      max_completion_tokens: 2000,
      temperature: 1,
      stream: true,
      stream_options: { include_usage: true },
    };
    expect(chatToResponsesRequest(chat, opts)).toEqual({
      model: MODEL,
      input: [
        dev('You are terse.'),
        user('Weather in Paris, as JSON?'),
        { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call_output', call_id: 'call_1', output: '18°C, sunny' },
      ],
      tools: [{ type: 'function', name: 'get_weather', description: 'Current weather', parameters: WEATHER_PARAMS, strict: false }],
      tool_choice: 'auto',
      parallel_tool_calls: false,
      text: {
        format: {
          type: 'json_schema',
          name: 'weather',
          schema: { type: 'object', properties: { temp: { type: 'number' } }, required: ['temp'], additionalProperties: false },
          strict: true,
        },
      },
      max_output_tokens: 2000,
      temperature: 1,
      reasoning: { summary: 'auto' },
      include: ['reasoning.encrypted_content'],
      stream: true,
      store: false,
    });
  });

  it.each<[string, Json[], Json[]]>([
    ['a string user message', [{ role: 'user', content: 'hi' }], [user('hi')]],
    [
      'system and developer messages stay developer items where they stand',
      [
        { role: 'system', content: [{ type: 'text', text: 'A' }, { type: 'text', text: 'B' }] },
        { role: 'user', content: 'hi' },
        { role: 'developer', content: 'Now be brief.' },
      ],
      [
        { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'A' }, { type: 'input_text', text: 'B' }] },
        user('hi'),
        dev('Now be brief.'),
      ],
    ],
    [
      'user parts: text, image_url with and without detail, a file',
      [
        {
          role: 'user',
          name: 'alice',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAA', detail: 'high' } },
            { type: 'image_url', image_url: { url: 'https://x/y.png' } },
            { type: 'file', file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,BBB' } },
          ],
        },
      ],
      [
        {
          type: 'message',
          role: 'user',
          content: [
            { type: 'input_text', text: 'What is this?' },
            { type: 'input_image', image_url: 'data:image/png;base64,AAA', detail: 'high' },
            { type: 'input_image', image_url: 'https://x/y.png', detail: 'auto' },
            { type: 'input_file', file_data: 'data:application/pdf;base64,BBB', filename: 'a.pdf' },
          ],
        },
      ],
    ],
    [
      'an assistant answer with text and two calls: message item, then function_call items',
      [
        {
          role: 'assistant',
          content: 'Looking.',
          tool_calls: [
            { id: 'call_a', type: 'function', function: { name: 'a', arguments: '{}' } },
            { id: 'call_b', type: 'function', function: { name: 'b', arguments: '{"x":1}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_a', content: [{ type: 'text', text: 'one' }, { type: 'text', text: 'two' }] },
        { role: 'tool', tool_call_id: 'call_b', content: '' },
      ],
      [
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Looking.' }] },
        { type: 'function_call', call_id: 'call_a', name: 'a', arguments: '{}' },
        { type: 'function_call', call_id: 'call_b', name: 'b', arguments: '{"x":1}' },
        { type: 'function_call_output', call_id: 'call_a', output: 'onetwo' },
        { type: 'function_call_output', call_id: 'call_b', output: '' },
      ],
    ],
    [
      'assistant parts and a refusal; an empty assistant turn leaves nothing',
      [
        { role: 'assistant', content: [{ type: 'text', text: 'Part.' }, { type: 'refusal', refusal: 'No.' }] },
        { role: 'assistant', content: '' },
      ],
      [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Part.' }, { type: 'refusal', refusal: 'No.' }] }],
    ],
    [
      'reasoning that came from a Responses model goes back as a reasoning item, ahead of the answer',
      [{ role: 'assistant', content: 'Done.', reasoning_text: 'Thought about it.', reasoning_opaque: 'responses:gAAAAenc' }],
      [
        { type: 'reasoning', summary: [{ type: 'summary_text', text: 'Thought about it.' }], encrypted_content: 'gAAAAenc' },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Done.' }] },
      ],
    ],
    [
      "a Claude signature, or thinking with no signature, is not sent to a Responses model",
      [
        { role: 'assistant', content: 'A', reasoning_text: 'Claude thought.', reasoning_opaque: 'EqQBCkYIBxgCKkD' },
        { role: 'assistant', content: 'B', reasoning_text: 'Unsigned.' },
      ],
      [
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'A' }] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'B' }] },
      ],
    ],
    [
      'tool call arguments given as an object (not chat, but seen) are sent as JSON',
      [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: { a: 1 } } }] }],
      [{ type: 'function_call', call_id: 'c', name: 'f', arguments: '{"a":1}' }],
    ],
  ])('input: %s', (_, messages, input) => {
    expect(chatToResponsesRequest({ messages }, opts)).toEqual({ model: MODEL, input, ...always });
  });

  it.each<[string, Json, Json]>([
    ['nothing extra', {}, {}],
    ['max_tokens', { max_tokens: 300 }, { max_output_tokens: 300 }],
    ['max_completion_tokens wins over max_tokens', { max_tokens: 300, max_completion_tokens: 500 }, { max_output_tokens: 500 }],
    ['a max below the Responses minimum is raised to 16', { max_tokens: 1 }, { max_output_tokens: 16 }],
    ['temperature and top_p', { temperature: 0.2, top_p: 0.9 }, { temperature: 0.2, top_p: 0.9 }],
    ['json_object', { response_format: { type: 'json_object' } }, { text: { format: { type: 'json_object' } } }],
    ['response_format text is the default', { response_format: { type: 'text' } }, {}],
    [
      'json_schema with a description, not strict',
      { response_format: { type: 'json_schema', json_schema: { name: 'n', description: 'd', schema: { type: 'object' } } } },
      { text: { format: { type: 'json_schema', name: 'n', description: 'd', schema: { type: 'object' }, strict: false } } },
    ],
    ['verbosity', { verbosity: 'low' }, { text: { verbosity: 'low' } }],
    ['reasoning_effort', { reasoning_effort: 'high' }, { reasoning: { summary: 'auto', effort: 'high' } }],
    ['reasoning_effort wins over thinking_budget', { reasoning_effort: 'minimal', thinking_budget: 30000 }, { reasoning: { summary: 'auto', effort: 'minimal' } }],
    ['thinking_budget 1024 → low', { thinking_budget: 1024 }, { reasoning: { summary: 'auto', effort: 'low' } }],
    ['thinking_budget 8000 → medium', { thinking_budget: 8000 }, { reasoning: { summary: 'auto', effort: 'medium' } }],
    ['thinking_budget 31999 → high', { thinking_budget: 31999 }, { reasoning: { summary: 'auto', effort: 'high' } }],
    ['user, prompt_cache_key, safety_identifier', { user: 'u1', prompt_cache_key: 'k', safety_identifier: 's' }, { user: 'u1', prompt_cache_key: 'k', safety_identifier: 's' }],
    ['stream false is the default', { stream: false }, {}],
    ['the client cannot turn store on', { store: true }, {}],
    ['tool_choice without tools is dropped', { tool_choice: 'required', parallel_tool_calls: true }, {}],
    [
      'dropped on purpose: stop, logprobs, penalties, logit_bias, seed, n=1, metadata, service_tier, prediction, stream_options',
      {
        stop: ['\n\n'],
        logprobs: true,
        top_logprobs: 2,
        frequency_penalty: 0.5,
        presence_penalty: 0.5,
        logit_bias: { 50256: -100 },
        seed: 7,
        n: 1,
        metadata: { a: 'b' },
        service_tier: 'auto',
        prediction: { type: 'content', content: 'x' },
        stream_options: { include_usage: true },
        web_search_options: {},
      },
      {},
    ],
  ])('parameters: %s', (_, extra, expected) => {
    const out = chatToResponsesRequest({ messages: [{ role: 'user', content: 'hi' }], ...extra }, opts);
    expect(out).toEqual({ model: MODEL, input: [user('hi')], ...always, ...expected });
  });

  const fn = (name: string, extra: Json = {}) => ({ type: 'function', function: { name, ...extra } });
  it.each<[string, Json, Json]>([
    ['a function without parameters gets an empty object schema', { tools: [fn('now')] }, { tools: [{ type: 'function', name: 'now', parameters: { type: 'object', properties: {} }, strict: false }] }],
    [
      'strict is kept when asked',
      { tools: [fn('f', { parameters: { type: 'object' }, strict: true })] },
      { tools: [{ type: 'function', name: 'f', parameters: { type: 'object' }, strict: true }] },
    ],
    ['tool_choice none', { tools: [fn('f')], tool_choice: 'none' }, { tool_choice: 'none' }],
    ['tool_choice required', { tools: [fn('f')], tool_choice: 'required' }, { tool_choice: 'required' }],
    ['tool_choice naming a function', { tools: [fn('f')], tool_choice: { type: 'function', function: { name: 'f' } } }, { tool_choice: { type: 'function', name: 'f' } }],
    [
      'tool_choice allowed_tools',
      { tools: [fn('f'), fn('g')], tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'required', tools: [{ type: 'function', function: { name: 'g' } }] } } },
      { tool_choice: { type: 'allowed_tools', mode: 'required', tools: [{ type: 'function', name: 'g' }] } },
    ],
    ['parallel_tool_calls', { tools: [fn('f')], parallel_tool_calls: true }, { parallel_tool_calls: true }],
  ])('tools: %s', (_, extra, expected) => {
    const out = chatToResponsesRequest({ messages: [{ role: 'user', content: 'hi' }], ...extra }, opts);
    expect(out).toMatchObject(expected);
  });

  it.each<[string, Json, string]>([
    ['n > 1', { n: 2 }, 'n'],
    ['audio output', { modalities: ['text', 'audio'] }, 'modalities'],
    ['legacy functions', { functions: [{ name: 'f' }] }, 'functions'],
    ['a custom tool', { tools: [{ type: 'custom', custom: { name: 'apply_patch' } }] }, 'tools[0]'],
    ['an unknown tool_choice', { tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'custom', custom: { name: 'x' } } }, 'tool_choice'],
    ['an audio input part', { messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }] }] }, 'messages[0].content'],
    ['a tool message without tool_call_id', { messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].tool_call_id'],
    ['a tool call without id', { messages: [{ role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'f', arguments: '' } }] }] }, 'messages[0].tool_calls[0].id'],
    ['a function-role message', { messages: [{ role: 'function', name: 'f', content: 'x' }] }, 'messages[0].role'],
    ['an image in a system message', { messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: 'u' } }] }] }, 'messages[0].content'],
    ['a json_schema format without a name', { response_format: { type: 'json_schema', json_schema: { schema: {} } } }, 'response_format.json_schema.name'],
  ])('refuses %s with a 400 naming the parameter', (_, body, param) => {
    const call = () => chatToResponsesRequest({ messages: [{ role: 'user', content: 'hi' }], ...body }, opts);
    expect(call).toThrow(ApiError);
    try {
      call();
    } catch (e) {
      expect(e).toMatchObject({ status: 400, type: 'invalid_request_error', param });
    }
  });

  it.each<[number, string]>([
    [1, 'low'],
    [1024, 'low'],
    [4095, 'low'],
    [4096, 'medium'],
    [16383, 'medium'],
    [16384, 'high'],
    [31999, 'high'],
  ])('thinking_budget %i means effort %s', (budget, effort) => {
    expect(effortForBudget(budget)).toBe(effort);
  });

  it('accepts what the Anthropic translator makes of a Claude Code turn', () => {
    const chat = {
      model: 'gpt-5-codex',
      messages: [
        { role: 'system', content: 'sys' },
        { role: 'user', content: 'list files' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'Bash', arguments: '{"command":"ls"}' } }],
          reasoning_text: 'I will run ls.',
          reasoning_opaque: 'responses:gAAAAB',
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'Error: denied' },
        { role: 'user', content: [{ type: 'text', text: 'why?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AA' } }] },
      ],
      max_tokens: 32000,
      thinking_budget: 31999,
      user: '{"device_id":"d"}',
      tools: [{ type: 'function', function: { name: 'Bash', parameters: { type: 'object' } } }],
      stream: true,
      stream_options: { include_usage: true },
    };
    expect(chatToResponsesRequest(chat, opts)).toEqual({
      model: MODEL,
      input: [
        dev('sys'),
        user('list files'),
        { type: 'reasoning', summary: [{ type: 'summary_text', text: 'I will run ls.' }], encrypted_content: 'gAAAAB' },
        { type: 'function_call', call_id: 'toolu_1', name: 'Bash', arguments: '{"command":"ls"}' },
        { type: 'function_call_output', call_id: 'toolu_1', output: 'Error: denied' },
        {
          type: 'message',
          role: 'user',
          content: [
            { type: 'input_text', text: 'why?' },
            { type: 'input_image', image_url: 'data:image/png;base64,AA', detail: 'auto' },
          ],
        },
      ],
      tools: [{ type: 'function', name: 'Bash', parameters: { type: 'object' }, strict: false }],
      max_output_tokens: 32000,
      reasoning: { summary: 'auto', effort: 'high' },
      include: ['reasoning.encrypted_content'],
      user: '{"device_id":"d"}',
      stream: true,
      store: false,
    });
  });
});

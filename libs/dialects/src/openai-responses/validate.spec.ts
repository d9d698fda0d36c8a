import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApiError } from '#libs/copilot';
import { describe, expect, it } from 'vitest';
import { parseResponsesRequest } from './validate.js';

const fixtures = fileURLToPath(new URL('../../../../test/fixtures/clients/codex-0.169.0/', import.meta.url));
const recorded = (name: string) => JSON.parse(readFileSync(fixtures + name, 'utf8')).body;

const ok = { model: 'gpt-4o', input: 'Hi' };

function refusal(body: unknown) {
  try {
    parseResponsesRequest(body);
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    const err = e as ApiError;
    return { status: err.status, type: err.type, param: err.param, message: err.message };
  }
  throw new Error('accepted');
}

describe('parseResponsesRequest', () => {
  it.each([
    ['the recorded first turn of Codex', recorded('1-first-turn.json')],
    ['the recorded turn after a function call', recorded('2-after-function-call.json')],
    ['a string input', ok],
    ['easy input messages (no type) of every role', { ...ok, input: ['user', 'assistant', 'system', 'developer'].map((role) => ({ role, content: 'x' })) }],
    [
      'content parts of every kind',
      {
        ...ok,
        input: [
          {
            type: 'message',
            role: 'user',
            content: [
              { type: 'input_text', text: 'see' },
              { type: 'input_image', image_url: 'https://x/y.png', detail: 'low' },
              { type: 'input_file', file_id: 'file-1' },
            ],
          },
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'ok', annotations: [] }, { type: 'refusal', refusal: 'no' }] },
        ],
      },
    ],
    [
      'reasoning, function_call, its output as parts, and items the gateway does not model',
      {
        ...ok,
        input: [
          { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'gAAA' },
          { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}', namespace: 'ns' },
          { type: 'function_call_output', call_id: 'c1', output: [{ type: 'input_text', text: 'done' }] },
          { type: 'web_search_call', id: 'ws_1', status: 'completed', action: { type: 'search', query: 'q' } },
          { type: 'item_reference', id: 'msg_1' },
        ],
      },
    ],
    ['an empty input continuing a stored response', { model: 'gpt-4o', input: [], previous_response_id: 'resp_1' }],
    ['no input continuing a stored response', { model: 'gpt-4o', previous_response_id: 'resp_1' }],
    [
      'every option set',
      {
        ...ok,
        instructions: 'Be brief',
        tools: [
          { type: 'function', name: 'f', parameters: { type: 'object' }, strict: true },
          { type: 'local_shell' },
          { type: 'custom', name: 'apply_patch', format: { type: 'grammar' } },
        ],
        tool_choice: { type: 'function', name: 'f' },
        parallel_tool_calls: false,
        max_output_tokens: 100,
        temperature: 0.2,
        top_p: 1,
        text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object' }, strict: true }, verbosity: 'low' },
        reasoning: { effort: 'high', summary: 'auto' },
        include: ['reasoning.encrypted_content'],
        store: true,
        stream: false,
        metadata: { a: 'b' },
        service_tier: 'auto',
        user: 'u1',
        truncation: 'auto',
      },
    ],
    [
      'nulls where the SDKs send them for unset fields',
      { ...ok, instructions: null, max_output_tokens: null, temperature: null, top_p: null, previous_response_id: null, reasoning: null, store: null, stream: null, metadata: null, include: null, parallel_tool_calls: null, tool_choice: null },
    ],
    ['a hosted tool choice', { ...ok, tool_choice: { type: 'web_search' } }],
  ])('accepts %s unchanged', (_, body) => {
    const before = JSON.stringify(body);
    expect(parseResponsesRequest(body)).toBe(body);
    expect(JSON.stringify(body)).toBe(before);
  });

  it.each([
    ['a non-object body', [], null, /JSON object/],
    ['no model', { input: 'x' }, 'model', /model: Field required/],
    ['an empty model', { ...ok, model: ' ' }, 'model', /non-empty string/],
    ['no input', { model: 'gpt-4o' }, 'input', /input: Field required/],
    ['an empty string input', { ...ok, input: '' }, 'input', /must not be empty/],
    ['an empty input array', { ...ok, input: [] }, 'input', /at least one item unless previous_response_id/],
    ['input of the wrong type', { ...ok, input: 5 }, 'input', /string or an array/],
    ['an item that is not an object', { ...ok, input: ['hi'] }, 'input.0', /object/],
    ['an item with neither type nor role', { ...ok, input: [{ content: 'x' }] }, 'input.0', /'type'/],
    ['a message of an unknown role', { ...ok, input: [{ role: 'tool', content: 'x' }] }, 'input.0.role', /'user', 'assistant', 'system' or 'developer'/],
    ['a message without content', { ...ok, input: [{ type: 'message', role: 'user' }] }, 'input.0.content', /Field required/],
    ['content of the wrong type', { ...ok, input: [{ role: 'user', content: 5 }] }, 'input.0.content', /string or an array/],
    ['a content part without type', { ...ok, input: [{ role: 'user', content: [{ text: 'x' }] }] }, 'input.0.content.0', /'type'/],
    ['a function_call without call_id', { ...ok, input: [{ type: 'function_call', name: 'f', arguments: '{}' }] }, 'input.0.call_id', /Field required/],
    ['function_call arguments as an object', { ...ok, input: [{ type: 'function_call', call_id: 'c', name: 'f', arguments: {} }] }, 'input.0.arguments', /string/],
    ['a function_call_output without output', { ...ok, input: [{ type: 'function_call_output', call_id: 'c' }] }, 'input.0.output', /Field required/],
    ['a function_call_output of a number', { ...ok, input: [{ type: 'function_call_output', call_id: 'c', output: 1 }] }, 'input.0.output', /string or an array/],
    ['stream not a boolean', { ...ok, stream: 'yes' }, 'stream', /boolean/],
    ['store not a boolean', { ...ok, store: 1 }, 'store', /boolean/],
    ['instructions not a string', { ...ok, instructions: ['x'] }, 'instructions', /string/],
    ['max_output_tokens zero', { ...ok, max_output_tokens: 0 }, 'max_output_tokens', /positive integer/],
    ['temperature a string', { ...ok, temperature: '1' }, 'temperature', /number/],
    ['metadata an array', { ...ok, metadata: [] }, 'metadata', /object/],
    ['include not an array', { ...ok, include: 'x' }, 'include', /array of strings/],
    ['tools not an array', { ...ok, tools: {} }, 'tools', /array/],
    ['a tool without type', { ...ok, tools: [{ name: 'f' }] }, 'tools.0', /'type'/],
    ['a function tool without name', { ...ok, tools: [{ type: 'function', parameters: {} }] }, 'tools.0.name', /non-empty string/],
    ['a namespace without tools', { ...ok, tools: [{ type: 'namespace', name: 'ns' }] }, 'tools.0.tools', /array/],
    ['a bad function in a namespace', { ...ok, tools: [{ type: 'namespace', name: 'ns', tools: [{ type: 'function' }] }] }, 'tools.0.tools.0.name', /non-empty/],
    ['an unknown tool_choice string', { ...ok, tool_choice: 'any' }, 'tool_choice', /'auto', 'none', 'required'/],
    ['a function tool_choice without name', { ...ok, tool_choice: { type: 'function' } }, 'tool_choice.name', /string/],
    ['a json_schema format without schema', { ...ok, text: { format: { type: 'json_schema', name: 'x' } } }, 'text.format.schema', /JSON schema/],
    ['a json_schema format without name', { ...ok, text: { format: { type: 'json_schema', schema: {} } } }, 'text.format.name', /Field required/],
    ['an empty previous_response_id', { ...ok, previous_response_id: '' }, 'previous_response_id', /non-empty/],
  ])('refuses %s with a 400 naming the field', (_, body, param, message) => {
    const err = refusal(body);
    expect(err).toMatchObject({ status: 400, type: 'invalid_request_error', param });
    expect(err.message).toMatch(message);
  });
});

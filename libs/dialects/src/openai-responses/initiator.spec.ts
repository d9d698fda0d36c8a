import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { responsesInitiator } from './initiator.js';
import type { ResponsesRequest } from './types.js';
import { parseResponsesRequest } from './validate.js';

const fixtures = fileURLToPath(new URL('../../../../test/fixtures/clients/codex-0.169.0/', import.meta.url));
const recorded = (name: string) => parseResponsesRequest(JSON.parse(readFileSync(fixtures + name, 'utf8')).body);

const withLast = (item: Record<string, unknown>): ResponsesRequest => ({ model: 'gpt-5-codex', input: [{ role: 'user', content: 'Hi' }, item] as ResponsesRequest['input'] });

describe('responsesInitiator', () => {
  it.each<[string, ResponsesRequest, 'user' | 'agent']>([
    ['the recorded first turn of Codex (a person’s prompt last)', recorded('1-first-turn.json'), 'user'],
    ['the recorded turn after a function call (its output last)', recorded('2-after-function-call.json'), 'agent'],
    ['a string input', { model: 'm', input: 'Hi' }, 'user'],
    ['an empty input continuing a stored response', { model: 'm', input: [], previous_response_id: 'resp_1' }, 'agent'],
    ['no input continuing a stored response', { model: 'm', previous_response_id: 'resp_1' }, 'agent'],
    ['a user message (no type)', withLast({ role: 'user', content: 'More' }), 'user'],
    ['a user message with parts', withLast({ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'More' }] }), 'user'],
    ['a developer message', withLast({ type: 'message', role: 'developer', content: 'Be brief' }), 'user'],
    ['an assistant message (a prefill)', withLast({ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Sure' }] }), 'agent'],
    ['a function_call_output', withLast({ type: 'function_call_output', call_id: 'c', output: 'ok' }), 'agent'],
    ['a function_call', withLast({ type: 'function_call', call_id: 'c', name: 'f', arguments: '{}' }), 'agent'],
    ['a reasoning item', withLast({ type: 'reasoning', id: 'rs_1', summary: [] }), 'agent'],
    ['a custom_tool_call_output', withLast({ type: 'custom_tool_call_output', call_id: 'c', output: 'ok' }), 'agent'],
    ['a local_shell_call_output', withLast({ type: 'local_shell_call_output', id: 'c', output: 'ok' }), 'agent'],
  ])('%s → %s', (_, req, expected) => {
    expect(responsesInitiator(req)).toBe(expected);
  });
});

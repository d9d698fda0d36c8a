import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApiError } from '#libs/copilot';
import { describe, expect, it } from 'vitest';
import { parseMessagesRequest } from './validate.js';

const fixtures = fileURLToPath(new URL('../../../../test/fixtures/clients/claude-code-2.1.197/', import.meta.url));
const recorded = (name: string) => JSON.parse(readFileSync(fixtures + name, 'utf8')).body;

const ok = { model: 'claude-sonnet-4', max_tokens: 1024, messages: [{ role: 'user', content: 'Hi' }] };

function refusal(body: unknown, opts?: { maxTokens?: boolean }) {
  try {
    parseMessagesRequest(body, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    const err = e as ApiError;
    return { status: err.status, type: err.type, param: err.param, message: err.message };
  }
  throw new Error('accepted');
}

describe('parseMessagesRequest', () => {
  it.each([
    ['the recorded first turn of Claude Code', recorded('1-first-turn.json')],
    ['the recorded turn after a tool call', recorded('2-after-tool-use.json')],
    ['a minimal request', ok],
    ['system as a string and content blocks', { ...ok, system: 'Be brief', messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }] }],
    [
      'fields it does not know',
      { ...ok, top_k: 5, service_tier: 'auto', container: null, mcp_servers: [], output_config: { effort: 'high' }, thinking: { type: 'adaptive' }, metadata: null },
    ],
    ['server tools and tool_choice', { ...ok, tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 5 }], tool_choice: { type: 'any' } }],
  ])('accepts %s unchanged', (_, body) => {
    const before = JSON.stringify(body);
    expect(parseMessagesRequest(body)).toBe(body);
    expect(JSON.stringify(body)).toBe(before);
  });

  it.each([
    ['a non-object body', [], null, /JSON object/],
    ['no model', { ...ok, model: undefined }, 'model', /model: Field required/],
    ['an empty model', { ...ok, model: ' ' }, 'model', /non-empty string/],
    ['no messages', { ...ok, messages: undefined }, 'messages', /messages: Field required/],
    ['messages not an array', { ...ok, messages: {} }, 'messages', /array/],
    ['no message', { ...ok, messages: [] }, 'messages', /at least one/],
    ['a message that is not an object', { ...ok, messages: ['hi'] }, 'messages.0', /object/],
    ['a tool-role message', { ...ok, messages: [{ role: 'tool', content: 'x' }] }, 'messages.0.role', /'user', 'assistant' or 'system'/],
    ['a message without content', { ...ok, messages: [{ role: 'user' }] }, 'messages.0.content', /Field required/],
    ['content of the wrong type', { ...ok, messages: [{ role: 'user', content: 5 }] }, 'messages.0.content', /string or an array/],
    ['a content block without type', { ...ok, messages: [{ role: 'user', content: [{ text: 'x' }] }] }, 'messages.0.content.0', /'type'/],
    ['no max_tokens', { ...ok, max_tokens: undefined }, 'max_tokens', /max_tokens: Field required/],
    ['max_tokens zero', { ...ok, max_tokens: 0 }, 'max_tokens', /positive integer/],
    ['max_tokens fractional', { ...ok, max_tokens: 1.5 }, 'max_tokens', /positive integer/],
    ['max_tokens a string', { ...ok, max_tokens: '100' }, 'max_tokens', /positive integer/],
    ['stream not a boolean', { ...ok, stream: 'yes' }, 'stream', /boolean/],
    ['system a number', { ...ok, system: 1 }, 'system', /string or an array/],
    ['a system block without text', { ...ok, system: [{ type: 'text' }] }, 'system.0', /'text'/],
    ['tools not an array', { ...ok, tools: {} }, 'tools', /array/],
    ['a tool without a name', { ...ok, tools: [{ input_schema: {} }] }, 'tools.0', /'name'/],
    ['tool_choice a string', { ...ok, tool_choice: 'auto' }, 'tool_choice', /'type'/],
    ['thinking a boolean', { ...ok, thinking: true }, 'thinking', /'type'/],
  ])('refuses %s with a 400 naming the field', (_, body, param, message) => {
    const r = refusal(body);
    expect(r).toMatchObject({ status: 400, type: 'invalid_request_error', param });
    expect(r.message).toMatch(message);
  });

  it('takes a request without max_tokens when told to (count_tokens)', () => {
    const body = { ...ok, max_tokens: undefined };
    expect(parseMessagesRequest(body, { maxTokens: false })).toBe(body);
  });
});

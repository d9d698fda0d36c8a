import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NativeUsageReader, filterBetas, prepareNativeBody } from './native.js';

const fixtures = fileURLToPath(new URL('../../../../test/fixtures/clients/claude-code-2.1.197/', import.meta.url));
const recorded = (name: string) => JSON.parse(readFileSync(fixtures + name, 'utf8')) as { headers: Record<string, string>; body: Record<string, any> };

const weather = { name: 'get_weather', input_schema: { type: 'object' } };
const webSearch = { type: 'web_search_20250305', name: 'web_search', max_uses: 5 };

describe('prepareNativeBody', () => {
  it.each(['1-first-turn.json', '2-after-tool-use.json'])('passes the recorded %s unchanged but for the model', (file) => {
    const { body } = recorded(file);
    const before = JSON.stringify(body);
    const out = prepareNativeBody({ ...body, model: 'claude-sonnet-4-20250514' }, 'claude-sonnet-4');
    expect(out).toEqual(body);
    expect(out).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 31999 }, context_management: body.context_management, metadata: body.metadata });
    expect(JSON.stringify(body)).toBe(before);
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ['maps the model', { model: 'claude-haiku-4-5-20251001', max_tokens: 10 }, { model: 'claude-haiku-4.5', max_tokens: 10 }],
    ['drops web_search, keeps the rest', { model: 'x', tools: [weather, webSearch], tool_choice: { type: 'auto' } }, { model: 'claude-haiku-4.5', tools: [weather], tool_choice: { type: 'auto' } }],
    ['drops a tool_choice naming web_search', { model: 'x', tools: [weather, webSearch], tool_choice: { type: 'tool', name: 'web_search' } }, { model: 'claude-haiku-4.5', tools: [weather] }],
    ['drops tools and tool_choice when web_search was all', { model: 'x', tools: [webSearch], tool_choice: { type: 'any' } }, { model: 'claude-haiku-4.5' }],
    [
      'keeps thinking blocks with signatures, cache_control and other server tools',
      {
        model: 'x',
        tools: [{ ...weather, cache_control: { type: 'ephemeral' } }, { type: 'bash_20250124', name: 'bash' }],
        messages: [{ role: 'assistant', content: [{ type: 'thinking', thinking: 't', signature: 's' }, { type: 'redacted_thinking', data: 'd' }] }],
      },
      {
        model: 'claude-haiku-4.5',
        tools: [{ ...weather, cache_control: { type: 'ephemeral' } }, { type: 'bash_20250124', name: 'bash' }],
        messages: [{ role: 'assistant', content: [{ type: 'thinking', thinking: 't', signature: 's' }, { type: 'redacted_thinking', data: 'd' }] }],
      },
    ],
  ])('%s', (_, body, expected) => {
    expect(prepareNativeBody(body, 'claude-haiku-4.5')).toEqual(expected);
  });
});

describe('filterBetas', () => {
  it('keeps only what Copilot takes from the recorded Claude Code header', () => {
    expect(filterBetas(recorded('1-first-turn.json').headers['anthropic-beta'])).toBe('interleaved-thinking-2025-05-14,context-management-2025-06-27');
  });

  it.each<[string | string[] | undefined, string | undefined]>([
    [undefined, undefined],
    ['', undefined],
    ['claude-code-20250219,prompt-caching-scope-2026-01-05', undefined],
    [' advanced-tool-use-2025-11-20 , oauth-2025-04-20', 'advanced-tool-use-2025-11-20'],
    [['interleaved-thinking-2025-05-14', 'context-management-2025-06-27,interleaved-thinking-2025-05-14'], 'interleaved-thinking-2025-05-14,context-management-2025-06-27'],
  ])('%j → %j', (header, expected) => {
    expect(filterBetas(header)).toBe(expected);
  });
});

describe('NativeUsageReader', () => {
  it('reads usage and model off message_start and message_delta', () => {
    const r = new NativeUsageReader();
    expect(r.usage).toBeNull();
    expect(r.model).toBeNull();
    r.push({
      type: 'message_start',
      message: { id: 'msg_1', model: 'claude-sonnet-4', usage: { input_tokens: 25, cache_creation_input_tokens: 0, cache_read_input_tokens: 900, output_tokens: 1 } },
    });
    expect(r.usage).toEqual({ input_tokens: 25, output_tokens: 1, cache_read_input_tokens: 900 });
    r.push({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hi' } });
    r.push({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 15 } });
    expect(r.usage).toEqual({ input_tokens: 25, output_tokens: 15, cache_read_input_tokens: 900 });
    r.push({ type: 'message_delta', delta: {}, usage: { input_tokens: 30, cache_read_input_tokens: 950, output_tokens: 16 } });
    r.push({ type: 'message_stop' });
    expect(r.usage).toEqual({ input_tokens: 30, output_tokens: 16, cache_read_input_tokens: 950 });
    expect(r.model).toBe('claude-sonnet-4');
  });

  it('stays empty on events without usage', () => {
    const r = new NativeUsageReader();
    r.push({ type: 'ping' });
    r.push({ type: 'error', error: { type: 'overloaded_error', message: 'x' } });
    expect(r.usage).toBeNull();
  });
});

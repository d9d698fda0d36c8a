import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contentDelta } from './content-delta.js';

type Json = Record<string, any>;

/** What the full parse says a chunk's fast-path answer must be: its content, or null (parse it). */
function expected(data: string): string | null {
  let chunk: Json;
  try {
    chunk = JSON.parse(data);
  } catch {
    return null;
  }
  const choices = chunk?.choices;
  if (!Array.isArray(choices) || choices.length !== 1 || chunk.usage || chunk.error) return null;
  const [c] = choices;
  const keys = Object.keys(c.delta ?? {}).filter((k) => !(k === 'role' && c.delta.role === 'assistant'));
  return keys.length === 1 && keys[0] === 'content' && typeof c.delta.content === 'string' && !c.finish_reason ? c.delta.content : null;
}

// A Copilot content chunk as it comes (copilot-upstream.md §3: filter annotations ride on the choice).
const copilot = (content: string) =>
  JSON.stringify({
    choices: [
      {
        index: 0,
        delta: { content },
        content_filter_offsets: { check_offset: 1, start_offset: 0, end_offset: 5 },
        content_filter_results: { hate: { filtered: false, severity: 'safe' }, self_harm: { filtered: false, severity: 'safe' } },
      },
    ],
    created: 1_795_967_776,
    id: 'chatcmpl-4e00c885ffec',
    model: 'gpt-4o',
    system_fingerprint: 'fp_abc',
  });

describe('contentDelta', () => {
  it.each([' from', '', 'say "hi"\n\ttab \\ back', '{"nested":"json"}', 'ünï\u2028cødé 🎉', '</script>\u0000'])('reads the content of a Copilot content chunk: %j', (content) => {
    expect(contentDelta(copilot(content))).toBe(content);
  });

  it('reads the first chunk, which names the assistant role too', () => {
    expect(contentDelta(copilot('Hi').replace('"delta":{', '"delta":{"role":"assistant",'))).toBe('Hi');
  });

  it.each([
    ['a finish_reason', { choices: [{ index: 0, delta: { content: 'x' }, finish_reason: 'stop' }] }],
    ['usage', { choices: [{ index: 0, delta: { content: 'x' } }], usage: { prompt_tokens: 1 } }],
    ['another role beside the content', { choices: [{ index: 0, delta: { role: 'user', content: 'x' } }] }],
    ['the role after the content', { choices: [{ index: 0, delta: { content: 'x', role: 'assistant' } }] }],
    ['tool calls', { choices: [{ index: 0, delta: { content: null, tool_calls: [{ index: 0, id: 'c' }] } }] }],
    ['reasoning', { choices: [{ index: 0, delta: { reasoning_text: 'hm' } }] }],
    ['a second choice', { choices: [{ index: 0, delta: { content: 'a' } }, { index: 1, delta: { content: 'b' } }] }],
    ['another index', { choices: [{ index: 1, delta: { content: 'x' } }] }],
    ['an error', { choices: [{ index: 0, delta: { content: 'x' } }], error: { message: 'boom' } }],
    ['no choices', { choices: [], prompt_filter_results: [] }],
  ])('leaves a chunk with %s to the full parse', (_what, chunk) => {
    expect(contentDelta(JSON.stringify(chunk))).toBeNull();
  });

  it.each([
    ['a bad escape', String.raw`{"choices":[{"index":0,"delta":{"content":"a\x"}}]}`],
    ['a raw newline in the string', '{"choices":[{"index":0,"delta":{"content":"a\nb"}}]}'],
    ['a missing comma in the annotations', '{"choices":[{"index":0,"delta":{"content":"a"},"content_filter_offsets":{"a":1"b":2}}]}'],
    ['trailing text', '{"choices":[{"index":0,"delta":{"content":"a"}}]} x'],
    ['a duplicate content key', '{"choices":[{"index":0,"delta":{"content":"a","content":"b"}}]}'],
  ])('never reads what is not JSON or not that shape: %s', (_what, data) => {
    expect(contentDelta(data)).toBeNull();
  });

  it('agrees with JSON.parse on generated chunks: the content or null (a full parse), never a wrong text', () => {
    const scalar = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null));
    const annotations = fc.dictionary(fc.stringMatching(/^[a-z_]{1,8}$/), fc.oneof(scalar, fc.dictionary(fc.stringMatching(/^[a-z_]{1,8}$/), scalar)));
    const delta = fc.oneof(
      fc.record({ content: fc.string({ unit: 'grapheme' }) }),
      fc.record({ content: fc.string() }),
      fc.record({ role: fc.constantFrom('assistant', 'user'), content: fc.string() }, { requiredKeys: [] }),
      fc.record({ tool_calls: fc.constant([{ index: 0 }]) }),
    );
    const choice = fc.record(
      {
        index: fc.constantFrom(0, 0, 0, 1),
        delta,
        content_filter_offsets: annotations,
        content_filter_results: annotations,
        finish_reason: fc.constantFrom(null, null, 'stop', 'length'),
        logprobs: fc.constant(null),
      },
      { requiredKeys: ['index', 'delta'] },
    );
    const chunk = fc.record(
      {
        choices: fc.array(choice, { minLength: 1, maxLength: 2 }),
        created: fc.integer(),
        id: fc.string(),
        model: fc.string(),
        system_fingerprint: fc.oneof(fc.string(), fc.constant(null)),
        usage: fc.record({ prompt_tokens: fc.nat() }),
      },
      { requiredKeys: ['choices'] },
    );
    let read = 0;
    fc.assert(
      fc.property(chunk, (c) => {
        const data = JSON.stringify(c);
        const got = contentDelta(data);
        if (got === null) return; // always safe: that chunk is parsed
        read++;
        expect(got).toBe(expected(data));
      }),
      { numRuns: 3000, seed: 42 },
    );
    expect(read).toBeGreaterThan(10);
  });

  it('reads every content chunk shaped as Copilot sends them, whatever the text', () => {
    const plain = fc.stringMatching(/^[a-z0-9_-]{0,12}$/);
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' })), plain, plain, (content, id, severity) => {
        const data = copilot(content).replace('chatcmpl-4e00c885ffec', id).replaceAll('"safe"', JSON.stringify(severity));
        expect(contentDelta(data)).toBe(content);
      }),
      { numRuns: 2000, seed: 7 },
    );
  });

  it('takes linear time on a long hostile line', () => {
    const t = performance.now();
    for (const data of [`{"choices":[{"index":0,"delta":{"content":"${'\\"'.repeat(200_000)}`, `{"choices":[{"index":0,"delta":{"content":"a"},"content_filter_offsets":{${'"a":1,'.repeat(100_000)}`])
      expect(contentDelta(data)).toBeNull();
    expect(performance.now() - t).toBeLessThan(500);
  });
});

import { describe, expect, it } from 'vitest';
import { StreamNormalizer, normalizeCompletion, normalizeModels } from './normalize.js';

const filter = { hate: { filtered: false, severity: 'safe' } };

describe('normalizeCompletion', () => {
  it('adds object and logprobs and drops the filter results', () => {
    const out = normalizeCompletion(
      { id: 'x', created: 5, model: 'gpt-4o', prompt_filter_results: [], choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'hi' }, content_filter_results: filter }] },
      'gpt-4o',
    );
    expect(out).toEqual({ id: 'x', object: 'chat.completion', created: 5, model: 'gpt-4o', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, logprobs: null, finish_reason: 'stop' }] });
  });

  it('merges Claude split choices into one, tool calls included', () => {
    const out = normalizeCompletion(
      {
        choices: [
          { index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: 'Checking.' } },
          { index: 1, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } }] } },
        ],
      },
      'claude-sonnet-4',
    );
    expect(out.id).toMatch(/^chatcmpl-/);
    expect(out.model).toBe('claude-sonnet-4');
    expect(out.choices).toEqual([
      { index: 0, logprobs: null, finish_reason: 'tool_calls', message: { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } }] } },
    ]);
  });

  it('keeps several choices when the client asked for n > 1', () => {
    const out = normalizeCompletion({ choices: [{ message: { content: 'a' } }, { message: { content: 'b' } }] }, 'm', 2);
    expect(out.choices.map((c: { index: number }) => c.index)).toEqual([0, 1]);
  });
});

describe('StreamNormalizer', () => {
  it('drops the prompt-filter event and keeps one id and created for the stream', () => {
    const n = new StreamNormalizer('gpt-4o', false);
    expect(n.push({ choices: [], created: 0, id: '', prompt_filter_results: [] })).toEqual([]);
    const [a] = n.push({ id: 'c1', created: 9, model: 'gpt-4o', choices: [{ index: 0, delta: { content: 'He' }, content_filter_offsets: {} }] });
    const [b] = n.push({ id: 'c2', created: 10, choices: [{ index: 0, delta: { content: 'llo' } }] });
    expect(a).toEqual({ id: 'c1', object: 'chat.completion.chunk', created: 9, model: 'gpt-4o', system_fingerprint: null, choices: [{ index: 0, delta: { content: 'He', role: 'assistant' }, logprobs: null, finish_reason: null }] });
    expect(b.id).toBe('c1');
    expect(b.created).toBe(9);
    expect(b.choices[0].delta).toEqual({ content: 'llo' });
  });

  it('strips usage from the finish chunk unless include_usage was asked', () => {
    const n = new StreamNormalizer('m', false);
    const out = n.push({ id: 'c', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } });
    expect(out).toHaveLength(1);
    expect(out[0].usage).toBeUndefined();
    expect(n.usage).toEqual({ prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 });
  });

  it('moves usage into a final empty-choices chunk when include_usage was asked', () => {
    const n = new StreamNormalizer('m', true);
    const first = n.push({ id: 'c', choices: [{ index: 0, delta: { content: 'x' } }] });
    expect(first[0].usage).toBeNull();
    const out = n.push({ id: 'c', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { total_tokens: 3 } });
    expect(out.map((c) => [c.choices.length, c.usage])).toEqual([[1, null], [0, { total_tokens: 3 }]]);
    expect(n.trailingUsage()).toBeNull();
  });

  it('sends usage that came on a choice-less event once, at the end', () => {
    const n = new StreamNormalizer('m', true);
    n.push({ id: 'c', choices: [{ index: 0, delta: { content: 'x' }, finish_reason: 'stop' }] });
    expect(n.push({ choices: [], usage: { total_tokens: 4 } })).toEqual([]);
    expect(n.trailingUsage()).toMatchObject({ choices: [], usage: { total_tokens: 4 }, object: 'chat.completion.chunk' });
    expect(n.trailingUsage()).toBeNull();
  });

  it('puts Claude choices at index 1 on index 0 when one choice was asked', () => {
    const n = new StreamNormalizer('claude', false);
    const [c] = n.push({ id: 'c', choices: [{ index: 1, delta: { tool_calls: [{ index: 0 }] } }] });
    expect(c.choices[0].index).toBe(0);
  });
});

describe('normalizeModels', () => {
  it('lists each id once in OpenAI shape, skipping junk', () => {
    expect(normalizeModels({ data: [{ id: 'a', vendor: 'X' }, { id: 'a', vendor: 'X' }, { id: 'b' }, null, { name: 'no id' }] })).toEqual([
      { id: 'a', object: 'model', created: 0, owned_by: 'X' },
      { id: 'b', object: 'model', created: 0, owned_by: 'github-copilot' },
    ]);
    expect(normalizeModels({})).toEqual([]);
  });
});

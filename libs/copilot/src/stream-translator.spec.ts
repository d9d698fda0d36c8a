import { describe, expect, it } from 'vitest';
import { StreamTranslator } from './stream-translator.js';

const COPILOT =
  'data: {"choices":[],"created":0,"id":"","prompt_filter_results":[{"prompt_index":0}]}\r\n\r\n' +
  'data: {"choices":[{"index":0,"delta":{"content":"Hi"},"content_filter_offsets":{}}],"created":7,"id":"c1","model":"gpt-4o"}\r\n\r\n' +
  'data: not json\r\n\r\n' +
  'data: {"choices":[{"index":0,"finish_reason":"stop","delta":{"content":null}}],"created":7,"id":"c1","model":"gpt-4o","usage":{"total_tokens":3}}\r\n\r\n' +
  'data: [DONE]\r\n\r\n';

const events = (text: string) => text.split('\n\n').filter(Boolean).map((e) => e.slice(6));

describe('StreamTranslator', () => {
  it('turns a Copilot stream into OpenAI events, however it is split', () => {
    const bytes = Buffer.from(COPILOT);
    for (const step of [1, 3, 17, bytes.length]) {
      const t = new StreamTranslator('gpt-4o', true);
      let text = '';
      for (let i = 0; i < bytes.length; i += step) text += t.push(bytes.subarray(i, i + step));
      text += t.end();
      const out = events(text);
      expect(out.at(-1)).toBe('[DONE]');
      const chunks = out.slice(0, -1).map((e) => JSON.parse(e));
      expect(chunks.map((c) => [c.choices.length, c.usage])).toEqual([
        [1, null],
        [1, null],
        [0, { total_tokens: 3 }],
      ]);
      expect(chunks[0]).toMatchObject({ id: 'c1', object: 'chat.completion.chunk', choices: [{ delta: { role: 'assistant', content: 'Hi' } }] });
      expect(t.usage).toEqual({ total_tokens: 3 });
      expect(t.model).toBe('gpt-4o');
    }
  });

  it('ends with [DONE] even when upstream sent nothing', () => {
    expect(new StreamTranslator('m', false).end()).toBe('data: [DONE]\n\n');
  });
});

import { describe, expect, it } from 'vitest';
import { SseParser } from './sse-parser.js';

const STREAM =
  'data: {"choices":[],"id":""}\r\n\r\n' +
  ': keep-alive comment\n\n' +
  'event: message\nid: 7\ndata: {"text":"héllo ✓ 日本"}\n\n' +
  'data: line one\ndata: line two\r\rdata:nospace\n\n' +
  'data: [DONE]\n\n';
const EXPECTED = ['{"choices":[],"id":""}', '{"text":"héllo ✓ 日本"}', 'line one\nline two', 'nospace', '[DONE]'];

function parseIn(parts: Uint8Array[]): string[] {
  const p = new SseParser();
  return [...parts.flatMap((b) => p.push(b)), ...p.end()];
}

describe('SseParser', () => {
  it('parses a whole stream with \\n, \\r\\n and \\r line ends, comments and multi-line data', () => {
    expect(parseIn([Buffer.from(STREAM)])).toEqual(EXPECTED);
  });

  it('returns the same events however the bytes are split (every split point, two cuts)', () => {
    const bytes = Buffer.from(STREAM);
    for (let i = 1; i < bytes.length; i++) {
      for (let j = i; j < bytes.length; j += 7) {
        expect(parseIn([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)])).toEqual(EXPECTED);
      }
    }
  });

  it('returns the same events when fed one byte at a time (UTF-8 sequences cut in half)', () => {
    const bytes = Buffer.from(STREAM);
    expect(parseIn([...bytes].map((b) => Uint8Array.of(b)))).toEqual(EXPECTED);
  });

  it('ends a line at a chunk-final "\\r" at once, and does not count the "\\n" after it twice', () => {
    const p = new SseParser();
    expect(p.push('data: a\r')).toEqual([]);
    expect(p.push('\n\r')).toEqual(['a']);
    expect(p.push('\ndata: b\n\n')).toEqual(['b']);
  });

  it('delivers a last event that lacks its blank line when the stream ends', () => {
    const p = new SseParser();
    expect(p.push('data: {"a":1}\n')).toEqual([]);
    expect(p.end()).toEqual(['{"a":1}']);
  });
});

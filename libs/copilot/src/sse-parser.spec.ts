import fc from 'fast-check';
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

describe('SseParser, property-based', () => {
  // One event: data lines (any text but line ends), maybe comments and other fields between them.
  const text = fc.string({ unit: 'binary', maxLength: 30 }).map((s) => s.replace(/[\r\n]/g, ''));
  const line = fc.oneof(
    { weight: 4, arbitrary: text.map((v) => ({ data: v, raw: `data: ${v}` })) },
    { weight: 1, arbitrary: text.map((v) => ({ data: null, raw: `:${v}` })) },
    { weight: 1, arbitrary: fc.constantFrom('event: message', 'id: 42', 'retry: 1000').map((raw) => ({ data: null, raw })) },
  );
  const event = fc.record({ lines: fc.array(line, { minLength: 1, maxLength: 5 }), eol: fc.constantFrom('\n', '\r\n', '\r') });
  const stream = fc.array(event, { maxLength: 12 }).map((events) => ({
    bytes: Buffer.from(events.map((e) => e.lines.map((l) => l.raw + e.eol).join('') + e.eol).join('')),
    expected: events.flatMap((e) => {
      const data = e.lines.filter((l) => l.data !== null).map((l) => l.data);
      return data.length ? [data.join('\n')] : [];
    }),
  }));

  it('returns the same events however the byte stream is split, even inside a character or a \\r\\n', () => {
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 20 }), ({ bytes, expected }, cuts) => {
        const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const parts = [0, ...at].map((from, i) => bytes.subarray(from, [...at, bytes.length][i]));
        expect(parseIn(parts)).toEqual(expected);
        expect(parseIn([bytes])).toEqual(expected);
      }),
      { numRuns: 3000 },
    );
  });
});

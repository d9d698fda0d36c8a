import { StringDecoder } from 'node:string_decoder';

/**
 * Incremental text/event-stream parser (the WHATWG algorithm, data fields only). Bytes may arrive
 * split anywhere — inside a UTF-8 sequence, inside "\r\n", inside a field — and the events come out
 * the same.
 */
export class SseParser {
  // Node's StringDecoder keeps a UTF-8 sequence cut between chunks, at a fraction of TextDecoder's cost.
  private readonly decoder = new StringDecoder('utf8');
  private buffer = '';
  private data: string[] | null = null;
  private afterCR = false;

  /** Feeds one chunk and returns the data of every event it completed. */
  push(chunk: Uint8Array | string): string[] {
    this.buffer += typeof chunk === 'string' ? chunk : this.decoder.write(chunk as Buffer);
    return this.drain();
  }

  /** Flushes what is left when the stream ends (an event missing its blank line still counts). */
  end(): string[] {
    this.buffer += this.decoder.end();
    const events = this.drain();
    if (this.buffer.length) this.line(this.buffer);
    this.buffer = '';
    if (this.data) events.push(this.data.join('\n'));
    this.data = null;
    return events;
  }

  private drain(): string[] {
    const events: string[] = [];
    const buf = this.buffer;
    let start = 0;
    // A "\r" ends a line at once; a "\n" right after it (maybe in the next chunk) is the same end.
    if (this.afterCR && buf.charCodeAt(0) === 10) start = 1;
    this.afterCR = false;
    let cr = buf.indexOf('\r', start);
    let lf = buf.indexOf('\n', start);
    while (cr !== -1 || lf !== -1) {
      const end = cr !== -1 && (lf === -1 || cr < lf) ? cr : lf;
      const event = this.line(buf.slice(start, end));
      if (event !== null) events.push(event);
      start = end + 1;
      if (end === cr) {
        if (start === buf.length) this.afterCR = true;
        else if (buf.charCodeAt(start) === 10) start++;
        cr = buf.indexOf('\r', start);
      }
      if (lf !== -1 && lf < start) lf = buf.indexOf('\n', start);
    }
    this.buffer = start === 0 ? buf : buf.slice(start);
    return events;
  }

  /** Takes one line; returns an event's data when the line is the blank one that ends it. */
  private line(line: string): string | null {
    if (line.length === 0) {
      const data = this.data;
      this.data = null;
      return data ? (data.length === 1 ? data[0] : data.join('\n')) : null;
    }
    if (line.charCodeAt(0) === 58 /* ':' comment */) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    if (field !== 'data') return null;
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    (this.data ??= []).push(value);
    return null;
  }
}

/**
 * Incremental text/event-stream parser (the WHATWG algorithm, data fields only). Bytes may arrive
 * split anywhere — inside a UTF-8 sequence, inside "\r\n", inside a field — and the events come out
 * the same.
 */
export class SseParser {
  private readonly decoder = new TextDecoder();
  private buffer = '';
  private data: string[] | null = null;
  private afterCR = false;

  /** Feeds one chunk and returns the data of every event it completed. */
  push(chunk: Uint8Array | string): string[] {
    this.buffer += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    return this.drain();
  }

  /** Flushes what is left when the stream ends (an event missing its blank line still counts). */
  end(): string[] {
    this.buffer += this.decoder.decode();
    const events = this.drain();
    if (this.buffer.length) events.push(...this.line(this.buffer));
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
    for (let i = start; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const ev = this.line(buf.slice(start, i));
      if (ev.length) events.push(ev[0]);
      if (c === 13) {
        if (i + 1 === buf.length) this.afterCR = true;
        else if (buf.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.buffer = start === 0 ? buf : buf.slice(start);
    return events;
  }

  private line(line: string): string[] {
    if (line.length === 0) {
      const data = this.data;
      this.data = null;
      return data ? [data.join('\n')] : [];
    }
    if (line.charCodeAt(0) === 58 /* ':' comment */) return [];
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    if (field !== 'data') return [];
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    (this.data ??= []).push(value);
    return [];
  }
}

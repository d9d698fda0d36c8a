import { StringDecoder } from 'node:string_decoder';
import { ApiError, SseParser } from '#libs/copilot';
import { anthropicErrorType, ChatToMessagesStream, NativeUsageReader } from '#libs/dialects';
import type { StreamOut, TokenUsage } from './upstream.pipeline.js';

/** Each complete `data:` payload of an SSE byte stream, parsed; malformed ones are dropped. */
function* events(parser: SseParser, bytes: Uint8Array | null): Generator<Record<string, any>> {
  for (const data of bytes ? parser.push(bytes) : parser.end()) {
    if (data === '[DONE]') continue;
    try {
      const event = JSON.parse(data);
      if (typeof event === 'object' && event !== null) yield event;
    } catch {
      /* dropped; the events around it still go out */
    }
  }
}

const hubUsage = (u: { input_tokens: number; output_tokens: number; cache_read_input_tokens: number } | null): TokenUsage | null =>
  u && { prompt_tokens: u.input_tokens + u.cache_read_input_tokens, completion_tokens: u.output_tokens };

/** Copilot's chat stream → Anthropic's event stream (a model served on chat completions only). */
export class MessagesFromChat implements StreamOut {
  private readonly parser = new SseParser();
  private readonly translator: ChatToMessagesStream;

  constructor(model: string) {
    this.translator = new ChatToMessagesStream(model);
  }
  push(bytes: Uint8Array): string {
    let text = '';
    for (const chunk of events(this.parser, bytes)) text += this.translator.push(chunk);
    return text;
  }
  end(): string {
    let text = '';
    for (const chunk of events(this.parser, null)) text += this.translator.push(chunk);
    return text + this.translator.end();
  }
  fail(error: ApiError): string {
    return this.translator.fail({ type: anthropicErrorType(error.status), message: error.message });
  }
  ping(): string {
    return this.translator.ping();
  }
  get usage() {
    return hubUsage(this.translator.usage);
  }
}

/**
 * Copilot's own /v1/messages stream, relayed byte for byte; its events are read on the side for
 * the usage metrics. A break-off becomes Anthropic's `error` event.
 */
export class NativeMessages implements StreamOut {
  private readonly decoder = new StringDecoder('utf8');
  private readonly parser = new SseParser();
  private readonly reader = new NativeUsageReader();

  push(bytes: Uint8Array): string {
    for (const event of events(this.parser, bytes)) this.reader.push(event);
    return this.decoder.write(bytes as Buffer);
  }
  end(): string {
    for (const event of events(this.parser, null)) this.reader.push(event);
    return this.decoder.end();
  }
  fail(error: ApiError): string {
    const body = { type: 'error', error: { type: anthropicErrorType(error.status), message: error.message } };
    return `event: error\ndata: ${JSON.stringify(body)}\n\n`;
  }
  get usage() {
    return hubUsage(this.reader.usage);
  }
}

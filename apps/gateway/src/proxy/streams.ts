import { StringDecoder } from 'node:string_decoder';
import { ApiError, contentDelta, SseParser, StreamNormalizer } from '#libs/copilot';
import {
  anthropicErrorType,
  ChatToMessagesStream,
  NativeUsageReader,
  ResponsesToChatStream,
  type ChatToResponsesStream,
  type NativeResponsesStream,
} from '#libs/dialects';
import type { StreamOut, TokenUsage } from './upstream.pipeline.js';

/** An event's data parsed; null for [DONE] and for what is not a JSON object (dropped: the events around it still go out). */
function parsed(data: string): Record<string, any> | null {
  if (data === '[DONE]') return null;
  try {
    const event = JSON.parse(data);
    return typeof event === 'object' && event !== null ? event : null;
  } catch {
    return null;
  }
}

/** Each complete `data:` payload of an SSE byte stream, parsed; malformed ones are dropped. */
function* events(parser: SseParser, bytes: Uint8Array | null): Generator<Record<string, any>> {
  for (const data of bytes ? parser.push(bytes) : parser.end()) {
    const event = parsed(data);
    if (event) yield event;
  }
}

const hubUsage = (u: { input_tokens: number; output_tokens: number; cache_read_input_tokens: number } | null): TokenUsage | null =>
  u && { prompt_tokens: u.input_tokens + u.cache_read_input_tokens, completion_tokens: u.output_tokens, cached_tokens: u.cache_read_input_tokens };

/**
 * A dialect's stream translator: fed one parsed upstream event at a time, with its text as it came
 * (which one that relays events can write as it is), it returns the text to write.
 */
interface EventTranslator {
  push(event: Record<string, any>, data?: string): string;
  end(): string;
}

/**
 * Upstream SSE bytes → parsed events → a dialect's translator: the adapter every translated stream
 * shares; how it fails, pings and reports usage is the dialect's.
 */
class Translated implements StreamOut {
  private readonly parser = new SseParser();
  constructor(
    private readonly translator: EventTranslator & { readonly ended?: boolean },
    readonly fail: (error: ApiError) => string,
    private readonly usageOf: () => TokenUsage | null,
    readonly ping?: () => string,
  ) {}
  push(bytes: Uint8Array): string {
    return this.feed(bytes);
  }
  end(): string {
    return this.feed(null) + this.translator.end();
  }
  private feed(bytes: Uint8Array | null): string {
    let text = '';
    for (const data of bytes ? this.parser.push(bytes) : this.parser.end()) {
      // A chat chunk with only a content delta (most of them) is read without a parse.
      const content = contentDelta(data);
      if (content !== null) {
        text += this.translator.push({ choices: [{ index: 0, delta: { content } }] });
        continue;
      }
      const event = parsed(data);
      if (event) text += this.translator.push(event, data);
    }
    return text;
  }
  get usage() {
    return this.usageOf();
  }
  get ended(): boolean {
    return this.translator.ended === true;
  }
}

/** Copilot's chat stream → Anthropic's event stream (a model served on chat completions). */
export function messagesFromChat(model: string): StreamOut {
  const t = new ChatToMessagesStream(model);
  return new Translated(t, (e) => t.fail({ type: anthropicErrorType(e.status), message: e.message }), () => hubUsage(t.usage), () => t.ping());
}

const responsesUsage = (u: { input_tokens?: number; output_tokens?: number; input_tokens_details?: { cached_tokens?: number } | null } | null): TokenUsage | null =>
  u && { prompt_tokens: u.input_tokens ?? 0, completion_tokens: u.output_tokens ?? 0, cached_tokens: u.input_tokens_details?.cached_tokens ?? 0 };

/**
 * Responses events out of a translator: Copilot's chat stream through ChatToResponsesStream, or
 * Copilot's own /responses stream through NativeResponsesStream (its quirks fixed).
 */
export function responsesOut(t: ChatToResponsesStream | NativeResponsesStream): StreamOut {
  return new Translated(t, (e) => t.fail({ code: e.code ?? 'upstream_error', message: e.message }), () => responsesUsage(t.usage));
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
    for (const data of this.parser.push(bytes)) this.read(data);
    return this.decoder.write(bytes as Buffer);
  }
  end(): string {
    for (const data of this.parser.end()) this.read(data);
    return this.decoder.end();
  }
  /**
   * Usage rides on message_start and message_delta only: the other events (content deltas, most of
   * a stream) are not parsed at all, as parsing every event was most of this relay's cost.
   */
  private read(data: string) {
    if (!data.includes('message_start') && !data.includes('message_delta')) return;
    let event: unknown;
    try {
      event = JSON.parse(data);
    } catch {
      return; // dropped, as events() drops it
    }
    if (typeof event === 'object' && event !== null) this.reader.push(event as Record<string, any>);
  }
  fail(error: ApiError): string {
    const body = { type: 'error', error: { type: anthropicErrorType(error.status), message: error.message } };
    return `event: error\ndata: ${JSON.stringify(body)}\n\n`;
  }
  get usage() {
    return hubUsage(this.reader.usage);
  }
}

/** Copilot's Responses stream → chat chunks (Copilot's form), failing in the client's terms once. */
abstract class FromResponses implements StreamOut {
  private readonly parser = new SseParser();
  protected readonly responses: ResponsesToChatStream;
  private done = false;

  constructor(model: string) {
    this.responses = new ResponsesToChatStream(model);
  }
  protected abstract chunk(chunk: Record<string, any>): string;
  protected abstract finish(): string;
  abstract fail(error: ApiError): string;

  push(bytes: Uint8Array): string {
    return this.feed(bytes);
  }
  end(): string {
    const text = this.feed(null);
    if (this.done) return text;
    let tail = '';
    for (const chunk of this.responses.end()) tail += this.chunk(chunk);
    return text + tail + this.settle(() => this.finish());
  }
  private feed(bytes: Uint8Array | null): string {
    if (this.done) return '';
    let text = '';
    for (const event of events(this.parser, bytes)) for (const chunk of this.responses.push(event)) text += this.chunk(chunk);
    return this.responses.failed ? text + this.settle(() => '') : text;
  }
  /** A failure Copilot reported inside its stream ends the answer with the dialect's error. */
  private settle(otherwise: () => string): string {
    this.done = true;
    const failed = this.responses.failed;
    return failed ? this.fail(new ApiError(502, `Copilot failed the answer: ${failed.message}`, 'upstream_error', failed.code)) : otherwise();
  }
  get ended(): boolean {
    return this.done;
  }
  get usage(): TokenUsage | null {
    const u = this.responses.usage;
    const nano = (u?.copilot_usage as { total_nano_aiu?: unknown } | undefined)?.total_nano_aiu;
    return u && { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, cached_tokens: u.prompt_tokens_details?.cached_tokens, nano_aiu: typeof nano === 'number' ? nano : undefined };
  }
}

/** A chat client on a model Copilot serves only on /responses. */
export class ChatFromResponses extends FromResponses {
  private readonly normalizer: StreamNormalizer;
  constructor(model: string, includeUsage: boolean) {
    super(model);
    this.normalizer = new StreamNormalizer(model, includeUsage, 1);
  }
  protected chunk(chunk: Record<string, any>): string {
    let text = '';
    for (const c of this.normalizer.push(chunk)) text += `data: ${JSON.stringify(c)}\n\n`;
    return text;
  }
  protected finish(): string {
    const usage = this.normalizer.trailingUsage();
    return `${usage ? `data: ${JSON.stringify(usage)}\n\n` : ''}data: [DONE]\n\n`;
  }
  fail(error: ApiError): string {
    return `data: ${JSON.stringify(error.toJSON())}\n\ndata: [DONE]\n\n`;
  }
}

/** An Anthropic client on a model Copilot serves only on /responses: Responses → chat → Messages. */
export class MessagesFromResponses extends FromResponses {
  private readonly messages: ChatToMessagesStream;
  constructor(model: string) {
    super(model);
    this.messages = new ChatToMessagesStream(model);
  }
  protected chunk(chunk: Record<string, any>): string {
    return this.messages.push(chunk);
  }
  protected finish(): string {
    return this.messages.end();
  }
  fail(error: ApiError): string {
    return this.messages.fail({ type: anthropicErrorType(error.status), message: error.message });
  }
  ping(): string {
    return this.messages.ping();
  }
}


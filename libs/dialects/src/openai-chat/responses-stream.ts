import { callId, chatId, chatUsage, failure, finishReason, reasoningText, type ChatUsage } from './from-responses.js';
import { ENCRYPTED_REASONING_PREFIX } from './to-responses.js';

type Json = Record<string, any>;

interface Item {
  type: string;
  /** text, arguments or reasoning already sent, by content or summary index ('' for arguments) */
  sent: Map<string, string>;
  /** for a function call: its index among the answer's tool calls */
  call?: number;
  /** for a reasoning item: which of summary or raw text deltas it streams (the first seen wins) */
  reasoningKind?: 'summary' | 'raw';
  opaqueSent?: boolean;
}

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/**
 * Copilot's Responses stream in, chat chunks out (in Copilot's chat-stream form, for the same
 * normalizer): fed one parsed event at a time. Nothing goes out before the first content, so an
 * early failure can still become an HTTP error.
 *
 * Items are keyed by output_index: Copilot has been seen changing an item's id between
 * .added and .done. The .done events (and response.completed's output) are read too, and what
 * they hold beyond what was streamed is sent then: a text or call that never streamed is not lost.
 */
export class ResponsesToChatStream {
  private id = '';
  private created = 0;
  private roleSent = false;
  private readonly items = new Map<number, Item>();
  private readonly itemIndex = new Map<string, number>();
  private calls = 0;
  /** output index and summary index of the last reasoning text sent, to put paragraphs apart */
  private lastReasoning = '';
  private finished = false;
  private chatUsage: ChatUsage | null = null;
  private failure: { code: string; message: string } | null = null;

  constructor(private readonly model: string) {}

  get usage(): ChatUsage | null {
    return this.chatUsage;
  }

  get failed(): { code: string; message: string } | null {
    return this.failure;
  }

  push(event: Record<string, any>): Record<string, any>[] {
    if (this.finished || !event || typeof event !== 'object') return [];
    switch (event.type) {
      case 'response.created':
      case 'response.in_progress':
        this.begin(event.response);
        return [];
      case 'response.output_item.added':
        return this.added(event);
      case 'response.output_text.delta':
        return this.text(this.item(event, 'message'), String(event.content_index ?? 0), event.delta);
      case 'response.output_text.done':
        return this.catchUp(this.item(event, 'message'), String(event.content_index ?? 0), event.text, 'content');
      case 'response.refusal.delta':
        return this.send({ refusal: event.delta }, nonEmpty(event.delta));
      case 'response.reasoning_summary_text.delta':
        return this.reasoning(event, 'summary');
      case 'response.reasoning_text.delta':
        return this.reasoning(event, 'raw');
      case 'response.function_call_arguments.delta':
        return this.args(this.item(event, 'function_call'), event.delta);
      case 'response.function_call_arguments.done':
        return this.argsDone(this.item(event, 'function_call'), event.arguments);
      case 'response.output_item.done':
        return this.done(event.output_index, event.item);
      case 'response.completed':
      case 'response.incomplete':
        return this.complete(event.response ?? {});
      case 'response.failed':
        if (event.response?.usage) this.chatUsage = chatUsage(event.response.usage);
        return this.fail(event.response?.error);
      case 'error':
        return this.fail(event.error ?? event);
      default:
        return [];
    }
  }

  /** A stream that stops without a final event is a failure, not a finished answer. */
  end(): Record<string, any>[] {
    if (!this.finished) this.fail({ code: 'stream_truncated', message: 'The model stream ended before the answer was complete' });
    return [];
  }

  private begin(response: Json | undefined) {
    this.id ||= response?.id ? chatId(response.id) : '';
    this.created ||= Number(response?.created_at) || 0;
  }

  private chunk(delta: Json, finish: string | null = null): Json {
    // reasoning after other output starts a new thinking block of its own: no paragraph break then
    if (delta.reasoning_text === undefined) this.lastReasoning = '';
    this.id ||= chatId(undefined);
    this.created ||= Math.floor(Date.now() / 1000);
    if (!this.roleSent) {
      delta = { role: 'assistant', ...delta };
      this.roleSent = true;
    }
    return { id: this.id, created: this.created, model: this.model, choices: [{ index: 0, delta, finish_reason: finish }] };
  }

  private send(delta: Json, when = true): Json[] {
    return when ? [this.chunk(delta)] : [];
  }

  private register(outputIndex: number, item: Json): Item {
    const entry: Item = { type: String(item?.type ?? ''), sent: new Map() };
    this.items.set(outputIndex, entry);
    if (nonEmpty(item?.id)) this.itemIndex.set(item.id, outputIndex);
    return entry;
  }

  /** The item an event is about: by output_index, else by item_id, else a new one of that type. */
  private item(event: Json, type: string): Item {
    const index = typeof event.output_index === 'number' ? event.output_index : this.itemIndex.get(event.item_id);
    if (index === undefined) return { type, sent: new Map() };
    return this.items.get(index) ?? this.register(index, { type, id: event.item_id });
  }

  private added(event: Json): Json[] {
    const item: Json = event.item ?? {};
    const entry = this.register(Number(event.output_index ?? this.items.size), item);
    return item.type === 'function_call' ? this.openCall(entry, item) : [];
  }

  private openCall(entry: Item, item: Json): Json[] {
    entry.call = this.calls++;
    entry.sent.set('', '');
    const header = { index: entry.call, id: callId(item), type: 'function', function: { name: item.name ?? '', arguments: '' } };
    return [this.chunk({ tool_calls: [header] })];
  }

  private text(entry: Item, key: string, delta: unknown): Json[] {
    if (!nonEmpty(delta)) return [];
    entry.sent.set(key, (entry.sent.get(key) ?? '') + delta);
    return [this.chunk({ content: delta })];
  }

  /** What a .done holds beyond what streamed, when what streamed is its beginning. */
  private catchUp(entry: Item, key: string, full: unknown, field: 'content' | 'reasoning_text'): Json[] {
    const sent = entry.sent.get(key) ?? '';
    if (!nonEmpty(full) || full.length <= sent.length || !full.startsWith(sent)) return [];
    entry.sent.set(key, full);
    return [this.chunk({ [field]: full.slice(sent.length) })];
  }

  private reasoning(event: Json, kind: 'summary' | 'raw'): Json[] {
    const entry = this.item(event, 'reasoning');
    entry.reasoningKind ??= kind;
    if (entry.reasoningKind !== kind || !nonEmpty(event.delta)) return [];
    const index = String((kind === 'summary' ? event.summary_index : event.content_index) ?? 0);
    return this.reasoningDelta(entry, `${event.output_index}/${index}`, index, event.delta);
  }

  private reasoningDelta(entry: Item, where: string, key: string, text: string): Json[] {
    const gap = this.lastReasoning && this.lastReasoning !== where ? '\n\n' : '';
    this.lastReasoning = where;
    entry.sent.set(key, (entry.sent.get(key) ?? '') + text);
    return [this.chunk({ reasoning_text: gap + text })];
  }

  private args(entry: Item, delta: unknown): Json[] {
    if (entry.call === undefined || !nonEmpty(delta)) return [];
    entry.sent.set('', (entry.sent.get('') ?? '') + delta);
    return [this.chunk({ tool_calls: [{ index: entry.call, function: { arguments: delta } }] })];
  }

  private argsDone(entry: Item, full: unknown): Json[] {
    if (entry.call === undefined) return [];
    const sent = entry.sent.get('') ?? '';
    if (!nonEmpty(full) || full.length <= sent.length || !full.startsWith(sent)) return [];
    return this.args(entry, full.slice(sent.length));
  }

  private done(outputIndex: unknown, item: Json | undefined): Json[] {
    if (!item || typeof item !== 'object') return [];
    const index = typeof outputIndex === 'number' ? outputIndex : this.itemIndex.get(item.id);
    if (index === undefined) return [];
    const entry = this.items.get(index) ?? this.register(index, item);
    switch (item.type) {
      case 'message': {
        const out: Json[] = [];
        (Array.isArray(item.content) ? item.content : []).forEach((part: Json, i: number) => {
          if (part?.type === 'output_text') out.push(...this.catchUp(entry, String(i), part.text, 'content'));
        });
        return out;
      }
      case 'function_call': {
        const out = entry.call === undefined ? this.openCall(entry, item) : [];
        return [...out, ...this.argsDone(entry, item.arguments)];
      }
      case 'reasoning': {
        // a reasoning item that streamed nothing still has its words to give
        const out = entry.sent.size ? [] : this.reasoningWhole(entry, index, item);
        if (!entry.opaqueSent && nonEmpty(item.encrypted_content)) {
          entry.opaqueSent = true;
          out.push(this.chunk({ reasoning_opaque: ENCRYPTED_REASONING_PREFIX + item.encrypted_content }));
        }
        return out;
      }
      default:
        return [];
    }
  }

  private reasoningWhole(entry: Item, index: number, item: Json): Json[] {
    const text = reasoningText(item);
    return text ? this.reasoningDelta(entry, `${index}/*`, '*', text) : [];
  }

  private complete(response: Json): Json[] {
    this.begin(response);
    const out: Json[] = [];
    (Array.isArray(response.output) ? response.output : []).forEach((item: Json, i: number) => out.push(...this.done(i, item)));
    this.chatUsage = chatUsage(response.usage) ?? this.chatUsage;
    const calledTools = [...this.items.values()].some((i) => i.call !== undefined);
    const last = this.chunk({}, finishReason(response, calledTools));
    if (this.chatUsage) last.usage = this.chatUsage;
    this.finished = true;
    return [...out, last];
  }

  private fail(error: Json | undefined): Json[] {
    this.failure = failure(error);
    this.finished = true;
    return [];
  }
}

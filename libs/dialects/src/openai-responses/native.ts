import { randomHex } from '#libs/copilot';
import { responsesInputItems } from './to-chat.js';
import type { ResponseObject, ResponsesRequest, ResponseUsage } from './types.js';

type Json = Record<string, any>;

const ENCRYPTED_REASONING = 'reasoning.encrypted_content';

/**
 * A Responses body for Copilot's own /responses. Copilot keeps no state, so the request goes
 * `store: false` with the conversation whole: previous_response_id gives way to the stored items
 * (`history`) ahead of the input. Under store:false a reasoning item is only of use with its
 * encrypted_content (the service cannot look its id up), so reasoning items without it — a chat
 * model's summaries, or a stored turn that did not ask for it — are left out, and those with it go
 * untouched; an item_reference to an item the history carries is left out too (the item is
 * there), others go on for Copilot to refuse. Where the gateway is to keep the response (the
 * client did not say store:false), the encrypted reasoning is asked for, so that a later
 * previous_response_id can hand it back. service_tier goes: /responses refuses it
 * (copilot-upstream.md §3). Everything else goes as sent.
 */
export function prepareNativeResponsesBody(req: ResponsesRequest, raw: Record<string, unknown>, opts: { model: string; history?: unknown[] }): Record<string, unknown> {
  const { service_tier: _tier, previous_response_id: _prev, ...rest } = raw;
  const out: Json = { ...rest, model: opts.model, store: false };
  const history = (opts.history ?? []) as Json[];
  if (history.length || Array.isArray(req.input)) {
    const stored = new Set(history.map((item) => item?.id).filter((id) => typeof id === 'string'));
    out.input = [...history, ...(responsesInputItems(req) as Json[])].filter((item) => {
      if (item?.type === 'reasoning') return typeof item.encrypted_content === 'string' && item.encrypted_content !== '';
      // a reference to a stored item that the history already carries
      return !(item?.type === 'item_reference' && stored.has(item.id));
    });
  }
  if (req.store !== false) {
    const include = Array.isArray(raw.include) ? (raw.include as string[]) : [];
    if (!include.includes(ENCRYPTED_REASONING)) out.include = [...include, ENCRYPTED_REASONING];
  }
  return out;
}

/** A non-stream answer of Copilot's /responses under the gateway's id and the model the client named. */
/**
 * What the client asked, reported back as it asked it: Copilot is sent `store:false` and no
 * `previous_response_id`, but the gateway stores the response and continues the conversation.
 */
export interface NativeContext {
  id: string;
  model: string;
  echo?: { store?: boolean; previous_response_id?: string | null };
}

export function fixNativeResponse(body: Json, ctx: NativeContext): ResponseObject {
  return { ...body, ...ctx.echo, id: ctx.id, model: ctx.model } as ResponseObject;
}

const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);
/** More whitespace-only argument deltas in a row than this, for one item, is the upstream looping. */
export const WHITESPACE_LIMIT = 20;

/**
 * Copilot's /responses stream relayed, fed one parsed event at a time, returning the SSE text to
 * write. On the way: the response id becomes the gateway's (it stores responses under its own
 * ids) and the model the one the client named; an item keeps the id it was added with through
 * every event of its output_index (Copilot has been seen giving .added and .done different ids,
 * and Codex acts on .done); sequence numbers are renumbered from 0, as events are dropped or
 * added. Upstream failures end the stream with response.failed: an `error` event, more than
 * WHITESPACE_LIMIT whitespace-only function_call_arguments deltas in a row (a loop that would
 * otherwise run to the token limit), a stream that ends without a final event, or fail().
 */
export class NativeResponsesStream {
  private seq = 0;
  private finished = false;
  private base: Json | null = null;
  private final: ResponseObject | null = null;
  private readonly itemIds = new Map<number, string>();
  private readonly blanks = new Map<number, number>();
  private readonly done = new Map<number, Json>();

  constructor(private readonly ctx: NativeContext) {}

  get usage(): ResponseUsage | null {
    const u = this.final?.usage as Json | null | undefined;
    if (!u || typeof u !== 'object') return null;
    const input = Number(u.input_tokens) || 0;
    const output = Number(u.output_tokens) || 0;
    return {
      input_tokens: input,
      input_tokens_details: { cached_tokens: Number(u.input_tokens_details?.cached_tokens) || 0, cache_write_tokens: Number(u.input_tokens_details?.cache_write_tokens) || 0 },
      output_tokens: output,
      output_tokens_details: { reasoning_tokens: Number(u.output_tokens_details?.reasoning_tokens) || 0 },
      total_tokens: Number(u.total_tokens) || input + output,
    };
  }

  /** The final response (completed, incomplete or failed) with the ids fixed, for storing; null until then. */
  /** The stream has said its last event (completed, incomplete or failed, upstream's or its own). */
  get ended(): boolean {
    return this.finished;
  }

  get response(): ResponseObject | null {
    return this.final;
  }

  /**
   * One upstream event, parsed. With `data`, its text as it came — the event is then the stream's
   * own, a fresh parse — most events (the deltas) need no change: their item id is the one the item
   * was added with and their sequence number the next, and they go out as that very text, not
   * serialized again. Without it the event is left as it is (what is changed, is changed on a copy).
   */
  push(eventData: Record<string, any>, data?: string): string {
    if (this.finished || typeof eventData?.type !== 'string') return '';
    return data === undefined ? this.relay({ ...eventData }, null) : this.relay(eventData, data);
  }

  /** `event` is the gateway's to change; `data` is its text as it came, if it came as text. */
  private relay(event: Json, data: string | null): string {
    if (event.type === 'error') {
      return this.fail({ code: String(event.code ?? event.error?.code ?? 'upstream_error'), message: String(event.message ?? event.error?.message ?? 'Upstream error') });
    }
    if (event.response && typeof event.response === 'object') {
      event.response = this.fixResponse(event.response);
      this.base = event.response;
      if (TERMINAL.has(event.type)) {
        this.final = event.response;
        this.finished = true;
      }
      return this.emit(event);
    }

    let same = data !== null;
    const index = typeof event.output_index === 'number' ? event.output_index : null;
    if (index !== null) {
      if (event.item && typeof event.item === 'object') {
        const id = this.itemIds.get(index) ?? (typeof event.item.id === 'string' && event.item.id ? event.item.id : itemId(event.item.type));
        this.itemIds.set(index, id);
        if (event.item.id !== id) {
          event.item = { ...event.item, id };
          same = false;
        }
        if (event.type === 'response.output_item.done') this.done.set(index, event.item);
      } else if ('item_id' in event) {
        const id = this.itemIds.get(index) ?? event.item_id;
        if (typeof id === 'string') this.itemIds.set(index, id);
        if (event.item_id !== id) {
          event.item_id = id;
          same = false;
        }
      }
    }

    if (event.type === 'response.function_call_arguments.delta' && index !== null) {
      const blank = typeof event.delta !== 'string' || event.delta.trim() === '';
      const run = blank ? (this.blanks.get(index) ?? 0) + 1 : 0;
      this.blanks.set(index, run);
      if (run > WHITESPACE_LIMIT)
        return this.fail({ code: 'upstream_whitespace_loop', message: 'The model kept writing whitespace into the arguments of a function call; the response was cut off' });
    }
    if (same && event.sequence_number === this.seq) {
      this.seq++;
      return `event: ${event.type}\ndata: ${data}\n\n`;
    }
    return this.emit(event);
  }

  end(): string {
    if (this.finished) return '';
    return this.fail({ code: 'upstream_incomplete', message: 'The upstream stream ended before the response was complete' });
  }

  fail(error: { code: string; message: string }): string {
    if (this.finished) return '';
    this.finished = true;
    const base = this.base ?? { id: this.ctx.id, object: 'response', created_at: Math.floor(Date.now() / 1000), model: this.ctx.model, ...this.ctx.echo };
    const output = [...this.done.entries()].sort(([a], [b]) => a - b).map(([, item]) => item);
    this.final = { ...base, status: 'failed', output, usage: null, error: { code: error.code, message: error.message }, incomplete_details: null } as ResponseObject;
    return this.emit({ type: 'response.failed', response: this.final });
  }

  private fixResponse(response: Json): Json {
    const fixed: Json = Object.assign({}, response, this.ctx.echo, { id: this.ctx.id, model: this.ctx.model });
    if (Array.isArray(response.output)) {
      fixed.output = response.output.map((item: Json, i: number) => {
        const id = this.itemIds.get(i);
        return id && item && typeof item === 'object' ? { ...item, id } : item;
      });
    }
    return fixed;
  }

  private emit(event: Json): string {
    // The event is this stream's own (a parse, or push()'s copy): numbered in place, not copied again.
    event.sequence_number = this.seq++;
    return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
  }
}

const PREFIX: Record<string, string> = { message: 'msg', function_call: 'fc', reasoning: 'rs', custom_tool_call: 'ctc', web_search_call: 'ws' };
const itemId = (type: unknown) => `${PREFIX[String(type)] ?? 'item'}_${randomHex(12)}`;

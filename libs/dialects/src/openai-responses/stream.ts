import { callId, functionCallItem, incompleteReason, messageItemId, reasoningItemId, responseSettings, responseShell, responseUsage, type ResponseContext } from './from-chat.js';
import { namespacedFunctions } from './to-chat.js';
import { StreamedToolCalls, type StreamedCall } from '../openai-chat/tool-calls.js';
import type { ItemStatus, OutputFunctionCall, OutputItem, OutputMessage, OutputReasoning, OutputTextPart, ResponseObject, ResponseUsage, SummaryText } from './types.js';

type Json = Record<string, any>;

/** `at`: the open item's `"item_id":…,"output_index":…`, serialized once for its deltas. */
type Open =
  | { kind: 'message'; item: OutputMessage; index: number; at: string; text: string }
  | { kind: 'reasoning'; item: OutputReasoning; index: number; at: string; text: string }
  | { kind: 'tool'; item: OutputFunctionCall; index: number; at: string; call: StreamedCall };

const itemAt = (id: string, index: number) => `"item_id":${JSON.stringify(id)},"output_index":${index}`;

const text = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/**
 * Copilot's chat stream in, the Responses event stream out: fed one parsed chat chunk at a time,
 * it returns the SSE text to write (`event: <type>` equal to data.type; no [DONE]).
 * response.created goes out with the first chunk that carries a choice, so until then the pipeline
 * can still answer with an HTTP error; the last item closes and response.completed (or
 * .incomplete) goes out in end(), since usage may come after the finish_reason. One item is open
 * at a time; a function_call item opens once its call id and name are known. fail() ends the stream
 * with response.failed and leaves an open item as it is: clients drop a failed response whole.
 */
export class ChatToResponsesStream {
  private seq = 0;
  private isStarted = false;
  private finished = false;
  private readonly output: OutputItem[] = [];
  private open: Open | null = null;
  private readonly calls = new StreamedToolCalls();
  private readonly names: Map<string, { namespace: string; name: string }>;
  private finish: string | null = null;
  private chatUsage: Json | null = null;
  private final: ResponseObject | null = null;
  /** `"instructions":…,"metadata":…}`: the request's settings, echoed in every response event, serialized once */
  private settings = '';
  /** each closed output item as its output_item.done wrote it, for the final response */
  private readonly itemJson: string[] = [];

  constructor(private readonly ctx: ResponseContext) {
    this.names = namespacedFunctions(ctx.request.tools);
  }

  get started(): boolean {
    return this.isStarted;
  }

  get usage(): ResponseUsage | null {
    return this.chatUsage && responseUsage(this.chatUsage);
  }

  /** The response as it stands: the final one once the stream has ended, for storing. */
  get response(): ResponseObject {
    return this.final ?? Object.assign(responseShell(this.ctx), { output: [...this.output], usage: this.usage });
  }

  push(chunk: Json): string {
    if (this.finished) return '';
    if (chunk.usage) this.chatUsage = chunk.usage;
    if (chunk.error) return this.fail({ code: String(chunk.error.code ?? 'upstream_error'), message: String(chunk.error.message ?? 'Upstream error') });
    const choices: Json[] = Array.isArray(chunk.choices) ? chunk.choices : [];
    if (!choices.length) return '';
    let out = this.start();
    for (const choice of choices) {
      const delta: Json = choice.delta ?? {};
      if (text(delta.reasoning_text)) out += this.reasoningDelta(delta.reasoning_text);
      if (text(delta.content)) out += this.textDelta(delta.content);
      for (const call of Array.isArray(delta.tool_calls) ? delta.tool_calls : []) out += this.toolDelta(call);
      this.finish ??= choice.finish_reason ?? null;
    }
    return out;
  }

  end(): string {
    if (this.finished) return '';
    let out = this.start();
    for (const call of this.calls.finish(callId)) out += this.openTool(call);
    const reason = incompleteReason(this.finish);
    out += this.close(reason ? 'incomplete' : 'completed');
    this.finished = true;
    const status = reason ? 'incomplete' : 'completed';
    const final = Object.assign(responseShell(this.ctx, status), {
      output: [...this.output],
      usage: responseUsage(this.chatUsage),
      incomplete_details: reason ? { reason } : null,
    });
    this.final = final;
    // Its items as they were written when they closed, and the settings as response.created wrote them.
    const json = this.responseJson(status, `[${this.itemJson.join(',')}]`, JSON.stringify(final.usage), JSON.stringify(final.incomplete_details));
    return out + this.raw(reason ? 'response.incomplete' : 'response.completed', `"response":${json}`);
  }

  fail(error: { code: string; message: string }): string {
    if (this.finished) return '';
    const out = this.start();
    this.finished = true;
    this.final = Object.assign(responseShell(this.ctx, 'failed'), { output: [...this.output], usage: this.usage, error: { code: error.code, message: error.message } });
    return out + this.emit({ type: 'response.failed', response: this.final });
  }

  /** One event; sequence_number goes last, appended to the serialized event rather than copying it. */
  private emit(event: Json & { type: string }): string {
    const json = JSON.stringify(event);
    return `event: ${event.type}\ndata: ${json.slice(0, -1)},"sequence_number":${this.seq++}}\n\n`;
  }

  /**
   * One event from fields already serialized: the deltas (one per upstream chunk, most of a stream)
   * and the two opening events, which carry the same response (serialized once).
   */
  private raw(type: string, fields: string): string {
    return `event: ${type}\ndata: {"type":"${type}",${fields},"sequence_number":${this.seq++}}\n\n`;
  }

  private start(): string {
    if (this.isStarted) return '';
    this.isStarted = true;
    this.settings = JSON.stringify(responseSettings(this.ctx.request)).slice(1);
    const response = `"response":${this.responseJson('in_progress', '[]', 'null', 'null')}`;
    return this.raw('response.created', response) + this.raw('response.in_progress', response);
  }

  /** A response's JSON, in responseShell's order, from its parts already serialized. */
  private responseJson(status: string, output: string, usage: string, incomplete: string): string {
    const { id, createdAt, model } = this.ctx;
    return `{"id":${JSON.stringify(id)},"object":"response","created_at":${createdAt},"status":"${status}","model":${JSON.stringify(model)},"output":${output},"usage":${usage},"error":null,"incomplete_details":${incomplete},${this.settings}`;
  }

  private add(item: OutputItem): { out: string; index: number } {
    const out = this.close('completed');
    const index = this.output.push(item) - 1;
    return { out: out + this.raw('response.output_item.added', `"output_index":${index},"item":${JSON.stringify(item)}`), index };
  }

  private close(status: ItemStatus): string {
    const open = this.open;
    if (!open) return '';
    this.open = null;
    // Written from parts: the text is serialized once for the three events that carry it.
    let out = '';
    if (open.kind === 'message') {
      const part: OutputTextPart = { type: 'output_text', text: open.text, annotations: [] };
      const text = JSON.stringify(open.text);
      out += this.raw('response.output_text.done', `${open.at},"content_index":0,"text":${text},"logprobs":[]`);
      out += this.raw('response.content_part.done', `${open.at},"content_index":0,"part":{"type":"output_text","text":${text},"annotations":[]}`);
      open.item.content = [part];
      open.item.status = status;
    } else if (open.kind === 'reasoning') {
      const part: SummaryText = { type: 'summary_text', text: open.text };
      const text = JSON.stringify(open.text);
      out += this.raw('response.reasoning_summary_text.done', `${open.at},"summary_index":0,"text":${text}`);
      out += this.raw('response.reasoning_summary_part.done', `${open.at},"summary_index":0,"part":{"type":"summary_text","text":${text}}`);
      open.item.summary = [part];
    } else {
      open.call.state = 'closed';
      open.item.arguments = open.call.args;
      open.item.status = status;
      out += this.raw('response.function_call_arguments.done', `${open.at},"arguments":${JSON.stringify(open.call.args)},"name":${JSON.stringify(open.item.name)}`);
    }
    const item = JSON.stringify(open.item);
    this.itemJson.push(item);
    return out + this.raw('response.output_item.done', `"output_index":${open.index},"item":${item}`);
  }

  private textDelta(delta: string): string {
    let out = '';
    if (this.open?.kind !== 'message') {
      const item: OutputMessage = { type: 'message', id: messageItemId(), status: 'in_progress', role: 'assistant', content: [] };
      const added = this.add(item);
      const at = itemAt(item.id, added.index);
      out = added.out + this.raw('response.content_part.added', `${at},"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}`);
      this.open = { kind: 'message', item, index: added.index, at, text: '' };
    }
    const open = this.open as Extract<Open, { kind: 'message' }>;
    open.text += delta;
    return out + this.raw('response.output_text.delta', `${open.at},"content_index":0,"delta":${JSON.stringify(delta)},"logprobs":[]`);
  }

  private reasoningDelta(delta: string): string {
    let out = '';
    if (this.open?.kind !== 'reasoning') {
      const item: OutputReasoning = { type: 'reasoning', id: reasoningItemId(), summary: [] };
      const added = this.add(item);
      const at = itemAt(item.id, added.index);
      out = added.out + this.raw('response.reasoning_summary_part.added', `${at},"summary_index":0,"part":{"type":"summary_text","text":""}`);
      this.open = { kind: 'reasoning', item, index: added.index, at, text: '' };
    }
    const open = this.open as Extract<Open, { kind: 'reasoning' }>;
    open.text += delta;
    return out + this.raw('response.reasoning_summary_text.delta', `${open.at},"summary_index":0,"delta":${JSON.stringify(delta)}`);
  }

  private toolDelta(delta: Json): string {
    const step = this.calls.push(delta);
    if (!step) return '';
    if (step.kind === 'open') return this.openTool(step.call);
    if (this.open?.kind !== 'tool') return '';
    return this.raw('response.function_call_arguments.delta', `${this.open.at},"delta":${JSON.stringify(step.args)}`);
  }

  /** The call's item, and the arguments that came before its id and name did. */
  private openTool(call: StreamedCall): string {
    const item = functionCallItem({ id: call.id, name: call.name, arguments: '' }, this.names, 'in_progress');
    const added = this.add(item);
    this.open = { kind: 'tool', item, index: added.index, at: itemAt(item.id, added.index), call };
    let out = added.out;
    if (call.args) out += this.emit({ type: 'response.function_call_arguments.delta', item_id: item.id, output_index: added.index, delta: call.args });
    return out;
  }
}

import { randomHex } from '#libs/copilot';
import { anthropicUsage, stopReason } from './from-chat.js';
import type { ContentDelta, ResponseBlock, StreamEvent } from './types.js';
import { StreamedToolCalls, type StreamedCall } from '../openai-chat/tool-calls.js';

type Json = Record<string, any>;

const frame = (event: StreamEvent) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
const text = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
// from-chat's messageId and toolUseId (the same formats), from a pooled random source: one per stream.
const messageId = () => `msg_${randomHex(12)}`;
const toolUseId = () => `toolu_${randomHex(12)}`;

/**
 * Copilot's chat stream in, Anthropic's Messages stream out: fed one parsed chat chunk at a time,
 * it returns the SSE text to write. message_start goes out with the first chunk that carries a
 * choice (so until then the pipeline can still answer with an HTTP error); message_delta waits for
 * end(), since usage may come after the finish_reason.
 */
export class ChatToMessagesStream {
  private readonly id = messageId();
  private isStarted = false;
  private finished = false;
  /** index of the open block, or of the next one */
  private index = 0;
  private open: { kind: 'thinking' | 'text' } | { kind: 'tool'; call: StreamedCall } | null = null;
  private readonly calls = new StreamedToolCalls();
  private usedTools = false;
  private finish: string | null = null;
  private chatUsage: Json | null = null;

  constructor(private readonly model: string) {}

  get started(): boolean {
    return this.isStarted;
  }

  get usage(): { input_tokens: number; output_tokens: number; cache_read_input_tokens: number } | null {
    if (!this.chatUsage) return null;
    const { input_tokens, output_tokens, cache_read_input_tokens } = anthropicUsage(this.chatUsage);
    return { input_tokens, output_tokens, cache_read_input_tokens };
  }

  push(chunk: Json): string {
    if (this.finished) return '';
    if (chunk.usage) this.chatUsage = chunk.usage;
    if (chunk.error) return this.fail({ type: 'api_error', message: String(chunk.error.message ?? 'Upstream error') });
    const choices: Json[] = Array.isArray(chunk.choices) ? chunk.choices : [];
    if (!choices.length) return '';
    let out = this.start();
    for (const choice of choices) {
      const delta: Json = choice.delta ?? {};
      if (text(delta.reasoning_text)) out += this.delta('thinking', { type: 'thinking_delta', thinking: delta.reasoning_text });
      if (text(delta.reasoning_opaque)) out += this.signature(delta.reasoning_opaque);
      if (text(delta.content)) out += this.delta('text', { type: 'text_delta', text: delta.content });
      for (const call of Array.isArray(delta.tool_calls) ? delta.tool_calls : []) out += this.toolDelta(call);
      this.finish ??= choice.finish_reason ?? null;
    }
    return out;
  }

  end(): string {
    if (this.finished) return '';
    let out = this.start();
    for (const call of this.calls.finish(toolUseId)) out += this.openTool(call);
    out += this.close();
    this.finished = true;
    out += frame({
      type: 'message_delta',
      delta: { stop_reason: stopReason(this.finish, this.usedTools), stop_sequence: null },
      usage: anthropicUsage(this.chatUsage),
    });
    return out + frame({ type: 'message_stop' });
  }

  fail(error: { type: string; message: string }): string {
    if (this.finished) return '';
    this.finished = true;
    return this.close() + frame({ type: 'error', error: { type: error.type, message: error.message } });
  }

  ping(): string {
    return this.finished ? '' : frame({ type: 'ping' });
  }

  private start(): string {
    if (this.isStarted) return '';
    this.isStarted = true;
    return frame({
      type: 'message_start',
      message: { id: this.id, type: 'message', role: 'assistant', model: this.model, content: [], stop_reason: null, stop_sequence: null, usage: anthropicUsage(this.chatUsage) },
    });
  }

  private openBlock(block: ResponseBlock): string {
    return this.close() + frame({ type: 'content_block_start', index: this.index, content_block: block });
  }

  private close(): string {
    if (!this.open) return '';
    if (this.open.kind === 'tool') this.open.call.state = 'closed';
    this.open = null;
    return frame({ type: 'content_block_stop', index: this.index++ });
  }

  private emit(delta: ContentDelta): string {
    return frame({ type: 'content_block_delta', index: this.index, delta });
  }

  private delta(kind: 'thinking' | 'text', delta: ContentDelta): string {
    let out = '';
    if (this.open?.kind !== kind) {
      out = this.openBlock(kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' });
      this.open = { kind };
    }
    return out + this.emit(delta);
  }

  /** The signature is the last of a thinking block; one that comes alone makes a block of its own. */
  private signature(signature: string): string {
    let out = '';
    if (this.open?.kind !== 'thinking') {
      out = this.openBlock({ type: 'thinking', thinking: '', signature: '' });
      this.open = { kind: 'thinking' };
    }
    return out + this.emit({ type: 'signature_delta', signature }) + this.close();
  }

  private toolDelta(delta: Json): string {
    const step = this.calls.push(delta);
    if (!step) return '';
    return step.kind === 'open' ? this.openTool(step.call) : this.emit({ type: 'input_json_delta', partial_json: step.args });
  }

  /** The call's block, and the arguments that came before its id and name did. */
  private openTool(call: StreamedCall): string {
    let out = this.openBlock({ type: 'tool_use', id: call.id, name: call.name, input: {} });
    this.open = { kind: 'tool', call };
    this.usedTools = true;
    if (call.args) out += this.emit({ type: 'input_json_delta', partial_json: call.args });
    return out;
  }
}

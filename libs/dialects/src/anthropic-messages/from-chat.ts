import { randomBytes } from 'node:crypto';
import type { MessagesResponse, ResponseBlock, StopReason, Usage } from './types.js';

type Json = Record<string, any>;

export const messageId = () => `msg_${randomBytes(12).toString('hex')}`;
export const toolUseId = () => `toolu_${randomBytes(12).toString('hex')}`;

export function stopReason(finish: string | null | undefined, usedTools: boolean): StopReason {
  if (finish === 'length') return 'max_tokens';
  // Claude on Copilot may put 'stop' on the text choice of an answer whose other choice calls tools.
  if (usedTools || finish === 'tool_calls' || finish === 'function_call') return 'tool_use';
  return 'end_turn';
}

/** Chat's prompt_tokens include the cached ones; Anthropic counts them apart. */
export function anthropicUsage(usage: Json | null | undefined): Usage {
  const cached = Number(usage?.prompt_tokens_details?.cached_tokens) || 0;
  return {
    input_tokens: Math.max(0, (Number(usage?.prompt_tokens) || 0) - cached),
    output_tokens: Number(usage?.completion_tokens) || 0,
    cache_read_input_tokens: cached,
    cache_creation_input_tokens: 0,
  };
}

/** A tool call whose arguments are not a JSON object gets {}: the client's input check then tells the model, instead of the whole answer failing. */
export function toolInput(args: unknown): Record<string, unknown> {
  if (typeof args !== 'string' || !args.trim()) return {};
  try {
    const input = JSON.parse(args);
    return typeof input === 'object' && input !== null && !Array.isArray(input) ? input : {};
  } catch {
    return {};
  }
}

/**
 * Copilot's non-stream chat answer as an Anthropic message. Chat does not say which stop sequence
 * ended an answer, so such a stop reads as end_turn with stop_sequence null.
 */
export function chatToMessage(chat: Json, model: string): MessagesResponse {
  const choices: Json[] = Array.isArray(chat.choices) ? chat.choices : [];
  const thinking: string[] = [];
  let signature = '';
  const texts: ResponseBlock[] = [];
  const tools: ResponseBlock[] = [];
  let finish: string | null = null;
  for (const choice of choices) {
    const message: Json = choice.message ?? {};
    if (typeof message.reasoning_text === 'string' && message.reasoning_text) thinking.push(message.reasoning_text);
    if (typeof message.reasoning_opaque === 'string') signature ||= message.reasoning_opaque;
    if (typeof message.content === 'string' && message.content) texts.push({ type: 'text', text: message.content });
    for (const call of Array.isArray(message.tool_calls) ? message.tool_calls : []) {
      tools.push({ type: 'tool_use', id: call.id || toolUseId(), name: call.function?.name ?? '', input: toolInput(call.function?.arguments) });
    }
    finish ??= choice.finish_reason ?? null;
  }
  const content: ResponseBlock[] = thinking.length || signature ? [{ type: 'thinking', thinking: thinking.join('\n\n'), signature }] : [];
  content.push(...texts, ...tools);
  return {
    id: messageId(),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReason(finish, tools.length > 0),
    stop_sequence: null,
    usage: anthropicUsage(chat.usage),
  };
}

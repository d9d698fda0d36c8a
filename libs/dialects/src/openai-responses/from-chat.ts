import { randomHex } from '#libs/copilot';
import { namespacedFunctions } from './to-chat.js';
import type { OutputFunctionCall, OutputItem, ResponseObject, ResponsesRequest, ResponseStatus, ResponseUsage } from './types.js';

type Json = Record<string, any>;

const hex = () => randomHex(12);
export const messageItemId = () => `msg_${hex()}`;
export const functionCallItemId = () => `fc_${hex()}`;
export const reasoningItemId = () => `rs_${hex()}`;
export const callId = () => `call_${hex()}`;

export interface ResponseContext {
  /** the gateway's `resp_…` id */
  id: string;
  /** the model as the client named it */
  model: string;
  /** unix seconds */
  createdAt: number;
  request: ResponsesRequest;
}

/** Chat usage in Responses terms: unlike Anthropic's, input_tokens includes the cached ones. */
export function responseUsage(usage: Json | null | undefined): ResponseUsage {
  const input = Number(usage?.prompt_tokens) || 0;
  const output = Number(usage?.completion_tokens) || 0;
  return {
    input_tokens: input,
    input_tokens_details: {
      cached_tokens: Number(usage?.prompt_tokens_details?.cached_tokens) || 0,
      cache_write_tokens: Number(usage?.prompt_tokens_details?.cache_write_tokens) || 0,
    },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: Number(usage?.completion_tokens_details?.reasoning_tokens) || 0 },
    total_tokens: Number(usage?.total_tokens) || input + output,
  };
}

/** length and content_filter cut an answer short; every other finish completes it. */
export function incompleteReason(finish: string | null | undefined): 'max_output_tokens' | 'content_filter' | null {
  if (finish === 'length') return 'max_output_tokens';
  if (finish === 'content_filter') return 'content_filter';
  return null;
}

/** A Response object with the request's settings echoed, as OpenAI answers them, and no output yet. */
export function responseShell(ctx: ResponseContext, status: ResponseStatus = 'in_progress'): ResponseObject {
  return Object.assign(
    { id: ctx.id, object: 'response' as const, created_at: ctx.createdAt, status, model: ctx.model, output: [], usage: null, error: null, incomplete_details: null },
    responseSettings(ctx.request),
  );
}

export type ResponseSettings = Omit<ResponseObject, 'id' | 'object' | 'created_at' | 'status' | 'model' | 'output' | 'usage' | 'error' | 'incomplete_details'>;

/** The part of a Response that echoes the request's settings (instructions … metadata): the same in every event of a stream. */
export function responseSettings(req: ResponsesRequest): ResponseSettings {
  return {
    instructions: typeof req.instructions === 'string' ? req.instructions : null,
    tools: req.tools ?? [],
    tool_choice: req.tool_choice ?? 'auto',
    parallel_tool_calls: req.parallel_tool_calls ?? true,
    temperature: req.temperature ?? null,
    top_p: req.top_p ?? null,
    max_output_tokens: req.max_output_tokens ?? null,
    previous_response_id: req.previous_response_id ?? null,
    reasoning: req.reasoning ?? null,
    text: req.text ?? { format: { type: 'text' } },
    store: req.store ?? true,
    metadata: req.metadata ?? {},
  };
}

/** A chat tool call as a function_call item; a flattened namespaced name gets its namespace back. */
export function functionCallItem(
  call: { id: string; name: string; arguments: string },
  names: Map<string, { namespace: string; name: string }>,
  status: OutputFunctionCall['status'] = 'completed',
): OutputFunctionCall {
  const ns = names.get(call.name);
  const item: OutputFunctionCall = { type: 'function_call', id: functionCallItemId(), status, call_id: call.id, name: ns?.name ?? call.name, arguments: call.arguments };
  if (ns) item.namespace = ns.namespace;
  return item;
}

/**
 * Copilot's non-stream chat answer as a Response. Claude models may split one answer over several
 * choices (text in one, tool_calls in another): they make one output. Chat's `reasoning_text`
 * (Claude's thinking) becomes a reasoning item's summary; its `reasoning_opaque` signature has no
 * place a client would send back to chat, so it goes.
 */
export function chatToResponse(chat: Json, ctx: ResponseContext): ResponseObject {
  const choices: Json[] = Array.isArray(chat.choices) ? chat.choices : [];
  const names = namespacedFunctions(ctx.request.tools);
  const thinking: string[] = [];
  const texts: string[] = [];
  const calls: OutputFunctionCall[] = [];
  let finish: string | null = null;
  for (const choice of choices) {
    const message: Json = choice.message ?? {};
    if (typeof message.reasoning_text === 'string' && message.reasoning_text) thinking.push(message.reasoning_text);
    if (typeof message.content === 'string' && message.content) texts.push(message.content);
    for (const call of Array.isArray(message.tool_calls) ? message.tool_calls : []) {
      const args = call.function?.arguments;
      calls.push(functionCallItem({ id: call.id || callId(), name: call.function?.name ?? '', arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}) }, names));
    }
    finish ??= choice.finish_reason ?? null;
  }
  const reason = incompleteReason(finish);
  const output: OutputItem[] = [];
  if (thinking.length) output.push({ type: 'reasoning', id: reasoningItemId(), summary: [{ type: 'summary_text', text: thinking.join('\n\n') }] });
  if (texts.length || !calls.length) {
    output.push({
      type: 'message',
      id: messageItemId(),
      status: reason ? 'incomplete' : 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text: texts.join(''), annotations: [] }],
    });
  }
  output.push(...calls);
  return Object.assign(responseShell(ctx, reason ? 'incomplete' : 'completed'), {
    output,
    usage: responseUsage(chat.usage),
    incomplete_details: reason ? { reason } : null,
  });
}

import { randomBytes } from 'node:crypto';
import { ApiError, completionId } from '#libs/copilot';
import { ENCRYPTED_REASONING_PREFIX } from './to-responses.js';

type Json = Record<string, any>;

export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
  completion_tokens_details: { reasoning_tokens: number };
  copilot_usage?: unknown;
}

/** A function call's id for chat: its call_id (what the function_call_output must name). */
export const callId = (item: Json): string => item.call_id || item.id || `call_${randomBytes(12).toString('base64url')}`;

/** One response, one chat id: the same answer read twice gets the same id. */
export function chatId(responseId: unknown): string {
  return typeof responseId === 'string' && responseId ? `chatcmpl-${responseId.replace(/^resp_/, '')}` : completionId();
}

export function chatUsage(usage: Json | null | undefined): ChatUsage | null {
  if (!usage || typeof usage !== 'object') return null;
  const prompt = Number(usage.input_tokens) || 0;
  const completion = Number(usage.output_tokens) || 0;
  const out: ChatUsage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: Number(usage.total_tokens) || prompt + completion,
    prompt_tokens_details: { cached_tokens: Number(usage.input_tokens_details?.cached_tokens) || 0 },
    completion_tokens_details: { reasoning_tokens: Number(usage.output_tokens_details?.reasoning_tokens) || 0 },
  };
  if (usage.copilot_usage !== undefined) out.copilot_usage = usage.copilot_usage;
  return out;
}

/**
 * A cut answer says so even when it was calling tools: the last call's arguments are then
 * incomplete, and a client that ran it would run it with the wrong input.
 */
export function finishReason(resp: Json, calledTools: boolean): 'stop' | 'length' | 'tool_calls' | 'content_filter' {
  if (resp.status === 'incomplete') {
    const reason = resp.incomplete_details?.reason;
    if (reason === 'max_output_tokens') return 'length';
    if (reason === 'content_filter') return 'content_filter';
  }
  return calledTools ? 'tool_calls' : 'stop';
}

export const failure = (error: Json | null | undefined): { code: string; message: string } => ({
  code: typeof error?.code === 'string' && error.code ? error.code : 'upstream_failed',
  message: typeof error?.message === 'string' && error.message ? error.message : 'The model failed to answer',
});

/** The summary of a reasoning item, or its raw text when it has no summary. */
export function reasoningText(item: Json): string {
  const parts = (list: unknown, type: string) =>
    (Array.isArray(list) ? list : []).filter((p: Json) => p?.type === type && typeof p.text === 'string' && p.text).map((p: Json) => p.text as string);
  const summary = parts(item.summary, 'summary_text');
  return (summary.length ? summary : parts(item.content, 'reasoning_text')).join('\n\n');
}

/**
 * Copilot's non-stream Responses answer as a chat completion. Reasoning summaries become
 * `reasoning_text` and the first encrypted reasoning `reasoning_opaque` (marked), the fields
 * Copilot's chat answers carry thinking in, so the Anthropic translator makes a thinking block of
 * them and the next turn brings them back.
 */
export function responseToChatCompletion(resp: Record<string, any>, model: string): Record<string, unknown> {
  if (resp.status === 'failed') {
    const { code, message } = failure(resp.error);
    throw new ApiError(502, message, 'upstream_error', code);
  }
  const texts: string[] = [];
  const refusals: string[] = [];
  const reasoning: string[] = [];
  let opaque = '';
  const toolCalls: Json[] = [];
  for (const item of Array.isArray(resp.output) ? resp.output : []) {
    switch (item?.type) {
      case 'message':
        for (const part of Array.isArray(item.content) ? item.content : []) {
          if (part?.type === 'output_text' && typeof part.text === 'string') texts.push(part.text);
          else if (part?.type === 'refusal' && typeof part.refusal === 'string') refusals.push(part.refusal);
        }
        break;
      case 'function_call':
        toolCalls.push({
          id: callId(item),
          type: 'function',
          function: { name: item.name ?? '', arguments: typeof item.arguments === 'string' ? item.arguments : '' },
        });
        break;
      case 'reasoning': {
        const text = reasoningText(item);
        if (text) reasoning.push(text);
        if (typeof item.encrypted_content === 'string' && item.encrypted_content) opaque ||= ENCRYPTED_REASONING_PREFIX + item.encrypted_content;
        break;
      }
    }
  }
  const message: Json = { role: 'assistant', content: texts.length ? texts.join('') : null, refusal: refusals.length ? refusals.join('') : null };
  if (toolCalls.length) message.tool_calls = toolCalls;
  if (reasoning.length) message.reasoning_text = reasoning.join('\n\n');
  if (opaque) message.reasoning_opaque = opaque;
  const completion: Json = {
    id: chatId(resp.id),
    object: 'chat.completion',
    created: Number(resp.created_at) || Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(resp, toolCalls.length > 0) }],
  };
  const usage = chatUsage(resp.usage);
  if (usage) completion.usage = usage;
  return completion;
}

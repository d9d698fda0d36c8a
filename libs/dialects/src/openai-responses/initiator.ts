import type { ResponsesRequest } from './types.js';

/** Items the model or a tool wrote: the model's own turn and tool traffic of any kind. */
const isAgentItem = (item: Record<string, unknown>): boolean => {
  const type = typeof item.type === 'string' ? item.type : 'message';
  if (type === 'message') return item.role === 'assistant';
  return type === 'reasoning' || type.endsWith('_call') || type.endsWith('_call_output');
};

/**
 * x-initiator: `agent` when the input ends with something other than a person's message — a tool
 * result, a call, reasoning, an assistant message — or adds nothing to a stored conversation;
 * `user` otherwise (a string input is the user's words).
 */
export function responsesInitiator(req: ResponsesRequest): 'user' | 'agent' {
  if (typeof req.input === 'string') return req.input ? 'user' : 'agent';
  const last = req.input?.at(-1);
  if (!last || typeof last !== 'object') return 'agent';
  return isAgentItem(last as Record<string, unknown>) ? 'agent' : 'user';
}

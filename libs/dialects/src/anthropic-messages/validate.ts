import { ApiError } from '#libs/copilot';
import type { MessagesRequest } from './types.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (param: string, message: string, code = 'invalid_type') => ApiError.badRequest(`${param}: ${message}`, param, code);
const missing = (param: string) => bad(param, 'Field required', 'missing_required_parameter');

/**
 * Checks what the gateway and the translators rely on and nothing more: every other field a
 * client sends passes as it is, for the upstream (or the translator) to take or drop.
 * count_tokens calls it with `maxTokens: false`, since that route takes no max_tokens.
 */
export function parseMessagesRequest(body: unknown, opts: { maxTokens?: boolean } = {}): MessagesRequest {
  if (!isObject(body)) throw ApiError.badRequest('The request body must be a JSON object', null, 'invalid_body');

  if (body.model === undefined) throw missing('model');
  if (typeof body.model !== 'string' || body.model.trim() === '') throw bad('model', 'must be a non-empty string');

  const messages = body.messages;
  if (messages === undefined) throw missing('messages');
  if (!Array.isArray(messages)) throw bad('messages', 'must be an array');
  if (messages.length === 0) throw bad('messages', 'must contain at least one message', 'invalid_value');
  messages.forEach((m, i) => {
    const at = `messages.${i}`;
    if (!isObject(m)) throw bad(at, 'must be an object');
    // 'system' mid-conversation: Claude Code sends one on non-Claude models (beta mid-conversation-system).
    if (m.role !== 'user' && m.role !== 'assistant' && m.role !== 'system') throw bad(`${at}.role`, "must be 'user', 'assistant' or 'system'", 'invalid_value');
    if (m.content === undefined) throw missing(`${at}.content`);
    if (typeof m.content === 'string') return;
    if (!Array.isArray(m.content)) throw bad(`${at}.content`, 'must be a string or an array of content blocks');
    m.content.forEach((block, j) => {
      if (!isObject(block) || typeof block.type !== 'string') throw bad(`${at}.content.${j}`, "must be an object with a string 'type'");
    });
  });

  if (opts.maxTokens !== false) {
    if (body.max_tokens === undefined) throw missing('max_tokens');
    if (typeof body.max_tokens !== 'number' || !Number.isInteger(body.max_tokens) || body.max_tokens < 1)
      throw bad('max_tokens', 'must be a positive integer', 'invalid_value');
  }

  if (body.stream !== undefined && typeof body.stream !== 'boolean') throw bad('stream', 'must be a boolean');

  const system = body.system;
  if (system !== undefined && typeof system !== 'string') {
    if (!Array.isArray(system)) throw bad('system', 'must be a string or an array of text blocks');
    system.forEach((block, i) => {
      if (!isObject(block) || typeof block.text !== 'string') throw bad(`system.${i}`, "must be a text block with a string 'text'");
    });
  }

  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) throw bad('tools', 'must be an array');
    body.tools.forEach((tool, i) => {
      if (!isObject(tool) || typeof tool.name !== 'string') throw bad(`tools.${i}`, "must be an object with a string 'name'");
    });
  }
  for (const field of ['tool_choice', 'thinking'] as const) {
    const v = body[field];
    if (v !== undefined && (!isObject(v) || typeof v.type !== 'string')) throw bad(field, "must be an object with a string 'type'");
  }
  if (body.metadata !== undefined && body.metadata !== null && !isObject(body.metadata)) throw bad('metadata', 'must be an object');

  return body as MessagesRequest;
}

import { ApiError } from '#libs/copilot';
import type { ResponsesRequest } from './types.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (param: string, message: string, code = 'invalid_type') => ApiError.badRequest(`${param}: ${message}`, param, code);
const missing = (param: string) => bad(param, 'Field required', 'missing_required_parameter');
/** null stands for "not set" in the OpenAI SDKs' bodies */
const given = (v: unknown) => v !== undefined && v !== null;

const ROLES = new Set(['user', 'assistant', 'system', 'developer']);
const TOOL_CHOICES = new Set(['auto', 'none', 'required']);

/**
 * Checks what the gateway and the translators rely on and nothing more: every other field a
 * client sends (Codex's client_metadata, prompt_cache_key, hosted tools, item types this gateway
 * does not model, …) passes as it is, for the upstream or the translator to take or drop.
 */
export function parseResponsesRequest(body: unknown): ResponsesRequest {
  if (!isObject(body)) throw ApiError.badRequest('The request body must be a JSON object', null, 'invalid_body');

  if (body.model === undefined) throw missing('model');
  if (typeof body.model !== 'string' || body.model.trim() === '') throw bad('model', 'must be a non-empty string');

  if (given(body.previous_response_id) && (typeof body.previous_response_id !== 'string' || body.previous_response_id === ''))
    throw bad('previous_response_id', 'must be a non-empty string');
  const continues = given(body.previous_response_id);
  const input = body.input;
  if (input === undefined || input === null) {
    if (!continues) throw missing('input');
  } else if (typeof input === 'string') {
    if (input === '' && !continues) throw bad('input', 'must not be empty', 'invalid_value');
  } else if (Array.isArray(input)) {
    if (!input.length && !continues) throw bad('input', 'must contain at least one item unless previous_response_id is given', 'invalid_value');
    input.forEach((item, i) => checkItem(item, `input.${i}`));
  } else throw bad('input', 'must be a string or an array of input items');

  for (const field of ['stream', 'store', 'parallel_tool_calls', 'background'] as const) {
    if (given(body[field]) && typeof body[field] !== 'boolean') throw bad(field, 'must be a boolean');
  }
  if (given(body.instructions) && typeof body.instructions !== 'string') throw bad('instructions', 'must be a string');
  if (given(body.max_output_tokens) && (!Number.isInteger(body.max_output_tokens) || (body.max_output_tokens as number) < 1))
    throw bad('max_output_tokens', 'must be a positive integer', 'invalid_value');
  for (const field of ['temperature', 'top_p'] as const) {
    if (given(body[field]) && (typeof body[field] !== 'number' || !Number.isFinite(body[field]))) throw bad(field, 'must be a number');
  }
  for (const field of ['metadata', 'client_metadata', 'reasoning', 'text'] as const) {
    if (given(body[field]) && !isObject(body[field])) throw bad(field, 'must be an object');
  }
  if (given(body.user) && typeof body.user !== 'string') throw bad('user', 'must be a string');

  if (given(body.include)) {
    if (!Array.isArray(body.include)) throw bad('include', 'must be an array of strings');
    body.include.forEach((v, i) => {
      if (typeof v !== 'string') throw bad(`include.${i}`, 'must be a string');
    });
  }

  if (given(body.tools)) {
    if (!Array.isArray(body.tools)) throw bad('tools', 'must be an array');
    body.tools.forEach((tool, i) => checkTool(tool, `tools.${i}`));
  }

  const choice = body.tool_choice;
  if (given(choice)) {
    if (typeof choice === 'string') {
      if (!TOOL_CHOICES.has(choice)) throw bad('tool_choice', "must be 'auto', 'none', 'required' or an object", 'invalid_value');
    } else if (!isObject(choice) || typeof choice.type !== 'string') throw bad('tool_choice', "must be a string or an object with a string 'type'");
    else if (choice.type === 'function' && typeof choice.name !== 'string') throw bad('tool_choice.name', 'must be a string');
  }

  const reasoning = body.reasoning as Json | null | undefined;
  if (isObject(reasoning) && given(reasoning.effort) && typeof reasoning.effort !== 'string') throw bad('reasoning.effort', 'must be a string');

  const format = (body.text as Json | undefined)?.format;
  if (given(format)) {
    if (!isObject(format) || typeof format.type !== 'string') throw bad('text.format', "must be an object with a string 'type'");
    if (format.type === 'json_schema') {
      if (typeof format.name !== 'string' || format.name === '') throw missing('text.format.name');
      if (!isObject(format.schema)) throw bad('text.format.schema', 'must be a JSON schema object');
    }
  }

  return body as ResponsesRequest;
}

function checkItem(item: unknown, at: string): void {
  if (!isObject(item)) throw bad(at, 'must be an object');
  if (item.type !== undefined && typeof item.type !== 'string') throw bad(`${at}.type`, 'must be a string');
  const type = item.type ?? (item.role !== undefined ? 'message' : undefined);
  switch (type) {
    case undefined:
      throw bad(at, "must have a 'type' (or a 'role', for a message)", 'missing_required_parameter');
    case 'message': {
      if (typeof item.role !== 'string' || !ROLES.has(item.role)) throw bad(`${at}.role`, "must be 'user', 'assistant', 'system' or 'developer'", 'invalid_value');
      if (item.content === undefined) throw missing(`${at}.content`);
      if (typeof item.content === 'string') return;
      if (!Array.isArray(item.content)) throw bad(`${at}.content`, 'must be a string or an array of content parts');
      item.content.forEach((part, j) => {
        if (!isObject(part) || typeof part.type !== 'string') throw bad(`${at}.content.${j}`, "must be an object with a string 'type'");
      });
      return;
    }
    case 'function_call':
      for (const field of ['call_id', 'name', 'arguments'] as const) {
        if (typeof item[field] !== 'string') throw item[field] === undefined ? missing(`${at}.${field}`) : bad(`${at}.${field}`, 'must be a string');
      }
      return;
    case 'function_call_output':
    case 'custom_tool_call_output':
      if (typeof item.call_id !== 'string') throw item.call_id === undefined ? missing(`${at}.call_id`) : bad(`${at}.call_id`, 'must be a string');
      if (item.output === undefined) throw missing(`${at}.output`);
      if (typeof item.output !== 'string' && !Array.isArray(item.output)) throw bad(`${at}.output`, 'must be a string or an array of content parts');
      return;
  }
}

function checkTool(tool: unknown, at: string): void {
  if (!isObject(tool) || typeof tool.type !== 'string') throw bad(at, "must be an object with a string 'type'");
  if (tool.type === 'function' || tool.type === 'namespace') {
    if (typeof tool.name !== 'string' || tool.name === '') throw bad(`${at}.name`, 'must be a non-empty string');
  }
  if (tool.type === 'function' && given(tool.parameters) && !isObject(tool.parameters)) throw bad(`${at}.parameters`, 'must be a JSON schema object');
  if (tool.type === 'namespace') {
    if (!Array.isArray(tool.tools)) throw bad(`${at}.tools`, 'must be an array');
    tool.tools.forEach((inner, j) => checkTool(inner, `${at}.tools.${j}`));
  }
}

import { ApiError } from '#libs/copilot';

type Json = Record<string, any>;

/**
 * `reasoning_opaque` values that carry a Responses reasoning item's `encrypted_content` start
 * with this, so that only those go back to a Responses model: a Claude signature in the same
 * field (a conversation that switched models) would be refused there, and the mark lets the other
 * routes know an opaque value is not theirs.
 */
export const ENCRYPTED_REASONING_PREFIX = 'responses:';

/** Responses refuses a max_output_tokens below this. */
export const MIN_OUTPUT_TOKENS = 16;

/**
 * thinking_budget (tokens, from the Anthropic translator) as a reasoning effort: Anthropic's
 * minimum budget (1024) and small ones think a little, Claude Code's usual 31999 thinks hard.
 */
export function effortForBudget(budget: number): 'low' | 'medium' | 'high' {
  if (budget < 4096) return 'low';
  if (budget < 16384) return 'medium';
  return 'high';
}

/**
 * An OpenAI chat-completions body as a Responses request for Copilot, for the models that
 * Copilot serves on /responses only.
 *
 * system and developer messages become developer-role input messages where they stand (not
 * `instructions`): chat allows them mid-conversation, and this is what Codex sends Copilot.
 * Every request is stateless (`store:false`) and asks for reasoning summaries (they become
 * `reasoning_text`) and the encrypted reasoning (it becomes `reasoning_opaque`, and comes back on
 * the next turn as the reasoning item the model needs to carry on).
 *
 * Refused (400): n > 1, audio output, audio input parts, tools other than functions, the
 * legacy `functions` / `function` role. Dropped, as Responses has no place for them: stop,
 * logprobs / top_logprobs, frequency_penalty, presence_penalty, logit_bias, seed, prediction,
 * metadata, service_tier (refused on /responses), web_search_options, stream_options (usage is
 * always in the last event), the client's `store`, message `name`s, and reasoning text whose
 * opaque value did not come from a Responses model.
 */
export function chatToResponsesRequest(chat: Record<string, any>, opts: { model: string }): Record<string, unknown> {
  if (typeof chat.n === 'number' && chat.n > 1) throw ApiError.badRequest('This model returns one choice per request: n must be 1', 'n', 'unsupported_parameter');
  if (chat.audio || (Array.isArray(chat.modalities) && chat.modalities.includes('audio')))
    throw ApiError.badRequest('This model cannot answer with audio', 'modalities', 'unsupported_parameter');
  if (chat.functions || chat.function_call)
    throw ApiError.badRequest("The legacy 'functions' parameter is not supported for this model; use 'tools'", 'functions', 'unsupported_parameter');
  if (!Array.isArray(chat.messages)) throw ApiError.badRequest("'messages' must be an array", 'messages');

  const req: Json = { model: opts.model, input: chat.messages.flatMap(inputItems) };
  const tools = Array.isArray(chat.tools) ? chat.tools.map(tool) : [];
  if (tools.length) {
    req.tools = tools;
    if (chat.tool_choice !== undefined) req.tool_choice = toolChoice(chat.tool_choice);
    if (typeof chat.parallel_tool_calls === 'boolean') req.parallel_tool_calls = chat.parallel_tool_calls;
  }
  const max = chat.max_completion_tokens ?? chat.max_tokens;
  if (typeof max === 'number') req.max_output_tokens = Math.max(MIN_OUTPUT_TOKENS, max);
  if (typeof chat.temperature === 'number') req.temperature = chat.temperature;
  if (typeof chat.top_p === 'number') req.top_p = chat.top_p;
  const text: Json = {};
  const format = textFormat(chat.response_format);
  if (format) text.format = format;
  if (typeof chat.verbosity === 'string') text.verbosity = chat.verbosity;
  if (Object.keys(text).length) req.text = text;
  const reasoning: Json = { summary: 'auto' };
  if (typeof chat.reasoning_effort === 'string') reasoning.effort = chat.reasoning_effort;
  else if (typeof chat.thinking_budget === 'number' && chat.thinking_budget > 0) reasoning.effort = effortForBudget(chat.thinking_budget);
  req.reasoning = reasoning;
  req.include = ['reasoning.encrypted_content'];
  for (const key of ['user', 'prompt_cache_key', 'safety_identifier'] as const) if (typeof chat[key] === 'string') req[key] = chat[key];
  if (chat.stream === true) req.stream = true;
  req.store = false;
  return req;
}

function inputItems(message: Json, i: number): Json[] {
  switch (message?.role) {
    case 'system':
    case 'developer':
      return [{ type: 'message', role: 'developer', content: textParts(message.content, `messages[${i}].content`).map((text) => ({ type: 'input_text', text })) }];
    case 'user':
      return [{ type: 'message', role: 'user', content: userParts(message.content, i) }];
    case 'assistant':
      return assistantItems(message, i);
    case 'tool':
      if (typeof message.tool_call_id !== 'string' || !message.tool_call_id)
        throw ApiError.badRequest(`messages[${i}] is a tool message without a tool_call_id`, `messages[${i}].tool_call_id`);
      return [{ type: 'function_call_output', call_id: message.tool_call_id, output: textParts(message.content, `messages[${i}].content`).join('') }];
    case 'function':
      throw ApiError.badRequest("Messages of the legacy 'function' role are not supported for this model; use tool messages", `messages[${i}].role`);
    default:
      throw ApiError.badRequest(`messages[${i}] has an unknown role '${message?.role}'`, `messages[${i}].role`);
  }
}

/** The texts of a string or an array of text parts (system, developer, tool messages take no other). */
function textParts(content: unknown, param: string): string[] {
  if (content === null || content === undefined) return [];
  if (typeof content === 'string') return [content];
  if (!Array.isArray(content)) throw ApiError.badRequest('Message content must be a string or an array of parts', param);
  return content.map((part: Json) => {
    if (part?.type === 'text' && typeof part.text === 'string') return part.text;
    throw ApiError.badRequest(`Content parts of type '${part?.type}' cannot be sent in this message`, param, 'unsupported_content');
  });
}

function userParts(content: unknown, i: number): Json[] {
  const param = `messages[${i}].content`;
  if (typeof content === 'string') return [{ type: 'input_text', text: content }];
  if (!Array.isArray(content)) throw ApiError.badRequest('Message content must be a string or an array of parts', param);
  return content.map((part: Json) => {
    switch (part?.type) {
      case 'text':
        return { type: 'input_text', text: String(part.text ?? '') };
      case 'image_url': {
        const image = typeof part.image_url === 'string' ? { url: part.image_url } : (part.image_url ?? {});
        if (typeof image.url !== 'string') throw ApiError.badRequest('An image_url part needs a url', param);
        return { type: 'input_image', image_url: image.url, detail: image.detail ?? 'auto' };
      }
      case 'file': {
        const { file_data, file_id, filename } = part.file ?? {};
        return { type: 'input_file', ...(file_data !== undefined && { file_data }), ...(file_id !== undefined && { file_id }), ...(filename !== undefined && { filename }) };
      }
      default:
        throw ApiError.badRequest(`Content parts of type '${part?.type}' cannot be sent to this model`, param, 'unsupported_content');
    }
  });
}

/** Reasoning first, then the words, then the calls: the order the model produced them in. */
function assistantItems(message: Json, i: number): Json[] {
  const items: Json[] = [];
  const opaque = message.reasoning_opaque;
  if (typeof opaque === 'string' && opaque.startsWith(ENCRYPTED_REASONING_PREFIX)) {
    const summary = typeof message.reasoning_text === 'string' && message.reasoning_text ? [{ type: 'summary_text', text: message.reasoning_text }] : [];
    items.push({ type: 'reasoning', summary, encrypted_content: opaque.slice(ENCRYPTED_REASONING_PREFIX.length) });
  }
  const content: Json[] = [];
  if (typeof message.content === 'string') {
    if (message.content) content.push({ type: 'output_text', text: message.content });
  } else if (Array.isArray(message.content)) {
    for (const part of message.content) {
      if (part?.type === 'text') content.push({ type: 'output_text', text: String(part.text ?? '') });
      else if (part?.type === 'refusal') content.push({ type: 'refusal', refusal: String(part.refusal ?? '') });
      else throw ApiError.badRequest(`Content parts of type '${part?.type}' cannot be sent in an assistant message`, `messages[${i}].content`, 'unsupported_content');
    }
  }
  if (typeof message.refusal === 'string' && message.refusal) content.push({ type: 'refusal', refusal: message.refusal });
  if (content.length) items.push({ type: 'message', role: 'assistant', content });
  for (const [j, call] of (Array.isArray(message.tool_calls) ? message.tool_calls : []).entries()) {
    const param = `messages[${i}].tool_calls[${j}]`;
    if (call?.type !== undefined && call.type !== 'function') throw ApiError.badRequest(`Tool calls of type '${call.type}' cannot be sent to this model`, param, 'unsupported_content');
    if (typeof call.id !== 'string' || !call.id) throw ApiError.badRequest('A tool call needs an id', `${param}.id`);
    const args = call.function?.arguments;
    items.push({ type: 'function_call', call_id: call.id, name: String(call.function?.name ?? ''), arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}) });
  }
  return items;
}

function tool(t: Json, i: number): Json {
  if (t?.type !== 'function' || typeof t.function?.name !== 'string')
    throw ApiError.badRequest(`Tools of type '${t?.type}' cannot be sent to this model; only functions can`, `tools[${i}]`, 'unsupported_tool');
  const { name, description, parameters, strict } = t.function;
  // Responses makes functions strict by default, which refuses most schemas chat clients send.
  return {
    type: 'function',
    name,
    ...(description !== undefined && { description }),
    parameters: parameters ?? { type: 'object', properties: {} },
    strict: strict === true,
  };
}

function toolChoice(choice: unknown): unknown {
  if (choice === 'auto' || choice === 'none' || choice === 'required') return choice;
  const c = choice as Json;
  if (c?.type === 'function' && typeof c.function?.name === 'string') return { type: 'function', name: c.function.name };
  if (c?.type === 'allowed_tools' && Array.isArray(c.allowed_tools?.tools)) {
    return {
      type: 'allowed_tools',
      mode: c.allowed_tools.mode ?? 'auto',
      tools: c.allowed_tools.tools.map((t: Json) => ({ type: 'function', name: t?.function?.name ?? t?.name })),
    };
  }
  throw ApiError.badRequest('tool_choice must be auto, none, required or name a function', 'tool_choice');
}

function textFormat(format: Json | undefined): Json | undefined {
  switch (format?.type) {
    case undefined:
    case 'text':
      return undefined;
    case 'json_object':
      return { type: 'json_object' };
    case 'json_schema': {
      const s: Json = format.json_schema ?? {};
      if (typeof s.name !== 'string') throw ApiError.badRequest('response_format.json_schema needs a name', 'response_format.json_schema.name');
      return {
        type: 'json_schema',
        name: s.name,
        ...(s.description !== undefined && { description: s.description }),
        schema: s.schema ?? {},
        strict: s.strict === true,
      };
    }
    default:
      throw ApiError.badRequest(`response_format of type '${format?.type}' is not supported`, 'response_format.type');
  }
}

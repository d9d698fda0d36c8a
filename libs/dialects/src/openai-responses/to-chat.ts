import { ApiError } from '#libs/copilot';
import type { FunctionTool, InputItem, MessageItem, NamespaceTool, ResponsesRequest, Tool, ToolChoice } from './types.js';

type Json = Record<string, any>;
type Part = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string; detail?: string } };

export interface ResponsesToChatOptions {
  /** the Copilot model id */
  model: string;
  /** items of the stored conversation before this input (previous_response_id), already in item form */
  history?: unknown[];
}

/** This request's input as items: a string input is one user message. */
export function responsesInputItems(req: ResponsesRequest): InputItem[] {
  if (typeof req.input === 'string') return req.input ? [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: req.input }] }] : [];
  return req.input ?? [];
}

/**
 * The chat name of a function in a `namespace` tool: Codex's own flat form (`ToolName::
 * canonical_flat_name`, codex-rs/protocol/src/tool_name.rs): `<namespace>__<name>`, stray
 * underscores at the joint trimmed.
 */
/** Trailing (or leading) underscores trimmed with a loop: `/_+$/` is quadratic on a long run of them. */
const trimEnd = (s: string) => {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 95) end--;
  return s.slice(0, end);
};
const trimStart = (s: string) => {
  let start = 0;
  while (start < s.length && s.charCodeAt(start) === 95) start++;
  return s.slice(start);
};
export const flatToolName = (namespace: string, name: string) => `${trimEnd(namespace)}__${trimStart(name)}`;

/**
 * Chat name → the namespace and name to report back, for the request's namespaced functions.
 * Codex dispatches a call by (namespace, name), so a flat name alone would not reach the tool;
 * plain names (which may hold `__` themselves, as MCP tools' do) are left alone.
 */
export function namespacedFunctions(tools: Tool[] | undefined): Map<string, { namespace: string; name: string }> {
  const map = new Map<string, { namespace: string; name: string }>();
  for (const tool of tools ?? []) {
    if (tool.type !== 'namespace' || !Array.isArray((tool as NamespaceTool).tools)) continue;
    const ns = tool as NamespaceTool;
    for (const inner of ns.tools) if (inner.type === 'function') map.set(flatToolName(ns.name, inner.name), { namespace: ns.name, name: inner.name });
  }
  return map;
}

const isMessage = (item: InputItem): item is MessageItem => (item.type === undefined || item.type === 'message') && 'role' in item;

/**
 * A Responses request as an OpenAI chat-completions body for Copilot (for models served on
 * /chat/completions only).
 *
 * Left out on purpose, as chat completions has no place for them:
 * - reasoning items: chat takes no reasoning back (encrypted_content is for OpenAI's models only,
 *   and a summary is not the model's thinking); reasoning.summary likewise;
 * - hosted and freeform tools — web_search (run by OpenAI's servers, which a chat answer cannot
 *   call), local_shell (its calls are `local_shell_call` items, which chat cannot produce), custom
 *   (freeform grammar input, where chat functions take JSON), file_search, mcp, computer, … — and
 *   their items in the input (web_search_call, local_shell_call and its output, item_reference, …);
 * - store, include, previous_response_id (the gateway hands the stored items in as `history`),
 *   prompt_cache_key, client_metadata, metadata, service_tier, truncation, background,
 *   text.verbosity: state and options of OpenAI's service that Copilot's chat does not take.
 */
export function responsesToChat(req: ResponsesRequest, opts: ResponsesToChatOptions): Record<string, unknown> {
  const messages: Json[] = [];
  if (typeof req.instructions === 'string' && req.instructions) messages.push({ role: 'system', content: req.instructions });
  const items = [...((opts.history ?? []) as InputItem[]), ...responsesInputItems(req)];

  // Chat keeps one assistant message per turn: its text and all its tool calls together, then a
  // tool message per call. Images a tool returned wait until the tool messages are through.
  let assistant: { texts: string[]; calls: Json[] } | null = null;
  let toolImages: Part[] = [];
  const flushAssistant = () => {
    if (!assistant) return;
    const text = assistant.texts.filter(Boolean).join('\n\n');
    const message: Json = { role: 'assistant', content: text || (assistant.calls.length ? null : '') };
    if (assistant.calls.length) message.tool_calls = assistant.calls;
    messages.push(message);
    assistant = null;
  };
  const flushImages = () => {
    if (toolImages.length) messages.push({ role: 'user', content: toolImages });
    toolImages = [];
  };
  const turn = () => {
    flushImages();
    return (assistant ??= { texts: [], calls: [] });
  };

  items.forEach((item, i) => {
    if (isMessage(item)) {
      if (item.role === 'assistant') {
        turn().texts.push(texts(item.content).join('\n\n'));
        return;
      }
      flushAssistant();
      flushImages();
      if (item.role === 'system' || item.role === 'developer') {
        const text = texts(item.content).join('\n\n');
        if (text) messages.push({ role: 'system', content: text });
      } else messages.push({ role: 'user', content: userContent(item.content, i) });
      return;
    }
    const it = item as Json;
    switch (item.type) {
      case 'function_call':
        turn().calls.push(toolCall(it.call_id, it.namespace ? flatToolName(it.namespace, it.name) : it.name, it.arguments));
        return;
      case 'custom_tool_call':
        turn().calls.push(toolCall(it.call_id, it.namespace ? flatToolName(it.namespace, it.name) : it.name, JSON.stringify({ input: it.input ?? '' })));
        return;
      case 'function_call_output':
      case 'custom_tool_call_output': {
        flushAssistant();
        const out = toolOutput(it.output, i);
        messages.push({ role: 'tool', tool_call_id: it.call_id, content: out.text });
        toolImages.push(...out.images);
        return;
      }
      default:
      // reasoning, hosted tool calls, item references: see above
    }
  });
  flushAssistant();
  flushImages();

  const chat: Json = { model: opts.model, messages };
  if (typeof req.max_output_tokens === 'number') chat.max_tokens = req.max_output_tokens;
  if (typeof req.temperature === 'number') chat.temperature = req.temperature;
  if (typeof req.top_p === 'number') chat.top_p = req.top_p;
  if (typeof req.user === 'string' && req.user) chat.user = req.user;
  if (typeof req.reasoning?.effort === 'string') chat.reasoning_effort = req.reasoning.effort;
  const format = req.text?.format;
  if (format?.type === 'json_schema') {
    const f = format as Extract<typeof format, { type: 'json_schema' }>;
    const json_schema: Json = { name: f.name, schema: f.schema };
    if (typeof f.description === 'string') json_schema.description = f.description;
    if (typeof f.strict === 'boolean') json_schema.strict = f.strict;
    chat.response_format = { type: 'json_schema', json_schema };
  } else if (format?.type === 'json_object') chat.response_format = { type: 'json_object' };
  Object.assign(chat, toolFields(req));
  if (req.stream) Object.assign(chat, { stream: true, stream_options: { include_usage: true } });
  return chat;
}

/** Whether the conversation carries an image (Copilot wants `copilot-vision-request: true` then). */
export function responsesHasImage(req: ResponsesRequest, history?: unknown[]): boolean {
  const image = (parts: unknown) => Array.isArray(parts) && parts.some((p) => (p as Json)?.type === 'input_image');
  return [...((history ?? []) as Json[]), ...responsesInputItems(req)].some(
    (item: Json) => (isMessage(item as InputItem) && image(item.content)) || ((item.type === 'function_call_output' || item.type === 'custom_tool_call_output') && image(item.output)),
  );
}

const toolCall = (id: string, name: string, args: unknown) => ({ id, type: 'function', function: { name, arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}) } });

function texts(content: MessageItem['content']): string[] {
  if (typeof content === 'string') return [content];
  return content.flatMap((part) => {
    const p = part as Json;
    if (p.type === 'input_text' || p.type === 'output_text' || p.type === 'text') return typeof p.text === 'string' ? [p.text] : [];
    if (p.type === 'refusal') return typeof p.refusal === 'string' ? [p.refusal] : [];
    return [];
  });
}

function toPart(part: Json, at: string): Part | null {
  switch (part.type) {
    case 'input_text':
    case 'output_text':
    case 'text':
      return typeof part.text === 'string' ? { type: 'text', text: part.text } : null;
    case 'refusal':
      return typeof part.refusal === 'string' ? { type: 'text', text: part.refusal } : null;
    case 'input_image': {
      if (typeof part.image_url !== 'string' || !part.image_url)
        throw ApiError.badRequest('Images must be given as image_url (a URL or a data URL); file ids cannot be sent to this model', at, 'unsupported_content');
      const image_url: Part & { type: 'image_url' } = { type: 'image_url', image_url: { url: part.image_url } };
      if (part.detail === 'low' || part.detail === 'high' || part.detail === 'auto') image_url.image_url.detail = part.detail;
      return image_url;
    }
    case 'input_file':
      throw ApiError.badRequest('Input files cannot be sent to this model', at, 'unsupported_content');
    default:
      return null;
  }
}

function userContent(content: MessageItem['content'], i: number): string | Part[] {
  if (typeof content === 'string') return content;
  const parts = content.map((p, j) => toPart(p as Json, `input.${i}.content.${j}`)).filter((p): p is Part => p !== null);
  return parts.every((p) => p.type === 'text') ? parts.map((p) => (p as { text: string }).text).join('\n\n') : parts;
}

/** A tool message holds text only: images a tool returned follow in a user message. */
function toolOutput(output: unknown, i: number): { text: string; images: Part[] } {
  if (typeof output === 'string') return { text: output, images: [] };
  const parts = (Array.isArray(output) ? output : []).map((p, j) => toPart(p, `input.${i}.output.${j}`)).filter((p): p is Part => p !== null);
  const text = parts.flatMap((p) => (p.type === 'text' ? [p.text] : []));
  const images = parts.filter((p) => p.type === 'image_url');
  if (images.length) text.push('[image attached below]');
  return { text: text.join('\n'), images };
}

function chatFunction(name: string, tool: Partial<FunctionTool>): Json {
  const fn: Json = { name };
  if (typeof tool.description === 'string') fn.description = tool.description;
  fn.parameters = tool.parameters ?? { type: 'object', properties: {} };
  // false is chat's default too; leaving it out keeps the body to what every model takes
  if (tool.strict === true) fn.strict = true;
  return { type: 'function', function: fn };
}

function toolFields(req: ResponsesRequest): Json {
  const tools: Json[] = [];
  const names = new Set<string>();
  for (const tool of req.tools ?? []) {
    if (tool.type === 'function') {
      tools.push(chatFunction((tool as FunctionTool).name, tool as FunctionTool));
      names.add((tool as FunctionTool).name);
    } else if (tool.type === 'namespace' && Array.isArray((tool as NamespaceTool).tools)) {
      const ns = tool as NamespaceTool;
      for (const inner of ns.tools) {
        if (inner.type !== 'function') continue;
        const name = flatToolName(ns.name, inner.name);
        tools.push(chatFunction(name, inner as FunctionTool));
        names.add(name);
      }
    }
  }
  if (!tools.length) return {};
  const out: Json = { tools };
  const choice = chatToolChoice(req.tool_choice, names);
  if (choice !== undefined) out.tool_choice = choice;
  if (typeof req.parallel_tool_calls === 'boolean') out.parallel_tool_calls = req.parallel_tool_calls;
  return out;
}

function chatToolChoice(choice: ToolChoice | undefined, names: Set<string>): unknown {
  if (choice === 'auto' || choice === 'none' || choice === 'required') return choice;
  if (typeof choice !== 'object' || choice === null) return undefined;
  if (choice.type === 'function' && typeof choice.name === 'string') {
    // a choice naming a dropped tool falls back to the model's own choice
    return names.has(choice.name) ? { type: 'function', function: { name: choice.name } } : undefined;
  }
  if (choice.type === 'allowed_tools' && (choice.mode === 'auto' || choice.mode === 'required')) return choice.mode;
  return undefined; // a hosted tool (web_search, …) that chat does not have
}

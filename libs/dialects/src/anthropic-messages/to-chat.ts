import { ApiError } from '#libs/copilot';
import type { ContentBlock, CustomTool, MessageParam, MessagesRequest, OtherBlock, ThinkingConfig, Tool, ToolChoice, ToolResultBlock } from './types.js';

type Json = Record<string, unknown>;
type Block = ContentBlock | OtherBlock;
type Part = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

export interface ToChatOptions {
  /** the Copilot model id */
  model: string;
  /** the model's thinking budget range from /models; null or absent: the model takes no budget */
  thinking?: { min: number; max: number } | null;
  /** capabilities.limits.max_output_tokens: a larger max_tokens is lowered to it */
  maxOutputTokens?: number;
}

// Claude Code's first system block is a note for Anthropic's billing, not for the model; its
// changing suffix at the head of the prompt would only spoil prompt caching.
const BILLING = /^x-anthropic-billing-header:/;

/**
 * An Anthropic Messages request as an OpenAI chat-completions body for Copilot.
 *
 * Left out on purpose, as chat completions has no place for them: top_k; context_management
 * (Anthropic's server-side context editing); cache_control and defer_loading; server tools
 * (web_search_…, bash_…: Anthropic runs or defines those, chat only takes functions);
 * redacted_thinking (encrypted for Anthropic's own API); service_tier, container, mcp_servers.
 */
/** A system message where it stands in the conversation (its text blocks joined). */
function systemMessage(content: MessageParam['content']): Json {
  const text = typeof content === 'string' ? content : content.map((b) => (b.type === 'text' ? String((b as { text?: unknown }).text ?? '') : '')).filter(Boolean).join('\n\n');
  return { role: 'system', content: text };
}

export function messagesToChat(req: MessagesRequest, opts: ToChatOptions): Json {
  const messages: Json[] = [];
  const blocks = typeof req.system === 'string' ? [{ text: req.system }] : (req.system ?? []);
  const system = blocks.filter((b) => !BILLING.test(b.text)).map((b) => b.text).join('\n\n');
  if (system) messages.push({ role: 'system', content: system });
  for (const m of req.messages)
    messages.push(...(m.role === 'assistant' ? [assistantMessage(m.content)] : m.role === 'system' ? [systemMessage(m.content)] : userMessages(m.content)));

  const maxTokens = opts.maxOutputTokens ? Math.min(req.max_tokens, opts.maxOutputTokens) : req.max_tokens;
  const chat: Json = { model: opts.model, messages, max_tokens: maxTokens };
  if (typeof req.temperature === 'number') chat.temperature = req.temperature;
  if (typeof req.top_p === 'number') chat.top_p = req.top_p;
  if (req.stop_sequences?.length) chat.stop = req.stop_sequences;
  if (typeof req.metadata?.user_id === 'string') chat.user = req.metadata.user_id;
  Object.assign(chat, toolFields(req.tools, req.tool_choice));
  const budget = thinkingBudget(req.thinking, opts.thinking, maxTokens);
  if (budget !== undefined) chat.thinking_budget = budget;
  if (req.stream) Object.assign(chat, { stream: true, stream_options: { include_usage: true } });
  return chat;
}

/** Whether the request carries an image (Copilot wants `copilot-vision-request: true` then). */
export function hasImage(req: MessagesRequest): boolean {
  const image = (blocks: unknown): boolean =>
    Array.isArray(blocks) && blocks.some((b: Block) => b.type === 'image' || (b.type === 'tool_result' && image((b as ToolResultBlock).content)));
  return req.messages.some((m) => image(m.content));
}

/** Tool results become `tool` messages ahead of the rest of the user's message, as chat orders them. */
function userMessages(content: MessageParam['content']): Json[] {
  if (typeof content === 'string') return [{ role: 'user', content }];
  const out: Json[] = [];
  const resultImages: Part[] = [];
  const parts: Part[] = [];
  for (const block of content) {
    if (block.type === 'tool_result') {
      const result = toolResult(block as ToolResultBlock);
      out.push({ role: 'tool', tool_call_id: (block as ToolResultBlock).tool_use_id, content: result.text });
      resultImages.push(...result.images);
    } else {
      const part = toPart(block);
      if (part) parts.push(part);
    }
  }
  // A tool message holds text only: images a tool returned follow in the next user message.
  const all = [...resultImages, ...parts];
  if (all.length) out.push({ role: 'user', content: all.every((p) => p.type === 'text') ? all.map((p) => p.text).join('\n\n') : all });
  return out;
}

function toolResult(block: ToolResultBlock): { text: string; images: Part[] } {
  const blocks: Block[] = typeof block.content === 'string' ? [{ type: 'text', text: block.content }] : ((block.content ?? []) as Block[]);
  const texts: string[] = [];
  const images: Part[] = [];
  for (const b of blocks) {
    const part = toPart(b);
    if (part?.type === 'text') texts.push(part.text);
    else if (part) images.push(part);
  }
  if (images.length) texts.push('[image attached below]');
  const text = texts.join('\n');
  // chat has no error flag on a tool message; the model learns it from the words
  return { text: block.is_error ? (text ? `Error: ${text}` : 'Error') : text, images };
}

function toPart(block: Block): Part | null {
  switch (block.type) {
    case 'text':
      return { type: 'text', text: (block as { text: string }).text };
    case 'image': {
      const source = (block as { source: Json }).source;
      if (source.type === 'base64') return { type: 'image_url', image_url: { url: `data:${source.media_type};base64,${source.data}` } };
      if (source.type === 'url') return { type: 'image_url', image_url: { url: source.url as string } };
      throw ApiError.badRequest(`Image sources of type '${source.type}' cannot be sent to this model`, 'messages', 'unsupported_content');
    }
    case 'document': {
      const source = (block as { source: Json }).source;
      if (source.type === 'text') return { type: 'text', text: source.data as string };
      throw ApiError.badRequest(`Documents of source type '${source.type}' cannot be sent to this model`, 'messages', 'unsupported_content');
    }
    default:
      // thinking in a user turn, server tool results, search results: nothing chat can carry
      return null;
  }
}

function assistantMessage(content: MessageParam['content']): Json {
  if (typeof content === 'string') return { role: 'assistant', content };
  const texts: string[] = [];
  const calls: Json[] = [];
  const thinking: string[] = [];
  let signature = '';
  for (const block of content) {
    if (block.type === 'text') texts.push((block as { text: string }).text);
    else if (block.type === 'tool_use') {
      const { id, name, input } = block as { id: string; name: string; input: unknown };
      calls.push({ id, type: 'function', function: { name, arguments: JSON.stringify(input ?? {}) } });
    } else if (block.type === 'thinking') {
      const t = block as { thinking: string; signature?: string };
      if (t.thinking) thinking.push(t.thinking);
      signature ||= t.signature ?? '';
    }
  }
  const text = texts.filter(Boolean).join('\n\n');
  const message: Json = { role: 'assistant', content: text || (calls.length ? null : '') };
  if (calls.length) message.tool_calls = calls;
  // Copilot takes the thinking of earlier turns back in the fields it streamed it in.
  if (thinking.length) message.reasoning_text = thinking.join('\n\n');
  if (signature) message.reasoning_opaque = signature;
  return message;
}

const isFunctionTool = (t: Tool): t is CustomTool => (t.type === undefined || t.type === 'custom') && typeof t.input_schema === 'object';

function toolFields(tools: Tool[] | undefined, choice: ToolChoice | undefined): Json {
  const functions = (tools ?? []).filter(isFunctionTool);
  if (!functions.length) return {};
  const out: Json = {
    tools: functions.map(({ name, description, input_schema }) => ({
      type: 'function',
      function: description === undefined ? { name, parameters: input_schema } : { name, description, parameters: input_schema },
    })),
  };
  switch (choice?.type) {
    case 'auto':
      out.tool_choice = 'auto';
      break;
    case 'any':
      out.tool_choice = 'required';
      break;
    case 'none':
      out.tool_choice = 'none';
      break;
    case 'tool':
      // a choice naming a dropped server tool falls back to the model's own choice
      if (functions.some((f) => f.name === choice.name)) out.tool_choice = { type: 'function', function: { name: choice.name } };
      break;
  }
  if (choice && 'disable_parallel_tool_use' in choice && choice.disable_parallel_tool_use) out.parallel_tool_calls = false;
  return out;
}

/**
 * Budgets outside the model's range are clamped into it, and kept under max_tokens as Anthropic
 * requires. Adaptive thinking gets the top of the range: a budget is a ceiling the model need not
 * reach, so the ceiling leaves it to decide how much to think, which is what adaptive asks.
 */
function thinkingBudget(thinking: ThinkingConfig | undefined, range: ToChatOptions['thinking'], maxTokens: number): number | undefined {
  if (!range || (thinking?.type !== 'enabled' && thinking?.type !== 'adaptive')) return undefined;
  const upper = Math.min(range.max, maxTokens - 1);
  if (upper < range.min) return undefined;
  const asked = thinking.type === 'enabled' && typeof thinking.budget_tokens === 'number' ? thinking.budget_tokens : upper;
  return Math.min(Math.max(asked, range.min), upper);
}

import { createRequire } from 'node:module';

/*
 * POST /v1/messages/count_tokens → {input_tokens}: a local estimate of what the request would be
 * billed as input. Copilot has no count endpoint, so the request is counted with the tokenizer the
 * model's /models entry names (capabilities.tokenizer: o200k_base | cl100k_base) plus documented
 * framing overheads.
 *
 * Constants and where they come from:
 * - Chat framing — OpenAI cookbook "How to count tokens with tiktoken", num_tokens_from_messages()
 *   (gpt-3.5-turbo-0613, gpt-4-0613, gpt-4o, gpt-4o-mini):
 *     tokens_per_message = 3   every message is <|start|>{role}<|message|>{content}<|end|>; the role
 *                              text itself is counted too (1 token for user/assistant/system)
 *     tokens_per_name    = 1   applied here to each tool_use block's name
 *     reply priming      = 3   "every reply is primed with <|start|>assistant<|message|>"
 * - Tool definitions — same cookbook, num_tokens_for_tools():
 *     func_init = 7 (gpt-4o, o200k_base) / 10 (gpt-3.5-turbo, gpt-4, cl100k_base) per function,
 *     the line `${name}:${description}` (trailing '.' dropped, as the cookbook does),
 *     func_end = 12 once when there are any tools.
 *   The cookbook walks parameters with prop_init/prop_key/enum constants; Anthropic tools carry a
 *   full JSON Schema (nested objects, $schema, additionalProperties…), so its JSON text is counted
 *   instead of that walk.
 * - Images — OpenAI vision pricing (gpt-4o / gpt-4.1 / gpt-5 family, detail "high"): fit within
 *   2048×2048, shortest side down to 768, then 85 + 170 × (512-px tiles). Claude models: Anthropic's
 *   vision docs, tokens = width × height / 750 after the long edge is brought to ≤ 1568 px, at most
 *   ~1600 tokens. Dimensions are read from the header of base64 PNG/JPEG/GIF/WebP data; when they
 *   are unknown (URL/file sources, unreadable data) the image is assumed to be 1024×1024:
 *   85 + 170 × 4 = 765 tokens (OpenAI), ceil(1024 × 1024 / 750) = 1399 tokens (Claude).
 * - Claude correction — Claude's tokenizer is not public. Measurements of Claude 3.5 Sonnet against
 *   GPT-4o (o200k_base) found ~16 % more tokens for English prose, ~21 % for maths and ~30 % for
 *   Python (L. Gupta, VentureBeat, May 2025, "Hidden costs in AI deployment: why Claude models may
 *   be 20–30 % more expensive than GPT in enterprise settings"). Claude Code traffic mixes prose,
 *   code and JSON, so text tokens (framing included) are multiplied by 6/5 = 1.2 and rounded up.
 *   An estimate, not Anthropic's count. Images counted by Anthropic's own formula are not scaled.
 *
 * Not counted (not billed input, or opaque): model, metadata, stream, max_tokens, temperature,
 * thinking/tool_choice settings, context_management, cache_control, ids (tool_use id,
 * tool_use_id), signatures, redacted_thinking data, and base64 PDF documents (no page count).
 */

// ── Minimal input shapes (a plain Anthropic Messages request object) ──────────────────────────────
type Json = Record<string, unknown>;

export interface CountTokensOptions {
  /** capabilities.tokenizer of the model's /models entry; anything else counts as o200k_base */
  tokenizer?: string;
  /** the model is a Claude model: apply the Claude correction and Anthropic's image formula */
  claude?: boolean;
}

type TokenizerName = 'o200k_base' | 'cl100k_base';

const CHUNK = 2000;
export const TOKENS_PER_MESSAGE = 3;
export const TOKENS_PER_NAME = 1;
export const REPLY_PRIMING_TOKENS = 3;
export const FUNC_INIT_TOKENS: Readonly<Record<TokenizerName, number>> = { o200k_base: 7, cl100k_base: 10 };
export const FUNC_END_TOKENS = 12;
export const OPENAI_IMAGE_BASE_TOKENS = 85;
export const OPENAI_IMAGE_TILE_TOKENS = 170;
export const CLAUDE_IMAGE_PIXELS_PER_TOKEN = 750;
export const CLAUDE_IMAGE_MAX_TOKENS = 1600;
export const DEFAULT_IMAGE_SIZE = { width: 1024, height: 1024 } as const;
/** Claude correction factor as a fraction (1.2 = 6/5), so that integer counts stay exact. */
export const CLAUDE_FACTOR = { num: 6, den: 5 } as const;

// ── Tokenizers: each encoding loaded at most once, on first use ─────────────────────────────────
interface Encoder {
  countTokens(text: string, options?: { disallowedSpecial?: Set<string> }): number;
}

// The signature is synchronous, so the encodings are loaded with require() (gpt-tokenizer ships a
// CommonJS build next to its ESM one) instead of an async import(); a static import would load the
// ~2 MB rank tables at startup even when count_tokens is never called.
const requireCjs = createRequire(import.meta.url);
const encoders = new Map<TokenizerName, Encoder>();

function encoderFor(name: TokenizerName): Encoder {
  let encoder = encoders.get(name);
  if (!encoder) {
    encoder = (
      name === 'cl100k_base'
        ? requireCjs('gpt-tokenizer/cjs/encoding/cl100k_base')
        : requireCjs('gpt-tokenizer/cjs/encoding/o200k_base')
    ) as Encoder;
    encoders.set(name, encoder);
  }
  return encoder;
}

// A client's text may contain "<|endoftext|>" and the like: count it as plain text, never throw.
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

// ── Counting ─────────────────────────────────────────────────────────────────────────────────────
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

class Counter {
  text = 0;
  images = 0;
  private readonly encoder: Encoder;

  constructor(
    readonly tokenizer: TokenizerName,
    readonly claude: boolean,
  ) {
    this.encoder = encoderFor(tokenizer);
  }

  /**
   * Long text is counted in pieces of about CHUNK characters, cut after a space or newline where
   * one is near: the BPE merge loop is superlinear on one long run (200 KB of one letter took 20 s),
   * and a cut at a word boundary changes the count by a token at most per piece.
   */
  add(text: string): void {
    for (let at = 0; at < text.length; ) {
      let end = Math.min(text.length, at + CHUNK);
      if (end < text.length) {
        const space = Math.max(text.lastIndexOf(' ', end), text.lastIndexOf('\n', end));
        if (space > at + CHUNK / 2) end = space;
      }
      this.text += this.encoder.countTokens(text.slice(at, end), PLAIN_TEXT);
      at = end;
    }
  }

  addJson(value: unknown): void {
    if (value !== undefined) this.add(JSON.stringify(value));
  }

  /** A string, or an array of content blocks. */
  addContent(content: unknown): void {
    if (typeof content === 'string') this.add(content);
    else if (Array.isArray(content)) for (const block of content) this.addBlock(block);
  }

  addBlock(block: unknown): void {
    if (!isRecord(block)) return;
    switch (block.type) {
      case 'text':
        this.add(str(block.text));
        return;
      case 'thinking':
        this.add(str(block.thinking));
        return;
      case 'redacted_thinking':
        return; // encrypted: nothing countable
      case 'tool_use':
      case 'server_tool_use':
      case 'mcp_tool_use':
        this.add(str(block.name));
        this.text += TOKENS_PER_NAME;
        this.addJson(block.input ?? {});
        return;
      case 'image':
        this.images += imageTokens(block.source, this.claude);
        return;
      case 'document': {
        this.add(str(block.title));
        this.add(str(block.context));
        const source = isRecord(block.source) ? block.source : {};
        if (source.type === 'text') this.add(str(source.data));
        else if (source.type === 'content') this.addContent(source.content);
        return; // base64/url PDFs: page count unknown, not estimated
      }
      case 'tool_result':
      case 'mcp_tool_result':
        this.addContent(block.content);
        return;
      case 'search_result':
        this.add(str(block.title));
        this.add(str(block.source));
        this.addContent(block.content);
        return;
      default:
        // other (future) blocks: whatever text or content they carry
        this.add(str(block.text));
        this.addContent(block.content);
    }
  }

  /** One ChatML message: framing + role + content. */
  addMessage(role: string, content: unknown): void {
    this.text += TOKENS_PER_MESSAGE;
    this.add(role);
    this.addContent(content);
  }

  addTools(tools: unknown): void {
    if (!Array.isArray(tools) || tools.length === 0) return;
    for (const tool of tools) {
      if (!isRecord(tool)) continue;
      this.text += FUNC_INIT_TOKENS[this.tokenizer];
      this.add(`${str(tool.name)}:${str(tool.description).replace(/\.$/, '')}`);
      if (tool.input_schema !== undefined) this.addJson(tool.input_schema);
    }
    this.text += FUNC_END_TOKENS;
  }

  total(): number {
    const text = this.claude ? Math.ceil((this.text * CLAUDE_FACTOR.num) / CLAUDE_FACTOR.den) : this.text;
    return text + this.images;
  }
}

/**
 * Estimated input tokens of an Anthropic Messages request body, as {input_tokens} of
 * POST /v1/messages/count_tokens.
 */
export function countMessagesTokens(body: Record<string, unknown>, opts: CountTokensOptions = {}): number {
  const tokenizer: TokenizerName = opts.tokenizer === 'cl100k_base' ? 'cl100k_base' : 'o200k_base';
  const counter = new Counter(tokenizer, opts.claude === true);

  const system = body.system;
  if ((typeof system === 'string' && system.length > 0) || (Array.isArray(system) && system.length > 0)) {
    counter.addMessage('system', system);
  }
  if (Array.isArray(body.messages)) {
    for (const message of body.messages) {
      if (isRecord(message)) counter.addMessage(str(message.role), message.content);
    }
  }
  counter.text += REPLY_PRIMING_TOKENS;
  counter.addTools(body.tools);
  return counter.total();
}

// ── Images ───────────────────────────────────────────────────────────────────────────────────────
interface Size {
  width: number;
  height: number;
}

export function openAiImageTokens({ width, height }: Size): number {
  let w = width;
  let h = height;
  const fit = Math.min(1, 2048 / Math.max(w, h));
  w = Math.round(w * fit);
  h = Math.round(h * fit);
  const shortest = Math.min(1, 768 / Math.min(w, h));
  w = Math.round(w * shortest);
  h = Math.round(h * shortest);
  return OPENAI_IMAGE_BASE_TOKENS + OPENAI_IMAGE_TILE_TOKENS * Math.ceil(w / 512) * Math.ceil(h / 512);
}

export function claudeImageTokens({ width, height }: Size): number {
  const fit = Math.min(1, 1568 / Math.max(width, height));
  const w = Math.round(width * fit);
  const h = Math.round(height * fit);
  return Math.min(CLAUDE_IMAGE_MAX_TOKENS, Math.ceil((w * h) / CLAUDE_IMAGE_PIXELS_PER_TOKEN));
}

function imageTokens(source: unknown, claude: boolean): number {
  const size = (isRecord(source) && source.type === 'base64' && imageSize(str(source.data))) || DEFAULT_IMAGE_SIZE;
  return claude ? claudeImageTokens(size) : openAiImageTokens(size);
}

// Enough base64 for a JPEG's start-of-frame behind a typical EXIF block (~96 KB decoded).
const HEADER_BASE64_CHARS = 131_072;

/** Width and height from the header of base64 PNG, JPEG, GIF or WebP data; undefined if unknown. */
export function imageSize(base64: string): Size | undefined {
  const comma = base64.startsWith('data:') ? base64.indexOf(',') : -1;
  const buf = Buffer.from(base64.slice(comma + 1, comma + 1 + HEADER_BASE64_CHARS), 'base64');
  const size = pngSize(buf) ?? gifSize(buf) ?? webpSize(buf) ?? jpegSize(buf);
  return size && size.width > 0 && size.height > 0 ? size : undefined;
}

function pngSize(b: Buffer): Size | undefined {
  if (b.length < 24 || b.readUInt32BE(0) !== 0x89504e47 || b.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

function gifSize(b: Buffer): Size | undefined {
  if (b.length < 10 || b.toString('latin1', 0, 4) !== 'GIF8') return undefined;
  return { width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
}

function webpSize(b: Buffer): Size | undefined {
  if (b.length < 30 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WEBP') return undefined;
  switch (b.toString('latin1', 12, 16)) {
    case 'VP8 ':
      return { width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
    case 'VP8L': {
      const bits = b.readUInt32LE(21);
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    case 'VP8X':
      return { width: b.readUIntLE(24, 3) + 1, height: b.readUIntLE(27, 3) + 1 };
    default:
      return undefined;
  }
}

function jpegSize(b: Buffer): Size | undefined {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1];
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    // SOF0–SOF15 except DHT (C4), JPG (C8), DAC (CC): height then width after length and precision.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { width: b.readUInt16BE(i + 7), height: b.readUInt16BE(i + 5) };
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd9)) i += 2; // standalone markers
    else i += 2 + b.readUInt16BE(i + 2);
  }
  return undefined;
}

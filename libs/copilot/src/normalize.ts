import { randomBytes } from 'node:crypto';

/* Copilot answers *almost* OpenAI (copilot-upstream.md §3–§4); these functions close the gap. */

type Json = Record<string, any>;

export interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  [k: string]: unknown;
}

export const completionId = () => `chatcmpl-${randomBytes(12).toString('base64url')}`;

function cleanMessage(message: Json | undefined): Json {
  if (!message) return { role: 'assistant', content: null };
  const { content_filter_results, content_filter_offsets, ...rest } = message;
  return rest;
}

/**
 * Non-stream answer. Claude models may spread one answer over several choices (text in one,
 * tool_calls in another); when the client asked for one choice it gets one.
 */
export function normalizeCompletion(body: Json, requestedModel: string, n = 1): Json {
  const raw: Json[] = Array.isArray(body.choices) ? body.choices : [];
  let choices: Json[];
  if (raw.length > 1 && n <= 1) {
    const messages = raw.map((c) => cleanMessage(c.message));
    const texts = messages.map((m) => m.content).filter((t): t is string => typeof t === 'string' && t.length > 0);
    const toolCalls = messages.flatMap((m) => (Array.isArray(m.tool_calls) ? m.tool_calls : []));
    const message: Json = { ...Object.assign({}, ...messages), role: 'assistant', content: texts.length ? texts.join('') : null };
    if (toolCalls.length) message.tool_calls = toolCalls;
    else delete message.tool_calls;
    const finish = toolCalls.length ? 'tool_calls' : (raw.find((c) => c.finish_reason)?.finish_reason ?? 'stop');
    choices = [{ index: 0, message, logprobs: null, finish_reason: finish }];
  } else {
    choices = raw.map((c, i) => ({
      index: typeof c.index === 'number' ? c.index : i,
      message: cleanMessage(c.message),
      logprobs: c.logprobs ?? null,
      finish_reason: c.finish_reason ?? null,
    }));
  }
  const { prompt_filter_results, choices: _c, id, object, created, model, ...rest } = body;
  return {
    id: id || completionId(),
    object: 'chat.completion',
    created: created || Math.floor(Date.now() / 1000),
    model: model || requestedModel,
    choices,
    ...rest,
  };
}

/**
 * Stream chunks, one upstream event at a time. Drops the prompt-filter event (empty choices), keeps
 * one id for the whole stream, and emits usage the OpenAI way: in a final empty-choices chunk only
 * when stream_options.include_usage asked for it.
 */
export class StreamNormalizer {
  private id = '';
  private created = 0;
  private roleSent = false;
  private usageSent = false;
  usage: Usage | null = null;

  constructor(
    private readonly requestedModel: string,
    private readonly includeUsage: boolean,
    private readonly n = 1,
  ) {}

  /** Returns the chunks to send for one upstream event (zero, one, or two with usage). */
  push(event: Json): Json[] {
    const raw: Json[] = Array.isArray(event.choices) ? event.choices : [];
    if (event.usage) this.usage = event.usage;
    if (raw.length === 0) return [];
    this.id ||= event.id || completionId();
    this.created ||= event.created || Math.floor(Date.now() / 1000);
    const choices = raw.map((c, i) => {
      // Copilot's filter fields ride on the choice, which is rebuilt here without them.
      const delta: Json = c.delta ?? {};
      if (!this.roleSent && delta.role === undefined) delta.role = 'assistant';
      return {
        index: this.n <= 1 ? 0 : typeof c.index === 'number' ? c.index : i,
        delta,
        logprobs: c.logprobs ?? null,
        finish_reason: c.finish_reason ?? null,
      };
    });
    this.roleSent = true;
    const chunk: Json = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: event.model || this.requestedModel,
      system_fingerprint: event.system_fingerprint ?? null,
      choices,
    };
    if (!this.includeUsage) return [chunk];
    chunk.usage = null;
    if (!event.usage) return [chunk];
    this.usageSent = true;
    return [chunk, { ...chunk, choices: [], usage: event.usage }];
  }

  /** Usage that arrived on an event with no choices (some models send it alone). */
  trailingUsage(): Json | null {
    if (!this.includeUsage || !this.usage || !this.id || this.usageSent) return null;
    this.usageSent = true;
    return { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.requestedModel, choices: [], usage: this.usage };
  }
}

export interface OpenAIModel {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

/** Copilot's model list repeats ids; OpenAI clients expect each once. */
export function normalizeModels(body: Json): OpenAIModel[] {
  const seen = new Set<string>();
  const out: OpenAIModel[] = [];
  for (const m of Array.isArray(body?.data) ? body.data : []) {
    if (!m || typeof m.id !== 'string' || seen.has(m.id)) continue;
    seen.add(m.id);
    out.push({ id: m.id, object: 'model', created: 0, owned_by: typeof m.vendor === 'string' ? m.vendor : 'github-copilot' });
  }
  return out;
}

/**
 * Embeddings in the format the client asked for. The official SDKs ask for base64 by default and
 * decode it; float arrays from upstream are packed as little-endian float32, as OpenAI does.
 */
export function normalizeEmbeddings(body: Json, model: string, encoding: 'float' | 'base64'): Json {
  const data = (Array.isArray(body.data) ? body.data : []).map((e: Json, i: number) => {
    let embedding = e.embedding;
    if (encoding === 'base64' && Array.isArray(embedding)) embedding = Buffer.from(new Float32Array(embedding).buffer).toString('base64');
    return { object: 'embedding', index: typeof e.index === 'number' ? e.index : i, embedding };
  });
  return { object: 'list', data, model: body.model || model, usage: body.usage ?? { prompt_tokens: 0, total_tokens: 0 } };
}

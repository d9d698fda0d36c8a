import { Injectable } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Principal } from '#libs/accounts';
import { ApiError, normalizeCompletion, normalizeEmbeddings, randomHex, StreamTranslator, type OpenAIModel } from '#libs/copilot';
import {
  ChatToResponsesStream,
  chatToResponse,
  fixNativeResponse,
  NativeResponsesStream,
  parseResponsesRequest,
  prepareNativeResponsesBody,
  responsesHasImage,
  responsesInitiator,
  responsesInputItems,
  responsesToChat,
  chatToMessage,
  chatToResponsesRequest,
  responseToChatCompletion,
  countMessagesTokens,
  filterBetas,
  hasImage,
  messagesInitiator,
  messagesToChat,
  parseMessagesRequest,
  prepareNativeBody,
} from '#libs/dialects';
import { ModelCatalog, type CatalogModel } from './model-catalog.js';
import { validateChat, validateEmbeddings } from './request-validation.js';
import { ResponseStore } from './response-store.js';
import { ChatFromResponses, messagesFromChat, MessagesFromResponses, NativeMessages, responsesOut } from './streams.js';
import { UpstreamPipeline, type Exchange, type JsonOut, type StreamOut } from './upstream.pipeline.js';

/**
 * The hot path, top to bottom, one method per client dialect. Before a method runs, the key gate
 * turned the key into a principal (step 1) and KeyThrottlerGuard counted the request (step 3).
 * Here: validate in the dialect's terms → the account's model and the upstream endpoint that
 * serves it → the upstream call (translated where the model does not take the client's dialect) →
 * UpstreamPipeline (token, retries, abort, streaming, metrics: steps 4–8).
 */
@Injectable()
export class ProxyService {
  constructor(
    private readonly catalog: ModelCatalog,
    private readonly pipeline: UpstreamPipeline,
    private readonly stored: ResponseStore,
  ) {}

  /** OpenAI chat completions: the hub form, so the client's bytes go upstream as they came. */
  async chatCompletions(principal: Principal, body: unknown, raw: Buffer | undefined, reply: FastifyReply): Promise<void> {
    const chat = validateChat(body);
    const model = await this.catalog.resolve(principal, chat.model);
    const common = { principal, reply, dialect: 'openai' as const, model: chat.model, label: Promise.resolve(model.id), multiplier: model.multiplier };
    const call = { method: 'POST' as const, initiator: chat.initiator, vision: chat.vision };
    if (hubEndpoint(model) === '/responses') {
      // A model Copilot serves only on the Responses API: chat → Responses → chat.
      await this.pipeline.run(
        exchange(
          common,
          to(call, '/responses', JSON.stringify(chatToResponsesRequest({ ...(body as object), model: model.id }, { model: model.id }))),
          (upstream) => {
            const answer = normalizeCompletion(responseToChatCompletion(upstream, chat.model), chat.model, chat.n);
            return { body: answer, usage: answer.usage };
          },
          chat.stream ? new ChatFromResponses(chat.model, chat.includeUsage) : undefined,
        ),
      );
      return;
    }
    const forward = model.id === chat.model && raw ? raw : JSON.stringify({ ...(body as object), model: model.id });
    await this.pipeline.run(
      exchange(
        common,
        to(call, '/chat/completions', forward),
        (upstream) => {
          const answer = normalizeCompletion(upstream, chat.model, chat.n);
          return { body: answer, usage: answer.usage };
        },
        chat.stream ? new OpenAIStream(chat.model, chat.includeUsage, chat.n) : undefined,
      ),
    );
  }

  /**
   * Anthropic Messages. A Claude model goes to Copilot's own /v1/messages with the body nearly as
   * it came (thinking signatures, cache_control intact); any other model goes through the hub:
   * Messages → chat completions → back, streaming included.
   */
  async messages(principal: Principal, body: unknown, headers: Record<string, string | string[] | undefined>, reply: FastifyReply): Promise<void> {
    const req = parseMessagesRequest(body);
    const model = await this.catalog.resolve(principal, req.model);
    const { initiator, compaction } = messagesInitiator(req);
    const common = {
      principal,
      reply,
      dialect: 'anthropic' as const,
      model: req.model,
      label: Promise.resolve(model.id),
      multiplier: model.multiplier,
    };
    const call = { method: 'POST' as const, initiator, vision: hasImage(req), interaction: compaction ? 'conversation-compaction' : undefined };
    if (model.endpoints.includes('/v1/messages')) {
      const betas = filterBetas(headers['anthropic-beta']);
      const anthropic: Record<string, string> = { 'anthropic-version': String(headers['anthropic-version'] ?? '2023-06-01') };
      if (betas) anthropic['anthropic-beta'] = betas;
      await this.pipeline.run(
        exchange(
          common,
          to(call, '/v1/messages', JSON.stringify(prepareNativeBody(body as Record<string, unknown>, model.id)), { intent: 'messages-proxy', headers: anthropic }),
          (upstream) => ({ body: Object.assign({}, upstream, { model: req.model }), usage: nativeUsage(upstream.usage) }),
          req.stream ? new NativeMessages() : undefined,
        ),
      );
      return;
    }
    const chatBody = messagesToChat(req, { model: model.id, thinking: model.thinking, maxOutputTokens: model.maxOutputTokens ?? undefined });
    if (hubEndpoint(model) === '/responses') {
      // Messages → chat → Responses, and the answer back the same way.
      await this.pipeline.run(
        exchange(
          common,
          to(call, '/responses', JSON.stringify(chatToResponsesRequest(chatBody, { model: model.id }))),
          (upstream) => {
            const answer = chatToMessage(responseToChatCompletion(upstream, req.model), req.model);
            return { body: answer, usage: nativeUsage(answer.usage) };
          },
          req.stream ? new MessagesFromResponses(req.model) : undefined,
        ),
      );
      return;
    }
    await this.pipeline.run(
      exchange(
        common,
        to(call, '/chat/completions', JSON.stringify(chatBody)),
        (upstream) => {
          const answer = chatToMessage(upstream, req.model);
          return { body: answer, usage: nativeUsage(answer.usage) };
        },
        req.stream ? messagesFromChat(req.model) : undefined,
      ),
    );
  }

  /**
   * OpenAI Responses. A model Copilot serves on /responses gets the request natively (its stream
   * relayed with the quirks fixed); any other goes through the hub: Responses → chat → back. The
   * gateway keeps each answer (Copilot keeps none), so previous_response_id works on every model.
   */
  async responses(principal: Principal, body: unknown, reply: FastifyReply): Promise<void> {
    const parsed = parseResponsesRequest(body);
    const model = await this.catalog.resolve(principal, parsed.model);
    const items = Array.isArray(parsed.input) ? await this.stored.inline(principal, parsed.input) : null;
    const req = items && items !== parsed.input ? { ...parsed, input: items as typeof parsed.input } : parsed;
    const history = req.previous_response_id ? await this.stored.history(principal, req.previous_response_id) : [];
    const store = req.store !== false;
    const ctx = { id: responseId(), model: req.model, createdAt: Math.floor(Date.now() / 1000), request: req, echo: { store, previous_response_id: req.previous_response_id ?? null } };
    const input = responsesInputItems(req);
    let final: () => Record<string, any> | null = () => null;
    const common = {
      principal,
      reply,
      dialect: 'responses' as const,
      model: req.model,
      label: Promise.resolve(model.id),
      multiplier: model.multiplier,
      beforeEnd: store
        ? async () => {
            const response = final();
            if (response) await this.stored.save(principal, req.previous_response_id ?? null, input, response);
          }
        : undefined,
    };
    const call = { method: 'POST' as const, initiator: responsesInitiator(req), vision: responsesHasImage(req, history) };
    if (model.endpoints.includes('/responses')) {
      const stream = req.stream ? new NativeResponsesStream(ctx) : undefined;
      let answer: Record<string, any> | null = null;
      final = () => (stream ? stream.response : answer);
      const raw = Object.assign({}, body as Record<string, unknown>, { input: req.input });
      await this.pipeline.run(
        exchange(
          common,
          to(call, '/responses', JSON.stringify(prepareNativeResponsesBody(req, raw, { model: model.id, history }))),
          (upstream) => {
            answer = fixNativeResponse(upstream, ctx);
            return { body: answer, usage: hubUsage(answer.usage) };
          },
          stream && responsesOut(stream),
        ),
      );
      return;
    }
    // Any other model through the hub: Responses → chat completions → Responses.
    hubEndpoint(model);
    const stream = req.stream ? new ChatToResponsesStream(ctx) : undefined;
    let answer: Record<string, any> | null = null;
    final = () => (stream ? stream.response : answer);
    await this.pipeline.run(
      exchange(
        common,
        to(call, '/chat/completions', JSON.stringify(responsesToChat(req, { model: model.id, history }))),
        (upstream) => {
          answer = chatToResponse(upstream, ctx);
          return { body: answer, usage: hubUsage(answer.usage) };
        },
        stream && responsesOut(stream),
      ),
    );
  }

  storedResponse(principal: Principal, id: string): Promise<Record<string, any>> {
    return this.stored.get(principal, id).then((e) => e.response);
  }

  async deleteResponse(principal: Principal, id: string) {
    await this.stored.delete(principal, id);
    return { id, object: 'response', deleted: true };
  }

  /**
   * The items that went in for a stored response (the conversation it continued, then its own
   * input), as OpenAI pages them: `order` desc by default, `limit` 20 (1–100), `after` an item id.
   */
  async responseInputItems(principal: Principal, id: string, query: { order?: unknown; limit?: unknown; after?: unknown } = {}) {
    const order = query.order ?? 'desc';
    if (order !== 'asc' && order !== 'desc') throw ApiError.badRequest("'order' must be 'asc' or 'desc'", 'order', 'invalid_value');
    const limit = query.limit === undefined ? 20 : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw ApiError.badRequest("'limit' must be an integer from 1 to 100", 'limit', 'invalid_value');
    let items = (await this.stored.inputOf(principal, id)).map((item, i) => ({ id: (item as { id?: string }).id ?? `item_${id.slice(5)}_${i}`, ...(item as object) }));
    if (order === 'desc') items = items.reverse();
    if (typeof query.after === 'string') {
      const at = items.findIndex((i) => i.id === query.after);
      if (at < 0) throw ApiError.badRequest(`No item '${query.after}' in this response's input`, 'after', 'invalid_value');
      items = items.slice(at + 1);
    }
    const page = items.slice(0, limit);
    return { object: 'list', data: page, first_id: page[0]?.id ?? null, last_id: page.at(-1)?.id ?? null, has_more: items.length > limit };
  }

  /** Anthropic's count_tokens, with the model's own tokenizer (no upstream call). */
  async countTokens(principal: Principal, body: unknown): Promise<{ input_tokens: number }> {
    const req = parseMessagesRequest(body, { maxTokens: false });
    const model = await this.catalog.resolve(principal, req.model);
    const claude = model.id.startsWith('claude') || /anthropic/i.test(model.vendor);
    return { input_tokens: countMessagesTokens(body as Record<string, unknown>, { tokenizer: model.tokenizer ?? undefined, claude }) };
  }

  async embeddings(principal: Principal, body: Record<string, unknown>, raw: Buffer | undefined, reply: FastifyReply): Promise<void> {
    const { model: asked, encoding } = validateEmbeddings(body);
    const model = await this.catalog.resolve(principal, asked);
    // The encoding is the gateway's to honour (below); Copilot gets the request without it.
    const { encoding_format, ...rest } = body;
    const forward = encoding_format === undefined && raw && model.id === asked ? raw : JSON.stringify({ ...rest, model: model.id });
    await this.pipeline.run({
      principal,
      reply,
      dialect: 'openai',
      model: asked,
      label: Promise.resolve(model.id),
      call: { method: 'POST', path: '/embeddings', body: forward },
      json: (upstream) => {
        const answer = normalizeEmbeddings(upstream, asked, encoding);
        return { body: answer, usage: answer.usage };
      },
    });
  }

  async listModels(principal: Principal): Promise<OpenAIModel[]> {
    return (await this.catalog.list(principal)).map((m) => ({ id: m.id, object: 'model', created: 0, owned_by: m.vendor }));
  }

  async getModel(principal: Principal, id: string): Promise<OpenAIModel> {
    const model = (await this.listModels(principal)).find((m) => m.id === id);
    if (!model) throw ApiError.notFound(`The model '${id}' does not exist`, 'model_not_found', 'model');
    return model;
  }
}

const responseId = () => `resp_${randomHex(16)}`;

/*
 * The exchange and its upstream call are put together with Object.assign, not as literals that
 * spread an object and add fields: on Node 20 such a literal leaves V8's fast path and costs 1–2 µs
 * each (`{ ...a, b }`: 1.2 µs against 0.15 µs), several times per request.
 */
type Common = Omit<Exchange, 'call' | 'json' | 'stream'>;
type CallBase = Omit<Exchange['call'], 'path' | 'body'>;
const exchange = (common: Common, call: Exchange['call'], json: JsonOut, stream?: StreamOut): Exchange => Object.assign({ call, json, stream }, common);
const to = (base: CallBase, path: string, body: string | Buffer, more?: Partial<CallBase>): Exchange['call'] => Object.assign({ path, body }, base, more);

/** Responses usage in the hub's terms, for metrics. */
function hubUsage(u: { input_tokens?: number; output_tokens?: number; input_tokens_details?: { cached_tokens?: number } | null } | null | undefined) {
  return u ? { prompt_tokens: u.input_tokens ?? 0, completion_tokens: u.output_tokens ?? 0, cached_tokens: u.input_tokens_details?.cached_tokens ?? 0 } : null;
}

/**
 * Where a request in the hub form (chat completions) goes for a model: chat completions where
 * Copilot serves it there, else the Responses API (the gpt-5.x-codex family, gpt-5.4).
 */
function hubEndpoint(model: CatalogModel): '/chat/completions' | '/responses' {
  if (model.endpoints.includes('/chat/completions')) return '/chat/completions';
  if (model.endpoints.includes('/responses')) return '/responses';
  throw ApiError.badRequest(`The model '${model.id}' is served only on ${model.endpoints.join(', ')}`, 'model', 'unsupported_api_for_model');
}

/** Anthropic usage in the hub's terms, for metrics: input counts what was read from cache too. */
function nativeUsage(u: Record<string, any> | undefined) {
  if (!u) return null;
  const n = (v: unknown) => (typeof v === 'number' ? v : 0);
  return { prompt_tokens: n(u.input_tokens) + n(u.cache_read_input_tokens), completion_tokens: n(u.output_tokens), cached_tokens: n(u.cache_read_input_tokens) };
}

/** Copilot's chat stream as OpenAI's (normalized), and an error chunk then [DONE] if it breaks off. */
class OpenAIStream extends StreamTranslator {
  fail(error: ApiError): string {
    return `data: ${JSON.stringify(error.toJSON())}\n\ndata: [DONE]\n\n`;
  }
}

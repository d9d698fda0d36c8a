import { Inject, Injectable, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { InjectConfig, type AppConfig } from '#libs/config';
import { CopilotTokenService, Lru, STATE_STORE, type Principal, type StateStore } from '#libs/accounts';
import {
  ApiError,
  CopilotClient,
  StreamTranslator,
  fromUpstreamStatus,
  isRetryableNetworkError,
  normalizeCompletion,
  normalizeEmbeddings,
  normalizeModels,
  retryAfterSeconds,
  upstreamFailure,
  type OpenAIModel,
  type UpstreamCall,
} from '#libs/copilot';
import { MetricsService } from '#libs/metrics';
import { validateChat, validateEmbeddings } from './request-validation.js';

const MAX_RETRIES = 2;
const RETRY_DEADLINE_MS = 15_000;
const MAX_RETRY_AFTER_S = 10;
const backoffMs = (attempt: number) => 100 * 2 ** attempt + Math.floor(Math.random() * 50);

/** Thrown when the client hung up: nothing is left to answer. */
class ClientGone extends Error {}

/**
 * The hot path, top to bottom. Before this service runs, ApiKeyGuard turned the key into a
 * principal (step 2) and KeyThrottlerGuard counted the request (step 3). Here:
 *   validate → Copilot token (step 4) → upstream call with retries (steps 5–6) → normalize and
 *   answer, streaming without buffering (step 7) → metrics (step 8).
 */
@Injectable()
export class ProxyService {
  private readonly log = new Logger('Proxy');
  /** Model ids each account's /models listed, for metric labels (modelLabel). */
  private readonly knownModels: Lru<string, { ids: Set<string>; until: number }>;
  private readonly loadingModels = new Map<string, Promise<OpenAIModel[]>>();

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    @Inject(STATE_STORE) private readonly store: StateStore,
    private readonly tokens: CopilotTokenService,
    private readonly client: CopilotClient,
    private readonly metrics: MetricsService,
  ) {
    this.knownModels = new Lru(config.maxClientsCache);
  }

  async chatCompletions(principal: Principal, body: unknown, raw: Buffer | undefined, reply: FastifyReply): Promise<void> {
    const chat = validateChat(body);
    const started = performance.now();
    const label = this.modelLabel(principal, chat.model);
    const signal = abortOnHangup(reply);
    let res: Dispatcher.ResponseData;
    try {
      res = await this.send(principal, chat.model, {
        method: 'POST',
        path: '/chat/completions',
        body: raw ?? JSON.stringify(body),
        initiator: chat.initiator,
        vision: chat.vision,
        signal,
      });
      if (!chat.stream || !isEventStream(res.headers['content-type'])) {
        const answer = normalizeCompletion(await readJson(res, signal), chat.model, chat.n);
        void label.then((model) => this.metrics.recordUsage(model, answer.usage));
        return void reply.send(answer);
      }
    } catch (err) {
      if (err instanceof ClientGone) return;
      throw err;
    }

    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    this.metrics.activeStreams.inc();
    const stream = new StreamTranslator(chat.model, chat.includeUsage, chat.n);
    let firstToken = true;
    // What arrives in one I/O turn leaves in one write, and the tail rides on end(): fewer
    // syscalls, no added wait. A slow client pauses the upstream read, not the gateway's memory;
    // one that has not drained for CLIENT_STALL_TIMEOUT_MS loses the stream, and the upstream
    // connection it held goes back to the pool.
    let pending = '';
    let stall: NodeJS.Timeout | null = null;
    const cut = () => {
      this.metrics.clientStalls.inc();
      if (!res.body.destroyed) res.body.destroy(new Error('the client stopped reading'));
      out.destroy();
    };
    try {
      const flush = () => {
        const text = pending;
        pending = '';
        if (text && !out.writableEnded && !out.write(text) && !stall) {
          res.body.pause();
          stall = setTimeout(cut, this.config.clientStallTimeoutMs);
          out.once('drain', () => {
            clearTimeout(stall!);
            stall = null;
            res.body.resume();
          });
        }
      };
      await new Promise<void>((resolve, reject) => {
        res.body.on('data', (bytes: Buffer) => {
          const text = stream.push(bytes);
          if (!text) return;
          if (firstToken) {
            firstToken = false;
            const seconds = (performance.now() - started) / 1000;
            void label.then((model) => this.metrics.recordFirstToken(model, seconds));
          }
          if (!pending) setImmediate(flush);
          pending += text;
        });
        res.body.once('end', resolve);
        res.body.once('error', reject);
      });
      out.end(pending + stream.end());
      pending = '';
    } catch (err) {
      if (signal.aborted) return;
      // After the first byte there is no retry and no status to change: say it in the stream.
      const failure = err instanceof ApiError ? err : upstreamFailure(err);
      this.metrics.upstreamErrors.inc({ status: 'stream' });
      this.log.warn(`stream from Copilot broke off: ${(err as Error)?.message ?? err}`);
      out.end(`${pending}data: ${JSON.stringify(failure.toJSON())}\n\ndata: [DONE]\n\n`);
      pending = '';
    } finally {
      if (stall) clearTimeout(stall);
      // The tail still waiting in the socket's buffer gets the same time to leave.
      if (!out.writableFinished && !out.destroyed) {
        const tail = setTimeout(cut, this.config.clientStallTimeoutMs);
        out.once('close', () => clearTimeout(tail));
      }
      this.metrics.activeStreams.dec();
      void label.then((model) => this.metrics.recordUsage(model, stream.usage));
      if (!res.body.destroyed) res.body.destroy();
    }
  }

  async listModels(principal: Principal): Promise<OpenAIModel[]> {
    const cacheKey = `models:${principal.accountId}`;
    const cached = await this.store.getCache(cacheKey).catch(() => null);
    let models: OpenAIModel[];
    if (cached) models = JSON.parse(cached) as OpenAIModel[];
    else {
      const res = await this.send(principal, '', { method: 'GET', path: '/models' });
      models = normalizeModels(await readJson(res));
      await this.store.setCache(cacheKey, JSON.stringify(models), this.config.modelCacheTtlSeconds * 1000).catch(() => {});
    }
    this.knownModels.set(principal.accountId, { ids: new Set(models.map((m) => m.id)), until: Date.now() + this.config.modelCacheTtlSeconds * 1000 });
    return models;
  }

  /**
   * The `model` label of a request's metrics: the id when the account's /models lists it, else
   * `other`, so made-up names cannot grow a series each. Known from the model list this process
   * has seen; the first request of an account loads it alongside its own call, never before it.
   */
  private modelLabel(principal: Principal, model: string): Promise<string> {
    const known = this.knownModels.get(principal.accountId);
    if (known && known.until > Date.now()) return Promise.resolve(known.ids.has(model) ? model : 'other');
    let loading = this.loadingModels.get(principal.accountId);
    if (!loading) {
      loading = this.listModels(principal).finally(() => this.loadingModels.delete(principal.accountId));
      this.loadingModels.set(principal.accountId, loading);
    }
    return loading.then(
      (models) => (models.some((m) => m.id === model) ? model : 'other'),
      () => 'other',
    );
  }

  async getModel(principal: Principal, id: string): Promise<OpenAIModel> {
    const model = (await this.listModels(principal)).find((m) => m.id === id);
    if (!model) throw ApiError.notFound(`The model '${id}' does not exist`, 'model_not_found', 'model');
    return model;
  }

  async embeddings(principal: Principal, body: Record<string, unknown>, raw: Buffer | undefined): Promise<Record<string, unknown>> {
    const { model, encoding } = validateEmbeddings(body);
    // The encoding is the gateway's to honour (below); Copilot gets the request without it.
    const { encoding_format, ...rest } = body;
    const forward = encoding_format === undefined && raw ? raw : JSON.stringify(rest);
    const label = this.modelLabel(principal, model);
    const res = await this.send(principal, model, { method: 'POST', path: '/embeddings', body: forward });
    const answer = normalizeEmbeddings(await readJson(res), model, encoding);
    void label.then((m) => this.metrics.recordUsage(m, answer.usage));
    return answer;
  }

  /**
   * One upstream call with the retry rules of design.md §5 step 6, all before the first byte:
   * 401 → drop the token, exchange, retry once; 429 (Retry-After ≤ 10 s), 5xx and connect
   * errors → at most two retries with backoff inside a deadline; else the OpenAI error.
   */
  private async send(principal: Principal, model: string, call: UpstreamCall): Promise<Dispatcher.ResponseData> {
    const deadline = Date.now() + RETRY_DEADLINE_MS;
    let refreshed = false;
    let retries = 0;
    const pause = async (ms: number, reason: string) => {
      if (retries >= MAX_RETRIES || Date.now() + ms > deadline) return false;
      retries++;
      this.metrics.upstreamRetries.inc({ reason });
      await sleep(ms, undefined, { signal: call.signal }).catch(() => {});
      if (call.signal?.aborted) throw new ClientGone();
      return true;
    };
    for (;;) {
      const token = await this.tokens.get(principal);
      let res: Dispatcher.ResponseData;
      try {
        res = await this.client.call(token.apiBase, token.token, call);
      } catch (err) {
        if (call.signal?.aborted) throw new ClientGone();
        this.metrics.upstreamErrors.inc({ status: 'network' });
        if (isRetryableNetworkError(err) && (await pause(backoffMs(retries), 'network'))) continue;
        throw upstreamFailure(err);
      }
      if (res.statusCode < 300) return res;

      const text = await res.body.text().catch(() => '');
      this.metrics.upstreamErrors.inc({ status: String(res.statusCode) });
      if (res.statusCode === 401 && !refreshed) {
        refreshed = true;
        this.metrics.upstreamRetries.inc({ reason: 'token_refresh' });
        await this.tokens.invalidate(principal.accountId, token.token);
        continue;
      }
      const retryAfter = retryAfterSeconds(res.headers['retry-after'], text);
      if (res.statusCode === 429 && retryAfter !== null && retryAfter <= MAX_RETRY_AFTER_S) {
        if (await pause(retryAfter * 1000, '429')) continue;
      } else if (res.statusCode >= 500) {
        if (await pause(backoffMs(retries), String(res.statusCode))) continue;
      }
      throw fromUpstreamStatus(res.statusCode, text, model, retryAfter);
    }
  }
}

/**
 * Aborts the upstream call when the client hangs up, in every window: before headers, before the
 * first token, mid-stream. It listens on the response: on Node 20 the request's own 'close' fires
 * as soon as its body has been read.
 */
function abortOnHangup(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const out = reply.raw;
  out.once('close', () => {
    if (!out.writableFinished) controller.abort();
  });
  return controller.signal;
}

const isEventStream = (type: string | string[] | undefined) => String(type ?? '').includes('text/event-stream');

async function readJson(res: Dispatcher.ResponseData, signal?: AbortSignal): Promise<Record<string, any>> {
  let text: string;
  try {
    text = await res.body.text();
  } catch (err) {
    if (signal?.aborted) throw new ClientGone();
    throw upstreamFailure(err);
  }
  try {
    const json = JSON.parse(text);
    if (typeof json === 'object' && json !== null) return json;
  } catch {
    /* reported below */
  }
  throw new ApiError(502, 'Copilot answered with something that is not JSON', 'upstream_error', 'upstream_invalid_response');
}

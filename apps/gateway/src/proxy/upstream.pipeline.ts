import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Dispatcher } from 'undici';
import { InjectConfig, type AppConfig } from '#libs/config';
import { CopilotTokenService, type Principal } from '#libs/accounts';
import {
  ApiError,
  CallSignal,
  CopilotClient,
  fromUpstreamStatus,
  isRetryableNetworkError,
  retryAfterSeconds,
  sleepUnlessAborted,
  upstreamFailure,
  type UpstreamCall,
} from '#libs/copilot';
import { MetricsService } from '#libs/metrics';
import { USAGE_SINK, type UsageSink } from '#libs/usage';

const MAX_RETRIES = 2;
/** New Copilot tokens one call may take after 401s, each for a token not refused before. */
const MAX_TOKEN_REFRESHES = 2;
const RETRY_DEADLINE_MS = 15_000;
const MAX_RETRY_AFTER_S = 10;
/** A quiet stream gets a keep-alive frame this often, where its dialect has one (Anthropic's ping). */
const PING_MS = 15_000;
const backoffMs = (attempt: number) => 100 * 2 ** attempt + Math.floor(Math.random() * 50);

export type Dialect = 'openai' | 'anthropic' | 'responses';

/** Tokens of one call, in the hub's (OpenAI's) terms, for metrics and usage records. */
export interface TokenUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  /** of prompt_tokens, read from the prompt cache */
  cached_tokens?: number;
  /** Copilot's credit cost of the call (copilot_usage.total_nano_aiu) */
  nano_aiu?: number;
  /** as OpenAI's usage object carries them (the chat path hands it over as it came) */
  prompt_tokens_details?: { cached_tokens?: number } | null;
  copilot_usage?: { total_nano_aiu?: number } | null;
}

/**
 * What a dialect writes for an upstream event stream: text for each read from upstream, the rest
 * when it ends, an error in its own terms when it breaks off after the first byte.
 */
export interface StreamOut {
  push(bytes: Uint8Array): string;
  end(): string;
  fail(error: ApiError): string;
  ping?(): string;
  readonly usage: TokenUsage | null;
  /** true once the dialect has written its last event itself (it cut a broken stream short): upstream is read no further */
  readonly ended?: boolean;
}

/** A non-stream answer in the dialect's terms, and the usage it reports. */
export type JsonOut = (upstream: Record<string, any>) => { body: unknown; usage: TokenUsage | null | undefined };

/** One client request as the pipeline runs it: who, which dialect, the call to make, how to answer. */
export interface Exchange {
  principal: Principal;
  reply: FastifyReply;
  dialect: Dialect;
  /** the model as the client named it, for errors */
  model: string;
  /** the metric label of that model (known to the account, or `other`) */
  label: Promise<string>;
  call: Omit<UpstreamCall, 'signal'>;
  json: JsonOut;
  /** set when the client asked for a stream */
  stream?: StreamOut;
  /** extra response headers for the client */
  headers?: Record<string, string>;
  /** premium requests a user-initiated call of this model costs (its billing.multiplier) */
  multiplier?: number;
  /**
   * Runs once the answer is complete and before its last bytes leave (the stored response a
   * client may continue from must exist by the time the client can ask for it).
   */
  beforeEnd?: () => Promise<void>;
}

const STREAM_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' } as const;

/** Thrown when the client hung up: nothing is left to answer. */
export class ClientGone extends Error {}

/**
 * The upstream machinery, once for every dialect (design.md §5 steps 4–8): Copilot token → call
 * with the retry rules → abort when the client hangs up → the answer, streamed with back-pressure
 * and a stall timeout → metrics. Dialects hand it an Exchange; it never knows their field names.
 */
@Injectable()
export class UpstreamPipeline {
  private readonly log = new Logger('Upstream');

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly tokens: CopilotTokenService,
    private readonly client: CopilotClient,
    private readonly metrics: MetricsService,
    @Optional() @Inject(USAGE_SINK) private readonly usage?: UsageSink,
  ) {}

  async run(ex: Exchange): Promise<void> {
    const started = performance.now();
    const signal = abortOnHangup(ex.reply);
    let res: Dispatcher.ResponseData;
    try {
      res = await this.send(ex.principal, ex.model, Object.assign({ signal }, ex.call));
      if (!ex.stream || !isEventStream(res.headers['content-type'])) {
        const { body, usage } = ex.json(await readJson(res, signal));
        if (ex.beforeEnd) await ex.beforeEnd();
        this.finish(ex, 200, usage, started);
        return void ex.reply.headers(ex.headers ?? {}).send(body);
      }
    } catch (err) {
      if (err instanceof ClientGone) return;
      this.finish(ex, err instanceof ApiError ? err.status : 500, null, started);
      throw err;
    }
    await this.relay(ex, ex.stream, res, signal, started);
  }

  /**
   * The event stream to the client as it comes. What arrives in one I/O turn leaves in one write,
   * and the tail rides on end(): fewer syscalls, no added wait. A slow client pauses the upstream
   * read (undici holds 16 KiB), not the gateway's memory; one that has not drained for
   * CLIENT_STALL_TIMEOUT_MS loses the stream, and the upstream connection goes back to the pool.
   */
  private async relay(ex: Exchange, stream: StreamOut, res: Dispatcher.ResponseData, signal: CallSignal, started: number) {
    ex.reply.hijack();
    const out = ex.reply.raw;
    out.writeHead(200, Object.assign({}, ex.reply.getHeaders() as Record<string, string>, ex.headers, STREAM_HEADERS));
    this.metrics.activeStreams.inc();
    let firstToken = true;
    let pending = '';
    let lastWrite = Date.now();
    let stall: NodeJS.Timeout | null = null;
    let stalled = false;
    const cut = () => {
      stalled = true;
      this.metrics.clientStalls.inc();
      if (!res.body.destroyed) res.body.destroy(new Error('the client stopped reading'));
      out.destroy();
    };
    const flush = () => {
      const text = pending;
      pending = '';
      if (!text || out.writableEnded || out.destroyed) return;
      lastWrite = Date.now();
      if (!out.write(text) && !stall) {
        res.body.pause();
        stall = setTimeout(cut, this.config.clientStallTimeoutMs);
        out.once('drain', () => {
          clearTimeout(stall!);
          stall = null;
          res.body.resume();
        });
      }
    };
    const pinger = stream.ping
      ? setInterval(() => {
          if (Date.now() - lastWrite >= PING_MS && !pending && !stall) {
            pending = stream.ping!();
            flush();
          }
        }, PING_MS / 3)
      : null;
    let answered = false;
    try {
      await new Promise<void>((resolve, reject) => {
        res.body.on('data', (bytes: Buffer) => {
          if (answered) return;
          const text = stream.push(bytes);
          if (stream.ended) {
            // Its answer is over: the client need not wait for the rest (see release()).
            answered = true;
            pending += text;
            return resolve();
          }
          if (!text) return;
          if (firstToken) {
            firstToken = false;
            const seconds = (performance.now() - started) / 1000;
            void ex.label.then((model) => this.metrics.recordFirstToken(model, seconds));
          }
          if (!pending) setImmediate(flush);
          pending += text;
        });
        res.body.once('end', resolve);
        res.body.once('error', reject);
      });
      const tail = stream.end();
      if (ex.beforeEnd) await ex.beforeEnd();
      out.end(pending + tail);
      pending = '';
      this.finish(ex, 200, stream.usage, started);
    } catch (err) {
      // The client left, or stopped reading and was cut: not Copilot's failure, nothing to write.
      if (signal.aborted || stalled) {
        this.finish(ex, 499, stream.usage, started);
        return;
      }
      // After the first byte there is no retry and no status to change: say it in the stream.
      const failure = err instanceof ApiError ? err : upstreamFailure(err);
      this.metrics.upstreamErrors.inc({ status: 'stream' });
      this.log.warn(`stream from Copilot broke off (${ex.dialect} ${ex.call.path}): ${(err as Error)?.message ?? err}`);
      out.end(pending + stream.fail(failure));
      pending = '';
      this.finish(ex, 'stream_error', stream.usage, started);
    } finally {
      if (stall) clearTimeout(stall);
      if (pinger) clearInterval(pinger);
      // The tail still waiting in the socket's buffer gets the same time to leave.
      if (!out.writableFinished && !out.destroyed) {
        const tail = setTimeout(cut, this.config.clientStallTimeoutMs);
        out.once('close', () => clearTimeout(tail));
      }
      this.metrics.activeStreams.dec();
      release(res.body, answered && !signal.aborted && !stalled);
    }
  }

  /** A request is over: its metrics, and its usage record (what it cost, whom). */
  private finish(ex: Exchange, status: number | 'stream_error', usage: TokenUsage | null | undefined, started: number) {
    const durationMs = Math.round(performance.now() - started);
    void ex.label.then((model) => {
      this.metrics.recordUsage(model, usage);
      this.metrics.recordExchange(ex.dialect, ex.call.path, model, status);
      const initiator = ex.call.initiator ?? 'user';
      this.usage?.record({
        at: Date.now(),
        keyId: ex.principal.keyId,
        accountId: ex.principal.accountId,
        model,
        dialect: ex.dialect,
        endpoint: ex.call.path,
        status,
        inputTokens: usage?.prompt_tokens ?? 0,
        outputTokens: usage?.completion_tokens ?? 0,
        cachedTokens: usage?.cached_tokens ?? usage?.prompt_tokens_details?.cached_tokens ?? 0,
        initiator,
        // A call Copilot refused or never answered is not billed.
        premiumRequests: initiator === 'user' && typeof status === 'number' && status < 400 ? (ex.multiplier ?? 0) : 0,
        creditsNanoAiu: usage?.nano_aiu ?? usage?.copilot_usage?.total_nano_aiu ?? 0,
        durationMs,
      });
    });
  }

  /**
   * One upstream call with the retry rules of design.md §5 step 6, all before the first byte:
   * 401 → drop the token, exchange, retry (again only for another token, twice at most); 429 (Retry-After ≤ 10 s), 5xx and connect
   * errors → at most two retries with backoff inside a deadline; else the error in hub terms.
   */
  async send(principal: Principal, model: string, call: UpstreamCall): Promise<Dispatcher.ResponseData> {
    const deadline = Date.now() + RETRY_DEADLINE_MS;
    // Tokens Copilot refused for this call. A 401 on one not refused before earns a new token
    // (twice at most): the token taken after the first 401 can itself be stale, written by a
    // refresh that exchanged before Copilot dropped the account's tokens.
    const refused = new Set<string>();
    let retries = 0;
    const pause = async (ms: number, reason: string) => {
      if (retries >= MAX_RETRIES || Date.now() + ms > deadline) return false;
      retries++;
      this.metrics.upstreamRetries.inc({ reason });
      await sleepUnlessAborted(ms, call.signal);
      if (call.signal?.aborted) throw new ClientGone();
      return true;
    };
    for (;;) {
      // A token in memory comes back as it is: no promise to wait on.
      const held = this.tokens.get(principal);
      const token = held instanceof Promise ? await held : held;
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
      if (res.statusCode === 401 && !refused.has(token.token) && refused.size < MAX_TOKEN_REFRESHES) {
        refused.add(token.token);
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
function abortOnHangup(reply: FastifyReply): CallSignal {
  const signal = new CallSignal();
  const out = reply.raw;
  // A client that left while the request waited (for the model list, a stored conversation) is
  // gone already: its 'close' has fired, so no call is made for it.
  if (out.destroyed || out.socket?.destroyed) {
    signal.abort();
    return signal;
  }
  out.once('close', () => {
    if (!out.writableFinished) signal.abort();
  });
  return signal;
}

/** What upstream may still send after the dialect's last event before its connection is cut instead. */
const DRAIN_BYTES = 64 * 1024;
const DRAIN_MS = 2_000;

/**
 * The upstream body once the client's answer is over. When the dialect wrote its last event before
 * upstream's end (a Responses stream is over at response.completed, and the end of the body is
 * still on its way), what remains is read and dropped, so the connection goes back to the pool:
 * cutting it instead makes undici close the socket, and every such stream cost a new connection.
 * An upstream that keeps going (a loop the dialect cut short) is cut after DRAIN_BYTES or DRAIN_MS.
 * Otherwise — a client gone, a stream broken — the body is destroyed at once.
 */
function release(body: Dispatcher.ResponseData['body'], drain: boolean) {
  if (body.destroyed || body.readableEnded) return;
  if (!drain) return void body.destroy();
  let left = DRAIN_BYTES;
  const cut = () => {
    if (!body.destroyed) body.destroy();
  };
  const timer = setTimeout(cut, DRAIN_MS);
  body.on('error', () => {}); // the cut's own error: nobody waits on this body any more
  body.on('data', (bytes: Buffer) => {
    left -= bytes.length;
    if (left < 0) cut();
  });
  body.once('close', () => clearTimeout(timer));
  body.resume();
}

const isEventStream = (type: string | string[] | undefined) => String(type ?? '').includes('text/event-stream');

export async function readJson(res: Dispatcher.ResponseData, signal?: { readonly aborted: boolean }): Promise<Record<string, any>> {
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

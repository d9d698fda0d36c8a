import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { constants as h2, createSecureServer, type Http2SecureServer, type Http2ServerResponse } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A stand-in for GitHub and the Copilot API in one HTTP server, behaving as
 * shared/docs/copilot-upstream.md says, quirks included: the empty-choices prompt-filter event,
 * events split at arbitrary bytes, "\r\n" line ends, usage riding on the finish chunk, Claude
 * splitting choices, duplicate model ids, 401 on stale tokens, 429 with Retry-After. Counters let
 * tests assert what reached "GitHub".
 *
 * Also: `/models` entries with supported_endpoints, limits, thinking budgets and billing; Anthropic's
 * `POST /v1/messages` for the models that list it (see `messages()` for its knobs); reasoning_text /
 * reasoning_opaque on Claude chat with a thinking_budget; late usage, cached tokens and
 * copilot_usage on request (`fake_usage`) or by option; 466 for an outdated editor-version
 * (`requireEditorVersion`); `initiators`, the x-initiator of every model call.
 *
 * And the OpenAI Responses API, `POST /responses`, for the models that list it (`gpt-5-codex`,
 * `gpt-5.4`): stateless as Copilot is (`store` must be false, `previous_response_id` and
 * `service_tier` refused), reasoning items with `encrypted_content`, function calls, and the
 * stream quirks seen from the real service as knobs (see `responses()`).
 *
 * With `tls` it serves HTTPS, HTTP/2 and HTTP/1.1 by ALPN as GitHub and Copilot do, and counts
 * what the transport carried (`http2`, `peakConnections`; `GET /_fake/connections` for another
 * process). Its "reset" is then a RST_STREAM of the one stream, and `goaway` a GOAWAY.
 */

export interface FakeUser {
  login: string;
  id: number;
  name?: string;
  /** what the token exchange answers: 'ok', or 403 (no access) / 404 (no subscription) */
  copilot?: 'ok' | 403 | 404;
}

export interface ScriptedResponse {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** delay before the status line */
  delayMs?: number;
  /** instead of an answer, this fault (see `misbehave()`; the status is not sent) */
  fault?: 'reset' | 'goaway';
}

export interface FakeOptions {
  /** any ghu_/gho_/ghp_/github_pat_ token is a valid user (for `npm start` smoke runs and the benchmark) */
  acceptAnyToken?: boolean;
  tokenTtlSeconds?: number;
  exchangeDelayMs?: number;
  /** stream shape: content events per completion and the gap between them */
  streamEvents?: number;
  streamIntervalMs?: number;
  /**
   * /responses streams: the body ends this long after the final event (`fake_stream.end_delay_ms`
   * per request), as a real server's last chunk can arrive in a read of its own
   */
  responsesEndDelayMs?: number;
  /** split every stream write at random byte offsets (default true) */
  splitWrites?: boolean;
  /** use "\r\n" line ends in the stream */
  crlf?: boolean;
  /** the device flow's polling interval (GitHub: 5) */
  deviceIntervalSeconds?: number;
  /**
   * Every Copilot API call (models, chat, embeddings, messages) whose `editor-version` is not this
   * exact value answers HTTP 466 `specified API version is no longer supported` (an outdated client
   * identity). Mutable at run time through `fake.options`.
   */
  requireEditorVersion?: string;
  /**
   * Chat streams send usage LATE: the finish_reason chunk without usage, then a last chunk
   * `{choices:[],usage}` before [DONE]. Per request: `fake_usage: {late: true}` in the chat body.
   */
  lateUsage?: boolean;
  /**
   * Report this many cached prompt tokens on every call (chat `usage.prompt_tokens_details.cached_tokens`,
   * messages `usage.cache_read_input_tokens`). Without it, calls carrying a cache hint
   * (`cache_control` / `copilot_cache_control` on a message, block, system block or tool) report
   * CACHE_HIT_TOKENS of their 12 prompt tokens as cached, and others none. Per request:
   * `fake_usage: {cached_tokens: N}`.
   */
  cachedTokens?: number;
  /** Add `copilot_usage: {total_nano_aiu: N}` to chat usage. Per request: `fake_usage: {total_nano_aiu: N}`. */
  nanoAiu?: number;
  /**
   * Responses streams: the `response.output_item.done` of every item carries a different item id
   * than its `response.output_item.added` (`true` or `'done'`; the sub-events keep the `.added`
   * id), or every event of an item a fresh id of its own (`'all'`), as real Copilot has been seen
   * doing. `response.completed` lists the `.done` ids. Per request: `fake_item_id_mismatch`.
   */
  itemIdMismatch?: boolean | 'done' | 'all';
  /**
   * Responses function calls: this many whitespace-only `response.function_call_arguments.delta`
   * events before the real arguments (which then start with that whitespace, still valid JSON).
   * Per request: `fake_whitespace_args: N`.
   */
  whitespaceArgs?: number;
  /**
   * With `whitespaceArgs`: whitespace INSTEAD of the arguments, the endless-whitespace quirk: the
   * call's `arguments` are only whitespace, its status `incomplete`, and the response ends
   * `incomplete` (max_output_tokens). Per request: `fake_whitespace_only: true`.
   */
  whitespaceArgsOnly?: boolean;
  /** `/responses` takes `store: true` and ignores it (default: 400, Copilot keeps no responses). */
  acceptStore?: boolean;
  /**
   * Serve HTTPS with this key and certificate: HTTP/2 and HTTP/1.1 by ALPN. Clients trust it
   * through NODE_EXTRA_CA_CERTS (test/support/tls.ts). Without it: plain HTTP/1.1.
   */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** with `tls`: the SETTINGS_MAX_CONCURRENT_STREAMS advertised (nghttp2 refuses streams past it); default 100 */
  maxConcurrentStreams?: number;
}

/** Prompt tokens every fake call reports, and how many of them count as cached when the request asks for caching. */
export const PROMPT_TOKENS = 12;
export const CACHE_HIT_TOKENS = 8;
/** Output tokens a /responses answer spends reasoning (reported as output_tokens_details.reasoning_tokens) before any text or call. */
export const RESPONSES_REASONING_TOKENS = 32;
/** The input item types /responses takes (others answer 400 invalid_value). */
export const RESPONSES_INPUT_TYPES = [
  'message',
  'function_call',
  'function_call_output',
  'reasoning',
  'custom_tool_call',
  'custom_tool_call_output',
  'local_shell_call',
  'local_shell_call_output',
  'web_search_call',
  'item_reference',
];
/** The anthropic-beta values Copilot's /v1/messages accepts; any other answers 400. */
export const ACCEPTED_ANTHROPIC_BETAS = ['interleaved-thinking-2025-05-14', 'context-management-2025-06-27', 'advanced-tool-use-2025-11-20'];

/** One Copilot model call as it arrived (after auth, header and version checks), for counting premium requests. */
export interface InitiatorRecord {
  route: 'chat' | 'messages' | 'embeddings' | 'responses';
  model: string | undefined;
  /** the `x-initiator` header (`user` | `agent`), undefined when absent */
  initiator: string | undefined;
  /** the `x-interaction-type` header, undefined when absent */
  interaction: string | undefined;
  /** the `openai-intent` header, undefined when absent */
  intent: string | undefined;
}

export interface FakeModel {
  id: string;
  vendor: string;
  type: 'chat' | 'embeddings';
  /** what /models lists as `supported_endpoints` (absent: the field is left out, as for embeddings) */
  endpoints?: string[];
  tokenizer?: 'o200k_base' | 'cl100k_base';
  limits?: { max_context_window_tokens?: number; max_output_tokens?: number; max_prompt_tokens?: number; max_non_streaming_output_tokens?: number; max_inputs?: number };
  supports?: Record<string, unknown>;
  billing?: { is_premium: boolean; multiplier: number; restricted_to?: string[] };
}

const GPT_SUPPORTS = { streaming: true, tool_calls: true, parallel_tool_calls: true, vision: true, structured_outputs: true };
const CLAUDE_SUPPORTS = { streaming: true, tool_calls: true, parallel_tool_calls: true, vision: true, max_thinking_budget: 32000, min_thinking_budget: 1024, adaptive_thinking: false };
const CHAT = ['/chat/completions'];
const CLAUDE = ['/v1/messages', '/chat/completions'];
const RESPONSES = ['/responses'];
const GPT_LIMITS = { max_context_window_tokens: 128000, max_output_tokens: 16384, max_prompt_tokens: 64000, max_non_streaming_output_tokens: 16384 };
const FREE = { is_premium: false, multiplier: 0 };

/**
 * What `/models` lists, in this order (duplicate ids included, as Copilot sends them). Claude
 * models take `/v1/messages` and `/chat/completions`; `gpt-5-codex` and `gpt-5.4` only
 * `/responses` (chat answers them `unsupported_api_for_model`, and `/responses` answers the
 * others so).
 */
export const FAKE_MODELS: FakeModel[] = [
  { id: 'gpt-4o', vendor: 'Azure OpenAI', type: 'chat', endpoints: CHAT, tokenizer: 'o200k_base', limits: { ...GPT_LIMITS, max_output_tokens: 4096, max_non_streaming_output_tokens: 4096 }, supports: GPT_SUPPORTS, billing: FREE },
  { id: 'gpt-4o', vendor: 'Azure OpenAI', type: 'chat', endpoints: CHAT, tokenizer: 'o200k_base', limits: { ...GPT_LIMITS, max_output_tokens: 4096, max_non_streaming_output_tokens: 4096 }, supports: GPT_SUPPORTS, billing: FREE },
  { id: 'gpt-4.1', vendor: 'Azure OpenAI', type: 'chat', endpoints: CHAT, tokenizer: 'o200k_base', limits: GPT_LIMITS, supports: GPT_SUPPORTS, billing: FREE },
  {
    id: 'claude-sonnet-4',
    vendor: 'Anthropic',
    type: 'chat',
    endpoints: CLAUDE,
    tokenizer: 'o200k_base',
    limits: { max_context_window_tokens: 216000, max_output_tokens: 16000, max_prompt_tokens: 128000, max_non_streaming_output_tokens: 16000 },
    supports: CLAUDE_SUPPORTS,
    billing: { is_premium: true, multiplier: 1 },
  },
  {
    id: 'o3-mini',
    vendor: 'Azure OpenAI',
    type: 'chat',
    endpoints: CHAT,
    tokenizer: 'o200k_base',
    limits: { max_context_window_tokens: 200000, max_output_tokens: 100000, max_prompt_tokens: 64000, max_non_streaming_output_tokens: 100000 },
    supports: { streaming: true, tool_calls: true, structured_outputs: true, reasoning_effort: ['low', 'medium', 'high'] },
    billing: { is_premium: true, multiplier: 0.33 },
  },
  { id: 'text-embedding-3-small', vendor: 'Azure OpenAI', type: 'embeddings', tokenizer: 'cl100k_base', limits: { max_prompt_tokens: 64000, max_inputs: 512 }, supports: { dimensions: true }, billing: FREE },
  { id: 'text-embedding-3-small', vendor: 'Azure OpenAI', type: 'embeddings', tokenizer: 'cl100k_base', limits: { max_prompt_tokens: 64000, max_inputs: 512 }, supports: { dimensions: true }, billing: FREE },
  {
    id: 'claude-haiku-4.5',
    vendor: 'Anthropic',
    type: 'chat',
    endpoints: CLAUDE,
    tokenizer: 'o200k_base',
    limits: { max_context_window_tokens: 144000, max_output_tokens: 16000, max_prompt_tokens: 128000, max_non_streaming_output_tokens: 16000 },
    supports: CLAUDE_SUPPORTS,
    billing: { is_premium: true, multiplier: 0.33 },
  },
  {
    id: 'claude-opus-4.1',
    vendor: 'Anthropic',
    type: 'chat',
    endpoints: CLAUDE,
    tokenizer: 'o200k_base',
    limits: { max_context_window_tokens: 80000, max_output_tokens: 16000, max_prompt_tokens: 80000, max_non_streaming_output_tokens: 16000 },
    supports: { ...CLAUDE_SUPPORTS, parallel_tool_calls: false },
    billing: { is_premium: true, multiplier: 10, restricted_to: ['pro_plus', 'business', 'enterprise'] },
  },
  {
    id: 'gpt-5-codex',
    vendor: 'OpenAI',
    type: 'chat',
    endpoints: RESPONSES,
    tokenizer: 'o200k_base',
    limits: { max_context_window_tokens: 400000, max_output_tokens: 128000, max_prompt_tokens: 272000, max_non_streaming_output_tokens: 128000 },
    supports: { streaming: true, tool_calls: true, parallel_tool_calls: true, vision: true, structured_outputs: true, reasoning_effort: ['low', 'medium', 'high'] },
    billing: { is_premium: true, multiplier: 1 },
  },
  {
    id: 'gpt-5.4',
    vendor: 'OpenAI',
    type: 'chat',
    endpoints: RESPONSES,
    tokenizer: 'o200k_base',
    limits: { max_context_window_tokens: 400000, max_output_tokens: 128000, max_prompt_tokens: 272000, max_non_streaming_output_tokens: 128000 },
    supports: { streaming: true, tool_calls: true, parallel_tool_calls: true, vision: true, structured_outputs: true, reasoning_effort: ['low', 'medium', 'high', 'xhigh'] },
    billing: { is_premium: true, multiplier: 1 },
  },
];

const GITHUB_TOKEN = /^(ghu_|gho_|ghp_|ghs_|github_pat_)/;
const REQUIRED_COPILOT_HEADERS = ['editor-version', 'editor-plugin-version', 'copilot-integration-id', 'user-agent'];

interface DeviceSession {
  deviceCode: string;
  userCode: string;
  expiresAt: number;
  interval: number;
  lastPoll: number;
  state: 'pending' | 'approved' | 'denied' | 'used';
  githubToken?: string;
}

export class FakeCopilot {
  /** device code → session of the device flow (RFC 8628 as GitHub runs it) */
  readonly devices = new Map<string, DeviceSession>();
  readonly users = new Map<string, FakeUser>();
  /** copilot token → expiry (epoch ms) */
  private readonly tokens = new Map<string, number>();
  private readonly scripted: { route: string; response: ScriptedResponse }[] = [];
  private server!: Server | Http2SecureServer;
  url = '';

  readonly counters = {
    /** token exchanges that arrived */
    exchanges: 0,
    /** token exchanges whose caller left before the answer (a replica killed mid-exchange) */
    exchangesAbandoned: 0,
    chatRequests: 0,
    chatCompleted: 0,
    /** streams the client side closed before the fake finished writing */
    streamsCancelled: 0,
    /** requests whose client left before the fake answered at all */
    requestsCancelled: 0,
    /** polls of /login/oauth/access_token */
    devicePolls: 0,
    /** device flows started (POST /login/device/code) */
    deviceStarts: 0,
    /** GET /user calls */
    userRequests: 0,
    /** Copilot API calls refused for a stale or unknown token */
    unauthorized: 0,
    modelsRequests: 0,
    embeddingsRequests: 0,
    /** POST /v1/messages calls that passed auth and the header checks */
    messagesRequests: 0,
    /** /v1/messages answers finished (non-stream sent, or stream ended with message_stop) */
    messagesCompleted: 0,
    /** Copilot API calls answered 466 by `requireEditorVersion` */
    versionRejected: 0,
    /** POST /responses calls that passed auth and the header checks */
    responsesRequests: 0,
    /** /responses answers finished (non-stream sent, or stream ended with response.completed / response.incomplete) */
    responsesCompleted: 0,
  };
  /** x-initiator / x-interaction-type / openai-intent of every chat, messages, responses and embeddings call, in order (cleared by resetCounters) */
  readonly initiators: InitiatorRecord[] = [];
  /** the last /v1/messages body, parsed (null until one arrives or when it was not JSON) */
  lastMessagesBody: any = null;
  /** the bytes of the last /v1/messages request, as they arrived */
  lastMessagesRaw = '';
  /** the last /responses body, parsed (null until one arrives or when it was not JSON) */
  lastResponsesBody: any = null;
  /** the bytes of the last /responses request, as they arrived */
  lastResponsesRaw = '';
  /** headers of the last Copilot API call, lower-cased */
  lastHeaders: Record<string, string | string[] | undefined> = {};
  lastChatBody: any = null;
  /** the bytes of the last chat request, as they arrived */
  lastChatRaw = '';
  /** every Copilot token handed out, for tests that look for them where they must not be */
  readonly issuedTokens: string[] = [];
  private readonly sockets = new Set<Socket>();
  /** the most TCP connections open at once, since start or resetPeaks() */
  peakConnections = 0;
  /** TCP connections accepted since start: a client that reuses its connections adds none per call */
  connectionsMade = 0;
  /**
   * HTTPS mode: HTTP/2 sessions made, open now and at most at once (since resetPeaks()), streams,
   * the most streams one session carried at once, and streams reset (RST_STREAM, mostly by the
   * client) before the fake had finished its answer.
   */
  readonly http2 = { sessions: 0, openSessions: 0, peakSessions: 0, streams: 0, peakStreams: 0, streamsReset: 0 };
  /** the HTTP version ('1.1', '2.0') each route (`GET /models`) last came over */
  readonly httpVersions = new Map<string, string>();

  /** TCP connections open to the fake right now (the leak tests count them). */
  get openConnections(): number {
    return this.sockets.size;
  }

  /** Peaks start again from what is open now. */
  resetPeaks(): void {
    this.peakConnections = this.sockets.size;
    this.http2.peakSessions = this.http2.openSessions;
    this.http2.peakStreams = 0;
  }

  /** What `GET /_fake/connections` answers. */
  connectionStats() {
    return { open: this.sockets.size, peak: this.peakConnections, http2: { ...this.http2 } };
  }

  constructor(readonly options: FakeOptions = {}) {}

  async start(port = 0, host = '127.0.0.1'): Promise<this> {
    // HTTP/2's compat request and response answer the calls the handlers make, as HTTP/1.1's do.
    const handler = (req: IncomingMessage, res: ServerResponse) =>
      this.handle(req, res).catch((err) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
    const { tls } = this.options;
    if (tls) {
      const server = createSecureServer(
        { ...tls, allowHTTP1: true, settings: { maxConcurrentStreams: this.options.maxConcurrentStreams ?? 100 } },
        handler as unknown as Parameters<typeof createSecureServer>[1],
      );
      server.on('session', (session) => {
        this.http2.sessions++;
        this.http2.peakSessions = Math.max(this.http2.peakSessions, ++this.http2.openSessions);
        let open = 0;
        session.on('stream', (stream) => {
          this.http2.streams++;
          this.http2.peakStreams = Math.max(this.http2.peakStreams, ++open);
          stream.once('aborted', () => this.http2.streamsReset++);
          stream.once('close', () => open--);
        });
        session.once('close', () => this.http2.openSessions--);
      });
      this.server = server;
    } else {
      const server = createServer(handler);
      server.keepAliveTimeout = 60_000;
      this.server = server;
    }
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      this.connectionsMade++;
      this.peakConnections = Math.max(this.peakConnections, this.sockets.size);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server.listen({ port, host, backlog: 4096 }, resolve));
    this.url = `${tls ? 'https' : 'http'}://${host}:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  addUser(githubToken: string, user: FakeUser): this {
    this.users.set(githubToken, { copilot: 'ok', ...user });
    return this;
  }

  /** The next call(s) to `route` ('chat', 'messages', 'responses', 'models', 'embeddings', 'exchange', 'user') answer this instead. */
  script(route: 'chat' | 'messages' | 'responses' | 'models' | 'embeddings' | 'exchange' | 'user', response: ScriptedResponse, times = 1): this {
    for (let i = 0; i < times; i++) this.scripted.push({ route, response });
    return this;
  }

  /** The next call(s) to `route` meet this fault instead of an answer (see `misbehave()`), then it answers again. */
  faultNext(route: 'chat' | 'messages' | 'responses' | 'models' | 'embeddings', fault: 'reset' | 'goaway', times = 1): this {
    return this.script(route, { status: 0, fault }, times);
  }

  /** Every Copilot token issued so far goes stale: the next call with one answers 401. */
  expireTokens(): void {
    for (const t of this.tokens.keys()) this.tokens.set(t, 0);
  }

  /** The person at github.com/login/device enters the code and approves as the owner of `githubToken`. */
  approveDevice(userCode: string, githubToken: string): void {
    const d = [...this.devices.values()].find((x) => x.userCode === userCode);
    if (!d) throw new Error(`no device session for ${userCode}`);
    d.state = 'approved';
    d.githubToken = githubToken;
  }

  denyDevice(userCode: string): void {
    const d = [...this.devices.values()].find((x) => x.userCode === userCode);
    if (!d) throw new Error(`no device session for ${userCode}`);
    d.state = 'denied';
  }

  /** The next poll for this code answers slow_down with a 5 s longer interval. */
  slowDown(userCode: string): void {
    const d = [...this.devices.values()].find((x) => x.userCode === userCode);
    if (d) d.lastPoll = Date.now() + 60_000;
  }

  expireDevice(userCode: string): void {
    const d = [...this.devices.values()].find((x) => x.userCode === userCode);
    if (d) d.expiresAt = 0;
  }

  resetCounters(): void {
    for (const k of Object.keys(this.counters) as (keyof typeof this.counters)[]) this.counters[k] = 0;
    this.initiators.length = 0;
  }

  /**
   * Premium requests the recorded calls would cost under the request-based plans: each
   * user-initiated chat/messages/responses call costs its model's `billing.multiplier`; agent calls are free.
   */
  premiumRequests(): number {
    return this.initiators
      .filter((r) => r.route !== 'embeddings' && r.initiator === 'user')
      .reduce((sum, r) => sum + (FAKE_MODELS.find((m) => m.id === r.model)?.billing?.multiplier ?? 0), 0);
  }

  private takeScript(route: string): ScriptedResponse | undefined {
    const i = this.scripted.findIndex((s) => s.route === route);
    return i === -1 ? undefined : this.scripted.splice(i, 1)[0].response;
  }

  private async answerScripted(req: IncomingMessage, res: ServerResponse, s: ScriptedResponse) {
    if (s.fault) return this.misbehave(req, res, { fake_fault: s.fault });
    if (s.delayMs) {
      const gone = await waitOrClose(req, res, s.delayMs);
      if (gone) {
        this.counters.requestsCancelled++;
        return;
      }
    }
    res.writeHead(s.status, { 'content-type': 'application/json', ...s.headers });
    res.end(s.body ?? '');
  }

  private user(token: string | undefined): FakeUser | undefined {
    if (!token) return undefined;
    const known = this.users.get(token);
    if (known) return known;
    if (this.options.acceptAnyToken && GITHUB_TOKEN.test(token)) {
      const id = parseInt(token.replace(/[^0-9a-f]/gi, '').slice(0, 6) || '1', 16) + 1000;
      return { login: `user${id}`, id, copilot: 'ok' };
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const auth = req.headers.authorization ?? '';
    const route = `${req.method} ${url.pathname}`;
    this.httpVersions.set(route, req.httpVersion);

    if (route === 'GET /_fake/connections') return json(res, 200, this.connectionStats());
    if (route === 'DELETE /_fake/connections') {
      this.resetPeaks();
      return json(res, 200, this.connectionStats());
    }

    if (route === 'POST /login/device/code') {
      this.counters.deviceStarts++;
      const form = new URLSearchParams(await readBody(req));
      if (!form.get('client_id')) return json(res, 200, { error: 'unauthorized_client' });
      const d: DeviceSession = {
        deviceCode: randomBytes(20).toString('hex'),
        userCode: `${randomBytes(2).toString('hex')}-${randomBytes(2).toString('hex')}`.toUpperCase(),
        expiresAt: Date.now() + 900_000,
        interval: this.options.deviceIntervalSeconds ?? 5,
        lastPoll: 0,
        state: 'pending',
      };
      this.devices.set(d.deviceCode, d);
      return json(res, 200, { device_code: d.deviceCode, user_code: d.userCode, verification_uri: `${this.url}/login/device`, expires_in: 900, interval: d.interval });
    }

    if (route === 'POST /login/oauth/access_token') {
      this.counters.devicePolls++;
      const form = new URLSearchParams(await readBody(req));
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:device_code') return json(res, 200, { error: 'unsupported_grant_type' });
      const d = this.devices.get(form.get('device_code') ?? '');
      if (!d || d.state === 'used') return json(res, 200, { error: 'incorrect_device_code' });
      if (d.expiresAt <= Date.now()) return json(res, 200, { error: 'expired_token' });
      // Polling faster than the interval earns a slow_down and a longer interval, as on GitHub.
      if (Date.now() - d.lastPoll < d.interval * 1000) {
        d.interval += 5;
        d.lastPoll = Date.now();
        return json(res, 200, { error: 'slow_down', error_description: 'Too many requests', interval: d.interval });
      }
      d.lastPoll = Date.now();
      if (d.state === 'denied') return json(res, 200, { error: 'access_denied' });
      if (d.state === 'pending') return json(res, 200, { error: 'authorization_pending' });
      d.state = 'used';
      return json(res, 200, { access_token: d.githubToken, token_type: 'bearer', scope: '' });
    }

    if (route === 'GET /user') {
      this.counters.userRequests++;
      const scripted = this.takeScript('user');
      if (scripted) return this.answerScripted(req, res, scripted);
      const user = this.user(auth.replace(/^(Bearer|token)\s+/i, ''));
      if (!user) return json(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
      return json(res, 200, { login: user.login, id: user.id, name: user.name ?? user.login, type: 'User' });
    }

    if (route === 'GET /copilot_internal/v2/token') {
      this.counters.exchanges++;
      if (this.options.exchangeDelayMs && (await waitOrClose(req, res, this.options.exchangeDelayMs))) {
        this.counters.exchangesAbandoned++;
        return;
      }
      const scripted = this.takeScript('exchange');
      if (scripted) return this.answerScripted(req, res, scripted);
      const user = /^token\s+/i.test(auth) ? this.user(auth.replace(/^token\s+/i, '')) : undefined;
      if (!user) return json(res, 401, { message: 'Bad credentials' });
      if (user.copilot === 403) return json(res, 403, { message: 'Resource not accessible by integration' });
      if (user.copilot === 404) return json(res, 404, { message: 'Not Found' });
      const ttl = this.options.tokenTtlSeconds ?? 1800;
      const exp = Math.floor(Date.now() / 1000) + ttl;
      const token = `tid=${randomBytes(8).toString('hex')};exp=${exp};sku=copilot_for_individuals;proxy-ep=proxy.individual.githubcopilot.com;8kp=1:${randomBytes(16).toString('hex')}`;
      this.tokens.set(token, exp * 1000);
      this.issuedTokens.push(token);
      return json(res, 200, {
        token,
        expires_at: exp,
        refresh_in: Math.max(1, ttl - 300),
        endpoints: { api: this.url, proxy: this.url, telemetry: this.url, 'origin-tracker': this.url },
        sku: 'copilot_for_individuals',
        individual: true,
        chat_enabled: true,
      });
    }

    if (route === 'GET /copilot_internal/user') {
      const user = this.user(auth.replace(/^(Bearer|token)\s+/i, ''));
      if (!user) return json(res, 401, { message: 'Bad credentials' });
      return json(res, 200, {
        copilot_plan: 'individual',
        quota_reset_date: '2026-12-01',
        quota_snapshots: { chat: { unlimited: true }, premium_interactions: { entitlement: 300, remaining: 280, percent_remaining: 93.3, unlimited: false } },
      });
    }

    // --- the Copilot API ---
    if (!['GET /models', 'POST /chat/completions', 'POST /embeddings', 'POST /v1/messages', 'POST /responses'].includes(route)) {
      res.writeHead(404, { 'content-type': 'text/html' });
      return res.end('<html><body><h1>404 Not Found</h1></body></html>');
    }
    this.lastHeaders = { ...req.headers };
    const body = req.method === 'POST' ? await readBody(req) : '';
    const expiry = this.tokens.get(auth.replace(/^Bearer\s+/i, ''));
    if (expiry === undefined || expiry <= Date.now()) {
      this.counters.unauthorized++;
      res.writeHead(401, { 'content-type': 'text/plain' });
      return res.end('unauthorized: token expired');
    }
    const missing = REQUIRED_COPILOT_HEADERS.find((h) => !req.headers[h]);
    if (missing) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      return res.end(`bad request: missing ${missing} header for IDE auth`);
    }
    const wanted = this.options.requireEditorVersion;
    if (wanted !== undefined && req.headers['editor-version'] !== wanted) {
      this.counters.versionRejected++;
      res.writeHead(466, { 'content-type': 'text/plain; charset=utf-8' });
      return res.end('specified API version is no longer supported');
    }
    if (req.method === 'POST') {
      const header = (h: string) => (typeof req.headers[h] === 'string' ? (req.headers[h] as string) : undefined);
      let model: string | undefined;
      try {
        const m = JSON.parse(body)?.model;
        model = typeof m === 'string' ? m : undefined;
      } catch {
        model = undefined;
      }
      this.initiators.push({
        route: route === 'POST /chat/completions' ? 'chat' : route === 'POST /v1/messages' ? 'messages' : route === 'POST /responses' ? 'responses' : 'embeddings',
        model,
        initiator: header('x-initiator'),
        interaction: header('x-interaction-type'),
        intent: header('openai-intent'),
      });
    }

    if (route === 'GET /models') {
      this.counters.modelsRequests++;
      const s = this.takeScript('models');
      if (s) return this.answerScripted(req, res, s);
      return json(res, 200, {
        object: 'list',
        data: FAKE_MODELS.map((m) => ({
          id: m.id,
          name: m.id,
          vendor: m.vendor,
          version: m.id,
          preview: false,
          model_picker_enabled: true,
          policy: { state: 'enabled' },
          ...(m.endpoints ? { supported_endpoints: [...m.endpoints] } : {}),
          capabilities: {
            family: m.id,
            object: 'model_capabilities',
            type: m.type,
            tokenizer: m.tokenizer ?? 'o200k_base',
            limits: { ...(m.limits ?? { max_prompt_tokens: 64000 }) },
            supports: { ...(m.supports ?? { streaming: true, tool_calls: true }) },
          },
          ...(m.billing ? { billing: { ...m.billing } } : {}),
        })),
      });
    }

    if (route === 'POST /embeddings') {
      this.counters.embeddingsRequests++;
      const s = this.takeScript('embeddings');
      if (s) return this.answerScripted(req, res, s);
      let parsed: any;
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = null;
      }
      if (typeof parsed !== 'object' || parsed === null || parsed.input === undefined)
        return json(res, 400, { error: { message: 'input: expected a string or an array', code: 'invalid_request_body', param: 'input', type: 'invalid_request_error' } });
      const inputs = Array.isArray(parsed.input) ? parsed.input : [parsed.input];
      return json(res, 200, {
        data: inputs.map((_: unknown, i: number) => ({ object: 'embedding', index: i, embedding: [0.1, -0.2, 0.3] })),
        model: parsed.model,
        usage: { prompt_tokens: inputs.length * 3, total_tokens: inputs.length * 3 },
      });
    }

    if (route === 'POST /v1/messages') return this.messages(req, res, body);
    if (route === 'POST /responses') return this.responses(req, res, body);

    this.counters.chatRequests++;
    this.lastChatRaw = body;
    const s = this.takeScript('chat');
    if (s) return this.answerScripted(req, res, s);
    const chat = parseChat(body);
    if (typeof chat === 'string') return json(res, 400, { error: { message: chat, code: 'invalid_request_body', param: null, type: 'invalid_request_error' } });
    this.lastChatBody = chat;
    if (chat.fake_fault) return this.misbehave(req, res, chat);
    if (!FAKE_MODELS.some((m) => m.id === chat.model && m.type === 'chat')) {
      return json(res, 400, { error: { message: 'The requested model is not supported.', code: 'model_not_supported', param: 'model', type: 'invalid_request_error' } });
    }
    const endpoints = FAKE_MODELS.find((m) => m.id === chat.model)?.endpoints;
    if (endpoints && !endpoints.includes('/chat/completions')) return json(res, 400, unsupportedApi(chat.model, '/chat/completions'));
    const thinkingError = checkThinkingBudget(chat);
    if (thinkingError) return json(res, 400, { error: { message: thinkingError, code: 'invalid_request_body' } });
    if (chat.stream) return this.stream(req, res, chat);
    return this.complete(res, chat);
  }

  /**
   * Failures real upstreams produce, chosen per request by the body's `fake_fault` (so retries of
   * one request meet the same fault): headers that come late, a stream that stops mid-way, a body
   * cut off, an HTML error page, a 200 that is not JSON, a reset connection (over HTTP/2 a
   * RST_STREAM of this stream only), a GOAWAY (over HTTP/1.1 a reset connection), and either after
   * the stream's first event (`reset_mid_stream`, `goaway_mid_stream`); see `cut()`.
   */
  private async misbehave(req: IncomingMessage, res: ServerResponse, chat: any) {
    switch (chat.fake_fault) {
      case 'slow_headers':
        if (await waitOrClose(req, res, Number(chat.fake_delay_ms ?? 5000))) return void this.counters.requestsCancelled++;
        return this.complete(res, chat);
      case 'stall':
        res.on('close', () => this.counters.streamsCancelled++);
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`data: ${JSON.stringify({ id: 'chatcmpl-stall', created: 0, model: chat.model, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' } }] })}\n\n`);
        return; // and nothing more, until the client gives up
      case 'truncated': {
        const text = '{"id":"chatcmpl-cut","object":"chat.completion","choices":[{"index":0,"message":{"role":"assis';
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': text.length + 200 });
        res.write(text);
        return void setTimeout(() => this.cut(req, res, 'reset'), 5);
      }
      case 'truncated_json':
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end('{"id":"chatcmpl-cut","choices":[{"index":0,"message":{"role":"assis');
      case 'html_500':
        res.writeHead(500, { 'content-type': 'text/html' });
        return void res.end('<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head><body><h1>Unicorn!</h1></body></html>');
      case 'not_json':
        res.writeHead(200, { 'content-type': 'text/plain' });
        return void res.end('OK');
      case 'reset':
      case 'goaway':
        return this.cut(req, res, chat.fake_fault);
      case 'reset_mid_stream':
      case 'goaway_mid_stream':
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`data: ${JSON.stringify({ id: 'chatcmpl-cut', created: 0, model: chat.model, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' } }] })}\n\n`);
        return void setTimeout(() => this.cut(req, res, chat.fake_fault.replace('_mid_stream', '')), 20);
      default:
        return json(res, 400, { error: { message: `unknown fake_fault ${chat.fake_fault}`, code: 'invalid_request_body' } });
    }
  }

  /**
   * Over HTTP/2 a reset is a RST_STREAM (INTERNAL_ERROR) of this stream only, and a GOAWAY refuses
   * this stream (RST_STREAM REFUSED_STREAM: the client may retry it) and closes the session, which
   * sends the GOAWAY and lets the other streams finish. Over HTTP/1.1 both close the connection.
   * Not `session.goaway(code, last)` nor `session.destroy()`: with streams reset on the same
   * session, Node 20's http2 server corrupts its heap and aborts ("corrupted size vs. prev_size").
   */
  private cut(req: IncomingMessage, res: ServerResponse, how: 'reset' | 'goaway') {
    const stream = (res as unknown as Partial<Http2ServerResponse>).stream;
    if (!stream) return void req.socket.destroy();
    const session = stream.session;
    if (!session || session.destroyed) return;
    stream.close(how === 'reset' ? h2.NGHTTP2_INTERNAL_ERROR : h2.NGHTTP2_REFUSED_STREAM);
    if (how === 'goaway' && !session.closed) session.close();
  }

  /** Cached prompt tokens for this call: the per-request knob, the option, else CACHE_HIT_TOKENS when the request asks for caching. */
  private cachedTokens(fakeUsage: any, hinted: boolean): number | undefined {
    const knob = fakeUsage?.cached_tokens ?? this.options.cachedTokens;
    if (knob !== undefined) return Math.max(0, Math.min(PROMPT_TOKENS, Math.floor(Number(knob)) || 0));
    return hinted ? CACHE_HIT_TOKENS : undefined;
  }

  /** Chat usage: {12, completion, total}, plus prompt_tokens_details.cached_tokens and copilot_usage when asked for. */
  private chatUsage(chat: any, completion: number): Record<string, unknown> {
    const usage: Record<string, unknown> = { prompt_tokens: PROMPT_TOKENS, completion_tokens: completion, total_tokens: PROMPT_TOKENS + completion };
    const fakeUsage = isObject(chat.fake_usage) ? chat.fake_usage : undefined;
    const cached = this.cachedTokens(fakeUsage, hasCacheHint(chat));
    if (cached !== undefined) usage.prompt_tokens_details = { cached_tokens: cached };
    const nano = fakeUsage?.total_nano_aiu ?? this.options.nanoAiu;
    if (nano !== undefined) usage.copilot_usage = { total_nano_aiu: Number(nano) };
    return usage;
  }

  private complete(res: ServerResponse, chat: any) {
    this.counters.chatCompleted++;
    const id = `chatcmpl-${randomBytes(6).toString('hex')}`;
    const usage = this.chatUsage(chat, 5);
    const filter = { hate: { filtered: false, severity: 'safe' } };
    const call = toolCall(chat);
    const claudeTools = call && chat.model.startsWith('claude');
    const choices = !call
      ? [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `Hello from ${chat.model}!` }, content_filter_results: filter }]
      : !claudeTools
        ? [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: call }] }, content_filter_results: filter }]
      : [
          { index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: 'Let me check the weather.' } },
          {
            index: 1,
            finish_reason: 'tool_calls',
            message: { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: call }] },
          },
        ];
    // Claude with a thinking_budget: the thinking and its signature ride on the (first) message.
    if (wantsReasoning(chat)) Object.assign((choices[0] as any).message, { reasoning_text: REASONING.join(''), reasoning_opaque: signature() });
    json(res, 200, { id, created: Math.floor(Date.now() / 1000), model: chat.model, choices, usage, prompt_filter_results: [{ prompt_index: 0, content_filter_results: filter }], system_fingerprint: 'fp_fake' });
  }

  private async stream(req: IncomingMessage, res: ServerResponse, chat: any) {
    const eol = this.options.crlf ? '\r\n' : '\n';
    // A request may ask for its own stream shape (the benchmark's slow streams do):
    // `fake_stream: {events, interval_ms, first_ms}`.
    const shape = chat.fake_stream ?? {};
    const n = Number(shape.events ?? this.options.streamEvents ?? 5);
    const gap = Number(shape.interval_ms ?? this.options.streamIntervalMs ?? 0);
    // the first content event's delay (a model's time to first token); the gap by default
    const first = Number(shape.first_ms ?? gap);
    const split = this.options.splitWrites ?? true;
    const id = `chatcmpl-${randomBytes(6).toString('hex')}`;
    const created = Math.floor(Date.now() / 1000);
    const filter = { hate: { filtered: false, severity: 'safe' } };
    let closed = false;
    res.on('close', () => {
      if (!answered(res)) {
        closed = true;
        this.counters.streamsCancelled++;
      }
    });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    // `pad_bytes` makes each event that much bigger: a big reply, written as a real server does,
    // waiting for the socket to drain (so a client that stops reading holds the connection).
    const pad = 'x'.repeat(Number(shape.pad_bytes ?? 0));
    const send = async (payload: unknown) => {
      const text = `data: ${typeof payload === 'string' ? payload : JSON.stringify(payload)}${eol}${eol}`;
      if (pad) {
        if (!res.write(text)) await new Promise<void>((r) => (res.once('drain', r), res.once('close', r)));
        return;
      }
      if (!split) return void res.write(text);
      // Arbitrary byte boundaries, even inside a multi-byte character or the "\r\n".
      const bytes = Buffer.from(text);
      let at = 0;
      while (at < bytes.length) {
        const step = 1 + Math.floor(Math.random() * 40);
        res.write(bytes.subarray(at, at + step));
        at += step;
      }
    };
    await send({ choices: [], created: 0, id: '', prompt_filter_results: [{ prompt_index: 0, content_filter_results: filter }] });
    // Claude with a thinking_budget: reasoning_text deltas, then the signature (reasoning_opaque), before any content.
    if (wantsReasoning(chat)) {
      for (const [i, part] of REASONING.entries()) {
        if (closed) return;
        const delta = i === 0 ? { role: 'assistant', content: null, reasoning_text: part } : { content: null, reasoning_text: part };
        await send({ choices: [{ index: 0, delta }], created, id, model: chat.model });
      }
      if (closed) return;
      await send({ choices: [{ index: 0, delta: { content: null, reasoning_opaque: signature() } }], created, id, model: chat.model });
    }
    const words = ['Hello', ' from', ` ${chat.model}`, ' — ünïcödé ✓', '!'];
    // Events keep to a fixed timeline (like a model emitting tokens), so a busy event loop delays
    // one event without pushing every later one back.
    const t0 = Date.now();
    for (let i = 0; i < n && !closed; i++) {
      const due = t0 + first + i * gap - Date.now();
      if (gap || first) await new Promise((r) => setTimeout(r, Math.max(0, due)));
      if (closed) return;
      const delta = i === 0 ? { role: 'assistant', content: words[0] + pad } : { content: words[i % words.length] + pad };
      await send({ choices: [{ index: 0, delta, content_filter_offsets: { check_offset: 1, start_offset: 0, end_offset: 5 }, content_filter_results: filter }], created, id, model: chat.model, system_fingerprint: 'fp_fake' });
    }
    if (closed) return;
    const call = toolCall(chat);
    if (call) {
      // Claude models put the call on a choice of its own (index 1); the others on choice 0, in two fragments.
      const claude = chat.model.startsWith('claude');
      const cut = Math.floor(call.arguments.length / 2);
      await send({ choices: [{ index: claude ? 1 : 0, delta: { tool_calls: [{ index: 0, id: claude ? 'toolu_1' : 'call_1', type: 'function', function: { name: call.name, arguments: call.arguments.slice(0, cut) } }] } }], created, id, model: chat.model });
      await send({ choices: [{ index: claude ? 1 : 0, delta: { tool_calls: [{ index: 0, function: { arguments: call.arguments.slice(cut) } }] } }], created, id, model: chat.model });
    }
    const finish = call ? 'tool_calls' : 'stop';
    const usage = this.chatUsage(chat, n);
    if (chat.fake_usage?.late ?? this.options.lateUsage) {
      // Usage LATE: the finish chunk without it, then a chunk of its own with empty choices.
      await send({ choices: [{ index: 0, finish_reason: finish, delta: { content: null } }], created, id, model: chat.model });
      await send({ choices: [], created, id, model: chat.model, usage });
    } else {
      await send({ choices: [{ index: 0, finish_reason: finish, delta: { content: null } }], created, id, model: chat.model, usage });
    }
    await send('[DONE]');
    this.counters.chatCompleted++;
    res.end();
  }

  // --- POST /v1/messages: Anthropic's Messages API, for the models that list it (Claude) ---

  /**
   * Knobs, read from the top level of the body or, for a translator that keeps only Anthropic
   * fields, from `metadata` (top level wins):
   * - `fake_fault`: `slow_headers` (with `fake_delay_ms`, then a normal non-stream answer),
   *   `stall` (message_start, a text block and one delta, then nothing until the client leaves),
   *   `stream_error` (one text delta, then `event: error` overloaded_error and the end), and the
   *   chat route's `truncated`, `truncated_json`, `html_500`, `not_json`, `reset`.
   *   e.g. `{"metadata":{"user_id":"u","fake_fault":"html_500"}}`.
   * - `fake_stream: {events, interval_ms}`: text deltas and the gap between them (as on chat).
   * - `fake_usage: {cached_tokens}`: cache_read_input_tokens.
   * `script('messages', …)` answers ahead of everything but auth and the header checks.
   */
  private async messages(req: IncomingMessage, res: ServerResponse, body: string) {
    this.counters.messagesRequests++;
    this.lastMessagesRaw = body;
    const s = this.takeScript('messages');
    if (s) return this.answerScripted(req, res, s);
    let msg: any;
    try {
      msg = JSON.parse(body);
    } catch {
      return json(res, 400, invalidBody('Invalid JSON in request body'));
    }
    if (!isObject(msg)) return json(res, 400, invalidBody('The request body must be a JSON object'));
    this.lastMessagesBody = msg;
    if (typeof msg.model !== 'string') return json(res, 400, invalidBody('model: Field required'));
    const fault = messagesKnob(msg, 'fake_fault');
    if (fault) return this.misbehaveMessages(req, res, msg, fault);
    const model = FAKE_MODELS.find((m) => m.id === msg.model && m.type === 'chat');
    if (!model) return json(res, 400, { error: { message: 'The requested model is not supported.', code: 'model_not_supported', param: 'model', type: 'invalid_request_error' } });
    if (!(model.endpoints ?? ['/chat/completions']).includes('/v1/messages')) return json(res, 400, unsupportedApi(msg.model, '/v1/messages'));
    const betas = String(req.headers['anthropic-beta'] ?? '')
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean);
    const refused = betas.filter((b) => !ACCEPTED_ANTHROPIC_BETAS.includes(b));
    if (refused.length)
      return json(res, 400, {
        error: {
          message: `Unexpected value(s) ${refused.join(', ')} for the anthropic-beta header. Please consult our documentation at docs.anthropic.com or try again without the header.`,
          code: 'invalid_request_body',
        },
      });
    if (Array.isArray(msg.tools) && msg.tools.some((t: any) => isObject(t) && typeof t.type === 'string' && t.type.startsWith('web_search'))) {
      // As captured from Copilot: a JSON body under text/plain, refused before the model runs.
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
      return res.end(`${JSON.stringify({ error: { message: 'The use of the web search tool is not supported.', code: 'unsupported_value' } })}\n`);
    }
    const invalid = validateMessages(msg);
    if (invalid) return json(res, 400, invalidBody(invalid));
    if (msg.stream === true) return this.streamMessages(req, res, msg);
    return this.completeMessages(res, msg);
  }

  private async misbehaveMessages(req: IncomingMessage, res: ServerResponse, msg: any, fault: string) {
    const plan = () => this.planMessages(msg);
    switch (fault) {
      case 'slow_headers':
        if (await waitOrClose(req, res, Number(messagesKnob(msg, 'fake_delay_ms') ?? 5000))) return void this.counters.requestsCancelled++;
        return this.completeMessages(res, msg);
      case 'stall':
      case 'stream_error': {
        const p = plan();
        const send = this.sseWriter(res);
        if (fault === 'stall') res.on('close', () => this.counters.streamsCancelled++);
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        await send('message_start', { type: 'message_start', message: { id: p.id, type: 'message', role: 'assistant', model: msg.model, content: [], stop_reason: null, stop_sequence: null, usage: { ...p.usage, output_tokens: 1 } } });
        await send('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
        await send('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } });
        if (fault === 'stall') return; // and nothing more, until the client gives up
        await send('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
        return void res.end();
      }
      default:
        return this.misbehave(req, res, { ...msg, fake_fault: fault });
    }
  }

  /** What the fake answers to a (valid) messages request: thinking?, text, tool_use?; ids; usage. */
  private planMessages(msg: any) {
    const shape = isObject(messagesKnob(msg, 'fake_stream')) ? messagesKnob(msg, 'fake_stream') : {};
    const n = Math.max(1, Number(shape.events ?? this.options.streamEvents ?? 5));
    const gap = Number(shape.interval_ms ?? this.options.streamIntervalMs ?? 0);
    const messages: any[] = Array.isArray(msg.messages) ? msg.messages : [];
    const lastUser = [...messages].reverse().find((m) => isObject(m) && m.role === 'user');
    const results: any[] = Array.isArray(lastUser?.content) ? lastUser.content.filter((b: any) => isObject(b) && b.type === 'tool_result') : [];
    const tools: any[] = Array.isArray(msg.tools) ? msg.tools.filter((t: any) => isObject(t) && typeof t.name === 'string' && isObject(t.input_schema)) : [];
    const choice = isObject(msg.tool_choice) ? msg.tool_choice : {};
    // A tool call unless the last user turn carries tool results (so a client's tool loop ends).
    const tool =
      tools.length && !results.length && choice.type !== 'none'
        ? ((choice.type === 'tool' && tools.find((t) => t.name === choice.name)) || tools.find((t) => t.name === 'Bash') || tools[0])
        : undefined;
    let parts: string[];
    if (results.length) parts = ['Done', ': ', results.map((r) => toolResultText(r.content)).join('; ').slice(0, 200) || 'ok'];
    else if (tool) parts = ['Let me', ' use ', tool.name, '.'];
    else parts = Array.from({ length: n }, (_, i) => [`Hello`, ' from', ` ${msg.model}`, ' — ünïcödé ✓', '!'][i % 5]);
    let stop: 'end_turn' | 'tool_use' | 'max_tokens' = tool ? 'tool_use' : 'end_turn';
    const max = Number(msg.max_tokens);
    if (Number.isInteger(max) && max > 0 && parts.length > max) {
      parts = parts.slice(0, max);
      stop = 'max_tokens';
    }
    const thinking = isObject(msg.thinking) && (msg.thinking.type === 'enabled' || msg.thinking.type === 'adaptive') ? { parts: THINKING, signature: signature() } : undefined;
    const toolUse = tool && stop === 'tool_use' ? { id: `toolu_01${randomBytes(11).toString('hex')}`, name: tool.name as string, input: sampleInput(tool.input_schema) } : undefined;
    const cached = this.cachedTokens(messagesKnob(msg, 'fake_usage'), hasCacheHint(msg)) ?? 0;
    const output = parts.length + (thinking ? thinking.parts.length : 0) + (toolUse ? 8 : 0);
    return {
      id: `msg_01${randomBytes(11).toString('hex')}`,
      gap,
      parts,
      thinking,
      toolUse,
      stop,
      output,
      usage: { input_tokens: PROMPT_TOKENS - cached, cache_creation_input_tokens: 0, cache_read_input_tokens: cached },
    };
  }

  private completeMessages(res: ServerResponse, msg: any) {
    const p = this.planMessages(msg);
    const content: unknown[] = [];
    if (p.thinking) content.push({ type: 'thinking', thinking: p.thinking.parts.join(''), signature: p.thinking.signature });
    content.push({ type: 'text', text: p.parts.join('') });
    if (p.toolUse) content.push({ type: 'tool_use', ...p.toolUse });
    this.counters.messagesCompleted++;
    json(res, 200, {
      id: p.id,
      type: 'message',
      role: 'assistant',
      model: msg.model,
      content,
      stop_reason: p.stop,
      stop_sequence: null,
      usage: { input_tokens: p.usage.input_tokens, output_tokens: p.output, cache_read_input_tokens: p.usage.cache_read_input_tokens, cache_creation_input_tokens: 0 },
    });
  }

  /** Writes `event: <name>` + `data: <json>` events, split at random bytes like the chat stream (unless splitWrites is false). */
  private sseWriter(res: ServerResponse) {
    const eol = this.options.crlf ? '\r\n' : '\n';
    const split = this.options.splitWrites ?? true;
    return async (event: string, data: unknown) => {
      const text = `event: ${event}${eol}data: ${JSON.stringify(data)}${eol}${eol}`;
      if (!split) return void res.write(text);
      const bytes = Buffer.from(text);
      let at = 0;
      while (at < bytes.length) {
        const step = 1 + Math.floor(Math.random() * 40);
        res.write(bytes.subarray(at, at + step));
        at += step;
      }
    };
  }

  /**
   * The real event sequence: message_start, ping, then per block content_block_start → deltas →
   * content_block_stop (thinking: thinking_delta* then signature_delta; text: text_delta*;
   * tool_use: input_json_delta fragments), message_delta (stop_reason, usage), message_stop.
   */
  private async streamMessages(req: IncomingMessage, res: ServerResponse, msg: any) {
    const p = this.planMessages(msg);
    const send = this.sseWriter(res);
    let closed = false;
    res.on('close', () => {
      if (!answered(res)) {
        closed = true;
        this.counters.streamsCancelled++;
      }
    });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    await send('message_start', {
      type: 'message_start',
      message: { id: p.id, type: 'message', role: 'assistant', model: msg.model, content: [], stop_reason: null, stop_sequence: null, usage: { ...p.usage, output_tokens: 1 } },
    });
    let index = 0;
    const block = async (start: unknown, deltas: unknown[], timed = false) => {
      if (closed) return;
      await send('content_block_start', { type: 'content_block_start', index, content_block: start });
      if (index === 0) await send('ping', { type: 'ping' });
      const t0 = Date.now();
      for (const [i, delta] of deltas.entries()) {
        if (timed && p.gap) await new Promise((r) => setTimeout(r, Math.max(0, t0 + (i + 1) * p.gap - Date.now())));
        if (closed) return;
        await send('content_block_delta', { type: 'content_block_delta', index, delta });
      }
      await send('content_block_stop', { type: 'content_block_stop', index });
      index++;
    };
    if (p.thinking)
      await block({ type: 'thinking', thinking: '', signature: '' }, [
        ...p.thinking.parts.map((thinking) => ({ type: 'thinking_delta', thinking })),
        { type: 'signature_delta', signature: p.thinking.signature },
      ]);
    await block({ type: 'text', text: '' }, p.parts.map((text) => ({ type: 'text_delta', text })), true);
    if (p.toolUse) {
      const args = JSON.stringify(p.toolUse.input);
      const cut = [0, Math.floor(args.length / 3), Math.floor((2 * args.length) / 3), args.length];
      await block({ type: 'tool_use', id: p.toolUse.id, name: p.toolUse.name, input: {} }, [
        { type: 'input_json_delta', partial_json: '' },
        ...[0, 1, 2].map((i) => ({ type: 'input_json_delta', partial_json: args.slice(cut[i], cut[i + 1]) })),
      ]);
    }
    if (closed) return;
    await send('message_delta', { type: 'message_delta', delta: { stop_reason: p.stop, stop_sequence: null }, usage: { ...p.usage, output_tokens: p.output } });
    await send('message_stop', { type: 'message_stop' });
    this.counters.messagesCompleted++;
    res.end();
  }

  // --- POST /responses: the OpenAI Responses API, for the models that list it (gpt-5-codex, gpt-5.4) ---

  /**
   * Validates as the real one does (shared/docs/copilot-upstream.md §3, §6): a model whose
   * `supported_endpoints` lacks `/responses` → 400 `unsupported_api_for_model`; `service_tier` and
   * `previous_response_id` → 400 `unsupported_value` (Copilot's wording); `store: true` → 400
   * (Copilot keeps no responses; `acceptStore` accepts and ignores it); `input` required, a string
   * or known items; a `function_call_output` needs its `function_call` earlier in `input`; a
   * `reasoning` item needs its `encrypted_content` (nothing is stored to look it up by id);
   * `reasoning.effort` within the model's list; `max_output_tokens` >= 16.
   *
   * Answers: a `reasoning` item (summary when `reasoning.summary` asks for one, `encrypted_content`
   * when `include` has "reasoning.encrypted_content"), then a `function_call` of the first function
   * tool (or the one `tool_choice` names) unless the last input item is a tool's output or
   * tool_choice is "none", else a `message` ("Hello from <model>!", or "Done: <output>" after a
   * tool's output). Reasoning costs RESPONSES_REASONING_TOKENS output tokens, each text delta one,
   * a call 8: a smaller `max_output_tokens` cuts the answer and ends it `incomplete`.
   *
   * Knobs, from the top level of the body or from `metadata` (top level wins; strings such as
   * "true" / "5" work, for translators that keep metadata as strings):
   * - `fake_fault`: `slow_headers` (`fake_delay_ms`, then the normal answer), `stall`
   *   (created, in_progress, a message item with one delta, then nothing until the client leaves),
   *   `stream_error` (one delta, then an `error` event and `response.failed`; `fake_stream_error:
   *   'error' | 'failed'` sends only one of the two), and chat's `truncated`, `truncated_json`,
   *   `html_500`, `not_json`, `reset`.
   * - `fake_item_id_mismatch: true | 'done' | 'all'` (option `itemIdMismatch`).
   * - `fake_whitespace_args: N`, `fake_whitespace_only: true` (options `whitespaceArgs`, `whitespaceArgsOnly`).
   * - `fake_stream: {events, interval_ms, end_delay_ms}`: text deltas (cycling the greeting), the gap
   *   between them, and how long after the final event the body ends.
   * - `fake_usage: {cached_tokens, total_nano_aiu}` (options `cachedTokens`, `nanoAiu`).
   * `script('responses', …)` answers ahead of everything but auth and the header checks.
   */
  private async responses(req: IncomingMessage, res: ServerResponse, body: string) {
    this.counters.responsesRequests++;
    this.lastResponsesRaw = body;
    const s = this.takeScript('responses');
    if (s) return this.answerScripted(req, res, s);
    let r: any;
    try {
      r = JSON.parse(body);
    } catch {
      return json(res, 400, badRequest('Invalid JSON in request body', 'invalid_request_body', null));
    }
    if (!isObject(r)) return json(res, 400, badRequest('The request body must be a JSON object', 'invalid_request_body', null));
    this.lastResponsesBody = r;
    if (typeof r.model !== 'string') return json(res, 400, badRequest("Missing required parameter: 'model'.", 'missing_required_parameter', 'model'));
    const fault = messagesKnob(r, 'fake_fault');
    if (fault === 'slow_headers') {
      if (await waitOrClose(req, res, Number(messagesKnob(r, 'fake_delay_ms') ?? 5000))) return void this.counters.requestsCancelled++;
    } else if (fault) return this.misbehaveResponses(req, res, r, String(fault));
    const model = FAKE_MODELS.find((m) => m.id === r.model && m.type === 'chat');
    if (!model) return json(res, 400, { error: { message: 'The requested model is not supported.', code: 'model_not_supported', param: 'model', type: 'invalid_request_error' } });
    if (!(model.endpoints ?? ['/chat/completions']).includes('/responses')) return json(res, 400, unsupportedApi(r.model, '/responses'));
    const invalid = validateResponses(r, model, this.options.acceptStore ?? false);
    if (invalid) return json(res, 400, { error: invalid });
    if (r.stream === true) return this.streamResponses(req, res, r);
    return this.completeResponses(res, r);
  }

  private async misbehaveResponses(req: IncomingMessage, res: ServerResponse, r: any, fault: string) {
    if (fault !== 'stall' && fault !== 'stream_error') return this.misbehave(req, res, { ...r, fake_fault: fault });
    const p = this.planResponses(r);
    const send = this.sseWriter(res);
    let seq = 0;
    const emit = (type: string, fields: Record<string, unknown>) => send(type, { type, sequence_number: seq++, ...fields });
    if (fault === 'stall') res.on('close', () => this.counters.streamsCancelled++);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    await emit('response.created', { response: this.responseObject(r, p, 'in_progress', [], null) });
    await emit('response.in_progress', { response: this.responseObject(r, p, 'in_progress', [], null) });
    const id = itemId('msg');
    await emit('response.output_item.added', { output_index: 0, item: { id, type: 'message', status: 'in_progress', content: [], role: 'assistant' } });
    await emit('response.content_part.added', { item_id: id, output_index: 0, content_index: 0, part: { type: 'output_text', annotations: [], text: '' } });
    await emit('response.output_text.delta', { item_id: id, output_index: 0, content_index: 0, delta: 'Hel' });
    if (fault === 'stall') return; // and nothing more, until the client gives up
    const which = String(messagesKnob(r, 'fake_stream_error') ?? 'both');
    const error = { code: 'server_error', message: 'The server had an error processing your request. Sorry about that! You can retry your request.' };
    if (which !== 'failed') await emit('error', { ...error, param: null });
    if (which !== 'error') await emit('response.failed', { response: { ...this.responseObject(r, p, 'failed', [], null), error } });
    res.end();
  }

  /** What the fake answers to a (valid) responses request: items, token counts, status. */
  private planResponses(r: any) {
    const shape = isObject(messagesKnob(r, 'fake_stream')) ? messagesKnob(r, 'fake_stream') : {};
    const gap = Number(shape.interval_ms ?? this.options.streamIntervalMs ?? 0);
    const endDelay = Number(shape.end_delay_ms ?? this.options.responsesEndDelayMs ?? 0) || 0;
    const items: any[] = typeof r.input === 'string' ? [{ type: 'message', role: 'user', content: r.input }] : Array.isArray(r.input) ? r.input : [];
    const last = items.at(-1);
    const result = isObject(last) && typeof last.type === 'string' && last.type.endsWith('_output') ? last : undefined;
    const tools: any[] = Array.isArray(r.tools) ? r.tools.filter((t: any) => isObject(t) && t.type === 'function' && typeof t.name === 'string') : [];
    const choice = r.tool_choice;
    const tool =
      tools.length && !result && choice !== 'none'
        ? (isObject(choice) && choice.type === 'function' && tools.find((t) => t.name === choice.name)) || tools[0]
        : undefined;
    const events = shape.events === undefined ? undefined : Math.max(1, Number(shape.events) || 1);
    const greeting = ['Hello', ' from', ` ${r.model}`, '!'];
    let parts: string[] = [];
    if (result) parts = ['Done', ': ', functionOutputText(result.output).slice(0, 200) || 'ok'];
    else if (!tool) parts = events === undefined ? greeting : Array.from({ length: events }, (_, i) => greeting[i % greeting.length]);

    const summary = ['auto', 'concise', 'detailed'].includes(r.reasoning?.summary) ? REASONING : [];
    const include: unknown[] = Array.isArray(r.include) ? r.include : [];
    const reasoning = { id: itemId('rs'), summary, encrypted: include.includes('reasoning.encrypted_content') ? encryptedContent() : undefined };

    const wsKnob = messagesKnob(r, 'fake_whitespace_args');
    const wsCount = Math.max(0, Math.floor(Number(wsKnob ?? this.options.whitespaceArgs ?? 0)) || 0);
    const wsOnly = wsCount > 0 && truthy(messagesKnob(r, 'fake_whitespace_only') ?? this.options.whitespaceArgsOnly);
    const whitespace = Array.from({ length: wsCount }, (_, i) => WHITESPACE[i % WHITESPACE.length]);

    // Output tokens: reasoning first, then one per text delta, 8 for a call (or one per whitespace delta).
    const budget = typeof r.max_output_tokens === 'number' ? r.max_output_tokens : Infinity;
    const reasoningTokens = Math.min(RESPONSES_REASONING_TOKENS, budget);
    let status: 'completed' | 'incomplete' = 'completed';
    let call: { id: string; callId: string; name: string; argParts: string[]; whitespace: string[]; status: 'completed' | 'incomplete' } | undefined;
    let message: { id: string; parts: string[]; status: 'completed' | 'incomplete' } | undefined;
    let outputTokens = reasoningTokens;
    if (budget < RESPONSES_REASONING_TOKENS) status = 'incomplete';
    else if (tool) {
      const args = JSON.stringify(sampleArgs(tool.parameters));
      const cost = wsOnly ? wsCount : 8 + wsCount;
      if (wsOnly || RESPONSES_REASONING_TOKENS + cost > budget) status = 'incomplete';
      if (wsOnly || RESPONSES_REASONING_TOKENS + cost <= budget) {
        const cut = [0, Math.floor(args.length / 3), Math.floor((2 * args.length) / 3), args.length];
        call = {
          id: itemId('fc'),
          callId: `call_${randomBytes(12).toString('base64url')}`,
          name: tool.name,
          argParts: wsOnly ? [] : [0, 1, 2].map((i) => args.slice(cut[i], cut[i + 1])),
          whitespace,
          status: wsOnly ? 'incomplete' : 'completed',
        };
        outputTokens += cost;
      }
    } else {
      const room = budget - RESPONSES_REASONING_TOKENS;
      const kept = parts.slice(0, Math.max(0, Math.min(parts.length, room)));
      if (kept.length < parts.length) status = 'incomplete';
      if (kept.length) message = { id: itemId('msg'), parts: kept, status: kept.length < parts.length ? 'incomplete' : 'completed' };
      outputTokens += kept.length;
    }
    const fakeUsage = isObject(messagesKnob(r, 'fake_usage')) ? messagesKnob(r, 'fake_usage') : undefined;
    const cached = this.cachedTokens(fakeUsage, typeof r.prompt_cache_key === 'string') ?? 0;
    const usage: Record<string, unknown> = {
      input_tokens: PROMPT_TOKENS,
      input_tokens_details: { cached_tokens: cached },
      output_tokens: outputTokens,
      output_tokens_details: { reasoning_tokens: reasoningTokens },
      total_tokens: PROMPT_TOKENS + outputTokens,
    };
    const nano = fakeUsage?.total_nano_aiu ?? this.options.nanoAiu;
    if (nano !== undefined) usage.copilot_usage = { total_nano_aiu: Number(nano) };
    const mismatch = messagesKnob(r, 'fake_item_id_mismatch') ?? this.options.itemIdMismatch;
    return {
      id: `resp_${randomBytes(24).toString('hex')}`,
      createdAt: Math.floor(Date.now() / 1000),
      gap,
      endDelay,
      reasoning,
      call,
      message,
      status,
      usage,
      mismatch: mismatch === 'all' ? ('all' as const) : mismatch === 'done' || truthy(mismatch) ? ('done' as const) : undefined,
    };
  }

  /** The finished output items of a plan; `ids` swaps in other ids per item (the `.done` ids of the id-mismatch quirk). */
  private responsesOutput(p: ReturnType<FakeCopilot['planResponses']>, ids: string[] = []) {
    const out: any[] = [];
    const rs = p.reasoning;
    out.push({
      id: ids[0] ?? rs.id,
      type: 'reasoning',
      summary: rs.summary.length ? [{ type: 'summary_text', text: rs.summary.join('') }] : [],
      ...(rs.encrypted ? { encrypted_content: rs.encrypted } : {}),
    });
    if (p.call)
      out.push({
        id: ids[1] ?? p.call.id,
        type: 'function_call',
        status: p.call.status,
        arguments: [...p.call.whitespace, ...p.call.argParts].join(''),
        call_id: p.call.callId,
        name: p.call.name,
      });
    if (p.message)
      out.push({
        id: ids[1] ?? p.message.id,
        type: 'message',
        status: p.message.status,
        role: 'assistant',
        content: [{ type: 'output_text', text: p.message.parts.join(''), annotations: [] }],
      });
    return out;
  }

  /** The response object as the API returns it (echoing the request's settings). */
  private responseObject(r: any, p: ReturnType<FakeCopilot['planResponses']>, status: string, output: unknown[], usage: unknown) {
    return {
      id: p.id,
      object: 'response',
      created_at: p.createdAt,
      status,
      background: false,
      error: null,
      incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
      instructions: r.instructions ?? null,
      max_output_tokens: r.max_output_tokens ?? null,
      model: r.model,
      output,
      parallel_tool_calls: r.parallel_tool_calls ?? true,
      previous_response_id: null,
      reasoning: { effort: r.reasoning?.effort ?? 'medium', summary: r.reasoning?.summary ?? null },
      store: false,
      temperature: r.temperature ?? 1,
      text: r.text ?? { format: { type: 'text' } },
      tool_choice: r.tool_choice ?? 'auto',
      tools: Array.isArray(r.tools) ? r.tools : [],
      top_p: r.top_p ?? 1,
      truncation: 'disabled',
      usage,
      metadata: {},
    };
  }

  private completeResponses(res: ServerResponse, r: any) {
    const p = this.planResponses(r);
    this.counters.responsesCompleted++;
    json(res, 200, this.responseObject(r, p, p.status, this.responsesOutput(p), p.usage));
  }

  /**
   * The real event sequence: response.created, response.in_progress, then per item
   * output_item.added → (reasoning: reasoning_summary_part.added → reasoning_summary_text.delta* →
   * reasoning_summary_text.done → reasoning_summary_part.done, when a summary was asked for) |
   * (message: content_part.added → output_text.delta* → output_text.done → content_part.done) |
   * (function_call: function_call_arguments.delta* → function_call_arguments.done) →
   * output_item.done; then response.completed or response.incomplete. No [DONE]. Every event has a
   * rising sequence_number; item events output_index and item_id; content events content_index.
   */
  private async streamResponses(req: IncomingMessage, res: ServerResponse, r: any) {
    const p = this.planResponses(r);
    const send = this.sseWriter(res);
    let closed = false;
    res.on('close', () => {
      if (!answered(res)) {
        closed = true;
        this.counters.streamsCancelled++;
      }
    });
    let seq = 0;
    const emit = async (type: string, fields: Record<string, unknown>) => {
      if (!closed) await send(type, { type, sequence_number: seq++, ...fields });
    };
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    await emit('response.created', { response: this.responseObject(r, p, 'in_progress', [], null) });
    await emit('response.in_progress', { response: this.responseObject(r, p, 'in_progress', [], null) });

    const final = this.responsesOutput(p);
    const doneIds = final.map((item) => (p.mismatch ? itemId(item.id.split('_')[0]) : item.id));
    // The id an item's events carry: its own, or (quirk 'all') a fresh one per event.
    const idFor = (item: any) => (p.mismatch === 'all' ? itemId(item.id.split('_')[0]) : item.id);
    for (const [output_index, item] of final.entries()) {
      if (closed) return;
      if (item.type === 'reasoning') {
        await emit('response.output_item.added', { output_index, item: { id: idFor(item), type: 'reasoning', summary: [] } });
        if (p.reasoning.summary.length) {
          const text = p.reasoning.summary.join('');
          const at = { output_index, summary_index: 0 };
          await emit('response.reasoning_summary_part.added', { item_id: idFor(item), ...at, part: { type: 'summary_text', text: '' } });
          for (const delta of p.reasoning.summary) await emit('response.reasoning_summary_text.delta', { item_id: idFor(item), ...at, delta });
          await emit('response.reasoning_summary_text.done', { item_id: idFor(item), ...at, text });
          await emit('response.reasoning_summary_part.done', { item_id: idFor(item), ...at, part: { type: 'summary_text', text } });
        }
      } else if (item.type === 'message') {
        await emit('response.output_item.added', { output_index, item: { id: idFor(item), type: 'message', status: 'in_progress', content: [], role: 'assistant' } });
        const at = { output_index, content_index: 0 };
        const text = item.content[0].text;
        await emit('response.content_part.added', { item_id: idFor(item), ...at, part: { type: 'output_text', annotations: [], text: '' } });
        // Deltas keep to a fixed timeline (like a model emitting tokens), as on chat.
        const t0 = Date.now();
        for (const [i, delta] of p.message!.parts.entries()) {
          if (p.gap) await new Promise((done) => setTimeout(done, Math.max(0, t0 + (i + 1) * p.gap - Date.now())));
          await emit('response.output_text.delta', { item_id: idFor(item), ...at, delta });
        }
        await emit('response.output_text.done', { item_id: idFor(item), ...at, text });
        await emit('response.content_part.done', { item_id: idFor(item), ...at, part: { type: 'output_text', annotations: [], text } });
      } else {
        await emit('response.output_item.added', {
          output_index,
          item: { id: idFor(item), type: 'function_call', status: 'in_progress', arguments: '', call_id: item.call_id, name: item.name },
        });
        for (const delta of [...p.call!.whitespace, ...p.call!.argParts]) await emit('response.function_call_arguments.delta', { item_id: idFor(item), output_index, delta });
        await emit('response.function_call_arguments.done', { item_id: idFor(item), output_index, arguments: item.arguments });
      }
      await emit('response.output_item.done', { output_index, item: { ...item, id: doneIds[output_index] } });
    }
    if (closed) return;
    const done = p.status === 'incomplete' ? 'response.incomplete' : 'response.completed';
    await emit(done, { response: this.responseObject(r, p, p.status, this.responsesOutput(p, doneIds), p.usage) });
    this.counters.responsesCompleted++;
    if (p.endDelay) await new Promise((done) => setTimeout(done, p.endDelay));
    res.end();
  }
}

/**
 * The call a model makes when it was given tools and the conversation does not end on a tool's
 * result: the first tool, with arguments filled from its schema (`city` → Paris, `command` → echo).
 */
function toolCall(chat: any): { name: string; arguments: string } | null {
  const tools = Array.isArray(chat.tools) ? chat.tools : [];
  const last = Array.isArray(chat.messages) ? chat.messages[chat.messages.length - 1] : null;
  if (!tools.length || last?.role === 'tool' || chat.tool_choice === 'none') return null;
  const fn = tools[0]?.function ?? {};
  const props = Object.keys(fn.parameters?.properties ?? {});
  const args: Record<string, string> = {};
  for (const p of props) args[p] = p === 'city' ? 'Paris' : p === 'command' ? 'echo fake' : 'x';
  return { name: typeof fn.name === 'string' ? fn.name : 'tool', arguments: JSON.stringify(props.length ? args : { city: 'Paris' }) };
}

/** The chat body, or why Copilot would refuse it with a 400 (it validates before any model runs). */
function parseChat(body: string): any {
  let chat: any;
  try {
    chat = JSON.parse(body);
  } catch {
    return 'Invalid JSON in request body';
  }
  if (typeof chat !== 'object' || chat === null || Array.isArray(chat)) return 'The request body must be a JSON object';
  if (typeof chat.model !== 'string') return 'model: expected a string';
  if (!Array.isArray(chat.messages) || !chat.messages.every((m: unknown) => typeof m === 'object' && m !== null && !Array.isArray(m)))
    return 'messages: expected an array of objects';
  if (chat.tools !== undefined && (!Array.isArray(chat.tools) || !chat.tools.every((t: any) => typeof t === 'object' && t !== null && typeof t.function === 'object' && t.function !== null)))
    return 'tools: expected an array of {type, function} objects';
  return chat;
}

function json(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The fake finished its answer (over HTTP/2 writableFinished is true for a reset stream too). */
function answered(res: ServerResponse): boolean {
  const stream = (res as unknown as Partial<Http2ServerResponse>).stream;
  return stream ? res.writableEnded && !stream.aborted : res.writableFinished;
}

/** Waits, unless the client leaves first (returns true then). */
function waitOrClose(req: IncomingMessage, res: ServerResponse, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      res.off('close', onClose);
      resolve(false);
    }, ms);
    const onClose = () => {
      clearTimeout(t);
      resolve(true);
    };
    res.once('close', onClose);
  });
}

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Copilot's wrapping of a body the model's API refused. */
function invalidBody(message: string) {
  return { error: { message, code: 'invalid_request_body' } };
}

/** As the real service answers a model asked for on an endpoint its `supported_endpoints` lacks. */
function unsupportedApi(model: string, endpoint: string) {
  return { error: { message: `model ${model} is not accessible via the ${endpoint} endpoint`, code: 'unsupported_api_for_model' } };
}

/** The reasoning a Claude model "thinks" on chat (reasoning_text deltas) and on messages (thinking_delta). */
const REASONING = ['The user', ' wants a greeting;', ' keep it short.'];
const THINKING = REASONING;

/** A thinking signature (reasoning_opaque / signature_delta): opaque base64, as long as real ones. */
function signature(): string {
  return randomBytes(96).toString('base64');
}

/** A Claude chat request with a thinking_budget gets reasoning_text / reasoning_opaque. */
function wantsReasoning(chat: any): boolean {
  return typeof chat.model === 'string' && chat.model.startsWith('claude') && typeof chat.thinking_budget === 'number';
}

/**
 * A thinking_budget out of the model's [min_thinking_budget, max_thinking_budget], or not below
 * max_tokens, is refused as Anthropic refuses such a budget (the exact Copilot wording is
 * unknown). Models that list no budget ignore it.
 */
function checkThinkingBudget(chat: any): string | undefined {
  if (chat.thinking_budget === undefined || chat.thinking_budget === null) return undefined;
  const supports = FAKE_MODELS.find((m) => m.id === chat.model)?.supports;
  if (typeof supports?.max_thinking_budget !== 'number') return undefined;
  const b = chat.thinking_budget;
  const min = typeof supports.min_thinking_budget === 'number' ? supports.min_thinking_budget : 1024;
  if (!Number.isInteger(b)) return 'thinking_budget: expected an integer';
  if (b < min || b > supports.max_thinking_budget) return `thinking_budget: ${b} is out of range [${min}, ${supports.max_thinking_budget}] for ${chat.model}`;
  const max = chat.max_tokens ?? chat.max_completion_tokens;
  if (typeof max === 'number' && b >= max) return 'max_tokens must be greater than thinking_budget';
  return undefined;
}

/** Whether a chat or messages body asks for prompt caching anywhere (messages, their parts, system blocks, tools). */
function hasCacheHint(body: any): boolean {
  const hinted = (x: unknown) => isObject(x) && (x.cache_control !== undefined || x.copilot_cache_control !== undefined);
  const list = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);
  if (list(body.system).some(hinted) || list(body.tools).some(hinted)) return true;
  return list(body.messages).some((m) => hinted(m) || (isObject(m) && list(m.content).some(hinted)));
}

/** A fake knob from the top level of a messages body, else from its metadata. */
function messagesKnob(msg: any, name: string): any {
  return msg[name] ?? (isObject(msg.metadata) ? msg.metadata[name] : undefined);
}

function toolResultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((b) => (isObject(b) && typeof b.text === 'string' ? b.text : '')).join('');
  return '';
}

/** Arguments that fit a tool's JSON schema well enough: required properties (or all) with plain values. */
function sampleInput(schema: any): Record<string, unknown> {
  const props = isObject(schema?.properties) ? schema.properties : {};
  const names: string[] = Array.isArray(schema?.required) && schema.required.length ? schema.required : Object.keys(props);
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const p = isObject(props[name]) ? props[name] : {};
    if (Array.isArray(p.enum) && p.enum.length) out[name] = p.enum[0];
    else if (p.type === 'number' || p.type === 'integer') out[name] = 1;
    else if (p.type === 'boolean') out[name] = false;
    else if (p.type === 'array') out[name] = [];
    else if (p.type === 'object') out[name] = {};
    else out[name] = name === 'city' ? 'Paris' : name === 'command' ? 'echo fake' : `fake ${name}`;
  }
  return out;
}

/** Why Anthropic would refuse this Messages body with a 400 (its wording), or undefined. */
function validateMessages(m: any): string | undefined {
  if (m.max_tokens === undefined) return 'max_tokens: Field required';
  if (!Number.isInteger(m.max_tokens) || m.max_tokens < 1) return 'max_tokens: Input should be a valid integer greater than or equal to 1';
  if (m.messages === undefined) return 'messages: Field required';
  if (!Array.isArray(m.messages)) return 'messages: Input should be a valid list';
  if (m.messages.length === 0) return 'messages: at least one message is required';
  for (const [i, x] of m.messages.entries()) {
    if (!isObject(x)) return `messages.${i}: Input should be a valid dictionary`;
    if (x.role !== 'user' && x.role !== 'assistant') return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    if (typeof x.content === 'string') continue;
    if (!Array.isArray(x.content)) return `messages.${i}.content: Input should be a valid string or list`;
    for (const [j, b] of x.content.entries()) if (!isObject(b) || typeof b.type !== 'string') return `messages.${i}.content.${j}.type: Field required`;
  }
  if (m.system !== undefined && typeof m.system !== 'string' && !(Array.isArray(m.system) && m.system.every((b: any) => isObject(b) && b.type === 'text' && typeof b.text === 'string')))
    return 'system: Input should be a valid string or a list of text blocks';
  if (m.tools !== undefined) {
    if (!Array.isArray(m.tools)) return 'tools: Input should be a valid list';
    for (const [i, t] of m.tools.entries()) {
      if (!isObject(t)) return `tools.${i}: Input should be a valid dictionary`;
      if (t.type !== undefined && t.type !== 'custom') continue; // a server or client tool of Anthropic's
      if (typeof t.name !== 'string') return `tools.${i}.name: Field required`;
      if (!isObject(t.input_schema)) return `tools.${i}.input_schema: Field required`;
    }
  }
  if (m.thinking !== undefined) {
    const t = m.thinking;
    if (!isObject(t)) return 'thinking: Input should be a valid dictionary';
    if (t.type === 'enabled') {
      if (!Number.isInteger(t.budget_tokens)) return 'thinking.enabled.budget_tokens: Field required';
      if (t.budget_tokens < 1024) return 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024';
      if (t.budget_tokens >= m.max_tokens) return '`max_tokens` must be greater than `thinking.budget_tokens`.';
    } else if (t.type !== 'disabled' && t.type !== 'adaptive')
      return `thinking: Input tag '${String(t.type)}' found using 'type' does not match any of the expected tags: 'disabled', 'enabled', 'adaptive'`;
  }
  // Every tool_result answers a tool_use of the message just before; every tool_use is answered in the next one.
  const blocks = (x: any, type: string): any[] => (Array.isArray(x?.content) ? x.content.filter((b: any) => b.type === type) : []);
  for (const [i, x] of m.messages.entries()) {
    if (x.role === 'user') {
      const ids = m.messages[i - 1]?.role === 'assistant' ? blocks(m.messages[i - 1], 'tool_use').map((b) => b.id) : [];
      const content: any[] = Array.isArray(x.content) ? x.content : [];
      for (const [j, b] of content.entries())
        if (b.type === 'tool_result' && !ids.includes(b.tool_use_id))
          return `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${b.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
    } else if (i + 1 < m.messages.length) {
      const answered = blocks(m.messages[i + 1], 'tool_result').map((b) => b.tool_use_id);
      const missing = blocks(x, 'tool_use')
        .map((b) => b.id)
        .filter((id) => !answered.includes(id));
      if (missing.length)
        return `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
    }
  }
  return undefined;
}

/** An OpenAI-style 400 body: {message, code, param, type: invalid_request_error}. */
function badRequest(message: string, code: string | null, param: string | null) {
  return { error: { message, code, param, type: 'invalid_request_error' } };
}

/** A Responses item id: prefix (rs, msg, fc) and 48 hex digits, as OpenAI's look. */
function itemId(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('hex')}`;
}

/** An opaque reasoning blob, shaped like the real ones (Fernet-style, base64url). */
function encryptedContent(): string {
  return `gAAAAA${randomBytes(180).toString('base64url')}`;
}

/** A knob's boolean: true, or the string "true" (metadata values are strings). */
function truthy(v: unknown): boolean {
  return v === true || v === 'true';
}

/** The whitespace a function call's arguments stream in the endless-whitespace quirk. */
const WHITESPACE = ['\n', '  ', '\n\n', '\t', ' \n  ', '    '];

/** The text of a function_call_output's `output`: a string, or input_text / output_text parts. */
function functionOutputText(output: unknown): string {
  if (typeof output === 'string') return output;
  if (Array.isArray(output)) return output.map((p) => (isObject(p) && typeof p.text === 'string' ? p.text : '')).join('');
  return '';
}

/**
 * Arguments that fit a function tool's JSON schema: required properties (or all) with plain values;
 * `city` → "Paris", `command` / `cmd` → ["echo","fake"] for an array, "echo fake" otherwise.
 */
function sampleArgs(schema: any): Record<string, unknown> {
  const props = isObject(schema?.properties) ? schema.properties : {};
  const names: string[] = Array.isArray(schema?.required) && schema.required.length ? schema.required : Object.keys(props);
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const p = isObject(props[name]) ? props[name] : {};
    const shell = name === 'command' || name === 'cmd';
    if (Array.isArray(p.enum) && p.enum.length) out[name] = p.enum[0];
    else if (p.type === 'array') out[name] = shell ? ['echo', 'fake'] : [];
    else if (p.type === 'number' || p.type === 'integer') out[name] = 1;
    else if (p.type === 'boolean') out[name] = false;
    else if (p.type === 'object') out[name] = {};
    else out[name] = name === 'city' ? 'Paris' : shell ? 'echo fake' : `fake ${name}`;
  }
  return out;
}

const MESSAGE_ROLES = ['user', 'assistant', 'system', 'developer'];
const CONTENT_TYPES = ['input_text', 'input_image', 'input_file', 'input_audio', 'output_text', 'refusal'];

/** Why Copilot's /responses would refuse this body with a 400 (the error object), or undefined. */
function validateResponses(r: any, model: FakeModel, acceptStore: boolean): Record<string, unknown> | undefined {
  const bad = (message: string, code: string | null, param: string | null) => badRequest(message, code, param).error;
  // Copilot's own refusals, worded as captured from the real service.
  if (r.service_tier !== undefined) return bad('service_tier is not supported', 'unsupported_value', 'service_tier');
  if (r.previous_response_id !== undefined) return bad('previous_response_id is not supported', 'unsupported_value', 'previous_response_id');
  // Copilot keeps no responses (its clients send store:false); the real wording for store:true is unknown.
  if (r.store === true && !acceptStore) return bad('store is not supported: send store:false and the whole conversation as input', 'unsupported_value', 'store');
  if (r.input === undefined || r.input === null) return bad("Missing required parameter: 'input'.", 'missing_required_parameter', 'input');
  if (typeof r.input !== 'string' && !Array.isArray(r.input))
    return bad("Invalid type for 'input': expected one of a string or array of input items.", 'invalid_type', 'input');
  const callIds = new Set<string>();
  for (const [i, item] of (Array.isArray(r.input) ? r.input : []).entries()) {
    const at = `input[${i}]`;
    if (!isObject(item)) return bad(`Invalid type for '${at}': expected an object.`, 'invalid_type', at);
    const type = item.type ?? (item.role !== undefined ? 'message' : undefined);
    if (!RESPONSES_INPUT_TYPES.includes(type))
      return bad(`Invalid value: '${String(type)}'. Supported values are: ${RESPONSES_INPUT_TYPES.map((t) => `'${t}'`).join(', ')}.`, 'invalid_value', `${at}.type`);
    if (type === 'message') {
      if (!MESSAGE_ROLES.includes(item.role))
        return bad(`Invalid value: '${String(item.role)}'. Supported values are: ${MESSAGE_ROLES.map((t) => `'${t}'`).join(', ')}.`, 'invalid_value', `${at}.role`);
      if (typeof item.content === 'string') continue;
      if (!Array.isArray(item.content)) return bad(`Invalid type for '${at}.content': expected a string or an array of content parts.`, 'invalid_type', `${at}.content`);
      for (const [j, part] of item.content.entries())
        if (!isObject(part) || !CONTENT_TYPES.includes(part.type))
          return bad(
            `Invalid value: '${String(isObject(part) ? part.type : part)}'. Supported values are: ${CONTENT_TYPES.map((t) => `'${t}'`).join(', ')}.`,
            'invalid_value',
            `${at}.content[${j}].type`,
          );
    } else if (type === 'function_call' || type === 'custom_tool_call') {
      for (const field of type === 'function_call' ? ['call_id', 'name', 'arguments'] : ['call_id', 'name', 'input'])
        if (typeof item[field] !== 'string') return bad(`Missing required parameter: '${at}.${field}'.`, 'missing_required_parameter', `${at}.${field}`);
      callIds.add(item.call_id);
    } else if (type === 'function_call_output' || type === 'custom_tool_call_output') {
      if (typeof item.call_id !== 'string') return bad(`Missing required parameter: '${at}.call_id'.`, 'missing_required_parameter', `${at}.call_id`);
      if (item.output === undefined) return bad(`Missing required parameter: '${at}.output'.`, 'missing_required_parameter', `${at}.output`);
      if (!callIds.has(item.call_id)) return bad(`No tool call found for function call output with call_id ${item.call_id}.`, null, 'input');
    } else if (type === 'reasoning') {
      if (!Array.isArray(item.summary)) return bad(`Missing required parameter: '${at}.summary'.`, 'missing_required_parameter', `${at}.summary`);
      // Nothing is stored: a reasoning item is only usable with its encrypted_content.
      if (typeof item.encrypted_content !== 'string')
        return bad(
          `Item with id '${String(item.id)}' not found. Items are not persisted when \`store\` is set to false. Try again with \`store\` set to true, or remove this item from your input.`,
          null,
          'input',
        );
    } else if (type === 'item_reference') {
      return bad(
        `Item with id '${String(item.id)}' not found. Items are not persisted when \`store\` is set to false. Try again with \`store\` set to true, or remove this item from your input.`,
        null,
        'input',
      );
    }
  }
  if (r.tools !== undefined) {
    if (!Array.isArray(r.tools)) return bad("Invalid type for 'tools': expected an array of tools.", 'invalid_type', 'tools');
    for (const [i, t] of r.tools.entries()) {
      if (!isObject(t) || typeof t.type !== 'string') return bad(`Missing required parameter: 'tools[${i}].type'.`, 'missing_required_parameter', `tools[${i}].type`);
      if (t.type === 'function' && typeof t.name !== 'string') return bad(`Missing required parameter: 'tools[${i}].name'.`, 'missing_required_parameter', `tools[${i}].name`);
    }
  }
  const efforts = model.supports?.reasoning_effort;
  const effort = isObject(r.reasoning) ? r.reasoning.effort : undefined;
  if (effort !== undefined && effort !== null && Array.isArray(efforts) && !efforts.includes(effort))
    return bad(
      `Unsupported value: 'reasoning.effort' does not support '${String(effort)}' with this model. Supported values are: ${efforts.map((e) => `'${e}'`).join(', ')}.`,
      'unsupported_value',
      'reasoning.effort',
    );
  if (r.max_output_tokens !== undefined && r.max_output_tokens !== null) {
    if (!Number.isInteger(r.max_output_tokens)) return bad("Invalid type for 'max_output_tokens': expected an integer.", 'invalid_type', 'max_output_tokens');
    if (r.max_output_tokens < 16)
      return bad(`Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got ${r.max_output_tokens} instead.`, 'integer_below_min_value', 'max_output_tokens');
  }
  if (r.include !== undefined && !(Array.isArray(r.include) && r.include.every((x: unknown) => typeof x === 'string')))
    return bad("Invalid type for 'include': expected an array of strings.", 'invalid_type', 'include');
  return undefined;
}

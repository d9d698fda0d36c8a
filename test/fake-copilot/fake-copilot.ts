import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for GitHub and the Copilot API in one HTTP server, behaving as
 * shared/docs/copilot-upstream.md says, quirks included: the empty-choices prompt-filter event,
 * events split at arbitrary bytes, "\r\n" line ends, usage riding on the finish chunk, Claude
 * splitting choices, duplicate model ids, 401 on stale tokens, 429 with Retry-After. Counters let
 * tests assert what reached "GitHub".
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
}

export interface FakeOptions {
  /** any ghu_/gho_/ghp_/github_pat_ token is a valid user (for `npm start` smoke runs and the benchmark) */
  acceptAnyToken?: boolean;
  tokenTtlSeconds?: number;
  exchangeDelayMs?: number;
  /** stream shape: content events per completion and the gap between them */
  streamEvents?: number;
  streamIntervalMs?: number;
  /** split every stream write at random byte offsets (default true) */
  splitWrites?: boolean;
  /** use "\r\n" line ends in the stream */
  crlf?: boolean;
  /** the device flow's polling interval (GitHub: 5) */
  deviceIntervalSeconds?: number;
}

export const FAKE_MODELS = [
  { id: 'gpt-4o', vendor: 'Azure OpenAI', type: 'chat' },
  { id: 'gpt-4o', vendor: 'Azure OpenAI', type: 'chat' },
  { id: 'gpt-4.1', vendor: 'Azure OpenAI', type: 'chat' },
  { id: 'claude-sonnet-4', vendor: 'Anthropic', type: 'chat' },
  { id: 'o3-mini', vendor: 'Azure OpenAI', type: 'chat' },
  { id: 'text-embedding-3-small', vendor: 'Azure OpenAI', type: 'embeddings' },
  { id: 'text-embedding-3-small', vendor: 'Azure OpenAI', type: 'embeddings' },
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
  private server!: Server;
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
  };
  /** headers of the last Copilot API call, lower-cased */
  lastHeaders: Record<string, string | string[] | undefined> = {};
  lastChatBody: any = null;
  /** the bytes of the last chat request, as they arrived */
  lastChatRaw = '';
  /** every Copilot token handed out, for tests that look for them where they must not be */
  readonly issuedTokens: string[] = [];
  private readonly sockets = new Set<import('node:net').Socket>();

  /** TCP connections open to the fake right now (the leak tests count them). */
  get openConnections(): number {
    return this.sockets.size;
  }

  constructor(readonly options: FakeOptions = {}) {}

  async start(port = 0, host = '127.0.0.1'): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
    });
    this.server.keepAliveTimeout = 60_000;
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server.listen({ port, host, backlog: 4096 }, resolve));
    this.url = `http://${host}:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  addUser(githubToken: string, user: FakeUser): this {
    this.users.set(githubToken, { copilot: 'ok', ...user });
    return this;
  }

  /** The next call(s) to `route` ('chat', 'models', 'embeddings', 'exchange', 'user') answer this instead. */
  script(route: 'chat' | 'models' | 'embeddings' | 'exchange' | 'user', response: ScriptedResponse, times = 1): this {
    for (let i = 0; i < times; i++) this.scripted.push({ route, response });
    return this;
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
    if (d) d.state = 'denied';
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
  }

  private takeScript(route: string): ScriptedResponse | undefined {
    const i = this.scripted.findIndex((s) => s.route === route);
    return i === -1 ? undefined : this.scripted.splice(i, 1)[0].response;
  }

  private async answerScripted(req: IncomingMessage, res: ServerResponse, s: ScriptedResponse) {
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
    if (!['GET /models', 'POST /chat/completions', 'POST /embeddings'].includes(route)) {
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
          capabilities: { family: m.id, type: m.type, tokenizer: 'o200k_base', limits: { max_prompt_tokens: 64000 }, supports: { streaming: true, tool_calls: true } },
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
    if (chat.stream) return this.stream(req, res, chat);
    return this.complete(res, chat);
  }

  /**
   * Failures real upstreams produce, chosen per request by the body's `fake_fault` (so retries of
   * one request meet the same fault): headers that come late, a stream that stops mid-way, a body
   * cut off, an HTML error page, a 200 that is not JSON, a reset connection.
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
        return void setTimeout(() => res.destroy(), 5);
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
        return void req.socket.destroy();
      default:
        return json(res, 400, { error: { message: `unknown fake_fault ${chat.fake_fault}`, code: 'invalid_request_body' } });
    }
  }

  private complete(res: ServerResponse, chat: any) {
    this.counters.chatCompleted++;
    const id = `chatcmpl-${randomBytes(6).toString('hex')}`;
    const usage = { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 };
    const filter = { hate: { filtered: false, severity: 'safe' } };
    const claudeTools = chat.model.startsWith('claude') && Array.isArray(chat.tools) && chat.tools.length;
    const choices = claudeTools
      ? [
          { index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: 'Let me check the weather.' } },
          {
            index: 1,
            finish_reason: 'tool_calls',
            message: { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: chat.tools[0].function?.name ?? 'tool', arguments: '{"city":"Paris"}' } }] },
          },
        ]
      : [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `Hello from ${chat.model}!` }, content_filter_results: filter }];
    json(res, 200, { id, created: Math.floor(Date.now() / 1000), model: chat.model, choices, usage, prompt_filter_results: [{ prompt_index: 0, content_filter_results: filter }], system_fingerprint: 'fp_fake' });
  }

  private async stream(req: IncomingMessage, res: ServerResponse, chat: any) {
    const eol = this.options.crlf ? '\r\n' : '\n';
    // A request may ask for its own stream shape (the benchmark's slow streams do).
    const shape = chat.fake_stream ?? {};
    const n = Number(shape.events ?? this.options.streamEvents ?? 5);
    const gap = Number(shape.interval_ms ?? this.options.streamIntervalMs ?? 0);
    const split = this.options.splitWrites ?? true;
    const id = `chatcmpl-${randomBytes(6).toString('hex')}`;
    const created = Math.floor(Date.now() / 1000);
    const filter = { hate: { filtered: false, severity: 'safe' } };
    let closed = false;
    res.on('close', () => {
      if (!res.writableFinished) {
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
    const words = ['Hello', ' from', ` ${chat.model}`, ' — ünïcödé ✓', '!'];
    // Events keep to a fixed timeline (like a model emitting tokens), so a busy event loop delays
    // one event without pushing every later one back.
    const t0 = Date.now();
    for (let i = 0; i < n && !closed; i++) {
      const due = t0 + (i + 1) * gap - Date.now();
      if (gap) await new Promise((r) => setTimeout(r, Math.max(0, due)));
      if (closed) return;
      const delta = i === 0 ? { role: 'assistant', content: words[0] + pad } : { content: words[i % words.length] + pad };
      await send({ choices: [{ index: 0, delta, content_filter_offsets: { check_offset: 1, start_offset: 0, end_offset: 5 }, content_filter_results: filter }], created, id, model: chat.model, system_fingerprint: 'fp_fake' });
    }
    if (closed) return;
    if (chat.model.startsWith('claude') && Array.isArray(chat.tools) && chat.tools.length) {
      await send({ choices: [{ index: 1, delta: { tool_calls: [{ index: 0, id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] } }], created, id, model: chat.model });
    }
    await send({ choices: [{ index: 0, finish_reason: 'stop', delta: { content: null } }], created, id, model: chat.model, usage: { prompt_tokens: 12, completion_tokens: n, total_tokens: 12 + n } });
    await send('[DONE]');
    this.counters.chatCompleted++;
    res.end();
  }
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

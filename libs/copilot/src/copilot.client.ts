import { randomUUID } from 'node:crypto';
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import type { AppConfig } from '#libs/config';
import { ApiError } from './api-error.js';
import { CallSignal, onAbort, type AnySignal } from './call-signal.js';
import { MultiplexPool } from './multiplex-pool.js';
import { describeNetworkError } from './upstream-errors.js';

/** The identity headers GitHub and Copilot expect from an editor (COPILOT_* settings). */
export function editorHeaders(identity: AppConfig['identity']): Record<string, string> {
  return {
    'editor-version': identity.editorVersion,
    'editor-plugin-version': identity.pluginVersion,
    'user-agent': identity.userAgent,
    'x-github-api-version': identity.apiVersion,
  };
}

export interface CopilotToken {
  token: string;
  /** epoch seconds */
  expiresAt: number;
  refreshIn: number;
  /** epoch seconds: issue time + refresh_in, so the schedule survives being read later */
  refreshAt: number;
  apiBase: string;
}

/**
 * What `GET {GITHUB_API_URL}/copilot_internal/user` says of an account's plan and premium quota
 * (copilot-upstream.md §2), with the answer as GitHub sent it kept in `raw`.
 */
export interface CopilotQuota {
  /** copilot_plan: individual, individual_pro, business, enterprise, … (null when absent) */
  plan: string | null;
  /** when the monthly premium quota resets, ISO 8601 (quota_reset_date_utc, else quota_reset_date) */
  resetAt: string | null;
  /** quota_snapshots.premium_interactions; null when the answer has none */
  premium: { entitlement: number | null; remaining: number | null; percentRemaining: number | null; unlimited: boolean } | null;
  raw: Record<string, unknown>;
}

const finite = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** A date GitHub wrote (`2026-12-01`, or a full timestamp) as ISO 8601 UTC; null when it is not one. */
function isoDate(v: unknown): string | null {
  if (typeof v !== 'string' || !v) return null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

/** The parts of a copilot_internal/user answer the gateway uses. */
export function parseCopilotQuota(raw: Record<string, unknown>): CopilotQuota {
  const snapshots = raw.quota_snapshots as Record<string, any> | undefined;
  const p = snapshots && typeof snapshots === 'object' ? snapshots.premium_interactions : undefined;
  return {
    plan: typeof raw.copilot_plan === 'string' ? raw.copilot_plan : null,
    resetAt: isoDate(raw.quota_reset_date_utc) ?? isoDate(raw.quota_reset_date),
    premium:
      p && typeof p === 'object'
        ? { entitlement: finite(p.entitlement), remaining: finite(p.remaining), percentRemaining: finite(p.percent_remaining), unlimited: p.unlimited === true }
        : null,
    raw,
  };
}

export interface GithubUser {
  login: string;
  id: number;
  name?: string | null;
}

/** Why a token exchange failed, in the terms the account status uses (design.md §6). */
export type ExchangeFailure = 'revoked' | 'no_subscription' | 'transient';

export class ExchangeError extends Error {
  constructor(
    readonly kind: ExchangeFailure,
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ExchangeError';
  }

  toApiError(): ApiError {
    if (this.kind === 'revoked')
      return ApiError.unauthorized(
        'The GitHub authorization behind this key was revoked or has expired; authorize again at /auth/device',
        'github_token_revoked',
      );
    if (this.kind === 'no_subscription')
      return new ApiError(403, 'The GitHub account behind this key has no active Copilot subscription', 'permission_error', 'no_copilot_subscription');
    return new ApiError(502, 'Could not obtain a Copilot token from GitHub; try again shortly', 'upstream_error', 'token_exchange_failed');
  }
}

export interface DeviceCode {
  device_code: string;
  user_code: string;
  verification_uri: string;
  expires_in: number;
  interval: number;
}

/** GitHub's answer to one device-flow poll (RFC 8628): every outcome arrives as HTTP 200. */
export type DevicePoll =
  | { kind: 'token'; accessToken: string }
  | { kind: 'pending' }
  | { kind: 'slow_down'; interval: number | null }
  | { kind: 'expired' }
  | { kind: 'denied' }
  | { kind: 'invalid'; error: string };

export interface UpstreamCall {
  method: 'GET' | 'POST';
  path: string;
  body?: string | Buffer;
  initiator?: 'user' | 'agent';
  vision?: boolean;
  /** `x-interaction-type`, e.g. `conversation-compaction` */
  interaction?: string;
  /** `openai-intent`; `conversation-panel` when unset */
  intent?: string;
  /** more headers the endpoint takes (anthropic-version, anthropic-beta on /v1/messages) */
  headers?: Record<string, string>;
  /** the client hung up: abort the call, before its headers or mid-body */
  signal?: AnySignal;
}

/**
 * What undici holds of an answer the gateway has not consumed yet: a client that reads slowly
 * pauses the upstream socket after this much, instead of letting a reply pile up in memory.
 */
const BODY_HIGH_WATER_MARK = 16 * 1024;

/**
 * Streams on one HTTP/2 connection when Copilot would allow more: past this a new connection is
 * opened (a GOAWAY or a lost connection then fails fewer streams at once).
 */
const MAX_STREAMS_PER_CONNECTION = 1000;

/**
 * GitHub and Copilot over undici Pools, one per origin, so keep-alive connections are shared by
 * every request of the process (HTTP_MAX_CONNECTIONS each).
 */
/** The device flow's calls to github.com: start and poll (the body is a few hundred bytes). */
const GITHUB_WEB_TIMEOUT_MS = 15_000;

export class CopilotClient {
  private readonly pools = new Map<string, Pool>();
  /** the Copilot API's origins over HTTP/2 (UPSTREAM_HTTP2), beside GitHub's Pools even for one origin */
  private readonly multiplexed = new Map<string, MultiplexPool>();
  /** API base → origin and path prefix; the bases are the few Copilot endpoints tokens name. */
  private readonly targets = new Map<string, { base: string; dispatcher: Dispatcher }>();
  private readonly identity: Record<string, string>;

  constructor(private readonly config: Pick<AppConfig, 'github' | 'copilotApiUrl' | 'upstream' | 'identity'>) {
    this.identity = editorHeaders(config.identity);
  }

  pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, { ...this.poolOptions(), pipelining: 1 });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /**
   * The Copilot API's dispatcher for an origin: with UPSTREAM_HTTP2 and HTTPS, streams share a few
   * connections, as many per connection as Copilot's SETTINGS allow (ALPN may still answer
   * HTTP/1.1); otherwise the Pool GitHub's hosts use.
   */
  private apiPool(origin: string): Dispatcher {
    if (!this.config.upstream.http2 || !origin.startsWith('https:')) return this.pool(origin);
    let pool = this.multiplexed.get(origin);
    if (!pool) {
      pool = new MultiplexPool(origin, { ...this.poolOptions(), maxStreams: MAX_STREAMS_PER_CONNECTION });
      this.multiplexed.set(origin, pool);
    }
    return pool;
  }

  /** The Copilot API base for an account: COPILOT_API_URL wins, else the token's endpoints.api. */
  apiBase(tokenApi: string | undefined): string {
    return this.config.copilotApiUrl ?? tokenApi ?? 'https://api.githubcopilot.com';
  }

  async exchangeToken(githubToken: string, signal?: AbortSignal): Promise<CopilotToken> {
    let res: Dispatcher.ResponseData;
    try {
      res = await this.github('GET', '/copilot_internal/v2/token', `token ${githubToken}`, signal);
    } catch (err) {
      throw new ExchangeError('transient', 0, `token exchange failed: ${describeNetworkError(err)}`);
    }
    const text = await res.body.text();
    refused(res, text, 'token exchange');
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ExchangeError('transient', 200, 'token exchange answered with something that is not JSON');
    }
    if (typeof body?.token !== 'string' || typeof body?.expires_at !== 'number')
      throw new ExchangeError('transient', 200, 'token exchange answer has no token');
    const refreshIn = typeof body.refresh_in === 'number' ? body.refresh_in : Math.max(60, body.expires_at - Date.now() / 1000 - 300);
    return {
      token: body.token,
      expiresAt: body.expires_at,
      refreshIn,
      refreshAt: Math.floor(Date.now() / 1000 + refreshIn),
      apiBase: this.apiBase(body.endpoints?.api),
    };
  }

  async getUser(githubToken: string): Promise<GithubUser> {
    const res = await this.github('GET', '/user', `Bearer ${githubToken}`);
    const text = await res.body.text();
    if (res.statusCode === 401) throw new ExchangeError('revoked', 401, 'GitHub token is invalid or revoked');
    if (res.statusCode !== 200) throw new ExchangeError('transient', res.statusCode, `GET /user answered ${res.statusCode}`);
    return JSON.parse(text) as GithubUser;
  }

  /**
   * The account's Copilot plan and premium quota (`GET /copilot_internal/user`). Throws
   * ExchangeError: `revoked` on 401, `no_subscription` on 403/404, else `transient`.
   */
  async getCopilotUser(githubToken: string, signal?: AbortSignal): Promise<CopilotQuota> {
    let res: Dispatcher.ResponseData;
    try {
      res = await this.github('GET', '/copilot_internal/user', `token ${githubToken}`, signal);
    } catch (err) {
      throw new ExchangeError('transient', 0, `copilot_internal/user failed: ${describeNetworkError(err)}`);
    }
    const text = await res.body.text();
    refused(res, text, 'copilot_internal/user');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    if (!body || typeof body !== 'object' || Array.isArray(body))
      throw new ExchangeError('transient', 200, 'copilot_internal/user answered with something that is not a JSON object');
    return parseCopilotQuota(body as Record<string, unknown>);
  }

  /** RFC 8628 §3.1 against GITHUB_BASE_URL; Accept: application/json or GitHub answers a form. */
  async startDeviceFlow(scope = 'read:user'): Promise<DeviceCode> {
    const res = await this.githubWeb('/login/device/code', { client_id: this.config.github.oauthClientId, scope });
    const text = await res.body.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    if (res.statusCode !== 200 || typeof body?.device_code !== 'string' || typeof body?.user_code !== 'string')
      throw new ExchangeError('transient', res.statusCode, `device code request answered ${res.statusCode}`);
    return {
      device_code: body.device_code,
      user_code: body.user_code,
      verification_uri: body.verification_uri,
      expires_in: typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 900,
      interval: typeof body.interval === 'number' && body.interval >= 0 ? body.interval : 5,
    };
  }

  async pollDeviceFlow(deviceCode: string): Promise<DevicePoll> {
    const res = await this.githubWeb('/login/oauth/access_token', {
      client_id: this.config.github.oauthClientId,
      device_code: deviceCode,
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
    });
    const text = await res.body.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ExchangeError('transient', res.statusCode, `device poll answered ${res.statusCode} with something that is not JSON`);
    }
    if (typeof body?.access_token === 'string') return { kind: 'token', accessToken: body.access_token };
    switch (body?.error) {
      case 'authorization_pending':
        return { kind: 'pending' };
      case 'slow_down':
        return { kind: 'slow_down', interval: typeof body.interval === 'number' ? body.interval : null };
      case 'expired_token':
        return { kind: 'expired' };
      case 'access_denied':
        return { kind: 'denied' };
      default:
        if (res.statusCode >= 500) throw new ExchangeError('transient', res.statusCode, `device poll answered ${res.statusCode}`);
        return { kind: 'invalid', error: String(body?.error ?? `status ${res.statusCode}`) };
    }
  }

  private githubWeb(path: string, form: Record<string, string>) {
    const url = new URL(this.config.github.baseUrl);
    const base = url.pathname === '/' ? '' : url.pathname;
    return this.pool(url.origin).request({
      method: 'POST',
      path: base + path,
      // A person waits on these (device start and poll): a GitHub that does not answer is a
      // passing failure to say soon, not after UPSTREAM_HEADERS_TIMEOUT_MS (whose clock only
      // starts once the request has a connection).
      signal: AbortSignal.timeout(GITHUB_WEB_TIMEOUT_MS),
      headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', 'user-agent': this.identity['user-agent'] },
      body: new URLSearchParams(form).toString(),
    });
  }

  private github(method: 'GET' | 'POST', path: string, authorization: string, signal?: AbortSignal) {
    const url = new URL(this.config.github.apiUrl);
    const base = url.pathname === '/' ? '' : url.pathname;
    return this.pool(url.origin).request({
      method,
      path: base + path,
      signal,
      headers: { authorization, accept: 'application/json', ...this.identity },
    });
  }

  /** One call to the Copilot API with the headers it insists on (copilot-upstream.md §3). */
  call(apiBase: string, copilotToken: string, call: UpstreamCall): Promise<Dispatcher.ResponseData> {
    const { base, dispatcher } = this.target(apiBase);
    // Object.assign, not a literal mixing spreads and fields: V8 (Node 20) builds those off its fast path.
    const headers: Record<string, string> = Object.assign(
      { authorization: `Bearer ${copilotToken}`, 'content-type': 'application/json', 'copilot-integration-id': 'vscode-chat' },
      this.identity,
      { 'openai-intent': call.intent ?? 'conversation-panel', 'x-request-id': randomUUID(), 'x-initiator': call.initiator ?? 'user' },
      call.headers,
    );
    if (call.vision) headers['copilot-vision-request'] = 'true';
    if (call.interaction) headers['x-interaction-type'] = call.interaction;
    // undici's headersTimeout starts once the request is on a connection; a request queued behind a
    // full pool would wait without end. This deadline covers the queue and the headers together.
    // undici listens to one signal, aborted by the client hanging up (call.signal, before the
    // headers or mid-body) or by the deadline (before the headers only).
    const signal = new CallSignal();
    const hangup = call.signal;
    let offHangup: (() => void) | null = null;
    if (hangup?.aborted) signal.abort(hangup.reason);
    else if (hangup) offHangup = onAbort(hangup, () => signal.abort(hangup.reason));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      signal.abort();
    }, this.config.upstream.headersTimeoutMs);
    return dispatcher
      .request({ method: call.method, path: base + call.path, headers, body: call.body, signal, highWaterMark: BODY_HIGH_WATER_MARK })
      .then(
        (res) => {
          clearTimeout(timer);
          if (offHangup) res.body.once('close', offHangup);
          return res;
        },
        (err) => {
          clearTimeout(timer);
          offHangup?.();
          if (timedOut && !hangup?.aborted) throw new undiciErrors.HeadersTimeoutError('no answer from Copilot within UPSTREAM_HEADERS_TIMEOUT_MS');
          throw err;
        },
      );
  }

  /**
   * An API base's path prefix and dispatcher, found once (a URL parse per call showed in the
   * profile); forgotten with the pools when the client closes.
   */
  private target(apiBase: string): { base: string; dispatcher: Dispatcher } {
    let target = this.targets.get(apiBase);
    if (!target) {
      const url = new URL(apiBase);
      target = { base: url.pathname === '/' ? '' : url.pathname, dispatcher: this.apiPool(url.origin) };
      this.targets.set(apiBase, target);
    }
    return target;
  }

  /** What every upstream pool shares: its connection cap and timeouts. */
  private poolOptions() {
    const { maxConnections, headersTimeoutMs, bodyTimeoutMs } = this.config.upstream;
    return { connections: maxConnections, headersTimeout: headersTimeoutMs, bodyTimeout: bodyTimeoutMs, keepAliveTimeout: 30_000 };
  }

  /** Open upstream connections per origin, as undici counts them (for /stats and the leak tests). */
  connections(): Record<string, { connected: number; free: number; pending: number; running: number }> {
    const out: Record<string, { connected: number; free: number; pending: number; running: number }> = {};
    for (const [origin, pool] of [...this.pools, ...this.multiplexed]) {
      const { connected, free, pending, running } = pool.stats;
      const o = (out[origin] ??= { connected: 0, free: 0, pending: 0, running: 0 });
      o.connected += connected;
      o.free += free;
      o.pending += pending;
      o.running += running;
    }
    return out;
  }

  onModuleDestroy() {
    return this.close();
  }

  /** Lets requests in flight finish for up to a second, then cuts what is left (shutdown must end). */
  async close(): Promise<void> {
    const pools = [...this.pools.values(), ...this.multiplexed.values()];
    this.pools.clear();
    this.multiplexed.clear();
    this.targets.clear();
    await Promise.allSettled(
      pools.map(async (p) => {
        const timer = setTimeout(() => p.destroy().catch(() => {}), 1000);
        await p.close().catch(() => {});
        clearTimeout(timer);
      }),
    );
  }
}


/**
 * What a non-200 from GitHub's Copilot endpoints means for the account. 401: the token is dead.
 * 403/404: no Copilot for this account, unless the 403 is GitHub's rate limit (it answers those
 * with 403 as well as 429: `x-ratelimit-remaining: 0`, a `retry-after`, or a message saying so),
 * which passes: marking the account no_subscription for it would stop a paying account's keys.
 */
function refused(res: Dispatcher.ResponseData, text: string, what: string): void {
  const status = res.statusCode;
  if (status === 200) return;
  if (status === 401) throw new ExchangeError('revoked', 401, 'GitHub token is invalid or revoked');
  if (status === 403 && isRateLimited(res.headers, text)) throw new ExchangeError('transient', 403, `${what} answered 403: GitHub's rate limit`);
  if (status === 403 || status === 404) throw new ExchangeError('no_subscription', status, 'no Copilot access for this GitHub account');
  throw new ExchangeError('transient', status, `${what} answered ${status}`);
}

function isRateLimited(headers: Dispatcher.ResponseData['headers'], text: string): boolean {
  if (headers['x-ratelimit-remaining'] === '0' || headers['retry-after'] !== undefined) return true;
  return /rate limit/i.test(text.slice(0, 2000));
}

import { Inject, Injectable, Logger } from '@nestjs/common';
import { AccountsService, STATE_STORE, SecretBox, type StateStore } from '#libs/accounts';
import { InjectConfig, type AppConfig } from '#libs/config';
import { ApiError, CopilotClient, ExchangeError } from '#libs/copilot';
import { storeKeys } from '#libs/redis';
import { clientBucket } from './client-address.js';

interface DeviceSession {
  device_code: string;
  user_code: string;
  /** epoch ms */
  expires_at: number;
  interval: number;
  /** epoch ms: GitHub is not asked again before this */
  next_poll_at: number;
  /**
   * GitHub's token once the person approved, sealed (SecretBox). While it is here, the steps
   * after approval (GET /user, exchange, register, key) failed for a passing reason and are
   * retried on the next poll; GitHub's token endpoint is not asked again.
   */
  github_token?: string;
}

export type PollAnswer =
  | { status: 'pending' | 'slow_down'; interval: number }
  | { status: 'success'; api_key: string; username: string; account_id: string };

/** Sessions outlive their expiry by this much, so a late poll hears 410 (expired), not 404. */
const KEEP_AFTER_EXPIRY_MS = 10 * 60_000;
/** An approved session gets at least this long to finish, however late in its life it was approved. */
const FINISH_WINDOW_MS = 10 * 60_000;
/** The poll lock; renewed while its holder works, so a slow GitHub never lets a second poll in. */
const POLL_LOCK_MS = 30_000;
const MINUTE_MS = 60_000;

/**
 * The GitHub device flow (RFC 8628) for people: start, then poll until GitHub says yes. Sessions
 * live in the store (device:{code}), so any replica answers any poll; a client polling faster
 * than the interval is answered from the session without asking GitHub.
 */
@Injectable()
export class DeviceFlowService {
  private readonly log = new Logger('DeviceFlow');

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    @Inject(STATE_STORE) private readonly store: StateStore,
    @Inject(SecretBox) private readonly box: SecretBox,
    private readonly client: CopilotClient,
    private readonly accounts: AccountsService,
  ) {}

  /** `clientIp`: Fastify's req.ip; the start limit counts by it before GitHub is asked anything. */
  async start(clientIp?: string) {
    await this.countStart(clientIp);
    let code;
    try {
      code = await this.client.startDeviceFlow();
    } catch {
      throw new ApiError(502, 'GitHub did not start the device flow; try again shortly', 'upstream_error', 'github_unavailable');
    }
    const session: DeviceSession = {
      device_code: code.device_code,
      user_code: code.user_code,
      expires_at: Date.now() + code.expires_in * 1000,
      interval: code.interval,
      next_poll_at: Date.now() + code.interval * 1000,
    };
    await this.save(session);
    return {
      device_code: code.device_code,
      user_code: code.user_code,
      verification_uri: code.verification_uri,
      verification_uri_complete: `${code.verification_uri}?user_code=${encodeURIComponent(code.user_code)}`,
      expires_in: code.expires_in,
      interval: code.interval,
    };
  }

  /**
   * DEVICE_START_LIMIT starts per client address per minute, counted in the store so every
   * replica sees the same count (dstart:{address}:{minute}). A start costs a GitHub call and a
   * session; without this one client could make GitHub throttle the whole deployment.
   */
  private async countStart(clientIp: string | undefined) {
    const now = Date.now();
    const minute = Math.floor(now / MINUTE_MS);
    const hits = await this.store.countHit(storeKeys.deviceStarts(clientBucket(clientIp), minute), MINUTE_MS);
    if (hits <= this.config.deviceStartLimit) return;
    const retryAfter = Math.max(1, Math.ceil(((minute + 1) * MINUTE_MS - now) / 1000));
    throw new ApiError(
      429,
      `Too many sign-ins started from this address (at most ${this.config.deviceStartLimit} a minute); try again in ${retryAfter} s`,
      'rate_limit_error',
      'device_start_limited',
      null,
      { 'retry-after': String(retryAfter) },
    );
  }

  async poll(deviceCode: string): Promise<PollAnswer> {
    const session = await this.load(deviceCode);
    if (Date.now() < session.next_poll_at) return { status: 'pending', interval: session.interval };
    // One poll of GitHub per session at a time, across replicas: a success must issue one key.
    const name = storeKeys.device(deviceCode);
    const lock = await this.store.acquireLock(name, POLL_LOCK_MS);
    if (!lock) return { status: 'pending', interval: session.interval };
    const renew = setInterval(() => void this.store.extendLock(name, lock, POLL_LOCK_MS).catch(() => {}), POLL_LOCK_MS / 3);
    try {
      const current = await this.load(deviceCode);
      return current.github_token ? await this.finish(current) : await this.pollGithub(current);
    } finally {
      clearInterval(renew);
      await this.store.releaseLock(name, lock).catch(() => {});
    }
  }

  private async pollGithub(session: DeviceSession): Promise<PollAnswer> {
    let answer;
    try {
      answer = await this.client.pollDeviceFlow(session.device_code);
    } catch {
      throw new ApiError(502, 'GitHub did not answer the poll; keep polling', 'upstream_error', 'github_unavailable');
    }
    switch (answer.kind) {
      case 'pending':
        session.next_poll_at = Date.now() + session.interval * 1000;
        await this.save(session);
        return { status: 'pending', interval: session.interval };
      case 'slow_down':
        session.interval = answer.interval ?? session.interval + 5;
        session.next_poll_at = Date.now() + session.interval * 1000;
        await this.save(session);
        return { status: 'slow_down', interval: session.interval };
      case 'expired':
        session.expires_at = 0;
        await this.save(session);
        throw new ApiError(410, 'The device code has expired; start again', 'invalid_request_error', 'expired_token');
      case 'denied':
        await this.forget(session);
        throw new ApiError(403, 'The authorization was denied on GitHub', 'permission_error', 'access_denied');
      case 'invalid':
        await this.forget(session);
        throw ApiError.notFound(`GitHub does not know this device code (${answer.error})`, 'unknown_device_code');
      case 'token':
        // GitHub hands the token out once: it is kept (sealed) before anything else can fail.
        session.github_token = this.box.seal(answer.accessToken);
        session.expires_at = Math.max(session.expires_at, Date.now() + FINISH_WINDOW_MS);
        await this.save(session);
        return this.finish(session);
    }
  }

  /**
   * The steps after approval. A passing failure (GitHub or the store unreachable, a 5xx) keeps
   * the session for the next poll; a final one (login not allowed, no Copilot, token refused)
   * forgets it, and the person has to start again.
   */
  private async finish(session: DeviceSession): Promise<PollAnswer> {
    let answer: PollAnswer;
    try {
      answer = await this.complete(this.box.open(session.github_token!));
    } catch (err) {
      if (!isPassing(err)) {
        await this.forget(session).catch(() => {});
        throw err instanceof ExchangeError ? err.toApiError() : err;
      }
      this.log.warn(`finishing a device sign-in failed; kept for the next poll (${why(err)})`);
      session.next_poll_at = Date.now() + session.interval * 1000;
      await this.save(session).catch(() => {});
      throw new ApiError(502, 'You approved on GitHub, but GitHub did not answer while the sign-in was being finished; keep polling', 'upstream_error', 'github_unavailable');
    }
    // The key exists now: it is answered even if the session could not be dropped (a later
    // poll would then issue another key for the same account, which is harmless).
    await this.forget(session).catch((err) => this.log.warn(`a finished device session could not be dropped (${why(err)})`));
    return answer;
  }

  private async complete(githubToken: string): Promise<PollAnswer> {
    const allowed = this.config.allowedLogins;
    const account = await this.accounts.registerGithubToken(githubToken, {
      allowLogin: allowed.length ? (login) => allowed.some((a) => a.toLowerCase() === login.toLowerCase()) : undefined,
    });
    const { key } = await this.accounts.issueKey(account.id, { name: 'device flow' });
    return { status: 'success', api_key: key, username: account.login, account_id: account.id };
  }

  private async load(deviceCode: string): Promise<DeviceSession> {
    const raw = await this.store.getCache(storeKeys.device(deviceCode));
    if (!raw) throw ApiError.notFound('Unknown device code; start the flow again', 'unknown_device_code');
    const session = JSON.parse(raw) as DeviceSession;
    if (session.expires_at <= Date.now()) throw new ApiError(410, 'The device code has expired; start again', 'invalid_request_error', 'expired_token');
    return session;
  }

  private save(s: DeviceSession) {
    return this.store.setCache(storeKeys.device(s.device_code), JSON.stringify(s), Math.max(s.expires_at - Date.now(), 0) + KEEP_AFTER_EXPIRY_MS);
  }

  private forget(s: DeviceSession) {
    return this.store.deleteCache(storeKeys.device(s.device_code));
  }
}

/**
 * Worth another try: GitHub or the store unreachable or failing (network errors, 5xx, an
 * unreadable answer). Not: what GitHub or this gateway said no to (ExchangeError revoked or
 * no_subscription, a 4xx ApiError such as login_not_allowed).
 */
function isPassing(err: unknown): boolean {
  if (err instanceof ExchangeError) return err.kind === 'transient';
  if (err instanceof ApiError) return err.status >= 500;
  return true;
}

/** A failure for the log: its kind and message, never a token (none of these carry one). */
function why(err: unknown): string {
  if (err instanceof ExchangeError) return `${err.kind}: ${err.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

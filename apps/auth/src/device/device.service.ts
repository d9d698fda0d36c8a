import { Inject, Injectable } from '@nestjs/common';
import { AccountsService, STATE_STORE, type StateStore } from '#libs/accounts';
import { InjectConfig, type AppConfig } from '#libs/config';
import { ApiError, CopilotClient, ExchangeError } from '#libs/copilot';

interface DeviceSession {
  device_code: string;
  user_code: string;
  /** epoch ms */
  expires_at: number;
  interval: number;
  /** epoch ms: GitHub is not asked again before this */
  next_poll_at: number;
}

export type PollAnswer =
  | { status: 'pending' | 'slow_down'; interval: number }
  | { status: 'success'; api_key: string; username: string; account_id: string };

/** Sessions outlive their expiry by this much, so a late poll hears 410 (expired), not 404. */
const KEEP_AFTER_EXPIRY_MS = 10 * 60_000;

/**
 * The GitHub device flow (RFC 8628) for people: start, then poll until GitHub says yes. Sessions
 * live in the store (device:{code}), so any replica answers any poll; a client polling faster
 * than the interval is answered from the session without asking GitHub.
 */
@Injectable()
export class DeviceFlowService {
  constructor(
    @InjectConfig() private readonly config: AppConfig,
    @Inject(STATE_STORE) private readonly store: StateStore,
    private readonly client: CopilotClient,
    private readonly accounts: AccountsService,
  ) {}

  async start() {
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

  async poll(deviceCode: string): Promise<PollAnswer> {
    const session = await this.load(deviceCode);
    if (Date.now() < session.next_poll_at) return { status: 'pending', interval: session.interval };
    // One poll of GitHub per session at a time, across replicas: a success must issue one key.
    const lock = await this.store.acquireLock(`device:${deviceCode}`, 30_000);
    if (!lock) return { status: 'pending', interval: session.interval };
    try {
      return await this.pollGithub(await this.load(deviceCode));
    } finally {
      await this.store.releaseLock(`device:${deviceCode}`, lock).catch(() => {});
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
        await this.forget(session);
        return this.complete(answer.accessToken);
    }
  }

  private async complete(githubToken: string): Promise<PollAnswer> {
    const allowed = this.config.allowedLogins;
    let account;
    try {
      account = await this.accounts.registerGithubToken(githubToken, {
        allowLogin: allowed.length ? (login) => allowed.some((a) => a.toLowerCase() === login.toLowerCase()) : undefined,
      });
    } catch (err) {
      throw err instanceof ExchangeError ? err.toApiError() : err;
    }
    const { key } = await this.accounts.issueKey(account.id, { name: 'device flow' });
    return { status: 'success', api_key: key, username: account.login, account_id: account.id };
  }

  private async load(deviceCode: string): Promise<DeviceSession> {
    const raw = await this.store.getCache(`device:${deviceCode}`);
    if (!raw) throw ApiError.notFound('Unknown device code; start the flow again', 'unknown_device_code');
    const session = JSON.parse(raw) as DeviceSession;
    if (session.expires_at <= Date.now()) throw new ApiError(410, 'The device code has expired; start again', 'invalid_request_error', 'expired_token');
    return session;
  }

  private save(s: DeviceSession) {
    return this.store.setCache(`device:${s.device_code}`, JSON.stringify(s), Math.max(s.expires_at - Date.now(), 0) + KEEP_AFTER_EXPIRY_MS);
  }

  private forget(s: DeviceSession) {
    return this.store.deleteCache(`device:${s.device_code}`);
  }
}

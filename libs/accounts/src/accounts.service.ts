import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { InjectConfig, type AppConfig } from '#libs/config';
import { ApiError, CopilotClient, ExchangeError } from '#libs/copilot';
import { MetricsService } from '#libs/metrics';
import { CopilotTokenService, type TokenOwner } from './copilot-token.service.js';
import { SecretBox, generateApiKey, isGithubToken, isIssuedKeyFormat, keyPrefix, sha256 } from './crypto.js';
import { Lru } from './lru.js';
import { STATE_STORE, type AccountRecord, type KeyRecord, type StateStore } from './store.js';

/** Who is calling: resolved from the bearer key once, then reused from the in-process LRU. */
export interface Principal extends TokenOwner {
  keyId: string;
  keyHash: string;
  login: string | null;
  /** epoch ms, or null for keys that never expire */
  expiresAt: number | null;
}

interface CacheEntry {
  principal: Principal;
  /** A safety net under pub/sub invalidation: entries are re-read from the store after this. */
  checkAt: number;
  touchedAt: number;
}

const TOUCH_MS = 60_000;
/** While the store is unreachable, a cached key is served as it was and the store asked again after this. */
const STALE_RETRY_MS = 1_000;

const nowIso = () => new Date().toISOString();
const newId = (prefix: string) => `${prefix}_${randomBytes(9).toString('base64url')}`;

export interface IssuedKey {
  key: string;
  record: KeyRecord;
}

@Injectable()
export class AccountsService {
  private readonly log = new Logger('Accounts');
  private readonly cache: Lru<string, CacheEntry>;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    @Inject(STATE_STORE) private readonly store: StateStore,
    @Inject(SecretBox) private readonly box: SecretBox,
    private readonly client: CopilotClient,
    private readonly tokens: CopilotTokenService,
    private readonly metrics: MetricsService,
  ) {
    this.cache = new Lru(config.maxClientsCache);
    store.subscribe((e) => {
      if (e.type === 'key.revoked') this.cache.deleteWhere((entry) => entry.principal.keyHash === e.hash);
      else if (e.type === 'account.deleted' || e.type === 'account.changed')
        this.cache.deleteWhere((entry) => entry.principal.accountId === e.id);
      else if (e.type === 'resync') for (const entry of this.cache.values()) entry.checkAt = 0;
    });
  }

  /** Bearer key → principal. Returns synchronously on a cache hit, which is the common case. */
  resolve(authorization: string | undefined): Principal | Promise<Principal> {
    const key = parseBearer(authorization);
    // Keyed by the key itself, so a hit costs no hashing; events name keys by hash (deleteWhere).
    const hit = this.cache.get(key);
    const now = Date.now();
    if (hit && hit.checkAt > now) {
      if (hit.principal.expiresAt !== null && hit.principal.expiresAt <= now) {
        this.cache.delete(key);
        throw ApiError.unauthorized('This API key has expired', 'expired_api_key');
      }
      this.metrics.keyCacheMemoryHit.inc();
      if (now - hit.touchedAt > TOUCH_MS && !hit.principal.passthrough) {
        hit.touchedAt = now;
        this.store.patchKey(hit.principal.keyHash, { last_used_at: new Date(now).toISOString() }).catch(() => {});
      }
      return hit.principal;
    }
    return this.resolveSlow(key, hit);
  }

  private async resolveSlow(key: string, stale: CacheEntry | undefined): Promise<Principal> {
    const hash = sha256(key);
    let principal: Principal;
    if (isIssuedKeyFormat(key)) {
      try {
        principal = await this.fromStore(hash);
      } catch (err) {
        // Store unreachable: a key this process already knew keeps working as it was.
        if (!stale || !(err instanceof ApiError) || err.code !== 'store_unavailable') throw err;
        stale.checkAt = Date.now() + STALE_RETRY_MS;
        this.metrics.storeFallbacks.inc({ what: 'key' });
        return stale.principal;
      }
    } else if (isGithubToken(key)) {
      if (!this.config.allowPassthrough)
        throw ApiError.unauthorized('GitHub tokens are not accepted as API keys here; use an issued key (sk-cgw-...)');
      principal = {
        keyId: `gh_${hash.slice(0, 24)}`,
        keyHash: hash,
        accountId: `gh_${hash.slice(0, 24)}`,
        login: null,
        passthrough: true,
        expiresAt: null,
        githubToken: async () => key,
      };
      this.metrics.keyCache.inc({ layer: 'passthrough' });
    } else {
      this.metrics.keyCache.inc({ layer: 'miss' });
      throw ApiError.unauthorized('Incorrect API key provided');
    }
    const now = Date.now();
    this.cache.set(key, { principal, checkAt: now + this.config.keyRecheckMs, touchedAt: stale?.touchedAt ?? (principal.passthrough ? now : 0) });
    return principal;
  }

  private async fromStore(hash: string): Promise<Principal> {
    let record: KeyRecord | null;
    let account: AccountRecord | null = null;
    try {
      record = await this.store.getKeyByHash(hash);
      if (record) account = await this.store.getAccount(record.account_id);
    } catch {
      throw ApiError.unavailable('The key store is unavailable; try again shortly', 'store_unavailable');
    }
    if (!record || !account) {
      this.metrics.keyCache.inc({ layer: 'miss' });
      throw ApiError.unauthorized('Incorrect API key provided');
    }
    this.metrics.keyCache.inc({ layer: 'store' });
    if (record.revoked_at && Date.parse(record.revoked_at) <= Date.now())
      throw ApiError.unauthorized('This API key has been revoked', 'revoked_api_key');
    const expiresAt = record.expires_at ? Date.parse(record.expires_at) : null;
    if (expiresAt !== null && expiresAt <= Date.now()) throw ApiError.unauthorized('This API key has expired', 'expired_api_key');
    if (account.status === 'revoked')
      throw ApiError.unauthorized(
        'The GitHub authorization behind this key was revoked; authorize again at /auth/device',
        'github_token_revoked',
      );
    const sealed = account.github_token;
    return {
      keyId: record.id,
      keyHash: hash,
      accountId: account.id,
      login: account.login,
      passthrough: false,
      expiresAt: record.revoked_at ? Math.min(Date.parse(record.revoked_at), expiresAt ?? Infinity) : expiresAt,
      githubToken: async () => this.box.open(sealed),
    };
  }

  /**
   * Registers (or updates) the account behind a GitHub token: who it is, and proof that it has
   * Copilot (a first token exchange). The same login registering again keeps its account id.
   */
  async registerGithubToken(githubToken: string, opts: { allowLogin?: (login: string) => boolean } = {}): Promise<AccountRecord> {
    const user = await this.client.getUser(githubToken);
    if (opts.allowLogin && !opts.allowLogin(user.login))
      throw new ApiError(403, `The GitHub account ${user.login} is not allowed to use this gateway`, 'permission_error', 'login_not_allowed');
    const token = await this.client.exchangeToken(githubToken);
    const id = `acc_${user.id}`;
    const existing = await this.store.getAccount(id);
    const account: AccountRecord = {
      id,
      login: user.login,
      github_id: user.id,
      github_token: this.box.seal(githubToken),
      status: 'active',
      api_base: token.apiBase,
      copilot_token_expires_at: new Date(token.expiresAt * 1000).toISOString(),
      last_refresh_at: nowIso(),
      last_error: null,
      created_at: existing?.created_at ?? nowIso(),
    };
    await this.store.putAccount(account);
    await this.tokens.put(id, token);
    await this.store.publish({ type: existing ? 'account.changed' : 'account.registered', id });
    return account;
  }

  /** GITHUB_TOKEN at startup: a failure is logged, not fatal, so the gateway still serves others. */
  async registerBootstrapToken(): Promise<void> {
    const token = this.config.github.bootstrapToken;
    if (!token) return;
    try {
      const account = await this.registerGithubToken(token);
      this.log.log(`GITHUB_TOKEN registered as account ${account.id} (${account.login})`);
    } catch (err) {
      const why = err instanceof ExchangeError ? `${err.kind}: ${err.message}` : String((err as Error)?.message ?? err);
      this.log.error(`GITHUB_TOKEN could not be registered (${why})`);
    }
  }

  async issueKey(accountId: string, opts: { name?: string | null; expiresInSeconds?: number | null } = {}): Promise<IssuedKey> {
    if (!(await this.store.getAccount(accountId))) throw ApiError.notFound(`No account ${accountId}`, 'account_not_found', 'account_id');
    const key = generateApiKey();
    const record: KeyRecord = {
      id: newId('key'),
      hash: sha256(key),
      account_id: accountId,
      name: opts.name ?? null,
      prefix: keyPrefix(key),
      created_at: nowIso(),
      last_used_at: null,
      expires_at: opts.expiresInSeconds ? new Date(Date.now() + opts.expiresInSeconds * 1000).toISOString() : null,
      revoked_at: null,
    };
    await this.store.putKey(record);
    return { key, record };
  }

  /** Revokes a key at once (or after `graceSeconds`) and tells every replica to forget it. */
  async revokeKey(hash: string, graceSeconds = 0): Promise<void> {
    await this.store.patchKey(hash, { revoked_at: new Date(Date.now() + graceSeconds * 1000).toISOString() });
    await this.store.publish({ type: 'key.revoked', hash });
  }

  /** Whose token the refresh worker renews; null when the account is gone or needs a new device flow. */
  async tokenOwner(accountId: string): Promise<TokenOwner | null> {
    const account = await this.store.getAccount(accountId);
    if (!account || account.status === 'revoked' || account.status === 'no_subscription') return null;
    const sealed = account.github_token;
    return { accountId, passthrough: false, githubToken: async () => this.box.open(sealed) };
  }

  listAccounts(): Promise<AccountRecord[]> {
    return this.store.listAccounts();
  }

  listKeys(): Promise<KeyRecord[]> {
    return this.store.listKeys();
  }

  async findKey(id: string): Promise<KeyRecord | null> {
    return (await this.store.listKeys()).find((k) => k.id === id) ?? null;
  }

  /**
   * A new key for the same account and name; the old one keeps working for `graceSeconds`, so
   * clients can be switched over without an outage.
   */
  async rotateKey(id: string, graceSeconds: number): Promise<{ issued: IssuedKey; replaced: KeyRecord; oldExpiresAt: string }> {
    const old = await this.findKey(id);
    const ended = (at: string | null) => at !== null && Date.parse(at) <= Date.now();
    if (!old || ended(old.revoked_at) || ended(old.expires_at)) throw ApiError.notFound(`No active key ${id}`, 'key_not_found');
    const remaining = old.expires_at ? Math.max(1, Math.ceil((Date.parse(old.expires_at) - Date.now()) / 1000)) : null;
    const issued = await this.issueKey(old.account_id, { name: old.name, expiresInSeconds: remaining });
    await this.revokeKey(old.hash, graceSeconds);
    return { issued, replaced: old, oldExpiresAt: new Date(Date.now() + graceSeconds * 1000).toISOString() };
  }

  async deleteAccount(id: string): Promise<boolean> {
    if (!(await this.store.getAccount(id))) return false;
    const hashes = await this.store.deleteAccount(id);
    await this.store.publish({ type: 'account.deleted', id });
    for (const hash of hashes) await this.store.publish({ type: 'key.revoked', hash });
    return true;
  }

  get cachedKeys() {
    return this.cache.size;
  }
}

function parseBearer(header: string | undefined): string {
  if (!header) throw ApiError.unauthorized('You did not provide an API key. Send it as "Authorization: Bearer <key>"', 'missing_api_key');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) throw ApiError.unauthorized('The Authorization header must be "Bearer <key>"', 'invalid_authorization_header');
  return m[1];
}

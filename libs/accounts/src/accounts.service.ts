import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { InjectConfig, type AppConfig } from '#libs/config';
import { ApiError, CopilotClient, ExchangeError } from '#libs/copilot';
import { MetricsService } from '#libs/metrics';
import { storeKeys } from '#libs/redis';
import { CopilotTokenService, type TokenOwner } from './copilot-token.service.js';
import { SecretBox, generateApiKey, isGithubToken, isIssuedKeyFormat, keyPrefix, sha256 } from './crypto.js';
import { Lru } from './lru.js';
import { QueueFull, Semaphore } from './semaphore.js';
import { KEY_LIMIT_NAMES, STATE_STORE, type AccountRecord, type KeyLimitName, type KeyLimits, type KeyRecord, type StateStore } from './store.js';

/** Who is calling: resolved from the bearer key once, then reused from the in-process LRU. */
export interface Principal extends TokenOwner {
  keyId: string;
  keyHash: string;
  login: string | null;
  /** epoch ms, or null for keys that never expire */
  expiresAt: number | null;
  /** the key's own limits (design.md §4), null when it has none (and for passthrough tokens) */
  limits: KeyLimits | null;
}

/** A change of limits: a number sets one, null clears one, an absent one stays; null for the whole clears all. */
export type KeyLimitsPatch = Partial<Record<KeyLimitName, number | null>> | null;

/** Why a passthrough token was refused: the error its next attempts get without a GitHub call. */
interface Refusal {
  status: number;
  code: string;
  message: string;
  until: number;
}

interface CacheEntry {
  principal: Principal;
  /** A safety net under pub/sub invalidation: entries are re-read from the store after this. */
  checkAt: number;
  touchedAt: number;
}

const TOUCH_MS = 60_000;
/**
 * A passthrough token GitHub refused (or whose login is not allowed) is refused from memory and
 * from the store's neg:{sha256} for this long, without asking GitHub again.
 */
const REFUSED_TTL_MS = 60_000;
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
  /** Refused passthrough tokens by sha256: kept apart, so made-up tokens never push out real keys. */
  private readonly refused: Lru<string, Refusal>;
  /** One check per passthrough token at a time, however many requests carry it. */
  private readonly checking = new Map<string, Promise<Principal>>();
  /**
   * Tokens nobody has vouched for yet are checked a few at a time, in a queue of their own: a flood
   * of made-up ones waits here and never takes every exchange slot from the accounts already known.
   */
  private readonly unverified = new Semaphore(4, 256);

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    @Inject(STATE_STORE) private readonly store: StateStore,
    @Inject(SecretBox) private readonly box: SecretBox,
    private readonly client: CopilotClient,
    private readonly tokens: CopilotTokenService,
    private readonly metrics: MetricsService,
  ) {
    this.cache = new Lru(config.maxClientsCache);
    this.refused = new Lru(config.maxClientsCache);
    store.subscribe((e) => {
      if (e.type === 'key.revoked' || e.type === 'key.changed') this.cache.deleteWhere((entry) => entry.principal.keyHash === e.hash);
      else if (e.type === 'account.deleted' || e.type === 'account.changed')
        this.cache.deleteWhere((entry) => entry.principal.accountId === e.id);
      else if (e.type === 'resync') for (const entry of this.cache.values()) entry.checkAt = 0;
    });
  }

  /** Bearer key → principal. Returns synchronously on a cache hit, which is the common case. */
  resolve(authorization: string | undefined): Principal | Promise<Principal> {
    return this.resolveKey(parseBearer(authorization));
  }

  /** The key itself (from `Authorization: Bearer` or `x-api-key`) → principal. */
  resolveKey(key: string): Principal | Promise<Principal> {
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
    let touchedAt = stale?.touchedAt ?? 0;
    if (isIssuedKeyFormat(key)) {
      let lastUsedAt: string | null;
      try {
        ({ principal, lastUsedAt } = await this.fromStore(hash));
      } catch (err) {
        // Store unreachable: a key this process already knew keeps working as it was.
        if (!stale || !(err instanceof ApiError) || err.code !== 'store_unavailable') throw err;
        // Its end (expiry, or a rotation's grace) still holds while the store is away.
        if (stale.principal.expiresAt !== null && stale.principal.expiresAt <= Date.now()) throw ApiError.unauthorized('This API key has expired', 'expired_api_key');
        stale.checkAt = Date.now() + STALE_RETRY_MS;
        this.metrics.storeFallbacks.inc({ what: 'key' });
        return stale.principal;
      }
      // Used now, as seen from the store: a key used once per replica still shows when it was used.
      const now = Date.now();
      touchedAt = Math.max(touchedAt, lastUsedAt ? Date.parse(lastUsedAt) : 0);
      if (now - touchedAt > TOUCH_MS) {
        touchedAt = now;
        this.store.patchKey(hash, { last_used_at: new Date(now).toISOString() }).catch(() => {});
      }
    } else if (isGithubToken(key)) {
      if (!this.config.allowPassthrough)
        throw ApiError.unauthorized('GitHub tokens are not accepted as API keys here; use an issued key (sk-cgw-...)');
      let check = this.checking.get(hash);
      if (!check) {
        check = this.unverified
          .run(() => this.checkPassthrough(key, hash))
          .catch((err) => {
            throw err instanceof QueueFull ? ApiError.unavailable('Too many unverified GitHub tokens are being checked; try again shortly', 'token_check_busy') : err;
          })
          .finally(() => this.checking.delete(hash));
        this.checking.set(hash, check);
      }
      principal = await check;
      touchedAt = Date.now();
    } else {
      this.metrics.keyCache.inc({ layer: 'miss' });
      throw ApiError.unauthorized('Incorrect API key provided');
    }
    this.cache.set(key, { principal, checkAt: Date.now() + this.config.keyRecheckMs, touchedAt });
    return principal;
  }

  /**
   * A raw GitHub token used as the key enters the key cache only once GitHub has accepted it: its
   * login passes ALLOWED_GITHUB_LOGINS and it yields a Copilot token. A refusal is remembered by
   * hash (here and in the store's neg:), so the same made-up token costs one GitHub call, not one
   * per request, and any number of them never evicts a real key.
   */
  private async checkPassthrough(key: string, hash: string): Promise<Principal> {
    this.throwIfRefused(this.refused.get(hash), hash);
    const remembered = await this.store.getCache(storeKeys.negative(hash)).catch(() => null);
    if (remembered) {
      try {
        const refusal = JSON.parse(remembered) as Refusal;
        this.refused.set(hash, refusal);
        this.throwIfRefused(refusal, hash);
      } catch (err) {
        if (err instanceof ApiError) throw err;
      }
    }
    this.metrics.keyCache.inc({ layer: 'passthrough' });
    const principal: Principal = {
      keyId: `gh_${hash.slice(0, 24)}`,
      keyHash: hash,
      accountId: `gh_${hash.slice(0, 24)}`,
      login: null,
      passthrough: true,
      expiresAt: null,
      limits: null,
      githubToken: async () => key,
    };
    try {
      const allowed = this.config.allowedLogins;
      if (allowed.length) {
        const user = await this.client.getUser(key);
        if (!isAllowedLogin(allowed, user.login))
          throw new ApiError(403, `The GitHub account ${user.login} is not allowed to use this gateway`, 'permission_error', 'login_not_allowed');
        principal.login = user.login;
      }
      await this.tokens.get(principal);
    } catch (err) {
      const refusal =
        err instanceof ApiError ? err
        : err instanceof ExchangeError ? err.toApiError()
        : new ApiError(502, 'GitHub could not be asked about this token; try again shortly', 'upstream_error', 'github_unavailable');
      // Only GitHub's definite answers are remembered; a network blip or a 5xx is not the token's fault.
      if (refusal instanceof ApiError && (refusal.status === 401 || refusal.status === 403)) await this.refuse(hash, refusal);
      throw refusal;
    }
    return principal;
  }

  private throwIfRefused(refusal: Refusal | undefined, hash: string) {
    if (!refusal) return;
    if (refusal.until <= Date.now()) {
      this.refused.delete(hash);
      return;
    }
    this.metrics.keyCache.inc({ layer: 'refused' });
    throw new ApiError(refusal.status, refusal.message, refusal.status === 403 ? 'permission_error' : 'authentication_error', refusal.code);
  }

  private async refuse(hash: string, err: ApiError) {
    const refusal: Refusal = { status: err.status, code: err.code ?? 'invalid_api_key', message: err.message, until: Date.now() + REFUSED_TTL_MS };
    this.refused.set(hash, refusal);
    await this.store.setCache(storeKeys.negative(hash), JSON.stringify(refusal), REFUSED_TTL_MS).catch(() => {});
  }

  private async fromStore(hash: string): Promise<{ principal: Principal; lastUsedAt: string | null }> {
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
    const principal: Principal = {
      keyId: record.id,
      keyHash: hash,
      accountId: account.id,
      login: account.login,
      passthrough: false,
      expiresAt: record.revoked_at ? Math.min(Date.parse(record.revoked_at), expiresAt ?? Infinity) : expiresAt,
      limits: record.limits && Object.keys(record.limits).length ? record.limits : null,
      githubToken: async () => this.box.open(sealed),
    };
    return { principal, lastUsedAt: record.last_used_at };
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

  async issueKey(accountId: string, opts: { name?: string | null; expiresInSeconds?: number | null; limits?: KeyLimitsPatch } = {}): Promise<IssuedKey> {
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
      limits: applyLimits(null, opts.limits ?? null),
    };
    await this.store.putKey(record);
    return { key, record };
  }

  /**
   * Renames a key or changes its limits, and tells every replica to drop the cached principal, so
   * the change applies everywhere within a second (as revocation does). Null when there is no such key.
   */
  async updateKey(id: string, change: { name?: string | null; limits?: KeyLimitsPatch }): Promise<KeyRecord | null> {
    // One change of a key at a time across replicas, so two PATCHes of different limits both stick.
    let lock: string | null = null;
    for (let i = 0; i < 100 && !(lock = await this.store.acquireLock(`keyedit:${id}`, 5_000)); i++) await new Promise((r) => setTimeout(r, 20));
    if (!lock) throw new ApiError(409, `Key ${id} is being changed right now; try again`, 'invalid_request_error', 'key_busy');
    try {
      const key = await this.findKey(id);
      if (!key) return null;
      const patch: Partial<KeyRecord> = {};
      if (change.name !== undefined) patch.name = change.name;
      if (change.limits !== undefined) patch.limits = applyLimits(key.limits ?? null, change.limits);
      if (!Object.keys(patch).length) return key;
      await this.store.patchKey(key.hash, patch);
      // A requests_per_day newly set counts from the day's usage so far: its counter is seeded again.
      if (!key.limits?.requests_per_day && patch.limits?.requests_per_day) await this.store.resetQuota(key.id, 'day', Date.now()).catch(() => {});
      await this.store.publish({ type: 'key.changed', hash: key.hash });
      return { ...key, ...patch };
    } finally {
      await this.store.releaseLock(`keyedit:${id}`, lock).catch(() => {});
    }
  }

  /** Ends a key now, or at `endsAt` (ISO time: the end of a rotation's grace window), and tells every replica to forget it. */
  async revokeKey(hash: string, endsAt: string = new Date().toISOString()): Promise<void> {
    await this.store.patchKey(hash, { revoked_at: endsAt });
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
    // One rotation of a key at a time, across replicas: two at once would both pass the check below.
    const lock = await this.store.acquireLock(`rotate:${id}`, 10_000);
    if (!lock) throw alreadyRotated(id, null);
    try {
      const old = await this.findKey(id);
      const ended = (at: string | null) => at !== null && Date.parse(at) <= Date.now();
      if (!old || ended(old.revoked_at) || ended(old.expires_at)) throw ApiError.notFound(`No active key ${id}`, 'key_not_found');
      // A key in its grace window has a successor already; rotating it again would make a second
      // one and push the old key's end out. Its successor is the key to rotate.
      if (old.revoked_at) throw alreadyRotated(id, old.revoked_at);
      const remaining = old.expires_at ? Math.max(1, Math.ceil((Date.parse(old.expires_at) - Date.now()) / 1000)) : null;
      const issued = await this.issueKey(old.account_id, { name: old.name, expiresInSeconds: remaining, limits: old.limits ?? null });
      // The end is fixed once: what the answer says is what is stored (it was recomputed, a clock reading apart).
      const graceEnd = Date.now() + graceSeconds * 1000;
      const oldExpiresAt = old.expires_at && Date.parse(old.expires_at) < graceEnd ? old.expires_at : new Date(graceEnd).toISOString();
      await this.revokeKey(old.hash, oldExpiresAt);
      return { issued, replaced: old, oldExpiresAt };
    } finally {
      await this.store.releaseLock(`rotate:${id}`, lock).catch(() => {});
    }
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

const alreadyRotated = (id: string, until: string | null) =>
  new ApiError(
    409,
    until ? `Key ${id} was already rotated and ends at ${until}; rotate its successor instead` : `Key ${id} is being rotated right now`,
    'invalid_request_error',
    'key_already_rotated',
  );

/** The limits after a change: only the ones set are kept, null when none is. */
export function applyLimits(current: KeyLimits | null, change: KeyLimitsPatch): KeyLimits | null {
  const next: KeyLimits = change === null ? {} : { ...(current ?? {}) };
  for (const name of KEY_LIMIT_NAMES) {
    const v = change?.[name];
    if (v === null) delete next[name];
    else if (v !== undefined) next[name] = v;
  }
  return Object.keys(next).length ? next : null;
}

export const isAllowedLogin = (allowed: string[], login: string) => allowed.some((a) => a.toLowerCase() === login.toLowerCase());

function parseBearer(header: string | undefined): string {
  if (!header) throw ApiError.unauthorized('You did not provide an API key. Send it as "Authorization: Bearer <key>"', 'missing_api_key');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) throw ApiError.unauthorized('The Authorization header must be "Bearer <key>"', 'invalid_authorization_header');
  return m[1];
}

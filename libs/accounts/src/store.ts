export type AccountStatus = 'active' | 'revoked' | 'no_subscription' | 'error';

export interface AccountRecord {
  id: string;
  login: string;
  github_id: number;
  /** sealed with SecretBox: never stored in plaintext */
  github_token: string;
  status: AccountStatus;
  api_base: string | null;
  copilot_token_expires_at: string | null;
  last_refresh_at: string | null;
  last_error: string | null;
  created_at: string;
  /**
   * From GitHub's copilot_internal/user, read by the refresh worker on its schedule; absent or
   * null until first read. Unlimited plans keep entitlement and remaining null, unlimited true.
   */
  plan?: string | null;
  premium_entitlement?: number | null;
  premium_remaining?: number | null;
  premium_unlimited?: boolean | null;
  /** ISO 8601: when the monthly premium quota resets */
  quota_reset_at?: string | null;
}

/**
 * Per-key limits (design.md §4): each one set is a positive integer, an absent one is no limit.
 * `requests_per_minute` replaces the global rate limit for the key; the day and month ones are
 * UTC periods, checked before the upstream call.
 */
export interface KeyLimits {
  requests_per_minute?: number;
  requests_per_day?: number;
  tokens_per_day?: number;
  tokens_per_month?: number;
  premium_requests_per_month?: number;
}

export const KEY_LIMIT_NAMES = ['requests_per_minute', 'requests_per_day', 'tokens_per_day', 'tokens_per_month', 'premium_requests_per_month'] as const;
export type KeyLimitName = (typeof KEY_LIMIT_NAMES)[number];

export interface KeyRecord {
  id: string;
  /** sha256 of the key, hex: the only form in which a key is stored */
  hash: string;
  account_id: string;
  name: string | null;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  /** only the limits set; null (or absent, in records written before limits existed) when none */
  limits?: KeyLimits | null;
}

export type StoreEvent =
  | { type: 'key.revoked'; hash: string }
  /** The key's name or limits changed: every replica drops its cached principal and reads the key again. */
  | { type: 'key.changed'; hash: string }
  | { type: 'account.deleted'; id: string }
  | { type: 'account.changed'; id: string }
  | { type: 'account.registered'; id: string }
  | { type: 'copilot.invalidated'; id: string }
  /** this replica missed events (its subscription was down): re-check whatever was cached */
  | { type: 'resync' };

export type QuotaPeriod = 'day' | 'month';

/** `admitted`: counted, `count` includes it; else the counter was at `count` >= the limit. */
export interface QuotaTake {
  admitted: boolean;
  count: number;
}

/** A UTC period: its name in counter keys (20250131, 202501, as libs/usage names them), start and end (epoch ms). */
export function quotaPeriodOf(period: QuotaPeriod, at: number): { stamp: string; start: number; end: number } {
  const d = new Date(at);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  if (period === 'month') return { stamp: `${y}${pad(m + 1)}`, start: Date.UTC(y, m, 1), end: Date.UTC(y, m + 1, 1) };
  const day = d.getUTCDate();
  return { stamp: `${y}${pad(m + 1)}${pad(day)}`, start: Date.UTC(y, m, day), end: Date.UTC(y, m, day + 1) };
}
const pad = (n: number) => String(n).padStart(2, '0');

/**
 * Shared state of the cluster. Two drivers: Redis (any number of replicas) and memory (embedded
 * mode, one process, accounts and keys persisted to DATA_DIR).
 */
export const STATE_STORE = Symbol('STATE_STORE');

export interface StateStore {
  readonly kind: 'redis' | 'memory';

  putAccount(account: AccountRecord): Promise<void>;
  getAccount(id: string): Promise<AccountRecord | null>;
  listAccounts(): Promise<AccountRecord[]>;
  /** Deletes the account and every key of it; returns the deleted keys' hashes. */
  deleteAccount(id: string): Promise<string[]>;

  /** Updates fields of an existing account; does nothing when it is gone. */
  patchAccount(id: string, patch: Partial<AccountRecord>): Promise<void>;

  putKey(key: KeyRecord): Promise<void>;
  /** Sets fields of an existing key (last_used_at, revoked_at); does nothing when it is gone. */
  patchKey(hash: string, patch: Partial<KeyRecord>): Promise<void>;
  getKeyByHash(hash: string): Promise<KeyRecord | null>;
  listKeys(): Promise<KeyRecord[]>;

  /** Short-lived cache entries (sealed Copilot tokens, model lists): value with a TTL. */
  getCache(key: string): Promise<string | null>;
  setCache(key: string, value: string, ttlMs: number): Promise<void>;
  /** Deletes only while the entry still holds `ifValue`, so a fresh token is never dropped. */
  deleteCache(key: string, ifValue?: string): Promise<void>;

  /** SET NX PX: returns an owner token, or null when another holder has the lock. */
  acquireLock(name: string, ttlMs: number): Promise<string | null>;
  releaseLock(name: string, owner: string): Promise<void>;
  /** Pushes the lock's expiry out while its owner still holds it; false when it was lost. */
  extendLock(name: string, owner: string, ttlMs: number): Promise<boolean>;

  /**
   * Counts one hit on `name` and returns the count so far. The counter starts at the first hit
   * and is gone `windowMs` later (a fixed window: put the window's number in the name).
   */
  countHit(name: string, windowMs: number): Promise<number>;

  /**
   * One request against a key's quota counter for the UTC period holding `at` (`day`: requests per
   * day): counted when the count is below `limit`, atomically across replicas. A counter that does
   * not exist yet starts at `seed` (the usage counted so far in the period); without a seed the
   * answer is null and nothing is counted, so the caller can fetch one and ask again.
   */
  takeQuota(keyId: string, period: QuotaPeriod, at: number, limit: number, seed?: number): Promise<QuotaTake | null>;
  /** Forgets a key's counter for the period holding `at`: the next request seeds it again. */
  resetQuota(keyId: string, period: QuotaPeriod, at: number): Promise<void>;

  publish(event: StoreEvent): Promise<void>;
  subscribe(handler: (event: StoreEvent) => void): void;

  ping(): Promise<void>;
  close(): Promise<void>;
}

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
}

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
}

export type StoreEvent =
  | { type: 'key.revoked'; hash: string }
  | { type: 'account.deleted'; id: string }
  | { type: 'account.changed'; id: string }
  | { type: 'account.registered'; id: string }
  | { type: 'copilot.invalidated'; id: string }
  /** this replica missed events (its subscription was down): re-check whatever was cached */
  | { type: 'resync' };

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

  publish(event: StoreEvent): Promise<void>;
  subscribe(handler: (event: StoreEvent) => void): void;

  ping(): Promise<void>;
  close(): Promise<void>;
}

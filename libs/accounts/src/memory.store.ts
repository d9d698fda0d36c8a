import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { storeKeys } from '#libs/redis';
import { StateFile } from './state-file.js';
import { quotaPeriodOf, type AccountRecord, type KeyRecord, type QuotaPeriod, type QuotaTake, type StateStore, type StoreEvent } from './store.js';

/** A copy the caller may change without changing what is stored (limits included). */
const copyKey = (k: KeyRecord): KeyRecord => ({ ...k, ...(k.limits ? { limits: { ...k.limits } } : {}) });

/**
 * Hit counters kept at most (one per client address and minute, say): past this, expired ones
 * are swept and, if that is not enough, the oldest dropped, so a flood of addresses costs bounded
 * memory.
 */
const MAX_COUNTERS = 100_000;
const COUNTER_SWEEP_MS = 10_000;

interface Persisted {
  version: 1;
  accounts: AccountRecord[];
  keys: KeyRecord[];
}

/**
 * The embedded driver: one process, no Redis. Accounts and keys survive restarts in
 * DATA_DIR/state.json, written atomically (temp file + rename); caches and locks live in memory.
 */
export class MemoryStore implements StateStore {
  readonly kind = 'memory' as const;
  private readonly accounts = new Map<string, AccountRecord>();
  private readonly keys = new Map<string, KeyRecord>();
  private readonly cache = new Map<string, { value: string; expires: number }>();
  private readonly locks = new Map<string, { owner: string; expires: number }>();
  private readonly counters = new Map<string, { hits: number; expires: number }>();
  /** Quota counters by key id and period; a key holds at most one per period kind, older ones are replaced. */
  private readonly quotas = new Map<string, { stamp: string; count: number }>();
  private nextCounterSweep = 0;
  private readonly events = new EventEmitter();
  private writes = 0;

  private readonly file: StateFile<Persisted>;

  constructor(path: string | null) {
    this.file = new StateFile<Persisted>(path, () => ({ version: 1, accounts: [...this.accounts.values()], keys: [...this.keys.values()] }));
  }

  static async open(dataDir: string | null): Promise<MemoryStore> {
    const store = new MemoryStore(dataDir ? join(dataDir, 'state.json') : null);
    const state = await store.file.read();
    for (const a of state?.accounts ?? []) store.accounts.set(a.id, a);
    for (const k of state?.keys ?? []) store.keys.set(k.hash, k);
    return store;
  }

  private persist(): Promise<void> {
    return this.file.write();
  }

  async putAccount(a: AccountRecord) {
    this.accounts.set(a.id, { ...a });
    await this.persist();
  }
  async getAccount(id: string) {
    const a = this.accounts.get(id);
    return a ? { ...a } : null;
  }
  async listAccounts() {
    return [...this.accounts.values()].map((a) => ({ ...a }));
  }
  async deleteAccount(id: string) {
    const hashes = [...this.keys.values()].filter((k) => k.account_id === id).map((k) => k.hash);
    hashes.forEach((h) => this.keys.delete(h));
    this.accounts.delete(id);
    this.cache.delete(storeKeys.copilot(id));
    this.cache.delete(storeKeys.models(id));
    await this.persist();
    return hashes;
  }

  async patchAccount(id: string, patch: Partial<AccountRecord>) {
    const a = this.accounts.get(id);
    if (!a) return;
    Object.assign(a, patch);
    await this.persist();
  }
  async patchKey(hash: string, patch: Partial<KeyRecord>) {
    const k = this.keys.get(hash);
    if (!k) return;
    Object.assign(k, patch.limits ? { ...patch, limits: { ...patch.limits } } : patch);
    await this.persist();
  }

  async putKey(k: KeyRecord) {
    this.keys.set(k.hash, copyKey(k));
    await this.persist();
  }
  async getKeyByHash(hash: string) {
    const k = this.keys.get(hash);
    return k ? copyKey(k) : null;
  }
  async listKeys() {
    return [...this.keys.values()].map(copyKey);
  }

  async getCache(key: string) {
    const e = this.cache.get(key);
    if (!e) return null;
    if (e.expires <= Date.now()) {
      this.cache.delete(key);
      return null;
    }
    return e.value;
  }
  async setCache(key: string, value: string, ttlMs: number) {
    this.cache.set(key, { value, expires: Date.now() + ttlMs });
    // Entries nobody reads again (stored responses, old device sessions) leave on a sweep, not only on a read.
    if (++this.writes % 1000 === 0) {
      const now = Date.now();
      for (const [k, e] of this.cache) if (e.expires <= now) this.cache.delete(k);
    }
  }
  async deleteCache(key: string, ifValue?: string) {
    if (ifValue === undefined || this.cache.get(key)?.value === ifValue) this.cache.delete(key);
  }

  async acquireLock(name: string, ttlMs: number) {
    const held = this.locks.get(name);
    if (held && held.expires > Date.now()) return null;
    const owner = randomUUID();
    this.locks.set(name, { owner, expires: Date.now() + ttlMs });
    return owner;
  }
  async releaseLock(name: string, owner: string) {
    if (this.locks.get(name)?.owner === owner) this.locks.delete(name);
  }
  async extendLock(name: string, owner: string, ttlMs: number) {
    const held = this.locks.get(name);
    if (held?.owner !== owner || held.expires <= Date.now()) return false;
    held.expires = Date.now() + ttlMs;
    return true;
  }

  async countHit(name: string, windowMs: number) {
    const now = Date.now();
    this.sweepCounters(now);
    let c = this.counters.get(name);
    if (!c || c.expires <= now) {
      this.counters.delete(name);
      c = { hits: 0, expires: now + windowMs };
      this.counters.set(name, c);
    }
    return ++c.hits;
  }

  /** Expired counters go every few seconds, or at once when the map is full. */
  private sweepCounters(now: number) {
    if (now < this.nextCounterSweep && this.counters.size < MAX_COUNTERS) return;
    this.nextCounterSweep = now + COUNTER_SWEEP_MS;
    for (const [name, c] of this.counters) if (c.expires <= now) this.counters.delete(name);
    // Still full of live ones: the oldest (first inserted) make room, a tenth at a time.
    if (this.counters.size < MAX_COUNTERS) return;
    let drop = this.counters.size - Math.floor(MAX_COUNTERS * 0.9);
    for (const name of this.counters.keys()) {
      if (drop-- <= 0) break;
      this.counters.delete(name);
    }
  }

  /** Hit counters held right now (a bound the tests check). */
  get counterCount() {
    return this.counters.size;
  }

  async takeQuota(keyId: string, period: QuotaPeriod, at: number, limit: number, seed?: number): Promise<QuotaTake | null> {
    const name = `${keyId}:${period}`;
    const stamp = quotaPeriodOf(period, at).stamp;
    let q = this.quotas.get(name);
    if (!q || q.stamp !== stamp) {
      if (seed === undefined) return null;
      this.quotas.set(name, (q = { stamp, count: seed }));
    }
    if (q.count >= limit) return { admitted: false, count: q.count };
    return { admitted: true, count: ++q.count };
  }

  async resetQuota(keyId: string, period: QuotaPeriod, at: number) {
    const name = `${keyId}:${period}`;
    if (this.quotas.get(name)?.stamp === quotaPeriodOf(period, at).stamp) this.quotas.delete(name);
  }

  async publish(event: StoreEvent) {
    this.events.emit('event', event);
  }
  subscribe(handler: (e: StoreEvent) => void) {
    this.events.on('event', handler);
  }

  async ping() {}

  async close() {
    await this.file.close();
  }
}

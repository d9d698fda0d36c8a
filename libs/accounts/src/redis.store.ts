import { randomUUID } from 'node:crypto';
import { keepSubscribed, type RedisConnections } from '#libs/redis';
import { quotaPeriodOf, type AccountRecord, type KeyLimits, type KeyRecord, type QuotaPeriod, type QuotaTake, type StateStore, type StoreEvent } from './store.js';

const DEL_IF_EQUAL = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

const EXTEND_IF_EQUAL = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

/** INCR, and the expiry set with the first hit, in one round trip (a counter never outlives its window). */
const COUNT_HIT = `local n = redis.call('INCR', KEYS[1]) if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n`;

const PATCH_IF_EXISTS = `if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], unpack(ARGV)) else return 0 end`;

/**
 * A period's quota counter: a missing one starts at the seed (ARGV[3]; none given → {-1, 0}, the
 * caller fetches one) and lives until an hour after its period (ARGV[2] ms from now); one more is
 * counted only below the limit (ARGV[1]), so the count never passes it whatever the replicas do.
 */
const TAKE_QUOTA = `
local n = redis.call('GET', KEYS[1])
if not n then
  if ARGV[3] == '' then return {-1, 0} end
  n = ARGV[3]
  redis.call('SET', KEYS[1], n, 'PX', ARGV[2])
end
n = tonumber(n)
if n >= tonumber(ARGV[1]) then return {0, n} end
return {1, redis.call('INCR', KEYS[1])}`;

/** Hash fields are strings: null is '', limits are JSON. */
const toHash = (o: object) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v)]));

function readLimits(v: string | undefined): KeyLimits | null {
  if (!v) return null;
  try {
    const parsed = JSON.parse(v);
    return parsed && typeof parsed === 'object' && Object.keys(parsed).length ? (parsed as KeyLimits) : null;
  } catch {
    return null;
  }
}
const nullable = (v: string | undefined) => (v === undefined || v === '' ? null : v);
const nullableNumber = (v: string | undefined) => (v === undefined || v === '' || !Number.isFinite(Number(v)) ? null : Number(v));

function readAccount(h: Record<string, string>): AccountRecord | null {
  if (!h.id) return null;
  return {
    id: h.id,
    login: h.login,
    github_id: Number(h.github_id),
    github_token: h.github_token,
    status: h.status as AccountRecord['status'],
    api_base: nullable(h.api_base),
    copilot_token_expires_at: nullable(h.copilot_token_expires_at),
    last_refresh_at: nullable(h.last_refresh_at),
    last_error: nullable(h.last_error),
    created_at: h.created_at,
    plan: nullable(h.plan),
    premium_entitlement: nullableNumber(h.premium_entitlement),
    premium_remaining: nullableNumber(h.premium_remaining),
    premium_unlimited: h.premium_unlimited ? h.premium_unlimited === 'true' : null,
    quota_reset_at: nullable(h.quota_reset_at),
  };
}

function readKey(h: Record<string, string>): KeyRecord | null {
  if (!h.id) return null;
  return {
    id: h.id,
    hash: h.hash,
    account_id: h.account_id,
    name: nullable(h.name),
    prefix: h.prefix,
    created_at: h.created_at,
    last_used_at: nullable(h.last_used_at),
    expires_at: nullable(h.expires_at),
    revoked_at: nullable(h.revoked_at),
    limits: readLimits(h.limits),
  };
}

/**
 * design.md §7 layout: account:{id} hash, accounts set, key:{sha256} hash, keys set, events channel.
 * The sets are global keys, each in its own Cluster slot, so a record and its set member are
 * written one after the other, never in one MULTI. The order keeps one rule whatever fails in
 * between: every record is in its set. A member whose record is missing is skipped by the lists;
 * a record missing from its set would be a key nobody could list or revoke.
 */
export class RedisStore implements StateStore {
  readonly kind = 'redis' as const;
  private readonly handlers: ((e: StoreEvent) => void)[] = [];
  private subscribed = false;

  constructor(private readonly redis: RedisConnections) {
    // On the request path (keys with a requests_per_day): EVALSHA, not the script's text each time.
    redis.client.defineCommand('cgwTakeQuota', { numberOfKeys: 1, lua: TAKE_QUOTA });
  }

  /** Throws StoreDownError at once while Redis is unreachable, so no caller waits on a dead store. */
  private get r() {
    return this.redis.command;
  }
  private get k() {
    return this.redis.keys;
  }

  async putAccount(a: AccountRecord) {
    const r = this.r;
    await r.sadd(this.k.accounts(), a.id);
    await r.hset(this.k.account(a.id), toHash(a));
  }

  async getAccount(id: string) {
    return readAccount(await this.r.hgetall(this.k.account(id)));
  }

  listAccounts() {
    return this.readSet(this.k.accounts(), this.k.account, readAccount);
  }

  async deleteAccount(id: string) {
    const hashes = (await this.listKeys()).filter((k) => k.account_id === id).map((k) => k.hash);
    const r = this.r;
    // The account's own keys share its hash tag: one DEL.
    await Promise.all([r.del(this.k.account(id), this.k.copilot(id), this.k.models(id)), ...hashes.map((h) => r.del(this.k.key(h)))]);
    await Promise.all([r.srem(this.k.accounts(), id), hashes.length ? r.srem(this.k.keys(), ...hashes) : null]);
    return hashes;
  }

  async patchAccount(id: string, patch: Partial<AccountRecord>) {
    await this.r.eval(PATCH_IF_EXISTS, 1, this.k.account(id), ...Object.entries(toHash(patch)).flat());
  }

  async patchKey(hash: string, patch: Partial<KeyRecord>) {
    await this.r.eval(PATCH_IF_EXISTS, 1, this.k.key(hash), ...Object.entries(toHash(patch)).flat());
  }

  async putKey(key: KeyRecord) {
    const r = this.r;
    await r.sadd(this.k.keys(), key.hash);
    await r.hset(this.k.key(key.hash), toHash(key));
  }

  async getKeyByHash(hash: string) {
    return readKey(await this.r.hgetall(this.k.key(hash)));
  }

  listKeys() {
    return this.readSet(this.k.keys(), this.k.key, readKey);
  }

  /**
   * Every hash a set names. The hashes lie in many slots, so not one pipeline: the client's
   * auto-pipelining batches them, one write per node.
   */
  private async readSet<T>(set: string, keyOf: (member: string) => string, read: (h: Record<string, string>) => T | null): Promise<T[]> {
    const r = this.r;
    const rows = await Promise.all((await r.smembers(set)).map((m) => r.hgetall(keyOf(m))));
    return rows.map(read).filter((x): x is T => x !== null);
  }

  async getCache(key: string) {
    return this.r.get(this.k.prefix + key);
  }

  async setCache(key: string, value: string, ttlMs: number) {
    await this.r.set(this.k.prefix + key, value, 'PX', Math.max(1, Math.floor(ttlMs)));
  }

  async deleteCache(key: string, ifValue?: string) {
    if (ifValue === undefined) await this.r.del(this.k.prefix + key);
    else await this.r.eval(DEL_IF_EQUAL, 1, this.k.prefix + key, ifValue);
  }

  async acquireLock(name: string, ttlMs: number) {
    const owner = randomUUID();
    const ok = await this.r.set(`${this.k.prefix}lock:${name}`, owner, 'PX', ttlMs, 'NX');
    return ok === 'OK' ? owner : null;
  }

  async releaseLock(name: string, owner: string) {
    await this.r.eval(DEL_IF_EQUAL, 1, `${this.k.prefix}lock:${name}`, owner);
  }

  async extendLock(name: string, owner: string, ttlMs: number) {
    return (await this.r.eval(EXTEND_IF_EQUAL, 1, `${this.k.prefix}lock:${name}`, owner, ttlMs)) === 1;
  }

  async countHit(name: string, windowMs: number) {
    return Number(await this.r.eval(COUNT_HIT, 1, this.k.prefix + name, Math.max(1, Math.floor(windowMs))));
  }

  async takeQuota(keyId: string, period: QuotaPeriod, at: number, limit: number, seed?: number): Promise<QuotaTake | null> {
    const p = quotaPeriodOf(period, at);
    const r = this.r as unknown as { cgwTakeQuota(key: string, limit: number, ttlMs: number, seed: number | string): Promise<[number, number]> };
    const [admitted, count] = await r.cgwTakeQuota(this.k.quota(keyId, `${period}:${p.stamp}`), limit, Math.max(1000, p.end + 3_600_000 - at), seed ?? '');
    return admitted < 0 ? null : { admitted: admitted === 1, count };
  }

  async resetQuota(keyId: string, period: QuotaPeriod, at: number) {
    await this.r.del(this.k.quota(keyId, `${period}:${quotaPeriodOf(period, at).stamp}`));
  }

  async publish(event: StoreEvent) {
    await this.r.publish(this.k.events(), JSON.stringify(event));
  }

  subscribe(handler: (e: StoreEvent) => void) {
    this.handlers.push(handler);
    if (this.subscribed) return;
    this.subscribed = true;
    const channel = this.k.events();
    const sub = this.redis.subscriber;
    sub.on('message', (ch: string, msg: string) => {
      if (ch !== channel) return;
      let event: StoreEvent;
      try {
        event = JSON.parse(msg);
      } catch {
        return;
      }
      for (const h of this.handlers) h(event);
    });
    // ioredis re-subscribes by itself after a reconnect; events published while this replica was
    // cut off are lost, so the handlers are told to re-check what they cached.
    let cutOff = false;
    sub.on('close', () => (cutOff = true));
    sub.on('ready', () => {
      if (!cutOff) return;
      cutOff = false;
      for (const h of this.handlers) h({ type: 'resync' });
    });
    keepSubscribed(sub, channel);
  }

  async ping() {
    await this.r.ping();
  }

  async close() {}
}

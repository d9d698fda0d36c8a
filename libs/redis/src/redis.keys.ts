/**
 * Every Redis key the project uses, in one place (design.md §7), under REDIS_KEY_PREFIX. The part
 * in braces is a Redis Cluster hash tag: only it is hashed, so the keys of one account, one API key
 * or one response share a slot, and a command or script that touches several of them touches one.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}
  account = (id: string) => `${this.prefix}account:{${id}}`;
  accounts = () => `${this.prefix}accounts`;
  /** the key layout this Redis holds (libs/accounts/src/layout-migration.ts) */
  layout = () => `${this.prefix}layout`;
  key = (sha256: string) => `${this.prefix}key:{${sha256}}`;
  keys = () => `${this.prefix}keys`;
  copilot = (accountId: string) => `${this.prefix}copilot:{${accountId}}`;
  copilotLock = (accountId: string) => `${this.prefix}lock:copilot:{${accountId}}`;
  device = (deviceCode: string) => `${this.prefix}device:{${deviceCode}}`;
  rateLimit = (keyId: string) => `${this.prefix}rl:{${keyId}}`;
  models = (accountId: string) => `${this.prefix}models:{${accountId}}`;
  /** an account's Copilot quota as GitHub last reported it (short TTL) */
  copilotQuota = (accountId: string) => `${this.prefix}cquota:{${accountId}}`;
  /** a passthrough GitHub token that GitHub refused, by its sha256 (short TTL) */
  negative = (sha256: string) => `${this.prefix}neg:{${sha256}}`;
  /** device-flow starts of one client address in one minute */
  deviceStarts = (address: string, minute: number) => `${this.prefix}dstart:{${address}}:${minute}`;
  /** a key's quota counter for one UTC period (`day:20250131`, `month:202501`) */
  quota = (keyId: string, period: string) => `${this.prefix}quota:{${keyId}}:${period}`;
  /** a stored /v1/responses turn */
  response = (id: string) => `${this.prefix}resp:{${id}}`;
  /** an output item of a stored response, as the key that made it may send it back (item_reference) */
  responseItem = (keyId: string, itemId: string) => `${this.prefix}ritem:{${keyId}}:${itemId}`;
  events = () => `${this.prefix}events`;
  /**
   * Usage counters (libs/usage), every one under the one hash tag {usage}: a flush is one Lua
   * script on one slot (atomic, and idempotent by usageFlushed). An hour's / a day's hash has one
   * field per key|account|model|dialect, its value the packed counters (libs/usage's COUNTERS).
   */
  usageHour = (hour: string) => `${this.prefix}{usage}:h:${hour}`;
  usageDay = (day: string) => `${this.prefix}{usage}:d:${day}`;
  /** one API key's totals of one period: `min:YYYYMMDDHHmm`, `day:YYYYMMDD`, `month:YYYYMM` */
  usageKey = (keyId: string, period: string) => `${this.prefix}{usage}:k:${keyId}:${period}`;
  /** the sequence number of the last usage flush applied from one process (its instance id) */
  usageFlushed = (instance: string) => `${this.prefix}{usage}:flushed:${instance}`;
  /** BullMQ's scripts build their keys from this prefix, so it carries the hash tag: the queue is one slot. */
  bullPrefix = () => `${this.prefix}{bull}`;
}

/** The same names without the prefix, as the StateStore's caches and locks take them (it adds the prefix). */
export const storeKeys = new RedisKeys('');

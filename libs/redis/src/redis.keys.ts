/** Every Redis key the project uses, in one place (design.md §7), under REDIS_KEY_PREFIX. */
export class RedisKeys {
  constructor(readonly prefix: string) {}
  account = (id: string) => `${this.prefix}account:${id}`;
  accounts = () => `${this.prefix}accounts`;
  key = (sha256: string) => `${this.prefix}key:${sha256}`;
  keys = () => `${this.prefix}keys`;
  copilot = (accountId: string) => `${this.prefix}copilot:${accountId}`;
  copilotLock = (accountId: string) => `${this.prefix}lock:copilot:${accountId}`;
  device = (deviceCode: string) => `${this.prefix}device:${deviceCode}`;
  rateLimit = (keyId: string) => `${this.prefix}rl:${keyId}`;
  models = (accountId: string) => `${this.prefix}models:${accountId}`;
  /** a passthrough GitHub token that GitHub refused, by its sha256 (short TTL) */
  negative = (sha256: string) => `${this.prefix}neg:${sha256}`;
  /** device-flow starts of one client address in one minute */
  deviceStarts = (address: string, minute: number) => `${this.prefix}dstart:${address}:${minute}`;
  /**
   * A key's quota counter for one UTC period (`day:20250131`, `month:202501`): the key id is a Cluster hash tag,
   * so every counter of one key lives in one slot.
   */
  quota = (keyId: string, period: string) => `${this.prefix}quota:{${keyId}}:${period}`;
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
  bullPrefix = () => `${this.prefix}bull`;
}

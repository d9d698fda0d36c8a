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
  events = () => `${this.prefix}events`;
  bullPrefix = () => `${this.prefix}bull`;
}

import { Inject, Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { InjectConfig, type AppConfig } from '#libs/config';
import { ApiError, CopilotClient, ExchangeError, type CopilotToken } from '#libs/copilot';
import { MetricsService } from '#libs/metrics';
import { storeKeys } from '#libs/redis';
import { SecretBox } from './crypto.js';
import { QueueFull, Semaphore } from './semaphore.js';
import { Lru } from './lru.js';
import { STATE_STORE, type StateStore } from './store.js';

/** A token is used until 60 s before it expires (copilot-upstream.md §2). */
const EARLY_MS = 60_000;
/**
 * The exchange lock lives this long and its holder renews it every third of that while the
 * exchange runs: a replica that dies mid-exchange holds the others up for at most LOCK_TTL_MS.
 */
const LOCK_TTL_MS = 5_000;
const WAIT_FOR_OTHER_MS = 20_000;
/**
 * Token exchanges this process runs at once (each is a GitHub call): a flood of made-up
 * passthrough tokens queues here instead of fanning out to GitHub. Past the queue's bound → 503.
 */
const MAX_CONCURRENT_EXCHANGES = 8;
const MAX_QUEUED_EXCHANGES = 512;

/** Whose Copilot token: a stored account, or a raw GitHub token used as the key (passthrough). */
export interface TokenOwner {
  accountId: string;
  passthrough: boolean;
  githubToken(): Promise<string>;
}

interface Cached extends CopilotToken {
  sealed: string;
}

const usable = (t: CopilotToken, now = Date.now()) => t.expiresAt * 1000 - EARLY_MS > now;

/**
 * Copilot tokens, three layers deep: this process's memory, then the store (Redis), then an
 * exchange with GitHub. Exchanges are single-flight per process (one promise per account) and
 * across replicas (lock:copilot:{account}); whoever loses the lock waits for the token to appear.
 */
@Injectable()
export class CopilotTokenService {
  private readonly memory: Lru<string, Cached>;
  private readonly inflight = new Map<string, Promise<Cached>>();
  private readonly exchanges = new Semaphore(MAX_CONCURRENT_EXCHANGES, MAX_QUEUED_EXCHANGES);

  constructor(
    @InjectConfig() config: AppConfig,
    @Inject(STATE_STORE) private readonly store: StateStore,
    @Inject(SecretBox) private readonly box: SecretBox,
    private readonly client: CopilotClient,
    private readonly metrics: MetricsService,
  ) {
    this.memory = new Lru(config.maxClientsCache);
    store.subscribe((e) => {
      if (e.type === 'copilot.invalidated' || e.type === 'account.deleted') this.memory.delete(e.id);
    });
  }

  get(owner: TokenOwner): CopilotToken | Promise<CopilotToken> {
    const hit = this.memory.get(owner.accountId);
    if (hit && usable(hit)) {
      this.metrics.tokenCacheMemoryHit.inc();
      return hit;
    }
    let p = this.inflight.get(owner.accountId);
    if (!p) {
      p = this.load(owner).finally(() => this.inflight.delete(owner.accountId));
      this.inflight.set(owner.accountId, p);
    }
    return p;
  }

  /** Drops a token Copilot refused (401), unless another request already replaced it. */
  async invalidate(accountId: string, stale: string): Promise<void> {
    const cached = this.memory.get(accountId);
    if (cached?.token !== stale) return;
    this.memory.delete(accountId);
    await this.store.deleteCache(storeKeys.copilot(accountId), cached.sealed).catch(() => {});
  }

  /** Stores a token obtained elsewhere (registration, the refresh worker) in every layer. */
  async put(accountId: string, token: CopilotToken): Promise<Cached> {
    const cached = { ...token, sealed: this.box.seal(JSON.stringify(token)) };
    this.memory.set(accountId, cached);
    await this.store.setCache(storeKeys.copilot(accountId), cached.sealed, token.expiresAt * 1000 - EARLY_MS - Date.now());
    return cached;
  }

  private async fromStore(accountId: string): Promise<Cached | null> {
    const sealed = await this.store.getCache(storeKeys.copilot(accountId));
    if (!sealed) return null;
    let token: CopilotToken;
    try {
      token = JSON.parse(this.box.open(sealed));
    } catch {
      return null;
    }
    if (!usable(token)) return null;
    const cached = { ...token, sealed };
    this.memory.set(accountId, cached);
    return cached;
  }

  private async load(owner: TokenOwner): Promise<Cached> {
    try {
      const cached = await this.fromStore(owner.accountId);
      if (cached) {
        this.metrics.tokenCache.inc({ layer: 'redis' });
        return cached;
      }
      const deadline = Date.now() + WAIT_FOR_OTHER_MS;
      for (let wait = 10; ; wait = Math.min(wait * 2, 200)) {
        const lockName = storeKeys.copilot(owner.accountId);
        const lock = await this.store.acquireLock(lockName, LOCK_TTL_MS);
        if (lock) {
          const renew = setInterval(() => this.store.extendLock(lockName, lock, LOCK_TTL_MS).catch(() => false), LOCK_TTL_MS / 3);
          try {
            const again = await this.fromStore(owner.accountId);
            if (again) return again;
            this.metrics.tokenCache.inc({ layer: 'exchange' });
            return await this.exchange(owner);
          } finally {
            clearInterval(renew);
            await this.store.releaseLock(lockName, lock).catch(() => {});
          }
        }
        await sleep(wait);
        const theirs = await this.fromStore(owner.accountId);
        if (theirs) {
          this.metrics.tokenCache.inc({ layer: 'redis' });
          return theirs;
        }
        if (Date.now() > deadline)
          throw ApiError.unavailable('Timed out waiting for another replica to fetch the Copilot token', 'token_exchange_timeout');
      }
    } catch (err) {
      if (err instanceof ApiError) throw err;
      if (err instanceof ExchangeError) throw err.toApiError();
      // The store is unreachable: this process fetches the token itself (still one exchange at a
      // time per account here) and keeps it in memory until the store is back.
      this.metrics.storeFallbacks.inc({ what: 'token' });
      const mine = this.memory.get(owner.accountId); // an exchange that worked before storing failed
      if (mine && usable(mine)) return mine;
      this.metrics.tokenCache.inc({ layer: 'exchange' });
      return this.exchange(owner, { storeDown: true }).catch((e) => {
        throw e instanceof ExchangeError ? e.toApiError() : e;
      });
    }
  }

  /** The token the caches hold for an account, without fetching one. */
  async peek(accountId: string): Promise<CopilotToken | null> {
    const hit = this.memory.get(accountId);
    if (hit && usable(hit)) return hit;
    return this.fromStore(accountId).catch(() => null);
  }

  /** The refresh worker's call: a new token now, whatever the caches hold, stored in every layer. */
  refresh(owner: TokenOwner): Promise<CopilotToken> {
    return this.exchange(owner);
  }

  private async exchange(owner: TokenOwner, opts: { storeDown?: boolean } = {}): Promise<Cached> {
    let token: CopilotToken;
    try {
      token = await this.exchanges.run(async () => this.client.exchangeToken(await owner.githubToken()));
    } catch (err) {
      if (err instanceof QueueFull)
        throw ApiError.unavailable('Too many Copilot token exchanges are waiting; try again shortly', 'token_exchange_busy');
      const kind = err instanceof ExchangeError ? err.kind : 'transient';
      this.metrics.tokenExchanges.inc({ result: kind });
      if (!owner.passthrough && err instanceof ExchangeError) {
        const status = kind === 'revoked' ? 'revoked' : kind === 'no_subscription' ? 'no_subscription' : 'error';
        await this.store.patchAccount(owner.accountId, { status, last_error: err.message }).catch(() => {});
        if (status !== 'error') {
          // The account is done until it authorizes again: every replica drops its key and token now.
          this.memory.delete(owner.accountId);
          await this.store.deleteCache(storeKeys.copilot(owner.accountId)).catch(() => {});
          await this.store.publish({ type: 'account.changed', id: owner.accountId }).catch(() => {});
          await this.store.publish({ type: 'copilot.invalidated', id: owner.accountId }).catch(() => {});
        }
      }
      throw err;
    }
    this.metrics.tokenExchanges.inc({ result: 'success' });
    if (opts.storeDown) {
      const cached = { ...token, sealed: this.box.seal(JSON.stringify(token)) };
      this.memory.set(owner.accountId, cached);
      return cached;
    }
    const cached = await this.put(owner.accountId, token);
    if (!owner.passthrough) {
      await this.store
        .patchAccount(owner.accountId, {
          status: 'active',
          api_base: token.apiBase,
          copilot_token_expires_at: new Date(token.expiresAt * 1000).toISOString(),
          last_refresh_at: new Date().toISOString(),
          last_error: null,
        })
        .catch(() => {});
    }
    return cached;
  }
}

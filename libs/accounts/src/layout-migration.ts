import { Logger } from '@nestjs/common';
import type { RedisClient, RedisConnections } from '#libs/redis';
import type { StateStore } from './store.js';

/** Written once the keys are in the tagged layout; its absence on a Redis with accounts means an older release wrote them. */
const LAYOUT = '2';
const LOCK_MS = 60_000;
const SCAN_COUNT = 1000;

/**
 * Releases up to 0.1.0 named keys without Cluster hash tags (`account:<id>`, `key:<sha>`,
 * `resp:<id>`, `ritem:<key id>:<item>`); design.md §7 tags them now (`account:{<id>}`, …). An
 * upgrade must keep its accounts, API keys and stored responses, so the first process to start
 * renames them once, under a lock, and marks the layout; every later start reads one key.
 * Caches (Copilot tokens, models, quotas, rate-limit windows) are not moved: they refill. The old
 * BullMQ queue (`<prefix>bull:*`) is dropped: nothing works it any more, and the auth service
 * plans every account's refresh again at start.
 *
 * Only one server or Sentinel can hold the old layout (Cluster was not supported before it), so
 * a Cluster is only marked. RENAMENX keeps a key's TTL and never overwrites a newer key.
 */
export async function migrateKeyLayout(redis: RedisConnections, store: Pick<StateStore, 'acquireLock' | 'releaseLock'>): Promise<void> {
  const r = redis.client;
  const p = redis.keys.prefix;
  const marker = redis.keys.layout();
  if ((await r.get(marker)) === LAYOUT) return;
  if (redis.target.kind === 'cluster') {
    await r.set(marker, LAYOUT);
    return;
  }
  // The store's lock: released only by its owner, so one whose lock lapsed cannot free another's.
  const owner = await store.acquireLock('layout', LOCK_MS);
  if (!owner) return waitForMarker(r, marker);
  const log = new Logger('Redis');
  try {
    const moved = { accounts: 0, keys: 0, responses: 0, items: 0, queue: 0 };
    for (const id of await r.smembers(redis.keys.accounts())) moved.accounts += await renameIfThere(r, `${p}account:${id}`, redis.keys.account(id));
    for (const hash of await r.smembers(redis.keys.keys())) moved.keys += await renameIfThere(r, `${p}key:${hash}`, redis.keys.key(hash));
    for await (const old of scan(r, `${p}resp:*`)) {
      const id = old.slice(`${p}resp:`.length);
      if (!id.startsWith('{')) moved.responses += await renameIfThere(r, old, redis.keys.response(id));
    }
    for await (const old of scan(r, `${p}ritem:*`)) {
      const rest = old.slice(`${p}ritem:`.length);
      const at = rest.indexOf(':');
      if (!rest.startsWith('{') && at > 0) moved.items += await renameIfThere(r, old, redis.keys.responseItem(rest.slice(0, at), rest.slice(at + 1)));
    }
    for await (const old of scan(r, `${p}bull:*`)) moved.queue += await r.unlink(old);
    await r.set(marker, LAYOUT);
    if (Object.values(moved).some((n) => n > 0))
      log.log(
        `moved keys to the hash-tagged layout: ${moved.accounts} accounts, ${moved.keys} API keys, ${moved.responses} stored responses, ${moved.items} response items; ${moved.queue} keys of the old refresh queue dropped`,
      );
  } finally {
    await store.releaseLock('layout', owner).catch(() => {});
  }
}

async function renameIfThere(r: RedisClient, from: string, to: string): Promise<number> {
  // RENAMENX fails on a missing source: a key already moved (or never there) is not an error.
  return r.renamenx(from, to).catch(() => 0);
}

async function* scan(r: RedisClient, match: string): AsyncGenerator<string> {
  let cursor = '0';
  do {
    const [next, keys] = await (r as Extract<RedisClient, { scan: unknown }>).scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
    cursor = next;
    yield* keys;
  } while (cursor !== '0');
}

/** Another process is moving the keys: start once it is done (or its lock lapsed), not on a half-moved layout. */
async function waitForMarker(r: RedisClient, marker: string): Promise<void> {
  const until = Date.now() + LOCK_MS;
  while (Date.now() < until) {
    if ((await r.get(marker)) === LAYOUT) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

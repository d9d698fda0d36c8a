import { Inject, Injectable } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '#libs/config';
import { STATE_STORE, type Principal, type StateStore } from '#libs/accounts';
import { ApiError } from '#libs/copilot';

/** A response as the gateway keeps it: who may read it, what went in (the whole conversation), what came out. */
export interface StoredResponse {
  /** the key that created it: no other key sees it */
  owner: string;
  /** the input items of this turn, the stored conversation before it included */
  input: unknown[];
  response: Record<string, any>;
}

/**
 * Copilot keeps no state (`store:false` upstream), so `/v1/responses` answers are kept here under
 * their ids — Redis `resp:{id}` shared by every replica, memory in embedded mode — for
 * RESPONSES_STORE_TTL: `previous_response_id` continues any of them on any replica.
 */
@Injectable()
export class ResponseStore {
  constructor(
    @InjectConfig() private readonly config: AppConfig,
    @Inject(STATE_STORE) private readonly store: StateStore,
  ) {}

  async save(principal: Principal, input: unknown[], response: Record<string, any>): Promise<void> {
    const entry: StoredResponse = { owner: principal.keyId, input, response };
    const ttl = this.config.responsesStoreTtlMs;
    // Each output item on its own too: clients (the Vercel AI SDK) send them back as item_reference.
    const items = (Array.isArray(response.output) ? response.output : []).filter((i: { id?: unknown }) => typeof i?.id === 'string');
    try {
      await Promise.all([
        this.store.setCache(`resp:${response.id}`, JSON.stringify(entry), ttl),
        ...items.map((item: { id: string }) => this.store.setCache(`ritem:${item.id}`, JSON.stringify({ owner: principal.keyId, item }), ttl)),
      ]);
    } catch {
      throw ApiError.unavailable('The response could not be stored; try again shortly', 'store_unavailable');
    }
  }

  /** The stored response of this key, or 404 (another key's id is as unknown as a made-up one). */
  async get(principal: Principal, id: string): Promise<StoredResponse> {
    let raw: string | null;
    try {
      raw = await this.store.getCache(`resp:${id}`);
    } catch {
      throw ApiError.unavailable('The response store is unavailable; try again shortly', 'store_unavailable');
    }
    const entry = raw ? (JSON.parse(raw) as StoredResponse) : null;
    if (!entry || entry.owner !== principal.keyId) throw ApiError.notFound(`No response found with id '${id}'`, 'response_not_found', 'response_id');
    return entry;
  }

  async delete(principal: Principal, id: string): Promise<void> {
    await this.get(principal, id);
    await this.store.deleteCache(`resp:${id}`).catch(() => {
      throw ApiError.unavailable('The response store is unavailable; try again shortly', 'store_unavailable');
    });
  }

  /**
   * The input with each `item_reference` replaced by the stored item it names (one this key's
   * responses produced): Copilot keeps nothing, so it could not resolve one.
   */
  async inline(principal: Principal, items: unknown[]): Promise<unknown[]> {
    const refs = items.filter((i): i is { type: 'item_reference'; id: string } => (i as { type?: unknown })?.type === 'item_reference');
    if (!refs.length) return items;
    const found = new Map<string, unknown>();
    await Promise.all(
      refs.map(async ({ id }) => {
        const raw = typeof id === 'string' ? await this.store.getCache(`ritem:${id}`).catch(() => null) : null;
        const entry = raw ? (JSON.parse(raw) as { owner: string; item: unknown }) : null;
        if (entry && entry.owner === principal.keyId) found.set(id, entry.item);
      }),
    );
    return items.map((i, n) => {
      const ref = i as { type?: unknown; id?: unknown };
      if (ref?.type !== 'item_reference') return i;
      const item = found.get(ref.id as string);
      if (!item) throw ApiError.badRequest(`Item with id '${String(ref.id)}' not found; send the item itself, or continue with previous_response_id`, `input[${n}]`, 'item_not_found');
      return item;
    });
  }

  /** The conversation a `previous_response_id` continues: its input, then its output. */
  async history(principal: Principal, id: string): Promise<unknown[]> {
    const prev = await this.get(principal, id).catch((err) => {
      if (err instanceof ApiError && err.status === 404) throw ApiError.notFound(`Previous response with id '${id}' not found`, 'previous_response_not_found', 'previous_response_id');
      throw err;
    });
    return [...prev.input, ...(Array.isArray(prev.response.output) ? prev.response.output : [])];
  }
}

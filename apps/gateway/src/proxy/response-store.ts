import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '#libs/config';
import { STATE_STORE, type Principal, type StateStore } from '#libs/accounts';
import { ApiError } from '#libs/copilot';
import { MetricsService } from '#libs/metrics';
import { storeKeys } from '#libs/redis';

/** One turn as the gateway keeps it: who may read it, the turn it continued, what went in, what came out. */
export interface StoredResponse {
  /** the key that created it: no other key sees it */
  owner: string;
  /** the previous_response_id it continued, if any */
  previous: string | null;
  /** this turn's own input items (the conversation before it is reached through `previous`) */
  input: unknown[];
  response: Record<string, any>;
}

/** How many turns back a previous_response_id chain is followed. */
const MAX_TURNS = 200;
/** How many item_reference items one request may name. */
const MAX_REFERENCES = 100;

/**
 * Copilot keeps no state (`store:false` upstream), so `/v1/responses` answers are kept here under
 * their ids — Redis `resp:{id}` shared by every replica, memory in embedded mode — for
 * RESPONSES_STORE_TTL: `previous_response_id` continues any of them on any replica. Each turn
 * stores only its own items and a link to the turn before, so a long conversation costs its
 * length once, not once per turn.
 */
@Injectable()
export class ResponseStore {
  private readonly log = new Logger('Responses');

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    @Inject(STATE_STORE) private readonly store: StateStore,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Keeps a finished response. A store that is down costs the client its later previous_response_id,
   * not the answer it is waiting for: the failure is logged and counted, never thrown.
   */
  async save(principal: Principal, previous: string | null, input: unknown[], response: Record<string, any>): Promise<void> {
    const entry: StoredResponse = { owner: principal.keyId, previous, input, response };
    const ttl = this.config.responsesStoreTtlMs;
    // Each output item on its own too: clients (the Vercel AI SDK) send them back as item_reference.
    const items = (Array.isArray(response.output) ? response.output : []).filter((i: { id?: unknown }) => typeof i?.id === 'string');
    try {
      await Promise.all([
        this.store.setCache(storeKeys.response(response.id), JSON.stringify(entry), ttl),
        ...items.map((item: { id: string }) => this.store.setCache(storeKeys.responseItem(principal.keyId, item.id), JSON.stringify(item), ttl)),
      ]);
    } catch (err) {
      this.metrics.storeFallbacks.inc({ what: 'response' });
      this.log.warn(`response ${response.id} could not be stored (${(err as Error)?.message ?? err}); it cannot be continued or retrieved`);
    }
  }

  /** The stored response of this key, or 404 (another key's id is as unknown as a made-up one). */
  async get(principal: Principal, id: string): Promise<StoredResponse> {
    let raw: string | null;
    try {
      raw = await this.store.getCache(storeKeys.response(id));
    } catch {
      throw ApiError.unavailable('The response store is unavailable; try again shortly', 'store_unavailable');
    }
    const entry = raw ? (JSON.parse(raw) as StoredResponse) : null;
    if (!entry || entry.owner !== principal.keyId) throw ApiError.notFound(`No response found with id '${id}'`, 'response_not_found', 'response_id');
    return entry;
  }

  async delete(principal: Principal, id: string): Promise<void> {
    await this.get(principal, id);
    await this.store.deleteCache(storeKeys.response(id)).catch(() => {
      throw ApiError.unavailable('The response store is unavailable; try again shortly', 'store_unavailable');
    });
  }

  /** The turns from the first of a conversation to `id`, oldest first. */
  private async turns(principal: Principal, id: string): Promise<StoredResponse[]> {
    const turns: StoredResponse[] = [];
    for (let at: string | null = id; at; at = turns[0].previous) {
      if (turns.length >= MAX_TURNS)
        throw ApiError.badRequest(`This conversation is longer than ${MAX_TURNS} stored turns; send its items instead of previous_response_id`, 'previous_response_id', 'conversation_too_long');
      const turn = await this.get(principal, at).catch((err) => {
        if (!(err instanceof ApiError) || err.status !== 404 || at === id) throw err;
        throw ApiError.notFound(`Response '${at}', an earlier turn of this conversation, is gone (deleted or expired)`, 'previous_response_not_found', 'previous_response_id');
      });
      turns.unshift(turn);
    }
    return turns;
  }

  /** The conversation a `previous_response_id` continues: every turn's input, then its output. */
  async history(principal: Principal, id: string): Promise<unknown[]> {
    const turns = await this.turns(principal, id).catch((err) => {
      if (err instanceof ApiError && err.code === 'response_not_found') throw ApiError.notFound(`Previous response with id '${id}' not found`, 'previous_response_not_found', 'previous_response_id');
      throw err;
    });
    return turns.flatMap((t) => [...t.input, ...(Array.isArray(t.response.output) ? t.response.output : [])]);
  }

  /** What went in for a response: the conversation it continued, then its own input. */
  async inputOf(principal: Principal, id: string): Promise<unknown[]> {
    const turns = await this.turns(principal, id);
    const last = turns.pop()!;
    return [...turns.flatMap((t) => [...t.input, ...(Array.isArray(t.response.output) ? t.response.output : [])]), ...last.input];
  }

  /**
   * The input with each `item_reference` replaced by the stored item it names (one this key's
   * responses produced): Copilot keeps nothing, so it could not resolve one.
   */
  async inline(principal: Principal, items: unknown[]): Promise<unknown[]> {
    const ids = new Set<string>();
    for (const i of items) {
      const ref = i as { type?: unknown; id?: unknown };
      if (ref?.type === 'item_reference') ids.add(String(ref.id));
    }
    if (!ids.size) return items;
    if (ids.size > MAX_REFERENCES) throw ApiError.badRequest(`At most ${MAX_REFERENCES} item_reference items per request`, 'input', 'too_many_references');
    const found = new Map<string, unknown>();
    await Promise.all(
      [...ids].map(async (id) => {
        const raw = await this.store.getCache(storeKeys.responseItem(principal.keyId, id)).catch(() => {
          throw ApiError.unavailable('The response store is unavailable; try again shortly', 'store_unavailable');
        });
        if (raw) found.set(id, JSON.parse(raw));
      }),
    );
    return items.map((i, n) => {
      const ref = i as { type?: unknown; id?: unknown };
      if (ref?.type !== 'item_reference') return i;
      const item = found.get(String(ref.id));
      if (!item) throw ApiError.badRequest(`Item with id '${String(ref.id)}' not found; send the item itself, or continue with previous_response_id`, `input[${n}]`, 'item_not_found');
      return item;
    });
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '#libs/config';
import { Lru, STATE_STORE, type Principal, type StateStore } from '#libs/accounts';
import { ApiError } from '#libs/copilot';
import { resolveModelId } from '#libs/dialects';
import { storeKeys } from '#libs/redis';
import { readJson, UpstreamPipeline } from './upstream.pipeline.js';

/** What the gateway needs to know of one model of an account's `/models` answer. */
export interface CatalogModel {
  id: string;
  vendor: string;
  /** upstream endpoints it is served on (`supported_endpoints`; absent → chat completions) */
  endpoints: string[];
  type: string;
  tokenizer: string | null;
  /** the thinking budget range chat completions take for it; null when it takes none */
  thinking: { min: number; max: number } | null;
  maxOutputTokens: number | null;
  /** premium requests one user-initiated call costs (billing.multiplier; 0 when not premium) */
  multiplier: number;
}

type Json = Record<string, any>;

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** One `/models` entry → CatalogModel (copilot-upstream.md §3). Ids repeat upstream: the first wins. */
export function toCatalog(body: Json): CatalogModel[] {
  const seen = new Set<string>();
  const out: CatalogModel[] = [];
  for (const m of Array.isArray(body?.data) ? body.data : []) {
    if (!m || typeof m.id !== 'string' || seen.has(m.id)) continue;
    seen.add(m.id);
    const caps = m.capabilities ?? {};
    const supports = caps.supports ?? {};
    const maxOutput = num(caps.limits?.max_output_tokens);
    const maxBudget = num(supports.max_thinking_budget);
    const max = maxBudget === null ? null : Math.min(maxBudget, maxOutput === null ? Infinity : maxOutput - 1);
    out.push({
      id: m.id,
      vendor: typeof m.vendor === 'string' ? m.vendor : 'github-copilot',
      endpoints: Array.isArray(m.supported_endpoints) && m.supported_endpoints.length ? m.supported_endpoints.filter((e: unknown) => typeof e === 'string') : ['/chat/completions'],
      type: typeof caps.type === 'string' ? caps.type : 'chat',
      tokenizer: typeof caps.tokenizer === 'string' ? caps.tokenizer : null,
      thinking: max === null ? null : { min: num(supports.min_thinking_budget) ?? 1024, max },
      maxOutputTokens: maxOutput,
      multiplier: m.billing?.is_premium === false ? 0 : (num(m.billing?.multiplier) ?? 0),
    });
  }
  return out;
}

interface Entry {
  models: CatalogModel[];
  byId: Map<string, CatalogModel>;
  until: number;
}

/**
 * Each account's models: this process's memory, then the store (`models:{account}`, shared by the
 * replicas), then Copilot's `/models`; kept MODEL_CACHE_TTL. It maps the ids clients send to
 * Copilot's, picks the upstream endpoint per model, and names the metric label.
 */
@Injectable()
export class ModelCatalog {
  private readonly memory: Lru<string, Entry>;
  private readonly loading = new Map<string, Promise<Entry>>();

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    @Inject(STATE_STORE) private readonly store: StateStore,
    private readonly pipeline: UpstreamPipeline,
  ) {
    this.memory = new Lru(config.maxClientsCache);
  }

  async list(principal: Principal): Promise<CatalogModel[]> {
    return (await this.entry(principal)).models;
  }

  /**
   * The account's model for the id a client sent (exact, MODEL_ALIASES, or Claude's dated ids),
   * or 404 naming the models it has.
   */
  async resolve(principal: Principal, asked: string): Promise<CatalogModel> {
    const entry = await this.entry(principal);
    const id = resolveModelId(asked, [...entry.byId.keys()], this.config.modelAliases);
    const model = id === null ? undefined : entry.byId.get(id);
    if (model) return model;
    const chat = entry.models.filter((m) => m.type === 'chat').map((m) => m.id);
    throw ApiError.notFound(
      `The model '${asked}' does not exist or is not available to this Copilot account. Available: ${chat.join(', ') || 'none'}`,
      'model_not_found',
      'model',
    );
  }

  /** The metric label for an id: itself when the account lists it, else `other`. Never waits on Copilot for the caller. */
  label(principal: Principal, asked: string): Promise<string> {
    const known = this.memory.get(principal.accountId);
    const pick = (e: Entry) => (e.byId.has(asked) ? asked : 'other');
    if (known && known.until > Date.now()) return Promise.resolve(pick(known));
    return Promise.resolve(this.entry(principal)).then(pick, () => 'other');
  }

  private entry(principal: Principal): Entry | Promise<Entry> {
    const hit = this.memory.get(principal.accountId);
    if (hit && hit.until > Date.now()) return hit;
    let p = this.loading.get(principal.accountId);
    if (!p) {
      p = this.load(principal).finally(() => this.loading.delete(principal.accountId));
      this.loading.set(principal.accountId, p);
    }
    return p;
  }

  private async load(principal: Principal): Promise<Entry> {
    const key = storeKeys.models(principal.accountId);
    const ttl = this.config.modelCacheTtlSeconds * 1000;
    let models: CatalogModel[] | null = null;
    const cached = await this.store.getCache(key).catch(() => null);
    if (cached) {
      try {
        const parsed = JSON.parse(cached);
        // An entry in an older shape (before endpoints were kept) is fetched again.
        models = Array.isArray(parsed) && parsed.every((m) => Array.isArray(m?.endpoints) && typeof m?.multiplier === 'number') ? parsed : null;
      } catch {
        models = null;
      }
    }
    if (!models) {
      const res = await this.pipeline.send(principal, '', { method: 'GET', path: '/models' });
      models = toCatalog(await readJson(res));
      await this.store.setCache(key, JSON.stringify(models), ttl).catch(() => {});
    }
    const entry = { models, byId: new Map(models.map((m) => [m.id, m])), until: Date.now() + ttl };
    this.memory.set(principal.accountId, entry);
    return entry;
  }
}

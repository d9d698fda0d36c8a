import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { AccountsService, STATE_STORE, type StateStore } from '#libs/accounts';
import { InjectConfig, type AppConfig } from '#libs/config';
import { CopilotClient } from '#libs/copilot';
import { MetricsService } from '#libs/metrics';

const sum = async (metric: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> }, by?: string) => {
  const out: Record<string, number> = {};
  let total = 0;
  for (const v of (await metric.get()).values) {
    total += v.value;
    if (by) out[String(v.labels[by])] = (out[String(v.labels[by])] ?? 0) + v.value;
  }
  return by ? out : total;
};

@Controller()
export class StatsController {
  private readonly startedAt = Date.now();

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly metrics: MetricsService,
    private readonly accounts: AccountsService,
    private readonly client: CopilotClient,
    @Inject(STATE_STORE) private readonly store: StateStore,
  ) {}

  @Get('metrics')
  async prometheus(@Res() reply: FastifyReply) {
    const text = await this.metrics.registry.metrics();
    reply.header('cache-control', 'no-store').type(this.metrics.registry.contentType).send(text);
  }

  /** A human-sized summary of this replica, for a quick look without Prometheus. */
  @Get('stats')
  async stats() {
    const m = this.metrics;
    return {
      role: this.config.role,
      mode: this.config.mode,
      pid: process.pid,
      uptime_seconds: Math.round((Date.now() - this.startedAt) / 1000),
      rss_bytes: process.memoryUsage().rss,
      requests_by_status: await sum(m.httpRequests, 'status'),
      active_streams: await sum(m.activeStreams),
      tokens_by_kind: await sum(m.tokens, 'kind'),
      token_cache_by_layer: await sum(m.tokenCache, 'layer'),
      key_cache_by_layer: await sum(m.keyCache, 'layer'),
      token_exchanges_by_result: await sum(m.tokenExchanges, 'result'),
      upstream_errors_by_status: await sum(m.upstreamErrors, 'status'),
      rate_limited: await sum(m.rateLimited),
      cached_keys: this.accounts.cachedKeys,
      store_fallbacks: await sum(m.storeFallbacks, 'what'),
      upstream_connections: this.client.connections(),
      store: this.store.kind,
    };
  }
}

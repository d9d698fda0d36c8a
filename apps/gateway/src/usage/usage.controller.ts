import { Controller, Get, Req, UseGuards } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import type { Principal } from '#libs/accounts';
import { ApiError } from '#libs/copilot';
import { keyRoute } from '#libs/platform';
import { UsageService } from '#libs/usage';
import { ApiKeyGuard } from '../proxy/api-key.guard.js';
import { CopilotQuotaCache } from './copilot-quota.js';
import { usageView } from './usage-view.js';

type AuthedRequest = FastifyRequest & { principal: Principal };

/**
 * `GET /v1/usage` (design.md §4): what the calling key has used this minute, day and month (UTC),
 * its limits and what remains of them, and its account's Copilot quota. Only ever the caller's
 * own key: the key is the one the request carries, and nothing in the request can name another.
 * Not behind the per-key rate limit, so a key at its limit can still see why; the Copilot quota
 * is read from GitHub at most once a minute per account.
 */
@Controller()
@UseGuards(ApiKeyGuard)
export class UsageController {
  constructor(
    private readonly usage: UsageService,
    private readonly quota: CopilotQuotaCache,
  ) {}

  @RouteConfig(keyRoute('openai'))
  @Get(['v1/usage', 'usage'])
  async view(@Req() req: AuthedRequest) {
    const principal = req.principal;
    const [totals, copilot] = await Promise.all([
      this.usage.periodTotals(principal.keyId, Date.now()).catch(() => {
        throw ApiError.unavailable('Usage counts are unavailable right now; try again shortly', 'store_unavailable');
      }),
      this.quota.get(principal),
    ]);
    return usageView(principal.keyId, principal.limits, totals, copilot);
  }
}

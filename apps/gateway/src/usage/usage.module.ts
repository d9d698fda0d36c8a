import { Module } from '@nestjs/common';
import { ApiKeyGuard } from '../proxy/api-key.guard.js';
import { CopilotQuotaCache } from './copilot-quota.js';
import { UsageController } from './usage.controller.js';

/** GET /v1/usage: the caller's own key's usage, limits and its account's Copilot quota. */
@Module({
  controllers: [UsageController],
  providers: [CopilotQuotaCache, ApiKeyGuard],
})
export class UsageViewModule {}

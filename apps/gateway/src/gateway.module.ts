import { Module } from '@nestjs/common';
import { ApiKeyGuard } from './proxy/api-key.guard.js';
import { ProxyController } from './proxy/proxy.controller.js';
import { MessagesController } from './proxy/messages.controller.js';
import { ModelCatalog } from './proxy/model-catalog.js';
import { ProxyService } from './proxy/proxy.service.js';
import { ResponseStore } from './proxy/response-store.js';
import { ResponsesController } from './proxy/responses.controller.js';
import { UpstreamPipeline } from './proxy/upstream.pipeline.js';
import { QuotaGuard } from './quota/quota.guard.js';
import { QuotaService } from './quota/quota.service.js';
import { KeyThrottlerGuard } from './rate-limit/key-throttler.guard.js';
import { RateLimitModule } from './rate-limit/rate-limit.module.js';
import { UsageViewModule } from './usage/usage.module.js';

@Module({
  imports: [RateLimitModule, UsageViewModule],
  controllers: [ProxyController, MessagesController, ResponsesController],
  providers: [ProxyService, UpstreamPipeline, ModelCatalog, ResponseStore, ApiKeyGuard, KeyThrottlerGuard, QuotaService, QuotaGuard],
})
export class GatewayModule {}

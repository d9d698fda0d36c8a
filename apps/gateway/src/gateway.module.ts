import { Module } from '@nestjs/common';
import { ApiKeyGuard } from './proxy/api-key.guard.js';
import { ProxyController } from './proxy/proxy.controller.js';
import { ProxyService } from './proxy/proxy.service.js';
import { KeyThrottlerGuard } from './rate-limit/key-throttler.guard.js';
import { RateLimitModule } from './rate-limit/rate-limit.module.js';

@Module({
  imports: [RateLimitModule],
  controllers: [ProxyController],
  providers: [ProxyService, ApiKeyGuard, KeyThrottlerGuard],
})
export class GatewayModule {}

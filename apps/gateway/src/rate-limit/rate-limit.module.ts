import { Module } from '@nestjs/common';
import { ThrottlerModule, ThrottlerStorageService } from '@nestjs/throttler';
import type { Principal } from '#libs/accounts';
import { APP_CONFIG, type AppConfig } from '#libs/config';
import { MetricsService } from '#libs/metrics';
import { REDIS, type RedisConnections } from '#libs/redis';
import { RedisThrottlerStorage } from './redis-throttler.storage.js';

/** RATE_LIMIT_* per key (or the key's own requests_per_minute): shared through Redis across replicas (per replica while Redis is down), in memory in embedded mode. */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [APP_CONFIG, REDIS, MetricsService],
      useFactory: (config: AppConfig, redis: RedisConnections | null, metrics: MetricsService) => ({
        throttlers: [{ ttl: config.rateLimit.windowMs, limit: config.rateLimit.requests }],
        // RATE_LIMIT_ENABLED=false turns the global limit off; a key's own requests_per_minute still holds.
        skipIf: (context) => !config.rateLimit.enabled && !context.switchToHttp().getRequest<{ principal?: Principal }>().principal?.limits?.requests_per_minute,
        storage: redis ? new RedisThrottlerStorage(redis, config.maxClientsCache, () => metrics.storeFallbacks.inc({ what: 'rate_limit' })) : new ThrottlerStorageService(),
      }),
    }),
  ],
  exports: [ThrottlerModule],
})
export class RateLimitModule {}

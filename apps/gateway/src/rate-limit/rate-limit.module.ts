import { Module } from '@nestjs/common';
import { ThrottlerModule, ThrottlerStorageService } from '@nestjs/throttler';
import { APP_CONFIG, type AppConfig } from '#libs/config';
import { MetricsService } from '#libs/metrics';
import { REDIS, type RedisConnections } from '#libs/redis';
import { RedisThrottlerStorage } from './redis-throttler.storage.js';

/** RATE_LIMIT_* per key: shared through Redis across replicas (per replica while Redis is down), in memory in embedded mode. */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [APP_CONFIG, REDIS, MetricsService],
      useFactory: (config: AppConfig, redis: RedisConnections | null, metrics: MetricsService) => ({
        throttlers: [{ ttl: config.rateLimit.windowMs, limit: config.rateLimit.requests }],
        skipIf: () => !config.rateLimit.enabled,
        storage: redis ? new RedisThrottlerStorage(redis, config.maxClientsCache, () => metrics.storeFallbacks.inc({ what: 'rate_limit' })) : new ThrottlerStorageService(),
      }),
    }),
  ],
  exports: [ThrottlerModule],
})
export class RateLimitModule {}

import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '#libs/config';
import { REDIS, type RedisConnections } from '#libs/redis';
import { USAGE_SINK } from './usage-record.js';
import { USAGE_STORE, UsageService } from './usage.service.js';
import { MemoryUsageStore, RedisUsageStore, type UsageStore } from './usage.store.js';

/**
 * Usage accounting for every app: UsageService, also provided as USAGE_SINK (what the upstream
 * pipeline records to). Redis mode counts in Redis; embedded mode in memory and DATA_DIR/usage.json.
 * PlatformModule imports it after RedisModule and AccountsModule, so at shutdown its final flush
 * runs before the Redis connections close.
 */
@Global()
@Module({
  providers: [
    {
      provide: USAGE_STORE,
      inject: [APP_CONFIG, REDIS],
      useFactory: async (config: AppConfig, redis: RedisConnections | null): Promise<UsageStore> =>
        redis ? new RedisUsageStore(redis) : MemoryUsageStore.open(config.dataDir),
    },
    UsageService,
    { provide: USAGE_SINK, useExisting: UsageService },
  ],
  exports: [UsageService, USAGE_SINK, USAGE_STORE],
})
export class UsageModule {}

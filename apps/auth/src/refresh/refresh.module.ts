import { BullModule } from '@nestjs/bullmq';
import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from '#libs/config';
import { REDIS, type RedisConnections } from '#libs/redis';
import { RefreshProcessor } from './refresh.processor.js';
import { QueueScheduler, REFRESH_SCHEDULER, RefreshBootstrap, TimerScheduler } from './refresh.scheduler.js';
import { REFRESH_QUEUE, TokenRefresher } from './token-refresher.service.js';

/** Keeps Copilot tokens warm: BullMQ with Redis, in-process timers in embedded mode. */
@Module({})
export class RefreshModule {
  static forRoot(config: AppConfig): DynamicModule {
    if (!config.redis) {
      return {
        module: RefreshModule,
        providers: [TokenRefresher, TimerScheduler, { provide: REFRESH_SCHEDULER, useExisting: TimerScheduler }, RefreshBootstrap],
      };
    }
    return {
      module: RefreshModule,
      imports: [
        BullModule.forRootAsync({
          inject: [REDIS],
          useFactory: (redis: RedisConnections) => ({ connection: redis.forQueue(), prefix: redis.keys.bullPrefix() }),
        }),
        BullModule.registerQueue({ name: REFRESH_QUEUE }),
      ],
      providers: [TokenRefresher, QueueScheduler, { provide: REFRESH_SCHEDULER, useExisting: QueueScheduler }, RefreshProcessor, RefreshBootstrap],
    };
  }
}

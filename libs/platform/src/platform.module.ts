import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { AccountsModule } from '#libs/accounts';
import { ConfigModule, type AppConfig } from '#libs/config';
import { CopilotModule } from '#libs/copilot';
import { MetricsModule } from '#libs/metrics';
import { RedisModule } from '#libs/redis';
import { UsageModule } from '#libs/usage';
import { HealthModule } from './ops/health/health.module.js';
import { StatsModule } from './ops/stats/stats.module.js';

/** The feature modules of one app (apps/gateway, apps/auth, or both in one process). */
export type AppModules = (Type | DynamicModule)[];

/** What every app boots with — the shared libs and the ops routes (/health*, /metrics, /stats) — plus the app's own modules. */
@Module({})
export class PlatformModule {
  static forRoot(config: AppConfig, apps: AppModules): DynamicModule {
    return {
      module: PlatformModule,
      imports: [ConfigModule.forRoot(config), RedisModule.forRoot(config), MetricsModule, CopilotModule, AccountsModule, UsageModule, HealthModule, StatsModule, ...apps],
    };
  }
}

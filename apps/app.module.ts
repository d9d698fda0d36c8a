import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { AccountsModule } from '#libs/accounts';
import { ConfigModule, type AppConfig } from '#libs/config';
import { CopilotModule } from '#libs/copilot';
import { MetricsModule } from '#libs/metrics';
import { RedisModule } from '#libs/redis';
import { AuthModule } from './auth/src/auth.module.js';
import { GatewayModule } from './gateway/src/gateway.module.js';
import { HealthModule } from './ops/health/health.module.js';
import { StatsModule } from './ops/stats/stats.module.js';

const APPS: Record<AppConfig['role'], (config: AppConfig) => (Type | DynamicModule)[]> = {
  all: (c) => [GatewayModule, AuthModule.forRoot(c)],
  gateway: () => [GatewayModule],
  auth: (c) => [AuthModule.forRoot(c)],
};

/** The shared libs and the ops routes (/health*, /metrics, /stats), plus the app(s) the role asks for: `all` is gateway + auth in one process. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        RedisModule.forRoot(config),
        MetricsModule,
        CopilotModule,
        AccountsModule,
        HealthModule,
        StatsModule,
        ...APPS[config.role](config),
      ],
    };
  }
}

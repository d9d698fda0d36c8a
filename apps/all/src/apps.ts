import type { AppConfig, AppRole } from '#libs/config';
import type { AppModules } from '#libs/platform';
import { AuthModule } from '../../auth/src/auth.module.js';
import { GatewayModule } from '../../gateway/src/gateway.module.js';

/** The feature modules each role runs: `all` is the gateway and the auth service in one process. */
export const APPS: Record<AppRole, (config: AppConfig) => AppModules> = {
  all: (c) => [GatewayModule, AuthModule.forRoot(c)],
  gateway: () => [GatewayModule],
  auth: (c) => [AuthModule.forRoot(c)],
};

export const ROLES = Object.keys(APPS) as AppRole[];

import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from '#libs/config';
import { AdminController } from './admin/admin.controller.js';
import { AdminGuard } from './admin/admin.guard.js';
import { DocsController } from './admin/docs.controller.js';
import { AdminUsageController } from './admin/usage.controller.js';
import { ConsoleController } from './console/console.controller.js';
import { DeviceController } from './device/device.controller.js';
import { DeviceFlowService } from './device/device.service.js';
import { RefreshModule } from './refresh/refresh.module.js';

/**
 * The auth service. Here now: the admin API (accounts and keys, behind ADMIN_TOKEN) and the
 * device-flow API, and the token-refresh worker (BullMQ, or timers in embedded mode). Still to
 * come with the auth issue: the /auth/device page.
 */
@Module({})
export class AuthModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AuthModule,
      imports: [RefreshModule.forRoot(config)],
      controllers: [AdminController, DeviceController, DocsController, AdminUsageController, ConsoleController],
      providers: [AdminGuard, DeviceFlowService],
    };
  }
}

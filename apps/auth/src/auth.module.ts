import { Module } from '@nestjs/common';
import { AdminController } from './admin/admin.controller.js';
import { AdminGuard } from './admin/admin.guard.js';
import { DeviceController } from './device/device.controller.js';
import { DeviceFlowService } from './device/device.service.js';

/**
 * The auth service. Here now: the admin API (accounts and keys, behind ADMIN_TOKEN) and the
 * device-flow API. Still to come with the auth issue: the /auth/device page and the BullMQ
 * token-refresh worker.
 */
@Module({
  controllers: [AdminController, DeviceController],
  providers: [AdminGuard, DeviceFlowService],
})
export class AuthModule {}

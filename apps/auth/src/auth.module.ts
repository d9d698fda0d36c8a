import { Module } from '@nestjs/common';
import { AdminController } from './admin/admin.controller.js';
import { AdminGuard } from './admin/admin.guard.js';

/**
 * The auth service. Here now: the admin API (accounts and keys, behind ADMIN_TOKEN). Still to
 * come with the auth issue: the device flow and its page, and the BullMQ token-refresh worker.
 */
@Module({
  controllers: [AdminController],
  providers: [AdminGuard],
})
export class AuthModule {}

import { Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiError } from '#libs/copilot';
import { DeviceFlowService } from './device.service.js';

/** design.md §4, auth public routes. The key in a success answer is shown this once. */
@Controller('auth/device')
export class DeviceController {
  constructor(private readonly device: DeviceFlowService) {}

  @Post('start')
  @HttpCode(200)
  start() {
    return this.device.start();
  }

  @Get('poll')
  poll(@Query('device_code') deviceCode: unknown) {
    if (typeof deviceCode !== 'string' || !/^[0-9A-Za-z_-]{8,100}$/.test(deviceCode))
      throw ApiError.badRequest("'device_code' is required", 'device_code', 'missing_required_parameter');
    return this.device.poll(deviceCode);
  }
}

import { Controller, Get, HttpCode, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { ApiError } from '#libs/copilot';
import { devicePage } from './device.page.js';
import { DeviceFlowService } from './device.service.js';

/** design.md §4, auth public routes. The key in a success answer is shown this once. */
@Controller('auth/device')
export class DeviceController {
  constructor(private readonly device: DeviceFlowService) {}

  /** The page people open: start, enter the code on GitHub, leave with a key. */
  @Get()
  page(@Res() reply: FastifyReply) {
    const nonce = randomBytes(16).toString('base64');
    reply
      .header('content-security-policy', `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`)
      .header('cache-control', 'no-store')
      .header('referrer-policy', 'no-referrer')
      .type('text/html; charset=utf-8')
      .send(devicePage(nonce));
  }

  /** Limited per client address (DEVICE_START_LIMIT a minute); req.ip heeds TRUST_PROXY. */
  @Post('start')
  @HttpCode(200)
  start(@Req() req: FastifyRequest) {
    return this.device.start(req.ip);
  }

  @Get('poll')
  poll(@Query('device_code') deviceCode: unknown) {
    if (typeof deviceCode !== 'string' || !/^[0-9A-Za-z_-]{8,100}$/.test(deviceCode))
      throw ApiError.badRequest("'device_code' is required", 'device_code', 'missing_required_parameter');
    return this.device.poll(deviceCode);
  }
}

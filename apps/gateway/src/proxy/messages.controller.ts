import { Controller, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '#libs/accounts';
import { keyRoute } from '#libs/platform';
import { KeyThrottlerGuard } from '../rate-limit/key-throttler.guard.js';
import { QuotaGuard } from '../quota/quota.guard.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { ProxyService } from './proxy.service.js';

type AuthedRequest = FastifyRequest & { principal: Principal };

/** Anthropic's Messages API (Claude Code, the Anthropic SDKs); errors leave in Anthropic's shape. */
@Controller()
@UseGuards(ApiKeyGuard, KeyThrottlerGuard)
export class MessagesController {
  constructor(private readonly proxy: ProxyService) {}

  @UseGuards(QuotaGuard) // the day and month limits: only where Copilot is called
  @RouteConfig(keyRoute('anthropic'))
  @Post(['v1/messages', 'messages'])
  @HttpCode(200)
  messages(@Req() req: AuthedRequest, @Res() reply: FastifyReply) {
    return this.proxy.messages(req.principal, req.body, req.headers, reply);
  }

  /** Counted here, no upstream call: rate limited, but no day or month limit refuses it. */
  @RouteConfig(keyRoute('anthropic'))
  @Post(['v1/messages/count_tokens', 'messages/count_tokens'])
  @HttpCode(200)
  countTokens(@Req() req: AuthedRequest) {
    return this.proxy.countTokens(req.principal, req.body);
  }
}

import { Controller, Get, HttpCode, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '#libs/accounts';
import { KEY_ROUTE } from '#libs/platform';
import { KeyThrottlerGuard } from '../rate-limit/key-throttler.guard.js';
import { QuotaGuard } from '../quota/quota.guard.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { ProxyService } from './proxy.service.js';

/** After ApiKeyGuard: the principal; with Nest's rawBody option: the bytes the client sent. */
type AuthedRequest = FastifyRequest & { principal: Principal; rawBody?: Buffer };

/** The OpenAI surface; every route also answers without the /v1 prefix, as some clients drop it. */
@Controller()
@UseGuards(ApiKeyGuard, KeyThrottlerGuard)
export class ProxyController {
  constructor(private readonly proxy: ProxyService) {}

  @UseGuards(QuotaGuard) // the day and month limits: only where Copilot is called
  @RouteConfig(KEY_ROUTE)
  @Post(['v1/chat/completions', 'chat/completions'])
  @HttpCode(200)
  chatCompletions(@Req() req: AuthedRequest, @Res() reply: FastifyReply) {
    return this.proxy.chatCompletions(req.principal, req.body, req.rawBody, reply);
  }

  @RouteConfig(KEY_ROUTE)
  @Get(['v1/models', 'models'])
  async models(@Req() req: AuthedRequest) {
    return { object: 'list', data: await this.proxy.listModels(req.principal) };
  }

  @RouteConfig(KEY_ROUTE)
  @Get(['v1/models/:id', 'models/:id'])
  model(@Req() req: AuthedRequest, @Param('id') id: string) {
    return this.proxy.getModel(req.principal, id);
  }

  @UseGuards(QuotaGuard) // the day and month limits: only where Copilot is called
  @RouteConfig(KEY_ROUTE)
  @Post(['v1/embeddings', 'embeddings'])
  @HttpCode(200)
  embeddings(@Req() req: AuthedRequest, @Res() reply: FastifyReply) {
    return this.proxy.embeddings(req.principal, req.body as Record<string, unknown>, req.rawBody, reply);
  }
}

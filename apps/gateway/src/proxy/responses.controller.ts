import { Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '#libs/accounts';
import { keyRoute } from '#libs/platform';
import { KeyThrottlerGuard } from '../rate-limit/key-throttler.guard.js';
import { QuotaGuard } from '../quota/quota.guard.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { ProxyService } from './proxy.service.js';

type AuthedRequest = FastifyRequest & { principal: Principal; rawBody?: Buffer };

/** OpenAI's Responses API (Codex CLI, the SDKs' responses.*, the Vercel AI SDK), with stored responses. */
@Controller()
@UseGuards(ApiKeyGuard, KeyThrottlerGuard)
export class ResponsesController {
  constructor(private readonly proxy: ProxyService) {}

  @UseGuards(QuotaGuard) // the day and month limits: only where Copilot is called
  @RouteConfig(keyRoute('responses'))
  @Post(['v1/responses', 'responses'])
  @HttpCode(200)
  create(@Req() req: AuthedRequest, @Res() reply: FastifyReply) {
    return this.proxy.responses(req.principal, req.body, reply);
  }

  @RouteConfig(keyRoute('responses'))
  @Get(['v1/responses/:id', 'responses/:id'])
  retrieve(@Req() req: AuthedRequest, @Param('id') id: string) {
    return this.proxy.storedResponse(req.principal, id);
  }

  @RouteConfig(keyRoute('responses'))
  @Delete(['v1/responses/:id', 'responses/:id'])
  remove(@Req() req: AuthedRequest, @Param('id') id: string) {
    return this.proxy.deleteResponse(req.principal, id);
  }

  @RouteConfig(keyRoute('responses'))
  @Get(['v1/responses/:id/input_items', 'responses/:id/input_items'])
  inputItems(@Req() req: AuthedRequest, @Param('id') id: string, @Query() query: Record<string, unknown>) {
    return this.proxy.responseInputItems(req.principal, id, query);
  }
}

import { Controller, Get, Logger, Query, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiError } from '#libs/copilot';
import { UsageQueryError, UsageService, parseUsageQuery, toCsv } from '#libs/usage';
import { AdminRoutes } from '#libs/platform';
import { AdminGuard } from './admin.guard.js';

/**
 * `GET /auth/usage` (design.md §4): usage counted on every replica, grouped by key, account and/or
 * model, over `from`..`to` (default: the last 24 h), per hour or day bucket or as totals; JSON
 * `{data:[…]}` or `format=csv`.
 */
@Controller('auth')
@AdminRoutes()
@UseGuards(AdminGuard)
export class AdminUsageController {
  private readonly log = new Logger('Usage');

  constructor(private readonly usage: UsageService) {}

  @Get('usage')
  async report(@Query() query: Record<string, unknown>, @Res({ passthrough: true }) reply: FastifyReply) {
    let q;
    try {
      q = parseUsageQuery(query ?? {}, Date.now());
    } catch (err) {
      if (err instanceof UsageQueryError) throw ApiError.badRequest(err.message, err.param, err.code);
      throw err;
    }
    let rows;
    try {
      rows = await this.usage.query(q);
    } catch (err) {
      this.log.warn(`usage report failed: ${(err as Error).message}`);
      throw ApiError.unavailable('Usage counts are unavailable right now (the store did not answer); try again shortly', 'store_unavailable');
    }
    if (q.format === 'csv') {
      reply.header('content-type', 'text/csv; charset=utf-8');
      reply.header('content-disposition', 'attachment; filename="usage.csv"');
      return toCsv(q, rows);
    }
    return { data: rows };
  }
}

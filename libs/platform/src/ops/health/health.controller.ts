import { Controller, Get, Inject, Res, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService, type HealthCheckResult } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { STATE_STORE, type StateStore } from '#libs/accounts';
import { Draining } from './draining.js';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly draining: Draining,
    @Inject(STATE_STORE) private readonly store: StateStore,
  ) {}

  @Get()
  status() {
    return { status: 'healthy' };
  }

  /** Liveness checks nothing external: a Redis outage must not get replicas restarted. */
  @Get('live')
  live(@Res() reply: FastifyReply) {
    return this.answer(reply, this.health.check([]));
  }

  @Get('ready')
  ready(@Res() reply: FastifyReply) {
    return this.answer(
      reply,
      this.health.check([
        async () => {
          const check = this.indicator.check('store');
          try {
            await Promise.race([this.store.ping(), new Promise((_, no) => setTimeout(no, 1000, new Error('timeout')))]);
            return check.up({ driver: this.store.kind });
          } catch (err) {
            return check.down({ driver: this.store.kind, message: (err as Error).message });
          }
        },
        () => {
          const check = this.indicator.check('draining');
          return this.draining.active ? check.down() : check.up();
        },
      ]),
    );
  }

  private async answer(reply: FastifyReply, result: Promise<HealthCheckResult>) {
    try {
      reply.send(await result);
    } catch (err) {
      if (!(err instanceof ServiceUnavailableException)) throw err;
      reply.status(503).send(err.getResponse());
    }
  }
}

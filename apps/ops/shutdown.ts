import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { AppConfig } from '#libs/config';
import { Draining } from './health/draining.js';

/**
 * SIGTERM, the Kubernetes way: readiness turns 503 at once (liveness stays 200) so the endpoint
 * is dropped; after SHUTDOWN_DELAY_MS no new connection is accepted; open requests and streams
 * get DRAIN_TIMEOUT_MS to finish; then the app closes (BullMQ worker, Redis, upstream pools).
 */
export async function drainAndClose(app: NestFastifyApplication, config: AppConfig, log: Logger, signal: NodeJS.Signals): Promise<void> {
  app.get(Draining).active = true;
  // Ctrl-C is a person at a terminal, not a load balancer that needs time to notice.
  const delayMs = signal === 'SIGINT' ? 0 : config.shutdown.delayMs;
  log.info({ delayMs, drainMs: config.shutdown.drainMs }, 'draining: readiness is 503');
  await sleep(delayMs);

  const server = app.getHttpServer() as Server;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Idle keep-alive connections would hold close() open; busy ones finish their request first.
  server.closeIdleConnections();
  const idleSweep = setInterval(() => server.closeIdleConnections(), 250);
  const drained = await Promise.race([closed.then(() => true), sleep(config.shutdown.drainMs).then(() => false)]);
  clearInterval(idleSweep);
  if (!drained) {
    log.warn('drain timeout: closing the connections still open');
    server.closeAllConnections();
  }
  await app.close();
}

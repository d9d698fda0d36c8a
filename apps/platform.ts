import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger } from 'pino';
import { createLogger, PinoNestLogger, type AppConfig } from '#libs/config';
import { MetricsService } from '#libs/metrics';
import { ApiExceptionFilter } from './api-exception.filter.js';
import { AppModule } from './app.module.js';
import { registerCors } from './cors.js';
import { Draining } from './ops/health/draining.js';

export interface CreatedApp {
  app: NestFastifyApplication;
  log: Logger;
}

/** Builds the Nest app for a role on Fastify; used by main.ts, the tests and the benchmark alike. */
export async function createApp(config: AppConfig, log: Logger = createLogger(config)): Promise<CreatedApp> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.bodyLimit,
    logger: false,
    // Not more than Node's default, but said out loud: big prompts take a while to upload.
    requestTimeout: 0,
    return503OnClosing: true,
    forceCloseConnections: false,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger: new PinoNestLogger(log),
    abortOnError: false,
    // The proxy forwards the client's bytes as they came instead of serializing the parsed body again.
    rawBody: true,
  });
  app.useGlobalFilters(new ApiExceptionFilter(log));
  const metrics = app.get(MetricsService);
  const fastify = app.getHttpAdapter().getInstance();
  registerCors(fastify, config.corsOrigins);
  const debug = log.isLevelEnabled('debug');
  // While draining, answers tell keep-alive clients to reconnect (to a replica that is staying).
  const draining = app.get(Draining);
  fastify.addHook('onRequest', (_req, reply, done) => {
    if (draining.active) reply.header('connection', 'close');
    done();
  });
  fastify.addHook('onResponse', (req, reply, done) => {
    // The route pattern, never the URL: /auth/tokens/{api_key} would put a key in a label.
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.recordRequest(route, reply.statusCode, reply.elapsedTime / 1000);
    if (debug) log.debug({ method: req.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
    done();
  });
  return { app, log };
}

import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { FastifyReply } from 'fastify';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ApiError } from '#libs/copilot';
import { createLogger, PinoNestLogger, type AppConfig } from '#libs/config';
import { AccountsService } from '#libs/accounts';
import { MetricsService } from '#libs/metrics';
import { ApiExceptionFilter } from './api-exception.filter.js';
import { PlatformModule, type AppModules } from './platform.module.js';
import { registerCors } from './cors.js';
import { acceptEmptyJsonBodies } from './json-body.js';
import { registerKeyGate } from './gate.js';
import { Draining } from './ops/health/draining.js';

/** rawHeaders is [name, value, name, value, …] as they came on the wire. */
function countHeader(raw: string[], lowerName: string): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === lowerName.length && raw[i].toLowerCase() === lowerName) n++;
  return n;
}

/**
 * Requests Node's parser refuses before any route sees them (headers over 16 KiB, CR/LF inside a
 * header, a broken request line) get an OpenAI error too, and the connection is closed.
 */
function answerClientError(err: Error & { code?: string }, socket: Socket) {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  // An answer already under way (a stream) cannot be followed by another: just close.
  if ((socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) return void socket.destroy();
  const [status, reason, message, code] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'The request headers are too large', 'headers_too_large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'The request took too long to arrive', 'request_timeout']
        : [400, 'Bad Request', 'The request is not valid HTTP', 'malformed_request'];
  const body = JSON.stringify(new ApiError(status, message, 'invalid_request_error', code).toJSON());
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/**
 * The router's own refusals (a path that is not valid percent-encoding, a path segment over
 * Fastify's maxParamLength) in OpenAI's shape, without echoing the URL back.
 */
function answerRouterError(err: Error & { code?: string }, _req: unknown, reply: FastifyReply) {
  const error =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new ApiError(414, 'A part of the URL path is too long', 'invalid_request_error', 'uri_too_long')
      : new ApiError(400, 'The URL path is not valid (broken percent-encoding)', 'invalid_request_error', 'invalid_url');
  void reply.status(error.status).send(error.toJSON());
}

export interface CreatedApp {
  app: NestFastifyApplication;
  log: Logger;
}

/** Builds an app (its feature modules on the platform) on Fastify; used by the apps' entries, the tests and the benchmark alike. */
export async function createApp(config: AppConfig, apps: AppModules, log: Logger = createLogger(config)): Promise<CreatedApp> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.bodyLimit,
    logger: false,
    // REQUEST_BODY_TIMEOUT_MS: headers and body must have arrived by then, or Node answers 408
    // (answerClientError) and closes the socket; checked every second, not Node's 30 s. Node 20
    // only enforces it when the server is created with it (set later, it is ignored), and only
    // with a headers timeout no longer than it.
    requestTimeout: config.requestBodyTimeoutMs,
    http: {
      requestTimeout: config.requestBodyTimeoutMs,
      headersTimeout: Math.min(config.requestBodyTimeoutMs, 60_000),
      connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(config.requestBodyTimeoutMs / 10))),
    },
    return503OnClosing: true,
    forceCloseConnections: false,
    clientErrorHandler: answerClientError,
    frameworkErrors: answerRouterError,
    // req.ip: the peer, or the address TRUST_PROXY hops of X-Forwarded-For vouch for.
    // (A function, as Fastify 5 does not honour a bare hop count.)
    trustProxy: config.trustProxy > 0 ? (_address: string, hop: number) => hop < config.trustProxy : false,
  });
  const app = await NestFactory.create<NestFastifyApplication>(PlatformModule.forRoot(config, apps), adapter, {
    logger: new PinoNestLogger(log),
    abortOnError: false,
    // The proxy forwards the client's bytes as they came instead of serializing the parsed body again.
    rawBody: true,
  });
  app.useGlobalFilters(new ApiExceptionFilter(log, config.bodyLimit));
  acceptEmptyJsonBodies(app, config.bodyLimit);
  const metrics = app.get(MetricsService);
  const fastify = app.getHttpAdapter().getInstance();
  registerCors(fastify, config.corsOrigins);
  const debug = log.isLevelEnabled('debug');
  // While draining, answers tell keep-alive clients to reconnect (to a replica that is staying).
  const draining = app.get(Draining);
  fastify.addHook('onRequest', (req, reply, done) => {
    if (draining.active) reply.header('connection', 'close');
    // Node keeps the first of two Authorization headers and drops the other without a word; a
    // request that carries two (a proxy adding one, say) is refused instead of guessed at.
    if (countHeader(req.raw.rawHeaders, 'authorization') > 1) {
      const err = new ApiError(400, 'Send exactly one Authorization header', 'invalid_request_error', 'duplicate_authorization_header');
      return void reply.status(400).send(err.toJSON());
    }
    done();
  });
  registerKeyGate(fastify, app.get(AccountsService), config.adminToken);
  fastify.addHook('onResponse', (req, reply, done) => {
    // The route pattern, never the URL: /auth/tokens/{api_key} would put a key in a label.
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.recordRequest(route, reply.statusCode, reply.elapsedTime / 1000);
    if (debug) log.debug({ method: req.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
    done();
  });
  return { app, log };
}

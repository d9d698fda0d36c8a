import type { LoggerService } from '@nestjs/common';
import { pino, type Logger } from 'pino';
import type { AppConfig } from './config.schema.js';

const SECRET_PATHS = [
  'authorization',
  'Authorization',
  'key',
  'api_key',
  'token',
  'github_token',
  'access_token',
  'headers.authorization',
  'req.headers.authorization',
  '*.authorization',
  '*.token',
  '*.github_token',
  '*.api_key',
  '*.key',
];

export function createLogger(config: Pick<AppConfig, 'logLevel'>, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level: config.logLevel, redact: { paths: SECRET_PATHS, censor: '[redacted]' }, base: { pid: process.pid } },
    destination ?? process.stdout,
  );
}

const STARTUP_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory', 'NestApplication']);

/** Routes Nest's own log lines through pino so every line shares one format and redaction. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly pino: Logger) {}
  log(message: unknown, context?: string) {
    // Nest's start-up inventory (modules loaded, routes mapped) is detail, not news.
    if (context && STARTUP_CONTEXTS.has(context)) this.pino.debug({ context }, String(message));
    else this.pino.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    this.pino.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.pino.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.pino.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.pino.trace({ context }, String(message));
  }
}

import { ArgumentsHost, Catch, HttpException, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { ApiError, type ApiErrorType } from '#libs/copilot';
import { errorBody } from '#libs/dialects';
import { dialectOf } from './gate.js';

const TYPE_BY_STATUS: Record<number, ApiErrorType> = {
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  429: 'rate_limit_error',
};

/** Fastify's own errors (body parsing, limits), by code: what the client did wrong, in its terms. */
const FASTIFY_ERRORS: Record<string, [number, string, string]> = {
  FST_ERR_CTP_INVALID_JSON: [400, 'invalid_json', 'The request body is not valid JSON'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'invalid_json', 'The request body is empty; send a JSON object'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'request_too_large', 'The request body is larger than the BODY_LIMIT of this gateway'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'invalid_content_length', 'Content-Length does not match the body'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported_media_type', 'Send the body as Content-Type: application/json'],
  FST_ERR_CTP_INVALID_TYPE: [415, 'unsupported_media_type', 'Send the body as Content-Type: application/json'],
};

export function toApiError(exception: unknown): ApiError {
  if (exception instanceof ApiError) return exception;
  const e = exception as { code?: string; statusCode?: number; status?: number; message?: string };
  const known = e?.code ? FASTIFY_ERRORS[e.code] : undefined;
  if (known) return new ApiError(known[0], known[1] === 'invalid_json' && e.message ? `${known[2]}: ${e.message}` : known[2], 'invalid_request_error', known[1]);
  if (exception instanceof SyntaxError || (e?.statusCode === 400 && /JSON|prototype/i.test(e.message ?? '')))
    return new ApiError(400, `The request body is not valid JSON: ${e.message}`, 'invalid_request_error', 'invalid_json');
  if (exception instanceof HttpException) {
    // Nest hands Fastify's body-parsing errors over as plain HttpExceptions; ours are all ApiErrors.
    const status = exception.getStatus();
    if (status === 400) return new ApiError(400, `The request body is not valid JSON: ${exception.message}`, 'invalid_request_error', 'invalid_json');
    if (status === 413 || status === 415) {
      const [, code, message] = FASTIFY_ERRORS[status === 413 ? 'FST_ERR_CTP_BODY_TOO_LARGE' : 'FST_ERR_CTP_INVALID_MEDIA_TYPE'];
      return new ApiError(status, message, 'invalid_request_error', code);
    }
    if (status === 404) return ApiError.notFound('Unknown route; the API lives under /v1 (chat/completions, models, embeddings)', 'unknown_route');
    const body = exception.getResponse();
    const message = typeof body === 'string' ? body : ((body as { message?: unknown }).message ?? exception.message);
    return new ApiError(status, Array.isArray(message) ? message.join('; ') : String(message), TYPE_BY_STATUS[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error'), null);
  }
  const status = e?.statusCode ?? 0;
  if (status >= 400 && status < 500) return new ApiError(status, e.message ?? 'Bad request', TYPE_BY_STATUS[status] ?? 'invalid_request_error', e.code ?? null);
  return new ApiError(500, 'The gateway failed to handle this request', 'server_error', 'internal_error');
}

/** Every error leaves in the route's dialect: OpenAI's {"error":{"message","type","param","code"}}, or Anthropic's. */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  constructor(
    private readonly log: Logger,
    /** BODY_LIMIT: how much of a too-large body is read (and dropped) so its sender gets the 413 */
    private readonly bodyLimit = 0,
  ) {}

  catch(exception: unknown, host: ArgumentsHost) {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const error = toApiError(exception);
    if (error.status >= 500 && !(exception instanceof ApiError)) this.log.error({ err: exception }, 'unhandled error');
    if (reply.sent || reply.raw.headersSent) {
      if (!reply.raw.writableEnded) reply.raw.end();
      return;
    }
    const send = () => void reply.status(error.status).headers(error.headers).send(errorBody(dialectOf(reply.request), error));
    if (error.status === 413 && !reply.request.raw.complete) discardRest(reply.request.raw, this.bodyLimit, send);
    else send();
  }
}

/**
 * A body over the limit is refused before it has all arrived. Closing the connection on a client
 * that is still uploading resets it, and the client sees EPIPE instead of the 413; so up to
 * another `cap` bytes (or 5 s) are read and dropped before answering. Beyond that, it is closed.
 */
function discardRest(req: IncomingMessage, cap: number, then: () => void) {
  let seen = 0;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    req.off('data', onData);
    then();
  };
  const onData = (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > cap) finish();
  };
  const timer = setTimeout(finish, 5000);
  req.on('data', onData);
  req.once('end', finish);
  req.once('error', finish);
  req.resume();
}

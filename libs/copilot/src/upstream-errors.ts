import { errors as undiciErrors } from 'undici';
import { ApiError } from './api-error.js';

/** Seconds from a Retry-After header or a `retry_after` body field; null when neither says. */
export function retryAfterSeconds(header: string | string[] | undefined, text = ''): number | null {
  const h = Array.isArray(header) ? header[0] : header;
  if (h) {
    const n = Number(h);
    if (Number.isFinite(n) && n >= 0) return n;
    const at = Date.parse(h);
    if (!Number.isNaN(at)) return Math.max(0, Math.ceil((at - Date.now()) / 1000));
  }
  const m = /"retry_after"\s*:\s*(\d+(?:\.\d+)?)/.exec(text);
  return m ? Number(m[1]) : null;
}

function upstreamMessage(text: string): string | null {
  try {
    const body = JSON.parse(text);
    const msg = body?.error?.message ?? body?.message ?? (typeof body?.error === 'string' ? body.error : null);
    return typeof msg === 'string' ? msg : null;
  } catch {
    const t = text.trim();
    // An HTML error page is no message for an API client.
    return t && !t.startsWith('<') && t.length < 500 ? t : null;
  }
}

/** A Copilot answer that is not 2xx, as the OpenAI error the client gets (copilot-upstream.md §3). */
export function fromUpstreamStatus(status: number, text: string, model: string, retryAfter: number | null): ApiError {
  const message = upstreamMessage(text);
  const code = (() => {
    try {
      return JSON.parse(text)?.error?.code as string | undefined;
    } catch {
      return undefined;
    }
  })();
  if (status === 400 && (code === 'model_not_supported' || /model.*not supported|unknown model/i.test(message ?? '')))
    return new ApiError(404, `The model '${model}' does not exist or is not available to this Copilot account`, 'invalid_request_error', 'model_not_found', 'model');
  if (status === 400 && /exceeds the limit|context length|too long/i.test(message ?? ''))
    return new ApiError(400, message ?? 'The prompt is too long for this model', 'invalid_request_error', 'context_length_exceeded', 'messages');
  if (status === 466)
    return new ApiError(
      502,
      'Copilot refused the client identity this gateway sends as outdated (466); an operator must set COPILOT_EDITOR_VERSION, COPILOT_PLUGIN_VERSION, COPILOT_USER_AGENT and COPILOT_API_VERSION to current editor values',
      'upstream_error',
      'upstream_client_outdated',
    );
  if (status >= 400 && status < 500 && status !== 401 && status !== 402 && status !== 429)
    return new ApiError(status, message ?? `Copilot refused the request (${status})`, status === 403 ? 'permission_error' : 'invalid_request_error', code ?? null);
  if (status === 402)
    return new ApiError(402, message ?? 'The Copilot quota of this account is exhausted', 'insufficient_quota', 'insufficient_quota');
  if (status === 429) {
    const headers: Record<string, string> = retryAfter !== null ? { 'retry-after': String(Math.ceil(retryAfter)) } : {};
    return new ApiError(429, message ?? 'Copilot rate limit reached; retry later', 'rate_limit_error', 'rate_limit_exceeded', null, headers);
  }
  if (status === 401)
    return new ApiError(502, 'Copilot refused the account token even after a refresh', 'upstream_error', 'upstream_unauthorized');
  return new ApiError(502, `Copilot answered with an error (status ${status})`, 'upstream_error', 'upstream_error');
}

/** Maps an undici failure to what the client should see (fastify-reply-from's mapping). */
export function upstreamFailure(err: unknown): ApiError {
  if (err instanceof undiciErrors.HeadersTimeoutError)
    return new ApiError(504, 'Copilot did not answer in time', 'upstream_error', 'upstream_timeout');
  if (err instanceof undiciErrors.BodyTimeoutError)
    return new ApiError(504, 'Copilot stopped sending in the middle of the answer', 'upstream_error', 'upstream_timeout');
  if (err instanceof undiciErrors.ConnectTimeoutError)
    return new ApiError(503, 'Could not connect to Copilot in time', 'upstream_error', 'upstream_unreachable');
  return new ApiError(502, `Could not reach Copilot: ${describeNetworkError(err)}`, 'upstream_error', 'upstream_unreachable');
}

/**
 * Failures before the first byte that a new attempt may not meet: the connection refused, reset or
 * timed out on connect. Over HTTP/2, as a reset connection on HTTP/1.1: a reset stream (Node's
 * ERR_HTTP2_STREAM_ERROR, REFUSED_STREAM for one past a GOAWAY's last stream; undici's
 * InformationalError for one closed without an error code), a session that went away or failed
 * under it (undici's SocketError, Node's ERR_HTTP2_*SESSION*, ERR_HTTP2_ERROR when nghttp2 would
 * not open the stream).
 */
export function isRetryableNetworkError(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return (
    err instanceof undiciErrors.ConnectTimeoutError ||
    err instanceof undiciErrors.SocketError ||
    err instanceof undiciErrors.InformationalError ||
    code === 'ERR_HTTP2_STREAM_ERROR' ||
    code === 'ERR_HTTP2_GOAWAY_SESSION' ||
    code === 'ERR_HTTP2_SESSION_ERROR' ||
    code === 'ERR_HTTP2_INVALID_SESSION' ||
    code === 'ERR_HTTP2_ERROR' ||
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN'
  );
}

export function describeNetworkError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e?.code ?? e?.message ?? 'unknown error';
}

export type ApiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'insufficient_quota'
  | 'upstream_error'
  | 'server_error';

/** An error the client sees as OpenAI error JSON: {"error":{"message","type","param","code"}}. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: ApiErrorType,
    readonly code: string | null = null,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toJSON() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  static badRequest(message: string, param: string | null = null, code: string | null = null) {
    return new ApiError(400, message, 'invalid_request_error', code, param);
  }
  static unauthorized(message: string, code = 'invalid_api_key') {
    return new ApiError(401, message, 'authentication_error', code);
  }
  static notFound(message: string, code = 'not_found', param: string | null = null) {
    return new ApiError(404, message, 'not_found_error', code, param);
  }
  static unavailable(message: string, code = 'service_unavailable') {
    return new ApiError(503, message, 'server_error', code);
  }
}

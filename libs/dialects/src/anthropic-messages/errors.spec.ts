import { describe, expect, it } from 'vitest';
import { anthropicErrorBody, anthropicErrorType } from './errors.js';

describe('anthropicErrorType', () => {
  it.each([
    [400, 'invalid_request_error'],
    [401, 'authentication_error'],
    [402, 'billing_error'],
    [403, 'permission_error'],
    [404, 'not_found_error'],
    [413, 'request_too_large'],
    [429, 'rate_limit_error'],
    [500, 'api_error'],
    [504, 'timeout_error'],
    [529, 'overloaded_error'],
    [409, 'invalid_request_error'],
    [422, 'invalid_request_error'],
    [466, 'invalid_request_error'],
    [502, 'api_error'],
    [503, 'api_error'],
  ])('maps HTTP %i to %s', (status, type) => {
    expect(anthropicErrorType(status)).toBe(type);
  });
});

describe('anthropicErrorBody', () => {
  it("wraps the message in Anthropic's error shape", () => {
    expect(anthropicErrorBody(429, 'Slow down')).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: 'Slow down' } });
  });
});

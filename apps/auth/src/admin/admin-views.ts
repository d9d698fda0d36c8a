import type { AccountRecord, IssuedKey, KeyRecord } from '#libs/accounts';
import { ApiError } from '#libs/copilot';

/** What the admin API shows of an account: never its GitHub token. */
export const accountView = (a: AccountRecord) => ({
  id: a.id,
  login: a.login,
  status: a.status,
  api_base: a.api_base,
  copilot_token_expires_at: a.copilot_token_expires_at,
  last_refresh_at: a.last_refresh_at,
  last_error: a.last_error,
  created_at: a.created_at,
  // From copilot_internal/user, read by the refresh worker; null until first read.
  plan: a.plan ?? null,
  premium_entitlement: a.premium_entitlement ?? null,
  premium_remaining: a.premium_remaining ?? null,
  premium_unlimited: a.premium_unlimited ?? null,
  quota_reset_at: a.quota_reset_at ?? null,
});

type KeyLimits = NonNullable<KeyRecord['limits']>;
type LimitName = keyof KeyLimits;

/** design.md §4: the per-key limits, in the order they are shown. */
export const LIMIT_NAMES: readonly LimitName[] = ['requests_per_minute', 'requests_per_day', 'tokens_per_day', 'tokens_per_month', 'premium_requests_per_month'];

/** Every limit, null where the key has none: what the admin API shows. */
export const limitsView = (limits: KeyRecord['limits']) => Object.fromEntries(LIMIT_NAMES.map((n) => [n, limits?.[n] ?? null])) as Record<LimitName, number | null>;

/** What the admin API shows of a key: its prefix, never the key or its hash. */
export const keyView = (k: KeyRecord) => ({
  id: k.id,
  name: k.name,
  account_id: k.account_id,
  prefix: k.prefix,
  created_at: k.created_at,
  last_used_at: k.last_used_at,
  expires_at: k.expires_at,
  revoked_at: k.revoked_at,
  limits: limitsView(k.limits),
});

/** A key just issued: the only answer that ever contains the key itself. */
export const issuedView = ({ key, record }: IssuedKey) => ({
  id: record.id,
  key,
  name: record.name,
  account_id: record.account_id,
  prefix: record.prefix,
  created_at: record.created_at,
  expires_at: record.expires_at,
  limits: limitsView(record.limits),
});

type Json = Record<string, unknown>;

export function objectBody(body: unknown): Json {
  // No body at all (or an empty one sent as application/json, which counts as none).
  if (body === undefined) throw ApiError.badRequest('The request body is empty; send a JSON object', null, 'invalid_body');
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw ApiError.badRequest('The request body must be a JSON object', null, 'invalid_body');
  return body as Json;
}

export function optionalString(body: Json, field: string, max = 200): string | null {
  const v = body[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.length > max) throw ApiError.badRequest(`'${field}' must be a string of at most ${max} characters`, field, 'invalid_type');
  return v;
}

export function optionalSeconds(body: Json, field: string, min: number, max: number): number | null {
  const v = body[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw ApiError.badRequest(`'${field}' must be a whole number of seconds from ${min} to ${max}`, field, 'invalid_value');
  return v;
}

/**
 * `limits` of POST /auth/keys and PATCH /auth/keys/{id}: undefined when absent, null to clear
 * every limit, else each named limit a positive whole number (set) or null (cleared). Anything
 * else, unknown names included, is a 400 naming the field.
 */
export function limitsField(body: Json): Partial<Record<LimitName, number | null>> | null | undefined {
  const v = body.limits;
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v))
    throw ApiError.badRequest(`'limits' must be an object with any of ${LIMIT_NAMES.join(', ')}`, 'limits', 'invalid_type');
  const out: Partial<Record<LimitName, number | null>> = {};
  for (const [name, n] of Object.entries(v as Json)) {
    if (!(LIMIT_NAMES as readonly string[]).includes(name))
      throw ApiError.badRequest(`Unknown limit '${name}'; the limits are ${LIMIT_NAMES.join(', ')}`, `limits.${name}`, 'unknown_parameter');
    if (n !== null && (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1))
      throw ApiError.badRequest(`'limits.${name}' must be a positive whole number, or null to remove it`, `limits.${name}`, 'invalid_value');
    out[name as LimitName] = n as number | null;
  }
  return out;
}

/** Refuses fields a body may not have (PATCH takes only what can change). */
export function onlyFields(body: Json, allowed: string[]) {
  for (const field of Object.keys(body))
    if (!allowed.includes(field)) throw ApiError.badRequest(`Unknown parameter '${field}'; send any of ${allowed.join(', ')}`, field, 'unknown_parameter');
}

/**
 * A GitHub token as the admin gave it. It goes into an Authorization header, so a space, a
 * control character (CR/LF, NUL) or anything outside printable ASCII is refused here, before
 * it reaches the HTTP client (which would throw) or GitHub.
 */
export function githubTokenField(body: Json): string {
  const token = optionalString(body, 'github_token', 300);
  if (!token) throw ApiError.badRequest("'github_token' is a required property", 'github_token', 'missing_required_parameter');
  if (!/^[\x21-\x7e]+$/.test(token))
    throw ApiError.badRequest("'github_token' must be a GitHub token: printable ASCII, no spaces or control characters", 'github_token', 'invalid_github_token');
  return token;
}

/** The key named in a body (DELETE /auth/tokens {"api_key"}): kept out of URLs and their logs. */
export function apiKeyField(body: Json): string {
  const key = body.api_key;
  if (key === undefined || key === null || key === '') throw ApiError.badRequest("'api_key' is a required property", 'api_key', 'missing_required_parameter');
  if (typeof key !== 'string' || key.length > 500) throw ApiError.badRequest("'api_key' must be a string of at most 500 characters", 'api_key', 'invalid_type');
  return key;
}

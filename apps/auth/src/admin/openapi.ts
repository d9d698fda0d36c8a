/** OpenAPI 3.1 description of the auth service's routes (design.md §4), served at /docs. */
const error = { $ref: '#/components/schemas/Error' };
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const answer = (description: string, schema?: object) => (schema ? { description, ...json(schema) } : { description });
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), answer('OpenAI-style error', error)]));
const admin = [{ adminToken: [] }];
const idParam = (name: string) => [{ name, in: 'path', required: true, schema: { type: 'string' } }];
const str = { type: 'string' };
const nstr = { type: ['string', 'null'] };

const Account = {
  type: 'object',
  properties: {
    id: str,
    login: str,
    status: { enum: ['active', 'revoked', 'no_subscription', 'error'] },
    api_base: nstr,
    copilot_token_expires_at: nstr,
    last_refresh_at: nstr,
    last_error: nstr,
    created_at: str,
    plan: { ...nstr, description: "Copilot plan (copilot_internal/user), null until the refresh worker has read it" },
    premium_entitlement: { type: ['number', 'null'] },
    premium_remaining: { type: ['number', 'null'] },
    premium_unlimited: { type: ['boolean', 'null'] },
    quota_reset_at: nstr,
  },
};
const limit = (description: string) => ({ type: ['integer', 'null'], minimum: 1, description });
const limitProperties = {
  requests_per_minute: limit('Replaces the global rate limit (RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW) for this key: 429 rate_limit_exceeded with x-ratelimit-*'),
  requests_per_day: limit('Requests per UTC day, counted at admission: 429 insufficient_quota with Retry-After to UTC midnight'),
  tokens_per_day: limit('Input + output tokens per UTC day, counted when each request ends (the request that crosses it completes)'),
  tokens_per_month: limit('Input + output tokens per UTC month, counted when each request ends; Retry-After to the first of the next month'),
  premium_requests_per_month: limit("Premium requests (the model's billing multiplier, user-initiated requests) per UTC month"),
};
/** As shown: every limit, null where none is set. */
const Limits = { type: 'object', properties: limitProperties, required: Object.keys(limitProperties) };
/** As sent: any of them; a number sets one, null clears one, an absent one is unchanged; null for the whole object clears all. */
const LimitsInput = {
  type: ['object', 'null'],
  properties: limitProperties,
  additionalProperties: false,
  description: 'Per-key limits: a positive whole number sets one, null clears one (null for the whole object clears all)',
};
const Key = {
  type: 'object',
  properties: { id: str, name: nstr, account_id: str, prefix: str, created_at: str, last_used_at: nstr, expires_at: nstr, revoked_at: nstr, limits: { $ref: '#/components/schemas/Limits' } },
};
const IssuedKey = {
  type: 'object',
  properties: {
    id: str,
    key: { type: 'string', description: 'sk-cgw-…, shown only in this answer' },
    name: nstr,
    account_id: str,
    prefix: str,
    created_at: str,
    expires_at: nstr,
    limits: { $ref: '#/components/schemas/Limits' },
  },
};

export const OPENAPI = {
  openapi: '3.1.0',
  info: { title: 'Copilot Gateway — auth service', version: '1' },
  components: {
    securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN; without it set, these routes answer 404' } },
    schemas: {
      Error: {
        type: 'object',
        properties: { error: { type: 'object', properties: { message: str, type: str, param: nstr, code: nstr } } },
      },
      Account,
      Limits,
      LimitsInput,
      Key,
      IssuedKey,
    },
  },
  paths: {
    '/auth/device': { get: { summary: 'The sign-in page (HTML)', responses: { '200': { description: 'text/html' } } } },
    '/auth/device/start': {
      post: {
        summary: 'Start the GitHub device flow (DEVICE_START_LIMIT per client address per minute)',
        responses: {
          '200': answer('Codes to show', {
            type: 'object',
            properties: { device_code: str, user_code: str, verification_uri: str, verification_uri_complete: str, expires_in: { type: 'integer' }, interval: { type: 'integer' } },
          }),
          ...errors(429, 502),
        },
      },
    },
    '/auth/device/poll': {
      get: {
        summary: 'Poll until GitHub says yes; the key is shown once',
        parameters: [{ name: 'device_code', in: 'query', required: true, schema: str }],
        responses: {
          '200': answer('pending / slow_down {status, interval}, or success {status, api_key, username, account_id}', { type: 'object' }),
          ...errors(400, 403, 404, 410, 502),
        },
      },
    },
    '/auth/accounts': {
      get: { summary: 'List accounts (never a token)', security: admin, responses: { '200': answer('Accounts', { type: 'object', properties: { data: { type: 'array', items: Account } } }), ...errors(401, 404) } },
      post: {
        summary: 'Import an account from a GitHub token, with a first key',
        security: admin,
        requestBody: { required: true, ...json({ type: 'object', required: ['github_token'], properties: { github_token: str } }) },
        responses: { '201': answer('The account and its first key', { type: 'object', properties: { account: Account, key: IssuedKey } }), ...errors(400, 401, 403, 404, 502) },
      },
    },
    '/auth/accounts/{id}': {
      delete: { summary: 'Delete an account; its keys die with it', security: admin, parameters: idParam('id'), responses: { '204': answer('Deleted'), ...errors(401, 404) } },
    },
    '/auth/keys': {
      get: { summary: 'List keys (prefixes, never a key)', security: admin, responses: { '200': answer('Keys', { type: 'object', properties: { data: { type: 'array', items: Key } } }), ...errors(401, 404) } },
      post: {
        summary: 'Issue a key',
        security: admin,
        requestBody: {
          required: true,
          ...json({
            type: 'object',
            required: ['account_id'],
            properties: { account_id: str, name: str, expires_in: { type: 'integer', description: 'seconds' }, limits: { $ref: '#/components/schemas/LimitsInput' } },
          }),
        },
        responses: { '201': answer('The key, shown once', IssuedKey), ...errors(400, 401, 404) },
      },
    },
    '/auth/keys/{id}/rotate': {
      post: {
        summary: 'Replace a key; the old one works for grace_seconds',
        security: admin,
        parameters: idParam('id'),
        requestBody: { required: false, ...json({ type: 'object', properties: { grace_seconds: { type: 'integer' } } }) },
        responses: {
          '201': answer('The new key', { type: 'object', properties: { id: str, key: str, replaces: str, old_key_expires_at: str } }),
          ...errors(400, 401, 404),
        },
      },
    },
    '/auth/keys/{id}': {
      patch: {
        summary: 'Rename a key or change its limits; every replica applies the change within 1 s',
        security: admin,
        parameters: idParam('id'),
        requestBody: {
          required: true,
          ...json({ type: 'object', additionalProperties: false, properties: { name: nstr, limits: { $ref: '#/components/schemas/LimitsInput' } } }),
        },
        responses: { '200': answer('The key as listed', Key), ...errors(400, 401, 404) },
      },
      delete: { summary: 'Revoke a key; every replica refuses it within 1 s', security: admin, parameters: idParam('id'), responses: { '204': answer('Revoked'), ...errors(401, 404) } },
    },
    '/auth/usage': {
      get: {
        summary: 'Usage counted on every replica: requests, tokens, premium requests and errors, grouped and bucketed',
        security: admin,
        parameters: [
          { name: 'group_by', in: 'query', required: false, schema: str, description: 'key, account, model, comma-combinable (key,model); none: one row of totals' },
          { name: 'from', in: 'query', required: false, schema: str, description: 'ISO 8601 (UTC unless an offset is given) or epoch seconds/milliseconds; default: to − 24 h' },
          { name: 'to', in: 'query', required: false, schema: str, description: 'as from, exclusive; default: now. The range is taken to whole hours' },
          {
            name: 'bucket',
            in: 'query',
            required: false,
            schema: { enum: ['hour', 'day'] },
            description:
              'rows per UTC hour (kept 48 h: an older from is refused) or per UTC day (every whole day the range touches); omitted: totals over the range, whose ends older than 48 h count their whole day',
          },
          { name: 'format', in: 'query', required: false, schema: { enum: ['json', 'csv'] }, description: 'csv: text/csv with a header row, the same columns' },
        ],
        responses: {
          '200': {
            description: 'Rows sorted by bucket_start, key_id, account_id, model; a dimension appears only when grouped by it',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    data: {
                      type: 'array',
                      items: {
                        type: 'object',
                        properties: {
                          key_id: str,
                          account_id: str,
                          model: str,
                          bucket_start: { type: 'string', format: 'date-time' },
                          requests: { type: 'integer' },
                          input_tokens: { type: 'integer' },
                          output_tokens: { type: 'integer' },
                          premium_requests: { type: 'number', description: "the model's billing multiplier per user-initiated request, summed" },
                          errors: { type: 'integer', description: 'requests answered with a status ≥ 400, or whose stream broke off' },
                        },
                      },
                    },
                  },
                },
              },
              'text/csv': { schema: { type: 'string' } },
            },
          },
          ...errors(400, 401, 404, 503),
        },
      },
    },
    '/auth/tokens': {
      get: { summary: 'The keys (earlier route, kept)', security: admin, responses: { '200': answer('Keys'), ...errors(401, 404) } },
      delete: {
        summary: 'Revoke by the key itself, named in the body (keeps it out of URLs and proxy logs)',
        security: admin,
        requestBody: { required: true, ...json({ type: 'object', required: ['api_key'], properties: { api_key: str } }) },
        responses: { '204': answer('Revoked'), ...errors(400, 401, 404) },
      },
    },
    '/auth/tokens/{api_key}': {
      delete: { summary: 'Revoke by the key itself in the URL (earlier route, kept; prefer DELETE /auth/tokens)', security: admin, parameters: idParam('api_key'), responses: { '204': answer('Revoked'), ...errors(401, 404) } },
    },
  },
} as const;

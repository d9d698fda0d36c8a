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
  },
};
const Key = {
  type: 'object',
  properties: { id: str, name: nstr, account_id: str, prefix: str, created_at: str, last_used_at: nstr, expires_at: nstr, revoked_at: nstr },
};
const IssuedKey = {
  type: 'object',
  properties: { id: str, key: { type: 'string', description: 'sk-cgw-…, shown only in this answer' }, name: nstr, account_id: str, prefix: str, created_at: str, expires_at: nstr },
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
          ...json({ type: 'object', required: ['account_id'], properties: { account_id: str, name: str, expires_in: { type: 'integer', description: 'seconds' } } }),
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
      delete: { summary: 'Revoke a key; every replica refuses it within 1 s', security: admin, parameters: idParam('id'), responses: { '204': answer('Revoked'), ...errors(401, 404) } },
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

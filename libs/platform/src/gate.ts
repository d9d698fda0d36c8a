import { RouteConfig } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AccountsService, type Principal } from '#libs/accounts';
import { ApiError } from '#libs/copilot';
import { errorBody, type Dialect } from '#libs/dialects';

/**
 * Fastify route config of a route that needs an API key, in the dialect its errors are written
 * in: `@RouteConfig(keyRoute('anthropic'))` on the handler.
 */
export const keyRoute = (dialect: Dialect = 'openai') => ({ gate: 'key', dialect }) as const;
export const KEY_ROUTE = keyRoute();

/** Route config of the admin API's routes: the admin token is checked before the body is read. */
export const ADMIN_ROUTE = { gate: 'admin' } as const;

/** Marks every handler of a controller as an admin route (Fastify route config is per handler). */
export function AdminRoutes(): ClassDecorator {
  return (target) => {
    const proto = target.prototype as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(proto)) {
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      if (name !== 'constructor' && typeof descriptor?.value === 'function') RouteConfig(ADMIN_ROUTE)(proto, name, descriptor);
    }
  };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * `Authorization: Bearer $ADMIN_TOKEN`, compared in constant time (both sides hashed first, so
 * not even the length leaks). Without ADMIN_TOKEN the admin API does not exist: 404.
 */
export function adminTokenCheck(adminToken: string | undefined): (authorization: string | undefined) => void {
  const expected = adminToken ? digest(adminToken) : null;
  return (authorization) => {
    if (!expected) throw ApiError.notFound('Unknown route; the admin API is off (set ADMIN_TOKEN)', 'unknown_route');
    const given = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (!given) throw ApiError.unauthorized('The admin API needs "Authorization: Bearer <ADMIN_TOKEN>"', 'missing_admin_token');
    if (!timingSafeEqual(digest(given), expected)) throw ApiError.unauthorized('Wrong admin token', 'invalid_admin_token');
  };
}

/** The dialect a route writes its errors in (route config; OpenAI's by default). */
export const dialectOf = (req: FastifyRequest): Dialect | undefined => (req.routeOptions?.config as { dialect?: Dialect } | undefined)?.dialect;

type GatedRequest = FastifyRequest & { principal?: Principal };

/**
 * Step 1 of the hot path, before a byte of the body is read: the key of a request to a keyed route
 * becomes its principal here, in an onRequest hook. A request without a known key is answered 401
 * and its connection closed, so a client without a key costs a header parse: no body buffered,
 * no JSON parsed, no socket held open by a body that never comes. A body sent to a route that
 * does not exist is not read either.
 */
export function registerKeyGate(fastify: FastifyInstance, accounts: AccountsService, adminToken: string | undefined): void {
  const checkAdmin = adminTokenCheck(adminToken);
  fastify.addHook('onRequest', (req: GatedRequest, reply, done) => {
    const gate = (req.routeOptions.config as { gate?: string } | undefined)?.gate;
    if (gate === 'admin') {
      try {
        checkAdmin(req.headers.authorization);
      } catch (err) {
        return refuse(reply, err);
      }
      return done();
    }
    if (gate !== 'key') {
      if (req.routeOptions.url === undefined && hasBody(req)) return refuse(reply, ApiError.notFound('Unknown route; the API lives under /v1 (chat/completions, models, embeddings)', 'unknown_route'));
      return done();
    }
    let resolved: Principal | Promise<Principal>;
    try {
      resolved = accounts.resolveKey(keyOf(req));
    } catch (err) {
      return refuse(reply, err);
    }
    if (!(resolved instanceof Promise)) {
      req.principal = resolved;
      return done();
    }
    resolved.then(
      (principal) => {
        req.principal = principal;
        done();
      },
      (err) => refuse(reply, err),
    );
  });
}

/** `Authorization: Bearer <key>`, or Anthropic's `x-api-key: <key>`. */
function keyOf(req: FastifyRequest): string {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw ApiError.unauthorized('The Authorization header must be "Bearer <key>"', 'invalid_authorization_header');
    return m[1];
  }
  const apiKey = req.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.trim()) return apiKey.trim();
  throw ApiError.unauthorized('You did not provide an API key. Send it as "Authorization: Bearer <key>"', 'missing_api_key');
}

const hasBody = (req: FastifyRequest) =>
  req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');

/**
 * The refusal leaves with `Connection: close`: Node then ends the socket after the answer instead
 * of reading the rest of a body nobody will use.
 */
function refuse(reply: FastifyReply, err: unknown) {
  const error = err instanceof ApiError ? err : ApiError.unavailable('The key could not be checked; try again shortly', 'store_unavailable');
  if (hasBody(reply.request)) reply.header('connection', 'close');
  void reply.status(error.status).headers(error.headers).send(errorBody(dialectOf(reply.request), error));
}

import type { FastifyInstance } from 'fastify';

const EXPOSED = 'x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset, retry-after';
const METHODS = 'GET, POST, PATCH, DELETE, OPTIONS';

/**
 * CORS for browser clients (CORS_ORIGINS: `*` or a list; never credentials). Requests without an
 * Origin header — every SDK and server-side client — pass untouched and cost one header lookup.
 */
export function registerCors(fastify: FastifyInstance, origins: string[]): void {
  const any = origins.includes('*');
  const allowed = new Set(origins);
  fastify.addHook('onRequest', (req, reply, done) => {
    const origin = req.headers.origin;
    if (!origin) return done();
    if (!any && !allowed.has(origin)) {
      reply.header('vary', 'origin');
      return done();
    }
    reply.header('access-control-allow-origin', any ? '*' : origin);
    if (!any) reply.header('vary', 'origin');
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      reply
        .header('access-control-allow-methods', METHODS)
        .header('access-control-allow-headers', req.headers['access-control-request-headers'] ?? 'authorization, content-type')
        .header('access-control-max-age', '600')
        .code(204)
        .send();
      return;
    }
    reply.header('access-control-expose-headers', EXPOSED);
    done();
  });
}

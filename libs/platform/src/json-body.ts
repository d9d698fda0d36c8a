import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RawServerDefault } from 'fastify';

/**
 * Takes over the application/json parser Nest would register (same JSON rules, same BODY_LIMIT,
 * req.rawBody still set for the proxy) with one difference: an empty body is no body rather than
 * a 400. Many HTTP clients send `Content-Type: application/json` on every request, and a DELETE
 * (revoking a key) must not fail on that. Routes that need a body still refuse a missing one in
 * their own words. Call before the app is initialized (listen), as Nest's parser then stands down.
 */
export function acceptEmptyJsonBodies(app: NestFastifyApplication, bodyLimit: number): void {
  const fastify = app.getHttpAdapter().getInstance();
  const { onProtoPoisoning, onConstructorPoisoning } = fastify.initialConfig;
  const parseJson = fastify.getDefaultJsonParser(onProtoPoisoning ?? 'error', onConstructorPoisoning ?? 'error');
  app.useBodyParser<RawServerDefault>('application/json', { bodyLimit }, (req, body, done) => {
    if (body.length === 0) return void done(null, undefined);
    // Fastify's parser takes a Buffer as well as a string (Nest's own passes it the Buffer too).
    parseJson(req, body as unknown as string, done);
  });
}

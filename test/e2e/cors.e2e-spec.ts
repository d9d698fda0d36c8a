import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { startFake, startGateway, type TestGateway } from '../support/gateway.js';

let fake: FakeCopilot;
let gw: TestGateway;
beforeAll(async () => {
  fake = await startFake();
  gw = await startGateway(fake, { CORS_ORIGINS: 'https://a.example,https://b.example' }, { redis: false });
});
afterAll(async () => {
  await gw?.close();
  await fake?.stop();
});

it('allows only the origins in CORS_ORIGINS, naming the one that asked', async () => {
  const ok = await fetch(gw.url + '/v1/models', { method: 'OPTIONS', headers: { origin: 'https://b.example', 'access-control-request-method': 'GET' } });
  expect(ok.status).toBe(204);
  expect(ok.headers.get('access-control-allow-origin')).toBe('https://b.example');
  expect(ok.headers.get('vary')).toContain('origin');
  const no = await fetch(gw.url + '/health', { headers: { origin: 'https://evil.example' } });
  expect(no.headers.get('access-control-allow-origin')).toBeNull();
});

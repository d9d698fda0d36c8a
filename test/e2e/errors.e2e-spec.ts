import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { accountWithKey, chatBody, startFake, startGateway, type TestGateway } from '../support/gateway.js';

let fake: FakeCopilot;
let gw: TestGateway;
let key: string;
let keyHash: string;

const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return cond();
};

beforeAll(async () => {
  fake = await startFake({ streamEvents: 50, streamIntervalMs: 20 });
  gw = await startGateway(fake, { BODY_LIMIT: '64kb' });
  const a = await accountWithKey(gw, fake);
  key = a.key;
  keyHash = a.record.hash;
});
afterAll(async () => {
  await gw?.close();
  await fake?.stop();
});
beforeEach(() => fake.resetCounters());

describe('keys', () => {
  it('refuses a request with no key', async () => {
    const res = await gw.post('/v1/chat/completions', chatBody());
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      error: {
        message: 'You did not provide an API key. Send it as "Authorization: Bearer <key>"',
        type: 'authentication_error',
        param: null,
        code: 'missing_api_key',
      },
    });
  });

  it('refuses an unknown key without echoing it', async () => {
    const unknown = 'sk-cgw-' + 'A'.repeat(40);
    const res = await gw.post('/v1/chat/completions', chatBody(), unknown);
    expect(res.status).toBe(401);
    const text = await res.text();
    expect(text).not.toContain(unknown);
    expect(JSON.parse(text)).toEqual({ error: { message: 'Incorrect API key provided', type: 'authentication_error', param: null, code: 'invalid_api_key' } });
  });

  it('refuses a malformed Authorization header', async () => {
    const res = await gw.post('/v1/chat/completions', chatBody(), undefined, { authorization: 'Basic Zm9vOmJhcg==' });
    expect(res.status).toBe(401);
    expect((await res.json()).error.code).toBe('invalid_authorization_header');
  });

  it('refuses a revoked key at once, even though it was cached', async () => {
    const { key: doomed, record } = await gw.accounts.issueKey((await accountWithKey(gw, fake, 'doomed')).account.id);
    expect((await gw.post('/v1/chat/completions', chatBody(), doomed)).status).toBe(200);
    await gw.accounts.revokeKey(record.hash);
    await new Promise((r) => setTimeout(r, 50));
    const res = await gw.post('/v1/chat/completions', chatBody(), doomed);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { message: 'This API key has been revoked', type: 'authentication_error', param: null, code: 'revoked_api_key' } });
  });

  it('accepts a raw GitHub token as a passthrough key', async () => {
    fake.addUser('ghu_passthroughtoken0000000000000000', { login: 'passer', id: 77 });
    const res = await gw.post('/v1/chat/completions', chatBody(), 'ghu_passthroughtoken0000000000000000');
    expect(res.status).toBe(200);
  });

  it('refuses an expired key', async () => {
    const { account } = await accountWithKey(gw, fake, 'shortlived');
    const { key: brief } = await gw.accounts.issueKey(account.id, { expiresInSeconds: 1 });
    expect((await gw.post('/v1/chat/completions', chatBody(), brief)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    const res = await gw.post('/v1/chat/completions', chatBody(), brief);
    expect(res.status).toBe(401);
    expect((await res.json()).error.code).toBe('expired_api_key');
  });
});

describe('bad request bodies', () => {
  it('answers 400 for broken JSON', async () => {
    const res = await gw.post('/v1/chat/completions', '{"model": "gpt-4o", "messages": [', key);
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error).toMatchObject({ type: 'invalid_request_error', param: null, code: 'invalid_json' });
    expect(body.error.message).toMatch(/^The request body is not valid JSON/);
  });

  it('answers 400 when messages is missing', async () => {
    const res = await gw.post('/v1/chat/completions', { model: 'gpt-4o' }, key);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { message: "'messages' is a required property", type: 'invalid_request_error', param: 'messages', code: 'missing_required_parameter' },
    });
  });

  it('answers 400 when messages is not an array', async () => {
    const res = await gw.post('/v1/chat/completions', { model: 'gpt-4o', messages: 'hi' }, key);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { message: "'messages' must be an array", type: 'invalid_request_error', param: 'messages', code: 'invalid_type' },
    });
  });

  it('answers 400 when model is missing or not a string', async () => {
    const missing = await gw.post('/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }] }, key);
    expect(missing.status).toBe(400);
    expect((await missing.json()).error).toMatchObject({ param: 'model', code: 'missing_required_parameter' });
    const wrong = await gw.post('/v1/chat/completions', { model: 42, messages: [{ role: 'user', content: 'x' }] }, key);
    expect(wrong.status).toBe(400);
    expect((await wrong.json()).error).toMatchObject({ param: 'model', code: 'invalid_type' });
  });

  it('answers 400 for a body that is not an object, and for __proto__ keys', async () => {
    const arr = await gw.post('/v1/chat/completions', '[1,2]', key);
    expect(arr.status).toBe(400);
    expect((await arr.json()).error.code).toBe('invalid_body');
    const proto = await gw.post('/v1/chat/completions', '{"model":"gpt-4o","messages":[],"__proto__":{"x":1}}', key);
    expect(proto.status).toBe(400);
    expect((await proto.json()).error.type).toBe('invalid_request_error');
  });

  it('answers 404 model_not_found for a model Copilot does not know', async () => {
    const res = await gw.post('/v1/chat/completions', chatBody({ model: 'gpt-9-ultra' }), key);
    expect(res.status).toBe(404);
    const { error } = await res.json();
    expect(error).toMatchObject({ type: 'not_found_error', param: 'model', code: 'model_not_found' });
    // It names what the account has, so the caller can pick one.
    expect(error.message).toMatch(/^The model 'gpt-9-ultra' does not exist or is not available to this Copilot account\. Available: .*gpt-4o/);
  });

  it('answers 413 for a body over BODY_LIMIT and keeps serving', async () => {
    const huge = chatBody({ messages: [{ role: 'user', content: 'x'.repeat(70 * 1024) }] });
    const res = await gw.post('/v1/chat/completions', huge, key);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({
      error: { message: 'The request body is larger than the BODY_LIMIT of this gateway', type: 'invalid_request_error', param: null, code: 'request_too_large' },
    });
    expect((await gw.post('/v1/chat/completions', chatBody(), key)).status).toBe(200);
  });

  it('answers 404 in OpenAI shape for an unknown route', async () => {
    const res = await gw.get('/v1/nothing-here', key);
    expect(res.status).toBe(404);
    expect((await res.json()).error).toMatchObject({ type: 'not_found_error', code: 'unknown_route' });
  });
});

describe('upstream failures', () => {
  it('refreshes the Copilot token once when upstream answers 401', async () => {
    fake.expireTokens();
    const res = await gw.post('/v1/chat/completions', chatBody(), key);
    expect(res.status).toBe(200);
    expect(fake.counters.unauthorized).toBe(1);
    expect(fake.counters.exchanges).toBe(1);
    expect(fake.counters.chatRequests).toBe(1);
  });

  it('takes another token when the one taken after a 401 is refused too, and gives up after two', async () => {
    // The token read after the first 401 can be stale itself (a refresh that exchanged before
    // Copilot dropped the account's tokens wrote it): refused twice, the call still succeeds.
    const unauthorized = { status: 401, body: '{"error":{"message":"unauthorized: token expired"}}' };
    fake.script('chat', unauthorized, 2);
    const res = await gw.post('/v1/chat/completions', chatBody(), key);
    expect(res.status).toBe(200);
    expect(fake.counters.exchanges).toBe(2);
    expect(fake.counters.chatRequests).toBe(3);
    fake.resetCounters();
    fake.script('chat', unauthorized, 3);
    const refused = await gw.post('/v1/chat/completions', chatBody(), key);
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(fake.counters.exchanges).toBe(2);
    expect(fake.counters.chatRequests).toBe(3);
  });

  it('retries a 429 whose Retry-After is short, and succeeds', async () => {
    fake.script('chat', { status: 429, headers: { 'retry-after': '1' }, body: '{"error":{"message":"rate limited"}}' });
    const started = Date.now();
    const res = await gw.post('/v1/chat/completions', chatBody(), key);
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.counters.chatRequests).toBe(2);
  });

  it('passes a 429 with a long Retry-After on, with Retry-After', async () => {
    fake.script('chat', { status: 429, headers: { 'retry-after': '60' }, body: '{"error":{"message":"You have exceeded your rate limit"}}' });
    const res = await gw.post('/v1/chat/completions', chatBody(), key);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('60');
    expect(await res.json()).toEqual({
      error: { message: 'You have exceeded your rate limit', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' },
    });
    expect(fake.counters.chatRequests).toBe(1);
  });

  it('recovers from one 502', async () => {
    fake.script('chat', { status: 502, body: 'bad gateway' });
    const res = await gw.post('/v1/chat/completions', chatBody(), key);
    expect(res.status).toBe(200);
    expect(fake.counters.chatRequests).toBe(2);
  });

  it('turns an HTML error page into a clean 502 JSON after the retries', async () => {
    fake.script('chat', { status: 500, headers: { 'content-type': 'text/html' }, body: '<html><body><h1>500 Internal Server Error</h1></body></html>' }, 3);
    const res = await gw.post('/v1/chat/completions', chatBody(), key);
    expect(res.status).toBe(502);
    const text = await res.text();
    expect(text).not.toContain('<html');
    expect(JSON.parse(text)).toEqual({
      error: { message: 'Copilot answered with an error (status 500)', type: 'upstream_error', param: null, code: 'upstream_error' },
    });
    expect(fake.counters.chatRequests).toBe(3);
  });

  it('answers 502 when Copilot sends 200 with a body that is not JSON', async () => {
    fake.script('chat', { status: 200, body: 'this is not json' });
    const res = await gw.post('/v1/chat/completions', chatBody(), key);
    expect(res.status).toBe(502);
    expect((await res.json()).error.code).toBe('upstream_invalid_response');
  });

  it('passes a 402 quota error on as insufficient_quota', async () => {
    fake.script('chat', { status: 402, body: '' });
    const res = await gw.post('/v1/chat/completions', chatBody(), key);
    expect(res.status).toBe(402);
    expect((await res.json()).error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_quota' });
  });
});

describe('client hang-up', () => {
  const open = (body: unknown) =>
    new Promise<{ abort: () => void; firstBytes: Promise<void> }>((resolve) => {
      const u = new URL(gw.url + '/v1/chat/completions');
      const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } });
      let gotBytes: () => void;
      const firstBytes = new Promise<void>((r) => (gotBytes = r));
      req.on('response', (res) => res.once('data', () => gotBytes()));
      req.on('error', () => {});
      req.end(JSON.stringify(body));
      resolve({ abort: () => req.destroy(), firstBytes });
    });

  it('cancels the upstream stream when the client leaves mid-stream', async () => {
    const { abort, firstBytes } = await open(chatBody({ stream: true }));
    await firstBytes;
    abort();
    expect(await until(() => fake.counters.streamsCancelled === 1)).toBe(true);
    expect(fake.counters.chatCompleted).toBe(0);
  });

  it('cancels the upstream stream when the client leaves before the first token', async () => {
    const { abort } = await open(chatBody({ stream: true, fake_stream: { events: 3, interval_ms: 2000 } }));
    await until(() => fake.counters.chatRequests === 1);
    await new Promise((r) => setTimeout(r, 200));
    abort();
    expect(await until(() => fake.counters.streamsCancelled === 1)).toBe(true);
    expect(fake.counters.chatCompleted).toBe(0);
  });

  it('cancels the upstream call when the client leaves before the headers', async () => {
    fake.script('chat', { status: 200, delayMs: 5000, body: '{}' });
    const { abort } = await open(chatBody({ stream: true }));
    await until(() => fake.counters.chatRequests === 1);
    abort();
    expect(await until(() => fake.counters.requestsCancelled === 1)).toBe(true);
  });
});

describe('ops routes', () => {
  it('answers health, liveness and readiness', async () => {
    expect(await (await gw.get('/health')).json()).toEqual({ status: 'healthy' });
    const live = await gw.get('/health/live');
    expect(live.status).toBe(200);
    const ready = await gw.get('/health/ready');
    expect(ready.status).toBe(200);
    expect((await ready.json()).info.store).toEqual({ status: 'up', driver: 'redis' });
  });

  it('exposes Prometheus metrics with the project metrics in them', async () => {
    await (await gw.post('/v1/chat/completions', chatBody({ stream: true }), key)).text();
    const res = await gw.get('/metrics');
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    for (const name of [
      'cgw_http_requests_total',
      'cgw_http_request_duration_seconds_bucket',
      'cgw_time_to_first_token_seconds_bucket',
      'cgw_tokens_total{model="gpt-4o",kind="completion"}',
      'cgw_active_streams 0',
      'cgw_token_cache_lookups_total{layer="memory"}',
      'cgw_token_exchanges_total{result="success"}',
      'cgw_upstream_errors_total',
      'process_resident_memory_bytes',
    ])
      expect(text).toContain(name);
    expect(text).toMatch(/cgw_http_requests_total\{route="\/v1\/chat\/completions",status="200"\} \d+/);
    expect(text).not.toContain(key);
    // promtool's naming rule: counters, and only counters, end in _total.
    const misnamed = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].filter(([, name, type]) => (type === 'counter') !== name.endsWith('_total'));
    expect(misnamed.map(([line]) => line)).toEqual([]);
  });

  it('answers CORS preflights and marks responses for browsers, and leaves other clients alone', async () => {
    const pre = await fetch(gw.url + '/v1/chat/completions', {
      method: 'OPTIONS',
      headers: { origin: 'https://chat.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    expect(pre.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
    const res = await gw.post('/v1/chat/completions', chatBody({ stream: true }), key, { origin: 'https://chat.example' });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toContain('retry-after');
    await res.text();
    const plain = await gw.post('/v1/chat/completions', chatBody(), key);
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers /stats as JSON', async () => {
    const body = await (await gw.get('/stats')).json();
    expect(body).toMatchObject({ mode: 'redis', store: 'redis', active_streams: 0 });
    expect(body.requests_by_status['200']).toBeGreaterThan(0);
  });
});

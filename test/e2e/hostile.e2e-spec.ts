import fc from 'fast-check';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { startFake } from '../support/gateway.js';
import { clusterEnv, saveFigures, startProcess, timed, type AppProcess } from '../support/processes.js';
import { startRedis, type RunningRedis } from '../support/redis-server.js';

/** Issue 5, fault 5: hostile bodies and headers against a real gateway process. */
const KEY = 'ghu_hostilehostilehostilehostile012345';
let redis: RunningRedis;
let fake: FakeCopilot;
let gw: AppProcess;

beforeAll(async () => {
  redis = await startRedis();
  fake = await startFake({ acceptAnyToken: true, streamEvents: 2 });
  gw = await startProcess('gateway', clusterEnv(redis.url, fake.url, { RATE_LIMIT_REQUESTS: '1000000', BODY_LIMIT: '1mb' }));
});
afterAll(async () => {
  await gw?.kill();
  await fake?.stop();
  await redis?.stop();
});

// --- request bodies -------------------------------------------------------------------------
// JSON is written by hand so objects can repeat a key and carry __proto__ as a real own key.
type Tree = null | boolean | number | string | { arr: Tree[] } | { obj: [string, Tree][] };

const key = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'model', 'messages', 'role', 'content', 'stream', 'n', 'tools', 'function', 'stream_options', 'include_usage', 'input', 'encoding_format', 'type', 'image_url'),
  fc.string({ unit: 'binary', maxLength: 12 }),
);
const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(1e308, -0, 2 ** 53 + 1, 1e9, -1),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('gpt-4o', 'claude-sonnet-4', 'text-embedding-3-small', 'user', 'system', 'assistant', 'tool', 'image_url', 'base64', 'float'),
);
const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('tree'), { maxLength: 4 }).map((arr) => ({ arr })),
    fc.array(fc.tuple(key, tie('tree')), { maxLength: 5 }).map((obj) => ({ obj })),
  ),
}));
const write = (t: Tree): string =>
  t !== null && typeof t === 'object'
    ? 'arr' in t
      ? `[${t.arr.map(write).join(',')}]`
      : `{${t.obj.map(([k, v]) => `${JSON.stringify(k)}:${write(v)}`).join(',')}}`
    : JSON.stringify(t);

const message = fc.oneof(
  fc.record({ role: fc.constantFrom('user', 'system', 'assistant'), content: fc.string({ unit: 'grapheme', maxLength: 30 }) }).map((m) => ({ obj: Object.entries(m) as [string, Tree][] })),
  tree,
);
/** Bodies close to a real request, so they get past the first checks and reach the deep ones. */
const nearlyValid = fc
  .record({
    model: fc.oneof(fc.constant('gpt-4o'), fc.constant('text-embedding-3-small'), tree),
    messages: fc.oneof(fc.array(message, { maxLength: 3 }).map((arr) => ({ arr })), tree),
    extra: fc.array(fc.tuple(key, tree), { maxLength: 4 }),
  })
  .map(({ model, messages, extra }) => write({ obj: [['model', model], ['messages', messages], ['input', messages], ...extra] }));
const deep = fc.tuple(fc.integer({ min: 1, max: 200_000 }), fc.constantFrom('[', '{"a":')).map(([depth, open]) => {
  const close = open === '[' ? ']' : '}';
  return `{"model":"gpt-4o","messages":${open.repeat(depth)}1${close.repeat(depth)}}`;
});
const huge = fc.tuple(fc.integer({ min: 1000, max: 1_200_000 }), fc.constantFrom('model', 'content', 'role', 'junk')).map(([n, where]) =>
  where === 'model'
    ? `{"model":"${'m'.repeat(n)}","messages":[]}`
    : where === 'junk'
      ? `{"${'k'.repeat(n)}":1,"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`
      : `{"model":"gpt-4o","messages":[{"role":${where === 'role' ? `"${'r'.repeat(n)}"` : '"user"'},"content":"${'é'.repeat(n / 2)}"}]}`,
);
const duplicated = fc.tuple(tree, tree).map(([a, b]) => `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"stream":${write(a)},"model":${write(b)},"__proto__":{"stream":true,"model":"x"}}`);
const garbage = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')));

const body = fc.oneof(
  { weight: 10, arbitrary: nearlyValid },
  { weight: 6, arbitrary: tree.map(write) },
  { weight: 2, arbitrary: duplicated },
  { weight: 2, arbitrary: garbage },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: huge },
);
const request = fc.record({
  path: fc.constantFrom('/v1/chat/completions', '/v1/chat/completions', '/chat/completions', '/v1/embeddings'),
  body,
  type: fc.constantFrom('application/json', 'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded'),
});

describe('hostile request bodies', () => {
  it('10,000 generated bodies: no answer of 500 or more, every error in OpenAI shape, no crash', async () => {
    const requests = fc.sample(request, { numRuns: 10_000, seed: Number(process.env.FC_SEED ?? 20261124) });
    const statuses: Record<number, number> = {};
    const bad: { status: number; path: string; body: string; answer: string }[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 24 }, async () => {
        while (next < requests.length) {
          const r = requests[next++];
          const res = await timed(`${gw.url}${r.path}`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': r.type }, body: r.body });
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
          let shaped = res.status < 400;
          if (!shaped) {
            try {
              const e = JSON.parse(res.body).error;
              shaped = typeof e.message === 'string' && typeof e.type === 'string' && 'code' in e && 'param' in e;
            } catch {
              shaped = false;
            }
          }
          if (res.status >= 500 || res.status === 0 || !shaped) bad.push({ status: res.status, path: r.path, body: r.body.slice(0, 300), answer: res.body.slice(0, 300) });
        }
      }),
    );
    saveFigures('hostile-bodies', { requests: requests.length, statuses, bad: bad.length });
    expect(bad.slice(0, 5)).toEqual([]);
    expect(Object.values(statuses).reduce((a, b) => a + b)).toBe(10_000);
    expect(statuses[200]).toBeGreaterThan(100); // the generator does reach the upstream path too
    expect(gw.child.exitCode).toBeNull();
    expect((await timed(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}' })).status).toBe(200);
  }, 240_000);

  it('does not let __proto__ in a body change what the gateway does', async () => {
    const res = await timed(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"__proto__":{"stream":true}}',
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error.code).toBe('invalid_json');
    expect(({} as Record<string, unknown>).stream).toBeUndefined();
  });
});

// --- headers ---------------------------------------------------------------------------------
/** Writes raw bytes to the gateway and reads the whole answer (the server closes or it times out). */
function raw(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(gw.port, '127.0.0.1');
    let out = '';
    socket.on('data', (d) => (out += d));
    socket.on('error', reject);
    socket.on('close', () => resolve(out));
    socket.setTimeout(3000, () => socket.destroy());
    socket.end(request);
  });
}
const statusOf = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
const bodyOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
const CHAT = '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}';
const post = (headers: string) =>
  `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${CHAT.length}\r\nConnection: close\r\n${headers}\r\n${CHAT}`;

describe('hostile headers', () => {
  it('oversized headers: 431 in OpenAI shape', async () => {
    const answer = await raw(post(`Authorization: Bearer ${KEY}\r\nX-Big: ${'a'.repeat(20_000)}\r\n`));
    expect(statusOf(answer)).toBe(431);
    expect(bodyOf(answer).error).toMatchObject({ type: 'invalid_request_error', code: 'headers_too_large' });
  });

  it('two Authorization headers: 400, whichever comes first', async () => {
    for (const pair of [[KEY, 'sk-cgw-other'], ['sk-cgw-other', KEY]]) {
      const answer = await raw(post(`Authorization: Bearer ${pair[0]}\r\nauthorization: Bearer ${pair[1]}\r\n`));
      expect(statusOf(answer)).toBe(400);
      expect(bodyOf(answer).error.code).toBe('duplicate_authorization_header');
      expect(answer).not.toContain(KEY);
    }
  });

  it('CR or LF smuggled into a header: 400 in OpenAI shape, nothing injected into the answer', async () => {
    for (const injected of [`Authorization: Bearer ${KEY}\rSet-Cookie: pwned=1\r\n`, `X-Request-Id: a\nSet-Cookie: pwned=1\r\nAuthorization: Bearer ${KEY}\r\n`, `Authorization: Bearer ${KEY}\r\n X-Folded: continuation\r\n`]) {
      const answer = await raw(post(injected));
      expect(statusOf(answer)).toBe(400);
      expect(bodyOf(answer).error.type).toBe('invalid_request_error');
      expect(answer.toLowerCase()).not.toContain('set-cookie');
    }
  });

  it('a key with header-breaking bytes in a normal request is refused without echoing it', async () => {
    const res = await timed(`${gw.url}/v1/models`, { headers: { authorization: 'Bearer sk-cgw-%0d%0aSet-Cookie:%20x' } });
    expect(res.status).toBe(401);
    expect(res.body).not.toContain('Set-Cookie');
    expect(res.body).not.toContain('%0d%0a');
  });

  it('the gateway is still up after all of it', async () => {
    expect((await timed(`${gw.url}/health/live`)).status).toBe(200);
    expect(gw.child.exitCode).toBeNull();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { accountWithKey, startFake, startGateway, uniquePrefix, type TestGateway } from '../support/gateway.js';

/** Issue 12: the Responses API — stored responses across replicas, the native quirks fixed, errors. */
let fake: FakeCopilot;
let a: TestGateway;
let b: TestGateway;
let key: string;
let otherKey: string;

beforeAll(async () => {
  fake = await startFake({ streamEvents: 3 });
  const prefix = uniquePrefix();
  a = await startGateway(fake, {}, { prefix });
  b = await startGateway(fake, {}, { prefix, role: 'gateway' });
  ({ key } = await accountWithKey(a, fake, 'resp-owner'));
  ({ key: otherKey } = await accountWithKey(a, fake, 'resp-other'));
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await fake?.stop();
});

const call = (gw: TestGateway, method: string, path: string, body?: unknown, k = key) =>
  fetch(gw.url + path, { method, headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

async function events(res: Response): Promise<any[]> {
  return (await res.text())
    .split('\n\n')
    .map((f) => /^data: (.*)$/m.exec(f)?.[1])
    .filter((d): d is string => !!d)
    .map((d) => JSON.parse(d));
}

describe.each(['gpt-5-codex', 'gpt-4o', 'claude-sonnet-4'])('stored responses on %s', (model) => {
  it('continues a conversation on another replica with previous_response_id, and serves retrieve, input_items and delete', async () => {
    const first = await (await call(a, 'POST', '/v1/responses', { model, input: 'My name is Ada.' })).json();
    expect(first.id).toMatch(/^resp_/);
    expect(first.status).toBe('completed');
    const second = await call(b, 'POST', '/v1/responses', { model, previous_response_id: first.id, input: 'What is my name?' });
    expect(second.status).toBe(200);
    const upstream = model === 'gpt-5-codex' ? fake.lastResponsesBody : fake.lastChatBody;
    // The earlier turn went upstream again: Copilot keeps nothing.
    expect(JSON.stringify(upstream)).toContain('My name is Ada.');
    expect(upstream.previous_response_id).toBeUndefined();
    const continued = await second.json();

    const got = await call(b, 'GET', `/v1/responses/${continued.id}`);
    expect(got.status).toBe(200);
    expect((await got.json()).output).toEqual(continued.output);
    const items = await (await call(a, 'GET', `/v1/responses/${continued.id}/input_items`)).json();
    expect(items.object).toBe('list');
    expect(JSON.stringify(items.data)).toContain('My name is Ada.');
    expect(JSON.stringify(items.data)).toContain('What is my name?');

    expect((await call(a, 'GET', `/v1/responses/${continued.id}`, undefined, otherKey)).status).toBe(404);
    expect((await call(a, 'POST', '/v1/responses', { model, previous_response_id: continued.id, input: 'x' }, otherKey)).status).toBe(404);

    const deleted = await call(b, 'DELETE', `/v1/responses/${continued.id}`);
    expect(await deleted.json()).toEqual({ id: continued.id, object: 'response', deleted: true });
    const gone = await call(a, 'GET', `/v1/responses/${continued.id}`);
    expect(gone.status).toBe(404);
    expect((await gone.json()).error).toMatchObject({ type: 'not_found_error', code: 'response_not_found' });
  });

  it('stores a streamed response before its last event leaves, and nothing with store:false', async () => {
    const res = await call(a, 'POST', '/v1/responses', { model, input: 'Hi', stream: true });
    const evs = await events(res);
    const done = evs.at(-1);
    expect(done.type).toBe('response.completed');
    expect((await call(b, 'GET', `/v1/responses/${done.response.id}`)).status).toBe(200);
    const unstored = await (await call(a, 'POST', '/v1/responses', { model, input: 'Hi', store: false })).json();
    expect((await call(a, 'GET', `/v1/responses/${unstored.id}`)).status).toBe(404);
  });
});

describe('native /responses quirks', () => {
  it('makes item ids consistent between output_item.added and .done', async () => {
    const res = await call(a, 'POST', '/v1/responses', { model: 'gpt-5-codex', input: 'Hi', stream: true, store: false, fake_item_id_mismatch: 'all' });
    const evs = await events(res);
    const added = new Map(evs.filter((e) => e.type === 'response.output_item.added').map((e) => [e.output_index, e.item.id]));
    for (const e of evs.filter((x) => x.type === 'response.output_item.done')) expect(e.item.id).toBe(added.get(e.output_index));
    for (const e of evs.filter((x) => typeof x.item_id === 'string')) expect(e.item_id).toBe(added.get(e.output_index));
    const seq = evs.map((e) => e.sequence_number);
    expect(seq).toEqual(seq.map((_, i) => i));
  });

  it('cuts a run of more than 20 whitespace-only argument deltas with response.failed', async () => {
    const tools = [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }];
    const res = await call(a, 'POST', '/v1/responses', { model: 'gpt-5-codex', input: 'Weather?', tools, stream: true, store: false, fake_whitespace_args: 50 });
    const evs = await events(res);
    const last = evs.at(-1);
    expect(last.type).toBe('response.failed');
    expect(last.response.error.code).toBe('upstream_whitespace_loop');
    expect(evs.filter((e) => e.type === 'response.function_call_arguments.delta').length).toBeLessThanOrEqual(21);
  });

  it('drops service_tier, forces store:false upstream and keeps encrypted reasoning', async () => {
    const res = await call(a, 'POST', '/v1/responses', { model: 'gpt-5-codex', input: 'Hi', service_tier: 'priority', include: ['reasoning.encrypted_content'], reasoning: { summary: 'auto' } });
    expect(res.status).toBe(200);
    expect(fake.lastResponsesBody.service_tier).toBeUndefined();
    expect(fake.lastResponsesBody.store).toBe(false);
    const body = await res.json();
    expect(body.output.find((i: { type: string }) => i.type === 'reasoning').encrypted_content).toBeTruthy();
  });
});

describe('the upstream connection after a stream', () => {
  // Copilot's body ends a moment after response.completed, the last chunk in a read of its own.
  let slowEnd: FakeCopilot;
  let gw: TestGateway;
  let k: string;
  beforeAll(async () => {
    slowEnd = await startFake({ responsesEndDelayMs: 30 });
    gw = await startGateway(slowEnd, {}, { redis: false });
    ({ key: k } = await accountWithKey(gw, slowEnd, 'slow-end'));
  });
  afterAll(async () => {
    await gw?.close();
    await slowEnd?.stop();
  });

  it.each([
    ['a Responses client', '/v1/responses', { input: 'Hi', store: false }, 'response.completed'],
    ['a chat client', '/v1/chat/completions', { messages: [{ role: 'user', content: 'Hi' }] }, '[DONE]'],
    ['an Anthropic client', '/v1/messages', { max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }, 'message_stop'],
  ])('is kept after %s\'s stream, which ends at response.completed', async (_who, path, body, last) => {
    const ask = async () => {
      const t0 = performance.now();
      const res = await call(gw, 'POST', path, { model: 'gpt-5-codex', stream: true, ...body }, k);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain(last);
      expect(text).not.toMatch(/"type":"(error|response\.failed)"/);
      return performance.now() - t0;
    };
    // Each after the last one's upstream body has ended (a call made before then needs a connection of its own).
    const settled = () => new Promise((done) => setTimeout(done, 80));
    await ask(); // the connection the rest may reuse
    await settled();
    const before = slowEnd.connectionsMade;
    for (let i = 0; i < 5; i++) {
      await ask();
      await settled();
    }
    // Cutting the upstream body at the last event closed the socket: a new connection per stream.
    expect(slowEnd.connectionsMade - before).toBe(0);
    // and the client is not kept waiting for the end of the upstream body
    expect(await ask()).toBeLessThan(300);
  });
});

describe('errors and initiator', () => {
  it.each([
    ['no input', { model: 'gpt-4o' }, 400],
    ['an unknown model', { model: 'gpt-9', input: 'hi' }, 404],
    ['an unknown previous_response_id', { model: 'gpt-4o', input: 'hi', previous_response_id: 'resp_nope' }, 404],
  ])('answers %s in OpenAI error shape', async (_name, body, status) => {
    const res = await call(a, 'POST', '/v1/responses', body);
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual({ error: { message: expect.any(String), type: expect.any(String), param: expect.anything(), code: expect.any(String) } });
  });

  it('resolves item_reference from this key\'s stored items only, and caps how many one request names', async () => {
    const first = await (await call(a, 'POST', '/v1/responses', { model: 'gpt-4o', input: 'My name is Ada.' })).json();
    const msg = first.output.find((i: { type: string }) => i.type === 'message');
    const ok = await call(b, 'POST', '/v1/responses', { model: 'gpt-4o', store: false, input: [{ role: 'user', content: 'My name is Ada.' }, { type: 'item_reference', id: msg.id }, { role: 'user', content: 'Name?' }] });
    expect(ok.status).toBe(200);
    expect(JSON.stringify(fake.lastChatBody.messages)).toContain(msg.content[0].text);
    const foreign = await call(a, 'POST', '/v1/responses', { model: 'gpt-4o', input: [{ type: 'item_reference', id: msg.id }] }, otherKey);
    expect(foreign.status).toBe(400);
    expect((await foreign.json()).error.code).toBe('item_not_found');
    const many = Array.from({ length: 101 }, (_, i) => ({ type: 'item_reference', id: `msg_${i}` }));
    const flood = await call(a, 'POST', '/v1/responses', { model: 'gpt-4o', input: many });
    expect(flood.status).toBe(400);
    expect((await flood.json()).error.code).toBe('too_many_references');
  });

  it('sends a function_call_output turn as agent', async () => {
    fake.resetCounters();
    await call(a, 'POST', '/v1/responses', {
      model: 'gpt-5-codex',
      store: false,
      input: [
        { role: 'user', content: 'Weather?' },
        { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call_output', call_id: 'call_1', output: 'Sunny' },
      ],
    });
    expect(fake.initiators.map((r) => r.initiator)).toEqual(['agent']);
  });

  it('labels metrics with dialect="responses" and the upstream endpoint', async () => {
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    expect(metrics).toMatch(/cgw_proxied_requests_total\{dialect="responses",endpoint="\/responses",model="gpt-5-codex",status="200"\}/);
    expect(metrics).toMatch(/cgw_proxied_requests_total\{dialect="responses",endpoint="\/chat\/completions",model="gpt-4o",status="200"\}/);
  });
});

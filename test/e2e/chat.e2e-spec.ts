import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { accountWithKey, chatBody, readSse, startFake, startGateway, type TestGateway } from '../support/gateway.js';

let fake: FakeCopilot;
let gw: TestGateway;
let key: string;

beforeAll(async () => {
  fake = await startFake({ crlf: true });
  gw = await startGateway(fake, { BODY_LIMIT: '64kb' });
  ({ key } = await accountWithKey(gw, fake));
});
afterAll(async () => {
  await gw?.close();
  await fake?.stop();
});

describe('non-stream chat completions', () => {
  it('answers in OpenAI shape: object, logprobs, no Copilot filter fields', async () => {
    const res = await gw.post('/v1/chat/completions', chatBody(), key);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.object).toBe('chat.completion');
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(body.created).toBeGreaterThan(0);
    expect(body.prompt_filter_results).toBeUndefined();
    expect(body.choices).toEqual([
      { index: 0, message: { role: 'assistant', content: 'Hello from gpt-4o!' }, logprobs: null, finish_reason: 'stop' },
    ]);
    expect(body.usage).toEqual({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 });
    expect(res.headers.get('x-ratelimit-limit')).toBe('100000');
  });

  it('answers without the /v1 prefix too', async () => {
    const res = await gw.post('/chat/completions', chatBody(), key);
    expect(res.status).toBe(200);
  });

  it('merges the choices Claude splits into one message', async () => {
    const res = await gw.post(
      '/v1/chat/completions',
      chatBody({ model: 'claude-sonnet-4', tools: [{ type: 'function', function: { name: 'get_weather', parameters: {} } }] }),
      key,
    );
    const body = await res.json();
    expect(body.choices).toHaveLength(1);
    expect(body.choices[0].message.content).toBe('Let me check the weather.');
    expect(body.choices[0].message.tool_calls).toHaveLength(1);
    expect(body.choices[0].finish_reason).toBe('tool_calls');
  });

  it('sends the editor headers, x-initiator by the last message and the vision header for images', async () => {
    await gw.post('/v1/chat/completions', chatBody(), key);
    expect(fake.lastHeaders['x-initiator']).toBe('user');
    expect(fake.lastHeaders['copilot-vision-request']).toBeUndefined();
    expect(fake.lastHeaders['editor-version']).toBe(gw.config.identity.editorVersion);
    expect(fake.lastHeaders['copilot-integration-id']).toBe('vscode-chat');
    expect(fake.lastHeaders['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    await gw.post(
      '/v1/chat/completions',
      chatBody({
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
          { role: 'assistant', content: 'A cat' },
          { role: 'tool', content: '{}', tool_call_id: 'x' },
        ],
      }),
      key,
    );
    expect(fake.lastHeaders['x-initiator']).toBe('agent');
    expect(fake.lastHeaders['copilot-vision-request']).toBe('true');
  });
});

describe('streaming chat completions', () => {
  it('streams OpenAI chunks: no empty-choices event, object on each, one id, no usage unless asked', async () => {
    const res = await gw.post('/v1/chat/completions', chatBody({ stream: true }), key);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const events = await readSse(res);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.length).toBe(6);
    for (const c of chunks) {
      expect(c.object).toBe('chat.completion.chunk');
      expect(c.choices.length).toBeGreaterThan(0);
      expect(c.usage).toBeUndefined();
      expect(c.choices[0].delta.content_filter_offsets).toBeUndefined();
      expect(c.choices[0].logprobs).toBeNull();
    }
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe('Hello from gpt-4o — ünïcödé ✓!');
    expect(chunks.at(-1).choices[0].finish_reason).toBe('stop');
  });

  it('passes each event on as it arrives, without holding the stream back', async () => {
    const started = Date.now();
    const res = await gw.post('/v1/chat/completions', chatBody({ stream: true, fake_stream: { events: 4, interval_ms: 150 } }), key);
    const reader = res.body!.getReader();
    const arrivals: number[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (new TextDecoder().decode(value).includes('"content"')) arrivals.push(Date.now() - started);
    }
    expect(arrivals.length).toBeGreaterThanOrEqual(4);
    // Events 150 ms apart upstream stay apart downstream: nothing is buffered until the end.
    expect(arrivals.at(-1)! - arrivals[0]).toBeGreaterThan(350);
  });

  it('puts usage in a final empty-choices chunk when stream_options.include_usage is set', async () => {
    const res = await gw.post('/v1/chat/completions', chatBody({ stream: true, stream_options: { include_usage: true } }), key);
    const chunks = (await readSse(res)).slice(0, -1).map((e) => JSON.parse(e));
    const last = chunks.at(-1);
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 });
    for (const c of chunks.slice(0, -1)) {
      expect(c.choices.length).toBeGreaterThan(0);
      expect(c.usage).toBeNull();
    }
  });

  it('folds the tool-call choice Claude streams at index 1 into choice 0', async () => {
    const res = await gw.post(
      '/v1/chat/completions',
      chatBody({ model: 'claude-sonnet-4', stream: true, tools: [{ type: 'function', function: { name: 'get_weather', parameters: {} } }] }),
      key,
    );
    const chunks = (await readSse(res)).slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.every((c) => c.choices.every((ch: { index: number }) => ch.index === 0))).toBe(true);
    expect(chunks.some((c) => c.choices[0].delta.tool_calls?.[0]?.function?.name === 'get_weather')).toBe(true);
  });
});

describe('models and embeddings', () => {
  it('lists each model once, in OpenAI shape, and caches the list per account', async () => {
    fake.resetCounters();
    const res = await gw.get('/v1/models', key);
    // Loaded once per account: by the first request that needed it (a chat's metric label may have).
    const loads = fake.counters.modelsRequests;
    expect(loads).toBeLessThanOrEqual(1);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.object).toBe('list');
    const ids = body.data.map((m: { id: string }) => m.id);
    expect(ids).toEqual([...new Set(ids)]);
    expect(ids).toContain('gpt-4o');
    expect(body.data[0]).toEqual({ id: 'gpt-4o', object: 'model', created: 0, owned_by: 'Azure OpenAI' });
    await gw.get('/models', key);
    expect(fake.counters.modelsRequests).toBe(loads);
  });

  it('answers one model by id, and 404 for an unknown id', async () => {
    const res = await gw.get('/v1/models/claude-sonnet-4', key);
    expect(res.status).toBe(200);
    expect((await res.json()).id).toBe('claude-sonnet-4');
    const missing = await gw.get('/v1/models/gpt-9', key);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      error: { message: "The model 'gpt-9' does not exist", type: 'not_found_error', param: 'model', code: 'model_not_found' },
    });
  });

  it('proxies embeddings as an OpenAI list', async () => {
    const res = await gw.post('/v1/embeddings', { model: 'text-embedding-3-small', input: ['a', 'b'] }, key);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.object).toBe('list');
    expect(body.data).toHaveLength(2);
    expect(body.model).toBe('text-embedding-3-small');
  });

  it('answers base64 embeddings, the SDKs\' default, as little-endian float32', async () => {
    const res = await gw.post('/v1/embeddings', { model: 'text-embedding-3-small', input: 'a', encoding_format: 'base64' }, key);
    const body = await res.json();
    const bytes = Buffer.from(body.data[0].embedding, 'base64');
    const floats = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    expect([...floats].map((f) => Math.round(f * 10) / 10)).toEqual([0.1, -0.2, 0.3]);
    const bad = await gw.post('/v1/embeddings', { model: 'text-embedding-3-small', input: 'a', encoding_format: 'int8' }, key);
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatchObject({ param: 'encoding_format', code: 'invalid_value' });
  });

  it('refuses embeddings without input', async () => {
    const res = await gw.post('/v1/embeddings', { model: 'text-embedding-3-small' }, key);
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({ param: 'input', code: 'missing_required_parameter' });
  });
});

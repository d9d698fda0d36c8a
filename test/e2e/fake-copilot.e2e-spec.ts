import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EDITOR, parseSse, upstreamSession, type SseEvent, type Upstream } from '../support/upstream-session.js';
import { ACCEPTED_ANTHROPIC_BETAS, type FakeOptions } from '../fake-copilot/fake-copilot.js';

/**
 * The fake upstream itself, spoken to directly over HTTP (no gateway): the parts of
 * shared/docs/copilot-upstream.md §3/§5 that the gateway's dialects will be built against.
 */

const upstream = (options: FakeOptions = {}) => upstreamSession(options);

/**
 * Asserts the Anthropic stream grammar: event name = data.type; message_start first; blocks with
 * rising indices, one open at a time, deltas only into the open one; message_delta then message_stop
 * last; ping anywhere. Returns the blocks with their deltas.
 */
function checkMessagesStream(events: SseEvent[]) {
  for (const e of events) expect(e.event).toBe(e.data.type);
  const names = events.map((e) => e.event).filter((n) => n !== 'ping');
  expect(names[0]).toBe('message_start');
  expect(names.slice(-2)).toEqual(['message_delta', 'message_stop']);
  expect(names.filter((n) => n === 'message_start' || n === 'message_delta' || n === 'message_stop')).toHaveLength(3);
  const blocks: { start: any; deltas: any[]; stopped: boolean }[] = [];
  let open: number | undefined;
  for (const { event, data } of events) {
    if (event === 'content_block_start') {
      expect(open).toBeUndefined();
      expect(data.index).toBe(blocks.length);
      blocks.push({ start: data.content_block, deltas: [], stopped: false });
      open = data.index;
    } else if (event === 'content_block_delta') {
      expect(data.index).toBe(open);
      blocks[data.index].deltas.push(data.delta);
    } else if (event === 'content_block_stop') {
      expect(data.index).toBe(open);
      blocks[data.index].stopped = true;
      open = undefined;
    } else if (event === 'message_delta' || event === 'message_stop') {
      expect(open).toBeUndefined();
    }
  }
  expect(blocks.every((b) => b.stopped)).toBe(true);
  return { blocks, start: events[0].data.message, end: events.find((e) => e.event === 'message_delta')!.data };
}

const WEATHER = { name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
const hello = (extra: Record<string, unknown> = {}) => ({ model: 'claude-sonnet-4', max_tokens: 1024, messages: [{ role: 'user', content: 'Say hello' }], ...extra });

let up: Upstream;
beforeAll(async () => {
  up = await upstream();
});
afterAll(async () => {
  await up?.fake.stop();
});

describe('GET /models', () => {
  it('is reached at the API base the token exchange names', () => {
    expect(up.apiBase).toBe(up.fake.url);
  });

  it('lists supported_endpoints, tokenizer, limits, thinking budgets and billing per model', async () => {
    const res = await up.call('/models');
    expect(res.status).toBe(200);
    const { data } = await res.json();
    expect(data[0].id).toBe('gpt-4o');
    const byId = new Map<string, any>(data.map((m: any) => [m.id, m]));
    for (const id of ['gpt-4o', 'gpt-4.1', 'claude-sonnet-4', 'o3-mini', 'text-embedding-3-small', 'claude-haiku-4.5', 'claude-opus-4.1', 'gpt-5-codex', 'gpt-5.4'])
      expect(byId.has(id)).toBe(true);
    for (const id of ['claude-sonnet-4', 'claude-haiku-4.5', 'claude-opus-4.1']) {
      const m = byId.get(id);
      expect(m.supported_endpoints).toEqual(['/v1/messages', '/chat/completions']);
      expect(m.capabilities.supports).toMatchObject({ max_thinking_budget: expect.any(Number), min_thinking_budget: 1024, adaptive_thinking: expect.any(Boolean) });
      expect(m.billing).toMatchObject({ is_premium: true, multiplier: expect.any(Number) });
    }
    expect(byId.get('gpt-4o').supported_endpoints).toEqual(['/chat/completions']);
    expect(byId.get('gpt-4o').billing).toEqual({ is_premium: false, multiplier: 0 });
    expect(byId.get('gpt-5-codex').supported_endpoints).toEqual(['/responses']);
    expect(byId.get('gpt-5.4').supported_endpoints).toEqual(['/responses']);
    expect(byId.get('text-embedding-3-small').supported_endpoints).toBeUndefined();
    expect(byId.get('text-embedding-3-small').capabilities).toMatchObject({ type: 'embeddings', tokenizer: 'cl100k_base' });
    expect(byId.get('claude-opus-4.1').billing.multiplier).toBe(10);
    for (const m of data.filter((x: any) => x.capabilities.type === 'chat')) {
      expect(m.capabilities.tokenizer).toBe('o200k_base');
      expect(Object.keys(m.capabilities.limits).sort()).toEqual(['max_context_window_tokens', 'max_non_streaming_output_tokens', 'max_output_tokens', 'max_prompt_tokens']);
    }
  });
});

describe('POST /v1/messages', () => {
  it('answers a Claude model in Anthropic shape, records the body, headers and counters', async () => {
    up.fake.resetCounters();
    const res = await up.call('/v1/messages?beta=true', hello(), { 'anthropic-version': '2023-06-01' });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toEqual({
      id: expect.stringMatching(/^msg_/),
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4',
      content: [{ type: 'text', text: 'Hello from claude-sonnet-4 — ünïcödé ✓!' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 12, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
    });
    expect(up.fake.counters.messagesRequests).toBe(1);
    expect(up.fake.counters.messagesCompleted).toBe(1);
    expect(up.fake.counters.chatRequests).toBe(0);
    expect(up.fake.lastMessagesBody).toEqual(hello());
    expect(up.fake.lastHeaders['anthropic-version']).toBe('2023-06-01');
  });

  it('streams the real event sequence, split across writes', async () => {
    for (const u of [up, await upstream({ crlf: true })]) {
      const res = await u.call('/v1/messages', hello({ stream: true }));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      const events = parseSse(await res.text());
      expect(events.some((e) => e.event === 'ping')).toBe(true);
      const { blocks, start, end } = checkMessagesStream(events);
      expect(start).toMatchObject({ id: expect.stringMatching(/^msg_/), type: 'message', role: 'assistant', model: 'claude-sonnet-4', content: [], stop_reason: null });
      expect(start.usage).toMatchObject({ input_tokens: 12, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });
      expect(blocks).toHaveLength(1);
      expect(blocks[0].start).toEqual({ type: 'text', text: '' });
      expect(blocks[0].deltas.every((d) => d.type === 'text_delta')).toBe(true);
      expect(blocks[0].deltas.map((d) => d.text).join('')).toBe('Hello from claude-sonnet-4 — ünïcödé ✓!');
      expect(end.delta).toEqual({ stop_reason: 'end_turn', stop_sequence: null });
      expect(end.usage).toMatchObject({ output_tokens: 5, input_tokens: 12 });
      if (u !== up) await u.fake.stop();
    }
  });

  it('thinks first when thinking is enabled: thinking_delta then signature_delta; thinking block in the non-stream answer', async () => {
    const thinking = { type: 'enabled', budget_tokens: 2048 };
    const events = parseSse(await (await up.call('/v1/messages', hello({ stream: true, max_tokens: 4096, thinking }))).text());
    const { blocks } = checkMessagesStream(events);
    expect(blocks.map((b) => b.start.type)).toEqual(['thinking', 'text']);
    expect(blocks[0].start).toEqual({ type: 'thinking', thinking: '', signature: '' });
    const types = blocks[0].deltas.map((d) => d.type);
    expect(types.at(-1)).toBe('signature_delta');
    expect(types.slice(0, -1).length).toBeGreaterThan(0);
    expect(types.slice(0, -1).every((t) => t === 'thinking_delta')).toBe(true);
    expect(blocks[0].deltas.at(-1).signature.length).toBeGreaterThan(20);

    const body = await (await up.call('/v1/messages', hello({ max_tokens: 4096, thinking: { type: 'adaptive' } }))).json();
    expect(body.content.map((b: any) => b.type)).toEqual(['thinking', 'text']);
    expect(body.content[0]).toEqual({ type: 'thinking', thinking: expect.any(String), signature: expect.any(String) });
  });

  it('calls a tool when given tools (input_json_delta fragments, stop_reason tool_use), and answers in text after the tool_result', async () => {
    const events = parseSse(await (await up.call('/v1/messages', hello({ stream: true, tools: [WEATHER] }))).text());
    const { blocks, end } = checkMessagesStream(events);
    expect(blocks.map((b) => b.start.type)).toEqual(['text', 'tool_use']);
    const tool = blocks[1];
    expect(tool.start).toEqual({ type: 'tool_use', id: expect.stringMatching(/^toolu_/), name: 'get_weather', input: {} });
    expect(tool.deltas.every((d) => d.type === 'input_json_delta')).toBe(true);
    expect(tool.deltas.length).toBeGreaterThan(1);
    expect(JSON.parse(tool.deltas.map((d) => d.partial_json).join(''))).toEqual({ city: 'Paris' });
    expect(end.delta.stop_reason).toBe('tool_use');

    const first = await (await up.call('/v1/messages', hello({ tools: [WEATHER] }))).json();
    expect(first.stop_reason).toBe('tool_use');
    const call = first.content.at(-1);
    expect(call).toEqual({ type: 'tool_use', id: expect.stringMatching(/^toolu_/), name: 'get_weather', input: { city: 'Paris' } });
    const followUp = hello({
      tools: [WEATHER],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'sunny, 21°C', cache_control: { type: 'ephemeral' } }] },
      ],
    });
    const second = await (await up.call('/v1/messages', followUp)).json();
    expect(second.stop_reason).toBe('end_turn');
    expect(second.content).toEqual([{ type: 'text', text: 'Done: sunny, 21°C' }]);
    // The cache hint on the tool_result counts part of the prompt as read from the cache.
    expect(second.usage).toMatchObject({ input_tokens: 4, cache_read_input_tokens: 8 });
    const streamed = checkMessagesStream(parseSse(await (await up.call('/v1/messages', { ...followUp, stream: true })).text()));
    expect(streamed.blocks.map((b) => b.start.type)).toEqual(['text']);
    expect(streamed.end.delta.stop_reason).toBe('end_turn');
  });

  it('refuses the web_search server tool (400, as Copilot: JSON under text/plain)', async () => {
    const res = await up.call('/v1/messages', hello({ tools: [WEATHER, { type: 'web_search_20250305', name: 'web_search', max_uses: 8 }] }));
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(JSON.parse(await res.text())).toEqual({ error: { message: 'The use of the web search tool is not supported.', code: 'unsupported_value' } });
  });

  it('takes only the anthropic-beta values Copilot accepts', async () => {
    const ok = await up.call('/v1/messages', hello(), { 'anthropic-beta': ACCEPTED_ANTHROPIC_BETAS.join(', ') });
    expect(ok.status).toBe(200);
    const bad = await up.call('/v1/messages', hello(), { 'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14,context-1m-2025-08-07' });
    expect(bad.status).toBe(400);
    const { error } = await bad.json();
    expect(error.code).toBe('invalid_request_body');
    expect(error.message).toContain('Unexpected value(s) claude-code-20250219, context-1m-2025-08-07 for the anthropic-beta header');
  });

  it('validates like the Messages API, and serves only the models that list /v1/messages', async () => {
    const status = async (body: unknown) => {
      const res = await up.call('/v1/messages', body);
      return [res.status, (await res.json()).error];
    };
    const { max_tokens: _m, ...noMax } = hello();
    expect(await status(noMax)).toEqual([400, { message: 'max_tokens: Field required', code: 'invalid_request_body' }]);
    expect(await status(hello({ messages: [] }))).toEqual([400, { message: 'messages: at least one message is required', code: 'invalid_request_body' }]);
    expect((await status(hello({ thinking: { type: 'enabled', budget_tokens: 2048 } })))[0]).toBe(400); // budget >= max_tokens
    const [s, e] = await status(hello({ messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_nope', content: 'x' }] }] }));
    expect(s).toBe(400);
    expect(e.message).toContain('unexpected `tool_use_id`');
    expect(await status(hello({ model: 'gpt-4o' }))).toEqual([400, { message: 'model gpt-4o is not accessible via the /v1/messages endpoint', code: 'unsupported_api_for_model' }]);
    expect((await status(hello({ model: 'claude-9' })))[1].code).toBe('model_not_supported');
  });

  it('checks the Copilot token and the editor headers as the chat route does', async () => {
    const anon = await fetch(`${up.fake.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', ...EDITOR }, body: JSON.stringify(hello()) });
    expect(anon.status).toBe(401);
    const bare = await fetch(`${up.fake.url}/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${up.token}`, 'content-type': 'application/json' }, body: JSON.stringify(hello()) });
    expect(bare.status).toBe(400);
    expect(await bare.text()).toMatch(/^bad request: missing editor-version header/);
  });

  it('misbehaves on request: fake_fault in metadata or at the top level', async () => {
    const html = await up.call('/v1/messages', hello({ metadata: { user_id: 'u1', fake_fault: 'html_500' } }));
    expect(html.status).toBe(500);
    expect(await html.text()).toContain('<html>');

    const broken = parseSse(await (await up.call('/v1/messages', hello({ stream: true, fake_fault: 'stream_error' }))).text());
    expect(broken.map((e) => e.event)).toEqual(['message_start', 'content_block_start', 'content_block_delta', 'error']);
    expect(broken.at(-1)!.data).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });

    const cancelled = up.fake.counters.streamsCancelled;
    const abort = new AbortController();
    const stall = await up.call('/v1/messages', hello({ stream: true, metadata: { fake_fault: 'stall' } }), {}, { signal: abort.signal });
    expect(stall.status).toBe(200);
    const reader = stall.body!.getReader();
    let seen = '';
    while (!seen.includes('"Hel"')) seen += new TextDecoder().decode((await reader.read()).value);
    expect(seen).toContain('event: message_start');
    abort.abort();
    await expect.poll(() => up.fake.counters.streamsCancelled).toBe(cancelled + 1);
  });
});

describe('POST /chat/completions, new behaviours', () => {
  const chat = (extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello' }], ...extra });
  const chunks = async (res: Response) => {
    const events = parseSse(await res.text());
    expect(events.at(-1)!.data).toBe('[DONE]');
    return events.slice(0, -1).map((e) => e.data);
  };

  it('answers a /responses-only model with 400 unsupported_api_for_model', async () => {
    for (const model of ['gpt-5-codex', 'gpt-5.4']) {
      const res = await up.call('/chat/completions', chat({ model }));
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: { message: `model ${model} is not accessible via the /chat/completions endpoint`, code: 'unsupported_api_for_model' } });
    }
  });

  it('streams reasoning_text then reasoning_opaque before the content for Claude with a thinking_budget', async () => {
    const data = await chunks(await up.call('/chat/completions', chat({ model: 'claude-sonnet-4', stream: true, thinking_budget: 2048 })));
    expect(data[0].choices).toEqual([]);
    const deltas = data.slice(1).flatMap((c) => c.choices.map((ch: any) => ch.delta));
    const firstContent = deltas.findIndex((d) => typeof d.content === 'string');
    const reasoning = deltas.slice(0, firstContent);
    expect(reasoning.length).toBeGreaterThan(1);
    expect(reasoning.slice(0, -1).every((d) => typeof d.reasoning_text === 'string')).toBe(true);
    expect(reasoning.at(-1).reasoning_opaque).toEqual(expect.any(String));
    expect(deltas.slice(firstContent).some((d) => d.reasoning_text !== undefined)).toBe(false);

    const body = await (await up.call('/chat/completions', chat({ model: 'claude-sonnet-4', thinking_budget: 2048 }))).json();
    expect(body.choices[0].message).toMatchObject({ role: 'assistant', content: 'Hello from claude-sonnet-4!', reasoning_text: expect.any(String), reasoning_opaque: expect.any(String) });
    // Without a budget nothing changes; a budget out of the model's range is refused.
    const plain = await (await up.call('/chat/completions', chat({ model: 'claude-sonnet-4' }))).json();
    expect(plain.choices[0].message.reasoning_text).toBeUndefined();
    expect((await up.call('/chat/completions', chat({ model: 'claude-sonnet-4', thinking_budget: 100 }))).status).toBe(400);
  });

  it('keeps the usage on the finish chunk by default, and sends it LATE when asked (per request or by option)', async () => {
    const normal = await chunks(await up.call('/chat/completions', chat({ stream: true })));
    expect(normal.at(-1).choices[0].finish_reason).toBe('stop');
    expect(normal.at(-1).usage).toEqual({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 });

    const lateChecks = (data: any[]) => {
      const last = data.at(-1);
      expect(last.choices).toEqual([]);
      expect(last.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 });
      const finish = data.at(-2);
      expect(finish.choices[0].finish_reason).toBe('stop');
      expect(finish.usage).toBeUndefined();
    };
    lateChecks(await chunks(await up.call('/chat/completions', chat({ stream: true, fake_usage: { late: true } }))));
    const late = await upstream({ lateUsage: true });
    try {
      lateChecks(await chunks(await late.call('/chat/completions', chat({ stream: true }))));
    } finally {
      await late.fake.stop();
    }
  });

  it('reports cached prompt tokens for a cache hint, and copilot_usage when asked', async () => {
    const hinted = chat({ messages: [{ role: 'user', content: [{ type: 'text', text: 'Say hello', copilot_cache_control: { type: 'ephemeral' } }] }] });
    const body = await (await up.call('/chat/completions', hinted)).json();
    expect(body.usage).toEqual({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17, prompt_tokens_details: { cached_tokens: 8 } });
    const priced = await (await up.call('/chat/completions', chat({ fake_usage: { cached_tokens: 3, total_nano_aiu: 1234 } }))).json();
    expect(priced.usage).toEqual({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17, prompt_tokens_details: { cached_tokens: 3 }, copilot_usage: { total_nano_aiu: 1234 } });
  });
});

describe('requireEditorVersion: 466 for an outdated client identity', () => {
  afterAll(() => {
    delete up.fake.options.requireEditorVersion;
  });

  it('answers every Copilot API call 466 unless editor-version matches', async () => {
    up.fake.resetCounters();
    up.fake.options.requireEditorVersion = 'vscode/1.104.0';
    for (const [path, body] of [['/models', undefined], ['/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }], ['/v1/messages', hello()], ['/embeddings', { model: 'text-embedding-3-small', input: 'x' }]] as const) {
      const old = await up.call(path, body);
      expect(old.status).toBe(466);
      expect(await old.text()).toBe('specified API version is no longer supported');
      expect((await up.call(path, body, { 'editor-version': 'vscode/1.104.0' })).status).toBe(200);
    }
    expect(up.fake.counters.versionRejected).toBe(4);
    // Refused calls never reached a model.
    expect(up.fake.counters.chatRequests + up.fake.counters.messagesRequests).toBe(2);
  });
});

describe('initiators', () => {
  it('records x-initiator, x-interaction-type and openai-intent per call, and prices the user-initiated ones', async () => {
    up.fake.resetCounters();
    expect(up.fake.initiators).toEqual([]);
    await up.call('/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }, { 'x-initiator': 'user', 'openai-intent': 'conversation-panel' });
    await up.call('/v1/messages', hello({ model: 'claude-opus-4.1' }), { 'x-initiator': 'user', 'openai-intent': 'messages-proxy' });
    await up.call('/v1/messages', hello({ model: 'claude-opus-4.1' }), { 'x-initiator': 'agent', 'x-interaction-type': 'conversation-compaction' });
    await up.call('/v1/messages', hello({ model: 'claude-haiku-4.5' }), { 'x-initiator': 'user', 'x-interaction-type': 'conversation-agent' });
    await up.call('/embeddings', { model: 'text-embedding-3-small', input: 'x' }, { 'x-initiator': 'user' });
    await up.call('/models');
    expect(up.fake.initiators).toEqual([
      { route: 'chat', model: 'gpt-4o', initiator: 'user', interaction: undefined, intent: 'conversation-panel' },
      { route: 'messages', model: 'claude-opus-4.1', initiator: 'user', interaction: undefined, intent: 'messages-proxy' },
      { route: 'messages', model: 'claude-opus-4.1', initiator: 'agent', interaction: 'conversation-compaction', intent: undefined },
      { route: 'messages', model: 'claude-haiku-4.5', initiator: 'user', interaction: 'conversation-agent', intent: undefined },
      { route: 'embeddings', model: 'text-embedding-3-small', initiator: 'user', interaction: undefined, intent: undefined },
    ]);
    expect(up.fake.initiators.filter((r) => r.route !== 'embeddings' && r.initiator === 'user')).toHaveLength(3);
    // gpt-4o is free, opus costs 10, haiku 0.33; the agent call nothing.
    expect(up.fake.premiumRequests()).toBeCloseTo(10.33);
  });
});

import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EDITOR, parseSse, upstreamSession, type SseEvent, type Upstream } from '../support/upstream-session.js';
import { RESPONSES_REASONING_TOKENS, type FakeOptions } from '../fake-copilot/fake-copilot.js';

/**
 * The fake upstream's `POST /responses` (the OpenAI Responses API as Copilot serves it), spoken to
 * directly over HTTP (no gateway): shared/docs/copilot-upstream.md §3 and §6, and the quirks seen
 * from the real service as knobs.
 */

const upstream = (options: FakeOptions = {}) => upstreamSession(options, { login: 'responsesspec', id: 4712 });

/** Streams a /responses call; checks the grammar every event shares (name = data.type, sequence_number 0, 1, 2, …, no [DONE]). */
async function stream(u: Upstream, body: Record<string, unknown>): Promise<SseEvent[]> {
  const res = await u.call('/responses', { ...body, stream: true });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const text = await res.text();
  expect(text).not.toContain('[DONE]');
  const events = parseSse(text);
  for (const [i, e] of events.entries()) {
    expect(e.event).toBe(e.data.type);
    expect(e.data.sequence_number).toBe(i);
  }
  return events;
}

const names = (events: SseEvent[]) => events.map((e) => e.event);
const ofType = (events: SseEvent[], type: string) => events.filter((e) => e.event === type).map((e) => e.data);

const WEATHER = { type: 'function', name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
const hello = (extra: Record<string, unknown> = {}) => ({ model: 'gpt-5-codex', input: 'Say hello', store: false, ...extra });

/** The recorded Codex requests: the project's copy if it has one, else the shared one. */
function codexFixture(name: string): any {
  for (const dir of ['test/fixtures/clients/codex-0.169.0', '../shared/fixtures/clients/codex-0.169.0']) {
    const path = `${dir}/${name}.json`;
    if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')).body;
  }
  return undefined;
}

let up: Upstream;
beforeAll(async () => {
  up = await upstream();
});
afterAll(async () => {
  await up?.fake.stop();
});

describe('POST /responses, non-stream', () => {
  it('answers a reasoning item then a message, records body, headers, counters and the initiator', async () => {
    up.fake.resetCounters();
    const res = await up.call('/responses', hello(), { 'x-initiator': 'user', 'openai-intent': 'conversation-agent' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    const body = await res.json();
    expect(body).toMatchObject({
      id: expect.stringMatching(/^resp_/),
      object: 'response',
      created_at: expect.any(Number),
      status: 'completed',
      error: null,
      incomplete_details: null,
      model: 'gpt-5-codex',
      previous_response_id: null,
      store: false,
    });
    expect(Math.abs(body.created_at - Date.now() / 1000)).toBeLessThan(60);
    expect(body.output).toEqual([
      { id: expect.stringMatching(/^rs_/), type: 'reasoning', summary: [] },
      {
        id: expect.stringMatching(/^msg_/),
        type: 'message',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: 'Hello from gpt-5-codex!', annotations: [] }],
      },
    ]);
    expect(body.usage).toEqual({
      input_tokens: 12,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: RESPONSES_REASONING_TOKENS + 4,
      output_tokens_details: { reasoning_tokens: RESPONSES_REASONING_TOKENS },
      total_tokens: 12 + RESPONSES_REASONING_TOKENS + 4,
    });
    expect(up.fake.counters.responsesRequests).toBe(1);
    expect(up.fake.counters.responsesCompleted).toBe(1);
    expect(up.fake.counters.chatRequests + up.fake.counters.messagesRequests).toBe(0);
    expect(up.fake.lastResponsesBody).toEqual(hello());
    expect(up.fake.lastResponsesRaw).toBe(JSON.stringify(hello()));
    expect(up.fake.lastHeaders['openai-intent']).toBe('conversation-agent');
    expect(up.fake.initiators).toEqual([{ route: 'responses', model: 'gpt-5-codex', initiator: 'user', interaction: undefined, intent: 'conversation-agent' }]);
  });

  it('summarises its reasoning when asked, and hands out encrypted_content only when include asks for it', async () => {
    const summarised = await (await up.call('/responses', hello({ reasoning: { effort: 'high', summary: 'auto' } }))).json();
    expect(summarised.output[0]).toEqual({ id: expect.stringMatching(/^rs_/), type: 'reasoning', summary: [{ type: 'summary_text', text: 'The user wants a greeting; keep it short.' }] });
    expect(summarised.reasoning).toEqual({ effort: 'high', summary: 'auto' });

    const encrypted = await (await up.call('/responses', hello({ reasoning: { summary: 'auto' }, include: ['reasoning.encrypted_content'] }))).json();
    expect(encrypted.output[0]).toEqual({
      id: expect.stringMatching(/^rs_/),
      type: 'reasoning',
      summary: [{ type: 'summary_text', text: expect.any(String) }],
      encrypted_content: expect.stringMatching(/^gAAAAA[\w-]{200,}$/),
    });
    expect(encrypted.output[1].content[0].text).toBe('Hello from gpt-5-codex!');
  });

  it('calls the first function tool with arguments from its schema (city, command as array or string)', async () => {
    const body = await (await up.call('/responses', hello({ tools: [WEATHER, { type: 'function', name: 'other', parameters: {} }] }))).json();
    expect(body.status).toBe('completed');
    expect(body.output.map((i: any) => i.type)).toEqual(['reasoning', 'function_call']);
    expect(body.output[1]).toEqual({
      id: expect.stringMatching(/^fc_/),
      type: 'function_call',
      status: 'completed',
      arguments: '{"city":"Paris"}',
      call_id: expect.stringMatching(/^call_/),
      name: 'get_weather',
    });
    expect(body.usage.output_tokens).toBe(RESPONSES_REASONING_TOKENS + 8);

    const shell = (type: string) => ({ type: 'function', name: 'shell', parameters: { type: 'object', properties: { command: { type, ...(type === 'array' ? { items: { type: 'string' } } : {}) }, timeout: { type: 'number' } }, required: ['command'] } });
    const asArray = await (await up.call('/responses', hello({ tools: [shell('array')] }))).json();
    expect(JSON.parse(asArray.output[1].arguments)).toEqual({ command: ['echo', 'fake'] });
    const asString = await (await up.call('/responses', hello({ tools: [shell('string')] }))).json();
    expect(JSON.parse(asString.output[1].arguments)).toEqual({ command: 'echo fake' });

    // tool_choice names another tool; "none" answers in text.
    const chosen = await (await up.call('/responses', hello({ tools: [WEATHER, shell('string')], tool_choice: { type: 'function', name: 'shell' } }))).json();
    expect(chosen.output[1].name).toBe('shell');
    const none = await (await up.call('/responses', hello({ tools: [WEATHER], tool_choice: 'none' }))).json();
    expect(none.output.map((i: any) => i.type)).toEqual(['reasoning', 'message']);
  });

  it('answers in text after the function_call_output, taking its own output items back (encrypted reasoning included)', async () => {
    const include = ['reasoning.encrypted_content'];
    const user = { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Weather in Paris?' }] };
    const first = await (await up.call('/responses', hello({ input: [user], tools: [WEATHER], include }))).json();
    const [reasoning, call] = first.output;
    expect(call.type).toBe('function_call');
    const output = { type: 'function_call_output', call_id: call.call_id, output: 'sunny, 21°C' };
    const second = await up.call('/responses', hello({ input: [user, reasoning, call, output], tools: [WEATHER], include }));
    expect(second.status).toBe(200);
    const body = await second.json();
    expect(body.status).toBe('completed');
    expect(body.output.map((i: any) => i.type)).toEqual(['reasoning', 'message']);
    expect(body.output[1].content).toEqual([{ type: 'output_text', text: 'Done: sunny, 21°C', annotations: [] }]);

    // Output given as parts works too.
    const parts = await (await up.call('/responses', hello({ input: [user, reasoning, call, { ...output, output: [{ type: 'input_text', text: 'rainy' }] }], tools: [WEATHER] }))).json();
    expect(parts.output[1].content[0].text).toBe('Done: rainy');

    // Nothing is stored: reasoning without its encrypted_content, or an output without its call, is refused.
    const { encrypted_content: _e, ...bare } = reasoning;
    const lost = await up.call('/responses', hello({ input: [user, bare, call, output], tools: [WEATHER] }));
    expect(lost.status).toBe(400);
    expect((await lost.json()).error.message).toContain(`Item with id '${reasoning.id}' not found. Items are not persisted when \`store\` is set to false.`);
    const orphan = await up.call('/responses', hello({ input: [user, { ...output, call_id: 'call_nope' }], tools: [WEATHER] }));
    expect(orphan.status).toBe(400);
    expect((await orphan.json()).error).toEqual({ message: 'No tool call found for function call output with call_id call_nope.', code: null, param: 'input', type: 'invalid_request_error' });
  });

  it('ends incomplete when max_output_tokens runs out: in the reasoning, or in the text', async () => {
    const early = await (await up.call('/responses', hello({ max_output_tokens: 16 }))).json();
    expect(early).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, max_output_tokens: 16 });
    expect(early.output.map((i: any) => i.type)).toEqual(['reasoning']);
    expect(early.usage).toMatchObject({ output_tokens: 16, output_tokens_details: { reasoning_tokens: 16 } });

    const late = await (await up.call('/responses', hello({ max_output_tokens: RESPONSES_REASONING_TOKENS + 2 }))).json();
    expect(late.status).toBe('incomplete');
    expect(late.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(late.output[1]).toMatchObject({ type: 'message', status: 'incomplete', content: [{ type: 'output_text', text: 'Hello from', annotations: [] }] });

    const call = await (await up.call('/responses', hello({ tools: [WEATHER], max_output_tokens: RESPONSES_REASONING_TOKENS + 4 }))).json();
    expect(call.status).toBe('incomplete');
    expect(call.output.map((i: any) => i.type)).toEqual(['reasoning']);

    const enough = await (await up.call('/responses', hello({ max_output_tokens: 1000 }))).json();
    expect(enough.status).toBe('completed');

    const tiny = await up.call('/responses', hello({ max_output_tokens: 8 }));
    expect(tiny.status).toBe(400);
    expect((await tiny.json()).error).toMatchObject({ code: 'integer_below_min_value', param: 'max_output_tokens' });
  });

  it('takes the recorded Codex CLI requests as they are', async () => {
    const first = codexFixture('1-first-turn');
    const second = codexFixture('2-after-function-call');
    if (!first || !second) return; // the recordings live outside the repository; nothing to replay without them
    const call = await (await up.call('/responses', { ...first, stream: false })).json();
    expect(call.status).toBe('completed');
    expect(call.output[0].encrypted_content).toEqual(expect.any(String));
    expect(call.output[1]).toMatchObject({ type: 'function_call', name: 'exec_command', arguments: '{"cmd":"echo fake"}' });
    expect(up.fake.lastResponsesBody.prompt_cache_key).toBe(first.prompt_cache_key);
    // prompt_cache_key: the cached part of the prompt is reported.
    expect(call.usage.input_tokens_details.cached_tokens).toBe(8);

    const done = await (await up.call('/responses', { ...second, stream: false })).json();
    expect(done.output[1].content[0].text).toMatch(/^Done: Chunk ID: /);

    const events = await stream(up, first);
    expect(ofType(events, 'response.function_call_arguments.done')[0].arguments).toBe('{"cmd":"echo fake"}');
  });
});

describe('POST /responses, stream', () => {
  it('streams reasoning (with summary) and a message in the real event order, split across writes', async () => {
    for (const u of [up, await upstream({ crlf: true })]) {
      const events = await stream(u, hello({ reasoning: { summary: 'auto' }, include: ['reasoning.encrypted_content'] }));
      expect(names(events)).toEqual([
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.reasoning_summary_part.added',
        'response.reasoning_summary_text.delta',
        'response.reasoning_summary_text.delta',
        'response.reasoning_summary_text.delta',
        'response.reasoning_summary_text.done',
        'response.reasoning_summary_part.done',
        'response.output_item.done',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.delta',
        'response.output_text.delta',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ]);
      const [created, inProgress] = events.map((e) => e.data);
      expect(created.response).toMatchObject({ id: expect.stringMatching(/^resp_/), object: 'response', status: 'in_progress', output: [], usage: null, model: 'gpt-5-codex' });
      expect(inProgress.response.id).toBe(created.response.id);

      const added = ofType(events, 'response.output_item.added');
      const done = ofType(events, 'response.output_item.done');
      expect(added.map((a) => a.output_index)).toEqual([0, 1]);
      expect(added[0].item).toEqual({ id: expect.stringMatching(/^rs_/), type: 'reasoning', summary: [] });
      expect(added[1].item).toEqual({ id: expect.stringMatching(/^msg_/), type: 'message', status: 'in_progress', content: [], role: 'assistant' });
      // Every item event names its item and place; content events their part.
      for (const e of events.slice(2)) {
        if (e.event!.startsWith('response.output_item.')) continue;
        if (e.event === 'response.completed') continue;
        const owner = e.event!.includes('reasoning') ? 0 : 1;
        expect(e.data).toMatchObject({ output_index: owner, item_id: added[owner].item.id });
        if (owner === 0) expect(e.data.summary_index).toBe(0);
        else expect(e.data.content_index).toBe(0);
      }
      const summary = ofType(events, 'response.reasoning_summary_text.delta').map((d) => d.delta).join('');
      expect(ofType(events, 'response.reasoning_summary_text.done')[0].text).toBe(summary);
      expect(ofType(events, 'response.reasoning_summary_part.done')[0].part).toEqual({ type: 'summary_text', text: summary });
      expect(done[0].item).toEqual({ id: added[0].item.id, type: 'reasoning', summary: [{ type: 'summary_text', text: summary }], encrypted_content: expect.any(String) });

      const text = ofType(events, 'response.output_text.delta').map((d) => d.delta).join('');
      expect(text).toBe('Hello from gpt-5-codex!');
      expect(ofType(events, 'response.content_part.added')[0].part).toEqual({ type: 'output_text', annotations: [], text: '' });
      expect(ofType(events, 'response.output_text.done')[0].text).toBe(text);
      expect(ofType(events, 'response.content_part.done')[0].part).toEqual({ type: 'output_text', annotations: [], text });
      expect(done[1].item).toEqual({ id: added[1].item.id, type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] });

      const completed = events.at(-1)!.data.response;
      expect(completed).toMatchObject({ id: created.response.id, status: 'completed', incomplete_details: null });
      expect(completed.output).toEqual(done.map((d) => d.item));
      expect(completed.usage).toMatchObject({ input_tokens: 12, output_tokens: RESPONSES_REASONING_TOKENS + 4, output_tokens_details: { reasoning_tokens: RESPONSES_REASONING_TOKENS } });
      if (u !== up) await u.fake.stop();
    }
  });

  it('streams a function call as argument fragments; no summary events unless asked for', async () => {
    const events = await stream(up, hello({ tools: [WEATHER] }));
    expect(names(events)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const added = ofType(events, 'response.output_item.added')[1];
    expect(added).toMatchObject({ output_index: 1, item: { id: expect.stringMatching(/^fc_/), type: 'function_call', status: 'in_progress', arguments: '', call_id: expect.stringMatching(/^call_/), name: 'get_weather' } });
    const deltas = ofType(events, 'response.function_call_arguments.delta');
    for (const d of deltas) expect(d).toMatchObject({ output_index: 1, item_id: added.item.id });
    const args = deltas.map((d) => d.delta).join('');
    expect(JSON.parse(args)).toEqual({ city: 'Paris' });
    expect(ofType(events, 'response.function_call_arguments.done')[0]).toMatchObject({ output_index: 1, item_id: added.item.id, arguments: args });
    expect(ofType(events, 'response.output_item.done')[1].item).toEqual({ ...added.item, status: 'completed', arguments: args });
  });

  it('ends with response.incomplete when max_output_tokens runs out', async () => {
    up.fake.resetCounters();
    const events = await stream(up, hello({ max_output_tokens: RESPONSES_REASONING_TOKENS + 2 }));
    expect(events.at(-1)!.event).toBe('response.incomplete');
    expect(events.at(-1)!.data.response).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
    expect(ofType(events, 'response.output_item.done')[1].item.status).toBe('incomplete');
    expect(ofType(events, 'response.output_text.delta').map((d) => d.delta).join('')).toBe('Hello from');
    expect(up.fake.counters.responsesCompleted).toBe(1);
  });
});

describe('POST /responses, what it refuses', () => {
  const refusal = async (body: unknown) => {
    const res = await up.call('/responses', body);
    return [res.status, (await res.json()).error];
  };

  it('serves only the models that list /responses, and chat refuses those', async () => {
    for (const model of ['gpt-4o', 'claude-sonnet-4', 'o3-mini'])
      expect(await refusal(hello({ model }))).toEqual([400, { message: `model ${model} is not accessible via the /responses endpoint`, code: 'unsupported_api_for_model' }]);
    expect((await refusal(hello({ model: 'gpt-9' })))[1].code).toBe('model_not_supported');
    for (const model of ['gpt-5-codex', 'gpt-5.4']) {
      expect((await up.call('/responses', hello({ model }))).status).toBe(200);
      const chat = await up.call('/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }] });
      expect(chat.status).toBe(400);
      expect(await chat.json()).toEqual({ error: { message: `model ${model} is not accessible via the /chat/completions endpoint`, code: 'unsupported_api_for_model' } });
    }
  });

  it('refuses service_tier, previous_response_id and store:true as Copilot does', async () => {
    expect(await refusal(hello({ service_tier: 'default' }))).toEqual([400, { message: 'service_tier is not supported', code: 'unsupported_value', param: 'service_tier', type: 'invalid_request_error' }]);
    expect(await refusal(hello({ service_tier: 'auto', stream: true }))).toEqual([400, expect.objectContaining({ param: 'service_tier' })]);
    expect(await refusal(hello({ previous_response_id: 'resp_abc' }))).toEqual([
      400,
      { message: 'previous_response_id is not supported', code: 'unsupported_value', param: 'previous_response_id', type: 'invalid_request_error' },
    ]);
    expect(await refusal(hello({ store: true }))).toEqual([400, expect.objectContaining({ code: 'unsupported_value', param: 'store' })]);
    // store absent is fine; acceptStore takes store:true and ignores it.
    const { store: _s, ...noStore } = hello();
    expect((await up.call('/responses', noStore)).status).toBe(200);
    const lenient = await upstream({ acceptStore: true });
    try {
      const res = await lenient.call('/responses', hello({ store: true }));
      expect(res.status).toBe(200);
      expect((await res.json()).store).toBe(false);
    } finally {
      await lenient.fake.stop();
    }
  });

  it('validates input, items, tools, reasoning effort', async () => {
    const { input: _i, ...noInput } = hello();
    expect(await refusal(noInput)).toEqual([400, { message: "Missing required parameter: 'input'.", code: 'missing_required_parameter', param: 'input', type: 'invalid_request_error' }]);
    expect((await refusal(hello({ input: { role: 'user', content: 'hi' } })))[1]).toMatchObject({ code: 'invalid_type', param: 'input' });
    const [status, error] = await refusal(hello({ input: [{ role: 'user', content: 'hi' }, { type: 'telepathy', text: 'hi' }] }));
    expect(status).toBe(400);
    expect(error).toMatchObject({ code: 'invalid_value', param: 'input[1].type' });
    expect(error.message).toMatch(/^Invalid value: 'telepathy'\. Supported values are: 'message', 'function_call', /);
    expect((await refusal(hello({ input: [{ type: 'message', role: 'robot', content: 'hi' }] })))[1]).toMatchObject({ param: 'input[0].role' });
    expect((await refusal(hello({ input: [{ type: 'message', role: 'user', content: [{ type: 'text', text: 'hi' }] }] })))[1]).toMatchObject({ param: 'input[0].content[0].type' });
    expect((await refusal(hello({ input: [{ type: 'item_reference', id: 'msg_1' }] })))[1].message).toContain("Item with id 'msg_1' not found");
    expect((await refusal(hello({ tools: [{ type: 'function', parameters: {} }] })))[1]).toMatchObject({ param: 'tools[0].name' });
    // A model's own reasoning efforts only.
    expect(await refusal(hello({ reasoning: { effort: 'xhigh' } }))).toEqual([400, expect.objectContaining({ code: 'unsupported_value', param: 'reasoning.effort' })]);
    expect((await up.call('/responses', hello({ model: 'gpt-5.4', reasoning: { effort: 'xhigh' } }))).status).toBe(200);
    // Easy messages (no type), developer role, other tool types and unknown fields are fine.
    const easy = await up.call(
      '/responses',
      hello({
        input: [{ role: 'developer', content: 'be brief' }, { role: 'user', content: [{ type: 'input_text', text: 'hi' }, { type: 'input_image', image_url: 'data:image/png;base64,AA==' }] }],
        instructions: 'You are helpful.',
        tools: [{ type: 'web_search' }, { type: 'namespace', name: 'ns', tools: [] }],
        client_metadata: { a: 'b' },
        prompt_cache_key: 'k',
        text: { verbosity: 'low' },
      }),
    );
    expect(easy.status).toBe(200);
    expect((await easy.json()).instructions).toBe('You are helpful.');
  });

  it('checks the Copilot token, the editor headers and the editor version as the other routes do', async () => {
    up.fake.resetCounters();
    const anon = await fetch(`${up.fake.url}/responses`, { method: 'POST', headers: { 'content-type': 'application/json', ...EDITOR }, body: JSON.stringify(hello()) });
    expect(anon.status).toBe(401);
    expect(await anon.text()).toBe('unauthorized: token expired');
    const bare = await fetch(`${up.fake.url}/responses`, { method: 'POST', headers: { authorization: `Bearer ${up.token}`, 'content-type': 'application/json' }, body: JSON.stringify(hello()) });
    expect(bare.status).toBe(400);
    expect(await bare.text()).toMatch(/^bad request: missing editor-version header/);
    up.fake.options.requireEditorVersion = 'vscode/1.104.0';
    try {
      const old = await up.call('/responses', hello());
      expect(old.status).toBe(466);
      expect(await old.text()).toBe('specified API version is no longer supported');
      expect((await up.call('/responses', hello(), { 'editor-version': 'vscode/1.104.0' })).status).toBe(200);
    } finally {
      delete up.fake.options.requireEditorVersion;
    }
    expect(up.fake.counters).toMatchObject({ unauthorized: 1, versionRejected: 1, responsesRequests: 1, responsesCompleted: 1 });

    // A stale token gets 401 too.
    const stale = await upstream();
    try {
      stale.fake.expireTokens();
      expect((await stale.call('/responses', hello())).status).toBe(401);
    } finally {
      await stale.fake.stop();
    }
  });

  it('answers a scripted response ahead of everything else', async () => {
    up.fake.script('responses', { status: 429, headers: { 'retry-after': '2' }, body: '{"error":{"message":"rate limited"}}' });
    const res = await up.call('/responses', hello());
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('2');
    expect((await up.call('/responses', hello())).status).toBe(200);
  });
});

describe('POST /responses, the real quirks as knobs', () => {
  it('itemIdMismatch: output_item.done carries another id than .added (per request, in metadata, or by option)', async () => {
    const check = (events: SseEvent[]) => {
      const added = ofType(events, 'response.output_item.added');
      const done = ofType(events, 'response.output_item.done');
      expect(added).toHaveLength(2);
      for (const i of [0, 1]) {
        expect(done[i].item.id).not.toBe(added[i].item.id);
        expect(done[i].item.id.split('_')[0]).toBe(added[i].item.id.split('_')[0]);
      }
      // The sub-events keep the .added id; the final response lists the .done ids.
      for (const d of ofType(events, 'response.output_text.delta')) expect(d.item_id).toBe(added[1].item.id);
      expect(events.at(-1)!.data.response.output.map((i: any) => i.id)).toEqual(done.map((d) => d.item.id));
    };
    check(await stream(up, hello({ fake_item_id_mismatch: true })));
    check(await stream(up, hello({ metadata: { fake_item_id_mismatch: 'true' } })));
    const fc = await stream(up, hello({ tools: [WEATHER], fake_item_id_mismatch: 'done' }));
    const [a, d] = [ofType(fc, 'response.output_item.added')[1].item, ofType(fc, 'response.output_item.done')[1].item];
    expect(d.id).not.toBe(a.id);
    expect(d.call_id).toBe(a.call_id);
    const quirky = await upstream({ itemIdMismatch: true });
    try {
      check(await stream(quirky, hello()));
    } finally {
      await quirky.fake.stop();
    }
    // Without the knob the ids agree.
    const plain = await stream(up, hello());
    expect(ofType(plain, 'response.output_item.done').map((x) => x.item.id)).toEqual(ofType(plain, 'response.output_item.added').map((x) => x.item.id));
  });

  it("itemIdMismatch 'all': every event of an item carries an id of its own", async () => {
    const events = await stream(up, hello({ reasoning: { summary: 'auto' }, fake_item_id_mismatch: 'all' }));
    const ids = events.slice(2, -1).map((e) => e.data.item_id ?? e.data.item.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => /^(rs|msg)_/.test(id))).toBe(true);
  });

  it('whitespaceArgs: whitespace-only argument deltas before the real arguments, or instead of them', async () => {
    const events = await stream(up, hello({ tools: [WEATHER], fake_whitespace_args: 5 }));
    const deltas = ofType(events, 'response.function_call_arguments.delta').map((d) => d.delta);
    expect(deltas).toHaveLength(8);
    expect(deltas.slice(0, 5).every((d) => d.length > 0 && d.trim() === '')).toBe(true);
    expect(deltas[5].trim()).not.toBe('');
    const args = ofType(events, 'response.function_call_arguments.done')[0].arguments;
    expect(args).toBe(deltas.join(''));
    expect(JSON.parse(args)).toEqual({ city: 'Paris' });
    expect(events.at(-1)!.event).toBe('response.completed');

    const only = await stream(up, hello({ tools: [WEATHER], metadata: { fake_whitespace_args: '40', fake_whitespace_only: 'true' } }));
    const wsDeltas = ofType(only, 'response.function_call_arguments.delta').map((d) => d.delta);
    expect(wsDeltas).toHaveLength(40);
    expect(wsDeltas.every((d) => d.trim() === '')).toBe(true);
    expect(ofType(only, 'response.output_item.done')[1].item).toMatchObject({ type: 'function_call', status: 'incomplete', arguments: wsDeltas.join('') });
    expect(only.at(-1)!.event).toBe('response.incomplete');
    expect(only.at(-1)!.data.response.incomplete_details).toEqual({ reason: 'max_output_tokens' });

    const nonStream = await (await up.call('/responses', hello({ tools: [WEATHER], fake_whitespace_args: 2 }))).json();
    expect(nonStream.output[1].arguments).toMatch(/^\s+\{"city":"Paris"\}$/);

    const quirky = await upstream({ whitespaceArgs: 3 });
    try {
      const deltasByOption = ofType(await stream(quirky, hello({ tools: [WEATHER] })), 'response.function_call_arguments.delta').map((d) => d.delta);
      expect(deltasByOption.slice(0, 3).every((d) => d.trim() === '')).toBe(true);
      expect(deltasByOption).toHaveLength(6);
    } finally {
      await quirky.fake.stop();
    }
  });

  it("fake_fault 'stream_error': an error event and response.failed mid-stream (or just one of them)", async () => {
    up.fake.resetCounters();
    const events = await stream(up, hello({ fake_fault: 'stream_error' }));
    expect(names(events)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'error',
      'response.failed',
    ]);
    expect(events[5].data).toMatchObject({ type: 'error', code: 'server_error', message: expect.any(String), param: null });
    expect(events[6].data.response).toMatchObject({ status: 'failed', error: { code: 'server_error', message: expect.any(String) } });
    expect(up.fake.counters.responsesCompleted).toBe(0);
    expect(names(await stream(up, hello({ metadata: { fake_fault: 'stream_error', fake_stream_error: 'error' } }))).at(-1)).toBe('error');
    const failedOnly = names(await stream(up, hello({ fake_fault: 'stream_error', fake_stream_error: 'failed' })));
    expect(failedOnly.at(-1)).toBe('response.failed');
    expect(failedOnly).not.toContain('error');
  });

  it("fake_fault 'stall', 'html_500', 'reset', 'slow_headers' as on the other routes", async () => {
    const cancelled = up.fake.counters.streamsCancelled;
    const abort = new AbortController();
    const stall = await up.call('/responses', hello({ stream: true, metadata: { fake_fault: 'stall' } }), {}, { signal: abort.signal });
    expect(stall.status).toBe(200);
    const reader = stall.body!.getReader();
    let seen = '';
    while (!seen.includes('"Hel"')) seen += new TextDecoder().decode((await reader.read()).value);
    expect(seen).toContain('event: response.created');
    abort.abort();
    await expect.poll(() => up.fake.counters.streamsCancelled).toBe(cancelled + 1);

    const html = await up.call('/responses', hello({ metadata: { fake_fault: 'html_500' } }));
    expect(html.status).toBe(500);
    expect(await html.text()).toContain('<html>');

    await expect(up.call('/responses', hello({ fake_fault: 'reset' }))).rejects.toThrow();

    const t0 = Date.now();
    const slow = await up.call('/responses', hello({ fake_fault: 'slow_headers', fake_delay_ms: 300 }));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(slow.status).toBe(200);
    expect((await slow.json()).status).toBe('completed');
  });
});

describe('initiators and premium requests', () => {
  it('records each /responses call with route responses and prices the user-initiated ones', async () => {
    up.fake.resetCounters();
    await up.call('/responses', hello(), { 'x-initiator': 'user', 'openai-intent': 'conversation-agent' });
    await up.call('/responses', hello({ model: 'gpt-5.4' }), { 'x-initiator': 'agent', 'x-interaction-type': 'conversation-subagent' });
    await up.call('/responses', hello({ model: 'gpt-4o' }), { 'x-initiator': 'user' }); // refused, but it arrived
    expect(up.fake.initiators).toEqual([
      { route: 'responses', model: 'gpt-5-codex', initiator: 'user', interaction: undefined, intent: 'conversation-agent' },
      { route: 'responses', model: 'gpt-5.4', initiator: 'agent', interaction: 'conversation-subagent', intent: undefined },
      { route: 'responses', model: 'gpt-4o', initiator: 'user', interaction: undefined, intent: undefined },
    ]);
    // gpt-5-codex costs 1, gpt-4o nothing; the agent call nothing.
    expect(up.fake.premiumRequests()).toBe(1);
    expect(up.fake.counters.responsesRequests).toBe(3);
    expect(up.fake.counters.responsesCompleted).toBe(2);
  });
});

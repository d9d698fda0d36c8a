import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApiError } from '#libs/copilot';
import { describe, expect, it } from 'vitest';
import { flatToolName, responsesInputItems, namespacedFunctions, responsesHasImage, responsesToChat } from './to-chat.js';
import type { InputItem, ResponsesRequest, Tool } from './types.js';
import { parseResponsesRequest } from './validate.js';

type Json = Record<string, any>;

const fixtures = fileURLToPath(new URL('../../../../test/fixtures/clients/codex-0.169.0/', import.meta.url));
const recorded = (name: string) => parseResponsesRequest(JSON.parse(readFileSync(fixtures + name, 'utf8')).body);

const req = (over: Partial<ResponsesRequest>): ResponsesRequest => ({ model: 'gpt-4o', input: 'Hi', ...over });
const chatOf = (over: Partial<ResponsesRequest>, history?: unknown[]) => responsesToChat(req(over), { model: 'gpt-4o-copilot', history }) as Json;
const messagesOf = (input: ResponsesRequest['input'], instructions?: string) => chatOf({ input, instructions }).messages;

const PNG = 'data:image/png;base64,iVBORw0KGgo=';
const user = (content: Json['content']) => ({ type: 'message', role: 'user', content }) as InputItem;
const call = (call_id: string, name: string, args = '{}', extra: Json = {}) => ({ type: 'function_call', call_id, name, arguments: args, ...extra }) as InputItem;
const output = (call_id: string, out: Json['output']) => ({ type: 'function_call_output', call_id, output: out }) as InputItem;

describe('responsesToChat: messages', () => {
  it.each<[string, ResponsesRequest['input'], string | undefined, unknown[]]>([
    ['a string input with instructions', 'Hi', 'Be brief', [{ role: 'system', content: 'Be brief' }, { role: 'user', content: 'Hi' }]],
    ['no system message for empty instructions', 'Hi', '', [{ role: 'user', content: 'Hi' }]],
    [
      'developer and system roles → system, parts joined',
      [
        { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'A' }, { type: 'input_text', text: 'B' }] },
        { role: 'system', content: 'C' },
        { role: 'user', content: 'Hi' },
      ],
      undefined,
      [{ role: 'system', content: 'A\n\nB' }, { role: 'system', content: 'C' }, { role: 'user', content: 'Hi' }],
    ],
    ['user input_text parts joined into a string', [user([{ type: 'input_text', text: 'one' }, { type: 'input_text', text: 'two' }])], undefined, [{ role: 'user', content: 'one\n\ntwo' }]],
    [
      'input_image → image_url with its detail',
      [user([{ type: 'input_text', text: 'What is it?' }, { type: 'input_image', image_url: PNG, detail: 'high' }, { type: 'input_image', image_url: 'https://x/y.jpg' }])],
      undefined,
      [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is it?' },
            { type: 'image_url', image_url: { url: PNG, detail: 'high' } },
            { type: 'image_url', image_url: { url: 'https://x/y.jpg' } },
          ],
        },
      ],
    ],
    [
      'assistant output_text (and a refusal) → assistant text',
      [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Sure.', annotations: [] }] }, { role: 'assistant', content: [{ type: 'refusal', refusal: 'No.' }] }, user('Why?')],
      undefined,
      [{ role: 'assistant', content: 'Sure.\n\nNo.' }, { role: 'user', content: 'Why?' }],
    ],
    [
      'consecutive function_calls → one assistant message with tool_calls (id = call_id), outputs → tool messages',
      [user('Weather?'), call('call_1', 'get_weather', '{"city":"Paris"}'), call('call_2', 'now'), output('call_1', 'sunny'), output('call_2', '12:00')],
      undefined,
      [
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_2', type: 'function', function: { name: 'now', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
        { role: 'tool', tool_call_id: 'call_2', content: '12:00' },
      ],
    ],
    [
      'assistant text, reasoning and calls of one turn → one assistant message (reasoning dropped)',
      [
        { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'thinking' }], encrypted_content: 'gAAA' },
        { role: 'assistant', content: [{ type: 'output_text', text: 'Checking.' }] },
        { type: 'reasoning', id: 'rs_2', summary: [] },
        call('call_1', 'ls'),
        output('call_1', 'a.txt'),
        { role: 'assistant', content: 'Done.' },
      ],
      undefined,
      [
        { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'ls', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'a.txt' },
        { role: 'assistant', content: 'Done.' },
      ],
    ],
    [
      'a namespaced function_call → the flat chat name',
      [call('call_1', 'spawn_agent', '{}', { namespace: 'multi_agent_v1' }), output('call_1', 'ok')],
      undefined,
      [
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'multi_agent_v1__spawn_agent', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'ok' },
      ],
    ],
    [
      'output parts flattened; images a tool returned follow the tool messages in a user message',
      [call('call_1', 'view_image'), call('call_2', 'cat'), output('call_1', [{ type: 'input_image', image_url: PNG }]), output('call_2', [{ type: 'input_text', text: 'a' }, { type: 'input_text', text: 'b' }]), user('And?')],
      undefined,
      [
        { role: 'assistant', content: null, tool_calls: [expect.objectContaining({ id: 'call_1' }), expect.objectContaining({ id: 'call_2' })] },
        { role: 'tool', tool_call_id: 'call_1', content: '[image attached below]' },
        { role: 'tool', tool_call_id: 'call_2', content: 'a\nb' },
        { role: 'user', content: [{ type: 'image_url', image_url: { url: PNG } }] },
        { role: 'user', content: 'And?' },
      ],
    ],
    [
      'custom tool calls as function calls taking {input}',
      [{ type: 'custom_tool_call', call_id: 'c1', name: 'apply_patch', input: '*** Begin Patch' }, { type: 'custom_tool_call_output', call_id: 'c1', output: 'applied' }],
      undefined,
      [
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'apply_patch', arguments: '{"input":"*** Begin Patch"}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'applied' },
      ],
    ],
    [
      'hosted tool items and item references dropped',
      [
        user('Search'),
        { type: 'web_search_call', id: 'ws_1', status: 'completed', action: { type: 'search', query: 'q' } },
        { type: 'local_shell_call', id: 'lsh_1', call_id: 'x', status: 'completed', action: { type: 'exec', command: ['ls'] } },
        { type: 'local_shell_call_output', id: 'x', output: 'a' },
        { type: 'item_reference', id: 'msg_1' },
        { role: 'assistant', content: 'Found.' },
      ],
      undefined,
      [{ role: 'user', content: 'Search' }, { role: 'assistant', content: 'Found.' }],
    ],
  ])('%s', (_, input, instructions, expected) => {
    expect(messagesOf(input, instructions)).toEqual(expected);
  });

  it('puts the stored conversation (history) before the input, after the instructions', () => {
    const history = [user('First'), { type: 'message', id: 'msg_1', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'One.', annotations: [] }] }];
    expect(chatOf({ input: 'Second', instructions: 'Sys', previous_response_id: 'resp_1' }, history).messages).toEqual([
      { role: 'system', content: 'Sys' },
      { role: 'user', content: 'First' },
      { role: 'assistant', content: 'One.' },
      { role: 'user', content: 'Second' },
    ]);
  });

  it.each([
    ['an image by file id', [user([{ type: 'input_image', file_id: 'file-1' }])], 'input.0.content.0'],
    ['an input file', [user([{ type: 'input_file', file_data: 'data:application/pdf;base64,AA', filename: 'a.pdf' }])], 'input.0.content.0'],
    ['an input file in a tool output', [call('c', 'f'), output('c', [{ type: 'input_file', file_id: 'file-1' }])], 'input.1.output.0'],
  ])('refuses %s with a 400', (_, input, param) => {
    try {
      messagesOf(input as InputItem[]);
      throw new Error('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(ApiError);
      expect(e).toMatchObject({ status: 400, param, code: 'unsupported_content' });
    }
  });
});

const fn = (name: string, extra: Json = {}): Tool => ({ type: 'function', name, description: `does ${name}`, parameters: { type: 'object', properties: {} }, ...extra });
const chatFn = (name: string, extra: Json = {}) => ({ type: 'function', function: { name, description: `does ${name}`, parameters: { type: 'object', properties: {} }, ...extra } });

describe('responsesToChat: tools and options', () => {
  it.each<[string, Partial<ResponsesRequest>, Json]>([
    ['a function with strict: false (chat’s default, left out)', { tools: [fn('f', { strict: false })] }, { tools: [chatFn('f')] }],
    ['a function with strict: true', { tools: [fn('f', { strict: true })] }, { tools: [chatFn('f', { strict: true })] }],
    ['a function without parameters gets an empty object schema', { tools: [{ type: 'function', name: 'f' }] }, { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }] }],
    [
      'a namespace → its functions, named <namespace>__<name>; its custom tools dropped',
      { tools: [{ type: 'namespace', name: 'crm', description: 'CRM tools', tools: [fn('find'), fn('_update'), { type: 'custom', name: 'raw' }] }] },
      { tools: [chatFn('crm__find', { description: 'does find' }), chatFn('crm__update', { description: 'does _update' })] },
    ],
    [
      'web_search, local_shell, custom and other hosted tools dropped',
      { tools: [fn('f'), { type: 'web_search', external_web_access: false }, { type: 'local_shell' }, { type: 'custom', name: 'apply_patch' }, { type: 'file_search', vector_store_ids: [] }] },
      { tools: [chatFn('f')] },
    ],
    ['no tools left: no tool fields at all', { tools: [{ type: 'web_search' }], tool_choice: 'required', parallel_tool_calls: false }, {}],
    ['tool_choice auto and parallel_tool_calls', { tools: [fn('f')], tool_choice: 'auto', parallel_tool_calls: true }, { tools: [chatFn('f')], tool_choice: 'auto', parallel_tool_calls: true }],
    ['tool_choice none', { tools: [fn('f')], tool_choice: 'none' }, { tools: [chatFn('f')], tool_choice: 'none' }],
    ['tool_choice required', { tools: [fn('f')], tool_choice: 'required' }, { tools: [chatFn('f')], tool_choice: 'required' }],
    ['tool_choice naming a function', { tools: [fn('f')], tool_choice: { type: 'function', name: 'f' } }, { tools: [chatFn('f')], tool_choice: { type: 'function', function: { name: 'f' } } }],
    ['tool_choice naming a tool not sent: the model’s own choice', { tools: [fn('f')], tool_choice: { type: 'function', name: 'g' } }, { tools: [chatFn('f')] }],
    ['tool_choice of a hosted tool: the model’s own choice', { tools: [fn('f')], tool_choice: { type: 'web_search' } }, { tools: [chatFn('f')] }],
    ['tool_choice allowed_tools → its mode', { tools: [fn('f')], tool_choice: { type: 'allowed_tools', mode: 'required', tools: [] } }, { tools: [chatFn('f')], tool_choice: 'required' }],
  ])('%s', (_, over, expected) => {
    const chat = chatOf(over);
    expect({ tools: chat.tools, tool_choice: chat.tool_choice, parallel_tool_calls: chat.parallel_tool_calls }).toEqual({
      tools: undefined,
      tool_choice: undefined,
      parallel_tool_calls: undefined,
      ...expected,
    });
  });

  it.each<[string, Partial<ResponsesRequest>, Json]>([
    ['nothing set', {}, {}],
    ['max_output_tokens → max_tokens; temperature; top_p; user', { max_output_tokens: 500, temperature: 0.3, top_p: 0.9, user: 'u1' }, { max_tokens: 500, temperature: 0.3, top_p: 0.9, user: 'u1' }],
    ['nulls left out', { max_output_tokens: null, temperature: null, top_p: null, reasoning: null }, {}],
    ['reasoning.effort → reasoning_effort; summary dropped', { reasoning: { effort: 'high', summary: 'auto' } }, { reasoning_effort: 'high' }],
    ['reasoning with a summary only', { reasoning: { summary: 'auto' } }, {}],
    [
      'text.format json_schema → response_format json_schema',
      { text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object' }, strict: true, description: 'd' }, verbosity: 'low' } },
      { response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object' }, strict: true, description: 'd' } } },
    ],
    ['text.format json_object', { text: { format: { type: 'json_object' } } }, { response_format: { type: 'json_object' } }],
    ['text.format text: nothing', { text: { format: { type: 'text' } } }, {}],
    ['stream → stream_options.include_usage', { stream: true }, { stream: true, stream_options: { include_usage: true } }],
    [
      'state and service options dropped',
      { store: true, include: ['reasoning.encrypted_content'], previous_response_id: 'resp_1', prompt_cache_key: 'k', client_metadata: { a: 1 }, metadata: { a: 'b' }, service_tier: 'flex', truncation: 'auto', background: false },
      {},
    ],
  ])('%s', (_, over, expected) => {
    const { model, messages, ...rest } = chatOf(over);
    expect(model).toBe('gpt-4o-copilot');
    expect(rest).toEqual(expected);
  });
});

describe('responsesToChat: the recorded Codex requests', () => {
  const first = recorded('1-first-turn.json');
  const second = recorded('2-after-function-call.json');

  it.each([['gpt-4o'], ['claude-sonnet-4']])('maps the first turn for %s', (model) => {
    const chat = responsesToChat(first, { model }) as Json;
    expect(chat.model).toBe(model);
    expect(chat.messages.map((m: Json) => m.role)).toEqual(['system', 'system', 'user', 'user']);
    expect(chat.messages[1].content).toBe('<text: 2129 chars>\n\n<text: 341 chars>');
    expect(chat.messages[3]).toEqual({ role: 'user', content: 'run echo captured, then say done' });
    const names = chat.tools.map((t: Json) => t.function.name);
    expect(names).toEqual([
      'exec_command',
      'write_stdin',
      'request_user_input',
      'view_image',
      'multi_agent_v1__close_agent',
      'multi_agent_v1__resume_agent',
      'multi_agent_v1__send_input',
      'multi_agent_v1__spawn_agent',
      'multi_agent_v1__wait_agent',
      'get_goal',
      'create_goal',
      'update_goal',
    ]);
    expect(chat.tools.every((t: Json) => t.type === 'function' && t.function.strict === undefined && typeof t.function.parameters === 'object')).toBe(true);
    expect(chat.tools[0].function.parameters).toBe((first.tools![0] as Json).parameters);
    expect(chat).toMatchObject({ tool_choice: 'auto', parallel_tool_calls: true, stream: true, stream_options: { include_usage: true } });
    for (const dropped of ['store', 'include', 'prompt_cache_key', 'client_metadata', 'reasoning', 'reasoning_effort', 'input', 'service_tier']) expect(chat).not.toHaveProperty(dropped);
  });

  it.each([['gpt-4o'], ['claude-sonnet-4']])('maps the turn after a function call for %s', (model) => {
    const chat = responsesToChat(second, { model }) as Json;
    expect(chat.messages.slice(-3)).toEqual([
      { role: 'user', content: 'run echo captured, then say done' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_cap1', type: 'function', function: { name: 'exec_command', arguments: '{"cmd":"echo captured"}' } }] },
      { role: 'tool', tool_call_id: 'call_cap1', content: 'Chunk ID: 8aea69\nWall time: 0.0000 seconds\nProcess exited with code 0\nOriginal token count: 3\nOutput:\ncaptured\n' },
    ]);
    expect(chat.messages).toHaveLength(6);
  });

  it('leaves the request as it was', () => {
    const before = JSON.stringify(second);
    responsesToChat(second, { model: 'gpt-4o' });
    expect(JSON.stringify(second)).toBe(before);
  });
});

describe('helpers', () => {
  it.each([
    ['multi_agent_v1', 'spawn_agent', 'multi_agent_v1__spawn_agent'],
    ['mcp__calendar__', '__create_event', 'mcp__calendar__create_event'],
  ])('flatToolName(%s, %s) = %s (Codex’s canonical flat name)', (ns, name, flat) => {
    expect(flatToolName(ns, name)).toBe(flat);
  });

  it('namespacedFunctions maps flat names back; plain functions are not in it', () => {
    const map = namespacedFunctions(recorded('1-first-turn.json').tools);
    expect(map.get('multi_agent_v1__spawn_agent')).toEqual({ namespace: 'multi_agent_v1', name: 'spawn_agent' });
    expect(map.size).toBe(5);
    expect(map.has('exec_command')).toBe(false);
  });

  it.each<[string, ResponsesRequest['input'], unknown[]]>([
    ['a string', 'Hi', [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hi' }] }]],
    ['an empty string', '', []],
    ['items as they are', [user('x')], [user('x')]],
    ['nothing', undefined, []],
  ])('responsesInputItems of %s', (_, input, items) => {
    expect(responsesInputItems(req({ input }))).toEqual(items);
  });

  it.each<[string, ResponsesRequest['input'], unknown[] | undefined, boolean]>([
    ['text only', 'Hi', undefined, false],
    ['an input_image', [user([{ type: 'input_image', image_url: PNG }])], undefined, true],
    ['an image a tool returned', [output('c', [{ type: 'input_image', image_url: PNG }])], undefined, true],
    ['an image in the history', 'Hi', [user([{ type: 'input_image', image_url: PNG }])], true],
    ['the recorded Codex turn', recorded('2-after-function-call.json').input, undefined, false],
  ])('responsesHasImage: %s → %s', (_, input, history, expected) => {
    expect(responsesHasImage(req({ input }), history)).toBe(expected);
  });
});

describe('hostile input', () => {
  it('flattens a namespace of 80,000 underscores in linear time (a regex took 6.3 s)', () => {
    const t0 = performance.now();
    expect(flatToolName(`${'_'.repeat(80_000)}x`, 'f')).toBe(`${'_'.repeat(80_000)}x__f`);
    expect(flatToolName(`ns${'_'.repeat(80_000)}`, `${'_'.repeat(10)}f`)).toBe('ns__f');
    expect(performance.now() - t0).toBeLessThan(500);
  });
});

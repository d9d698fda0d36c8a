import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApiError } from '#libs/copilot';
import { describe, expect, it } from 'vitest';
import { hasImage, messagesToChat } from './to-chat.js';
import type { MessagesRequest } from './types.js';
import { parseMessagesRequest } from './validate.js';

const fixtures = fileURLToPath(new URL('../../../../test/fixtures/clients/claude-code-2.1.197/', import.meta.url));
const recorded = (name: string) => parseMessagesRequest(JSON.parse(readFileSync(fixtures + name, 'utf8')).body);

const req = (over: Partial<MessagesRequest>): MessagesRequest => ({
  model: 'claude-sonnet-4-20250514',
  max_tokens: 1000,
  messages: [{ role: 'user', content: 'Hi' }],
  ...over,
});
const chatOf = (over: Partial<MessagesRequest>, opts: { thinking?: { min: number; max: number } | null; maxOutputTokens?: number } = {}) =>
  messagesToChat(req(over), { model: 'claude-sonnet-4', ...opts });
const messagesOf = (messages: MessagesRequest['messages'], system?: MessagesRequest['system']) => chatOf({ messages, system }).messages;

const PNG = { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } as const;
const DATA_URL = 'data:image/png;base64,iVBORw0KGgo=';

describe('messagesToChat: messages', () => {
  it.each<[string, MessagesRequest['messages'], MessagesRequest['system'], unknown[]]>([
    ['a string system and user text', [{ role: 'user', content: 'Hi' }], 'Be brief', [{ role: 'system', content: 'Be brief' }, { role: 'user', content: 'Hi' }]],
    [
      'system blocks joined, cache_control dropped',
      [{ role: 'user', content: 'Hi' }],
      [{ type: 'text', text: 'A' }, { type: 'text', text: 'B', cache_control: { type: 'ephemeral' } }],
      [{ role: 'system', content: 'A\n\nB' }, { role: 'user', content: 'Hi' }],
    ],
    ['no system message for an empty system', [{ role: 'user', content: 'Hi' }], [], [{ role: 'user', content: 'Hi' }]],
    [
      'Claude Code’s billing header left out',
      [{ role: 'user', content: 'Hi' }],
      [{ type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.197.0cf; cc_entrypoint=sdk-cli;' }, { type: 'text', text: 'You are helpful.' }],
      [{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: 'Hi' }],
    ],
    [
      'user text blocks joined into a string',
      [{ role: 'user', content: [{ type: 'text', text: 'one' }, { type: 'text', text: 'two', cache_control: { type: 'ephemeral' } }] }],
      undefined,
      [{ role: 'user', content: 'one\n\ntwo' }],
    ],
    [
      'images as image_url parts (base64 → data URL, url as is)',
      [{ role: 'user', content: [{ type: 'text', text: 'Compare' }, { type: 'image', source: PNG }, { type: 'image', source: { type: 'url', url: 'https://x/y.jpg' } }] }],
      undefined,
      [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare' },
            { type: 'image_url', image_url: { url: DATA_URL } },
            { type: 'image_url', image_url: { url: 'https://x/y.jpg' } },
          ],
        },
      ],
    ],
    [
      'a text document as text',
      [{ role: 'user', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'doc body' } }, { type: 'text', text: 'Summarise' }] }],
      undefined,
      [{ role: 'user', content: 'doc body\n\nSummarise' }],
    ],
    ['an assistant string', [{ role: 'assistant', content: 'Sure.' }], undefined, [{ role: 'assistant', content: 'Sure.' }]],
    [
      'assistant text and tool_use → content and tool_calls (arguments as a JSON string)',
      [
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Checking.' },
            { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
            { type: 'tool_use', id: 'toolu_2', name: 'now', input: {} },
          ],
        },
      ],
      undefined,
      [
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'toolu_2', type: 'function', function: { name: 'now', arguments: '{}' } },
          ],
        },
      ],
    ],
    [
      'thinking with its signature → reasoning_text / reasoning_opaque; redacted_thinking dropped',
      [
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'Let me see.', signature: 'sig-1' },
            { type: 'redacted_thinking', data: 'enc' },
            { type: 'tool_use', id: 'toolu_1', name: 'ls', input: { path: '.' } },
          ],
        },
      ],
      undefined,
      [
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'ls', arguments: '{"path":"."}' } }],
          reasoning_text: 'Let me see.',
          reasoning_opaque: 'sig-1',
        },
      ],
    ],
    [
      'a signature-only thinking block → reasoning_opaque alone',
      [{ role: 'assistant', content: [{ type: 'thinking', thinking: '', signature: 'opaque' }, { type: 'text', text: 'Done.' }] }],
      undefined,
      [{ role: 'assistant', content: 'Done.', reasoning_opaque: 'opaque' }],
    ],
    [
      'tool results as tool messages placed before the rest of the user message',
      [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'And now?' },
            { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny', cache_control: { type: 'ephemeral' } },
            { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: 'line 1' }, { type: 'text', text: 'line 2' }] },
          ],
        },
      ],
      undefined,
      [
        { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny' },
        { role: 'tool', tool_call_id: 'toolu_2', content: 'line 1\nline 2' },
        { role: 'user', content: 'And now?' },
      ],
    ],
    [
      'is_error → the content says Error',
      [
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: 'No such file', is_error: true },
            { type: 'tool_result', tool_use_id: 'toolu_2', is_error: true },
            { type: 'tool_result', tool_use_id: 'toolu_3', content: 'fine', is_error: false },
          ],
        },
      ],
      undefined,
      [
        { role: 'tool', tool_call_id: 'toolu_1', content: 'Error: No such file' },
        { role: 'tool', tool_call_id: 'toolu_2', content: 'Error' },
        { role: 'tool', tool_call_id: 'toolu_3', content: 'fine' },
      ],
    ],
    [
      'an image a tool returned goes in the user message after the tool messages',
      [
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'screenshot:' }, { type: 'image', source: PNG }] },
            { type: 'text', text: 'What do you see?' },
          ],
        },
      ],
      undefined,
      [
        { role: 'tool', tool_call_id: 'toolu_1', content: 'screenshot:\n[image attached below]' },
        { role: 'user', content: [{ type: 'image_url', image_url: { url: DATA_URL } }, { type: 'text', text: 'What do you see?' }] },
      ],
    ],
  ])('%s', (_, messages, system, expected) => {
    expect(messagesOf(messages, system)).toEqual(expected);
  });

  it.each([
    ['a PDF document', { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBE' } }, /Documents of source type 'base64'/],
    ['an image from the Files API', { type: 'image', source: { type: 'file', file_id: 'file_1' } }, /Image sources of type 'file'/],
  ])('refuses %s with a 400', (_, block, message) => {
    const build = () => messagesOf([{ role: 'user', content: [block as never] }]);
    expect(build).toThrow(ApiError);
    expect(build).toThrow(message);
  });
});

describe('messagesToChat: parameters', () => {
  const weather = { name: 'get_weather', description: 'Weather by city', input_schema: { type: 'object', properties: { city: { type: 'string' } } } };
  const weatherFn = { type: 'function', function: { name: 'get_weather', description: 'Weather by city', parameters: weather.input_schema } };

  it('maps what chat takes and drops what it cannot', () => {
    const chat = chatOf({
      max_tokens: 512,
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
      stop_sequences: ['END'],
      metadata: { user_id: 'u-1' },
      context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
      service_tier: 'auto',
    });
    expect(chat).toEqual({
      model: 'claude-sonnet-4',
      messages: [{ role: 'user', content: 'Hi' }],
      max_tokens: 512,
      temperature: 0.2,
      top_p: 0.9,
      stop: ['END'],
      user: 'u-1',
    });
  });

  it.each([
    [{ stream: true }, { stream: true, stream_options: { include_usage: true } }],
    [{ stream: false }, {}],
    [{}, {}],
  ])('stream %j → %j', (over, expected) => {
    const { model, messages, max_tokens, ...rest } = chatOf(over);
    expect(rest).toEqual(expected);
  });

  it('lowers max_tokens to the model’s output limit when told it', () => {
    expect(chatOf({ max_tokens: 32000 }, { maxOutputTokens: 16000 }).max_tokens).toBe(16000);
    expect(chatOf({ max_tokens: 1000 }, { maxOutputTokens: 16000 }).max_tokens).toBe(1000);
  });

  it('turns custom tools into functions and drops server tools, defer_loading and cache_control', () => {
    const chat = chatOf({
      tools: [
        { ...weather, cache_control: { type: 'ephemeral' }, defer_loading: true },
        { type: 'custom', name: 'noop', input_schema: { type: 'object' } },
        { type: 'web_search_20250305', name: 'web_search', max_uses: 3 },
        { type: 'bash_20250124', name: 'bash' },
      ],
    });
    expect(chat.tools).toEqual([weatherFn, { type: 'function', function: { name: 'noop', parameters: { type: 'object' } } }]);
  });

  it.each([
    [{ type: 'auto' }, { tool_choice: 'auto' }],
    [{ type: 'any' }, { tool_choice: 'required' }],
    [{ type: 'none' }, { tool_choice: 'none' }],
    [{ type: 'tool', name: 'get_weather' }, { tool_choice: { type: 'function', function: { name: 'get_weather' } } }],
    [{ type: 'tool', name: 'web_search' }, {}],
    [{ type: 'auto', disable_parallel_tool_use: true }, { tool_choice: 'auto', parallel_tool_calls: false }],
    [undefined, {}],
  ] as const)('tool_choice %j → %j', (choice, expected) => {
    const chat = chatOf({ tools: [weather, { type: 'web_search_20250305', name: 'web_search' }], tool_choice: choice as never });
    const { tools, model, messages, max_tokens, ...rest } = chat;
    expect(tools).toEqual([weatherFn]);
    expect(rest).toEqual(expected);
  });

  it('sends no tools nor tool_choice when only server tools were given', () => {
    const chat = chatOf({ tools: [{ type: 'web_search_20250305', name: 'web_search' }], tool_choice: { type: 'any' } });
    expect(chat).not.toHaveProperty('tools');
    expect(chat).not.toHaveProperty('tool_choice');
  });

  const range = { min: 1024, max: 15999 };
  it.each<[string, MessagesRequest['thinking'], number, { min: number; max: number } | null | undefined, number | undefined]>([
    ['enabled within range', { type: 'enabled', budget_tokens: 4000 }, 32000, range, 4000],
    ['enabled below min → min', { type: 'enabled', budget_tokens: 500 }, 32000, range, 1024],
    ['enabled above max → max', { type: 'enabled', budget_tokens: 31999 }, 32000, range, 15999],
    ['enabled above max_tokens − 1 → max_tokens − 1', { type: 'enabled', budget_tokens: 9000 }, 8000, range, 7999],
    ['adaptive → the top of the range', { type: 'adaptive' }, 32000, range, 15999],
    ['adaptive under a small max_tokens → max_tokens − 1', { type: 'adaptive' }, 4000, range, 3999],
    ['max_tokens too small for the smallest budget → none', { type: 'enabled', budget_tokens: 2000 }, 1000, range, undefined],
    ['disabled → none', { type: 'disabled' }, 32000, range, undefined],
    ['no thinking asked → none', undefined, 32000, range, undefined],
    ['a model that takes no budget (null) → none', { type: 'enabled', budget_tokens: 4000 }, 32000, null, undefined],
    ['a model that takes no budget (absent) → none', { type: 'adaptive' }, 32000, undefined, undefined],
  ])('thinking: %s', (_, thinking, maxTokens, thinkingRange, expected) => {
    const chat = chatOf({ thinking, max_tokens: maxTokens }, { thinking: thinkingRange });
    expect(chat.thinking_budget).toBe(expected);
  });
});

describe('hasImage', () => {
  it.each<[string, MessagesRequest['messages'], boolean]>([
    ['plain text', [{ role: 'user', content: 'Hi' }], false],
    ['text blocks', [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }], false],
    ['an image block', [{ role: 'user', content: [{ type: 'image', source: PNG }] }], true],
    ['an image in an earlier message', [{ role: 'user', content: [{ type: 'image', source: PNG }] }, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'and?' }], true],
    ['an image in a tool result', [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'image', source: PNG }] }] }], true],
    ['a string tool result', [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'x' }] }], false],
  ])('%s → %s', (_, messages, expected) => {
    expect(hasImage(req({ messages }))).toBe(expected);
  });
});

describe('messagesToChat on what Claude Code 2.1.197 sent', () => {
  const CHAT_FIELDS = ['model', 'messages', 'max_tokens', 'temperature', 'top_p', 'stop', 'user', 'tools', 'tool_choice', 'parallel_tool_calls', 'thinking_budget', 'stream', 'stream_options'];
  const MESSAGE_FIELDS = ['role', 'content', 'tool_calls', 'tool_call_id', 'reasoning_text', 'reasoning_opaque'];

  describe.each([
    ['a Claude model with a thinking range', 'claude-sonnet-4', { min: 1024, max: 15999 }, 15999],
    ['gpt-4o (no thinking)', 'gpt-4o', null, undefined],
  ])('for %s', (_, model, thinking, budget) => {
    it.each(['1-first-turn.json', '2-after-tool-use.json'])('%s keeps the essentials and nothing chat refuses', (file) => {
      const body = recorded(file);
      const chat = messagesToChat(body, { model, thinking });

      expect(Object.keys(chat).every((k) => CHAT_FIELDS.includes(k))).toBe(true);
      for (const m of chat.messages as Record<string, unknown>[]) expect(Object.keys(m).every((k) => MESSAGE_FIELDS.includes(k))).toBe(true);
      expect(JSON.stringify(chat)).not.toMatch(/cache_control|defer_loading|context_management|budget_tokens/);

      expect(chat).toMatchObject({ model, max_tokens: 32000, user: body.metadata!.user_id, stream: true, stream_options: { include_usage: true } });
      expect(chat.thinking_budget).toBe(budget);

      const messages = chat.messages as Record<string, any>[];
      const system = body.system as { text: string }[];
      expect(messages[0]).toEqual({ role: 'system', content: system.slice(1).map((b) => b.text).join('\n\n') });
      expect(messages[0].content).toMatch(/^You are a Claude agent, built on Anthropic's Claude Agent SDK\.\n\n<text: 26427 chars>$/);

      const tools = chat.tools as Record<string, any>[];
      expect(tools).toHaveLength(24);
      expect(tools.every((t) => t.type === 'function' && typeof t.function.name === 'string' && t.function.parameters.type === 'object')).toBe(true);
      expect(tools.map((t) => t.function.name)).toEqual(body.tools!.map((t) => t.name));

      const firstUser = body.messages[0].content as { text: string }[];
      expect(messages[1]).toEqual({ role: 'user', content: firstUser.map((b) => b.text).join('\n\n') });
      expect(messages[1].content).toMatch(/Run echo captured with Bash, then say done$/);
    });

    it('the turn after the tool call: tool_use → tool_calls, tool_result → a tool message', () => {
      const chat = messagesToChat(recorded('2-after-tool-use.json'), { model, thinking });
      const messages = chat.messages as Record<string, any>[];
      expect(messages.slice(2)).toEqual([
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'toolu_cap2', type: 'function', function: { name: 'Bash', arguments: JSON.stringify({ command: 'echo captured', description: '<text: 12 chars>' }) } }],
        },
        { role: 'tool', tool_call_id: 'toolu_cap2', content: 'captured' },
      ]);
    });
  });

  it('an error result in the same shape becomes an Error tool message before the user’s words', () => {
    const body = recorded('2-after-tool-use.json');
    const last = body.messages.at(-1)!;
    const result = { ...(last.content as Record<string, unknown>[])[0], is_error: true, content: 'Exit code 1' };
    const messages = messagesToChat({ ...body, messages: [...body.messages.slice(0, -1), { role: 'user', content: [{ type: 'text', text: 'Try again' }, result as never] }] }, { model: 'gpt-4o' })
      .messages as unknown[];
    expect(messages.slice(-2)).toEqual([
      { role: 'tool', tool_call_id: 'toolu_cap2', content: 'Error: Exit code 1' },
      { role: 'user', content: 'Try again' },
    ]);
  });

  it('does not change the request it translates', () => {
    const body = recorded('2-after-tool-use.json');
    const before = JSON.stringify(body);
    messagesToChat(body, { model: 'claude-sonnet-4', thinking: { min: 1024, max: 15999 } });
    expect(JSON.stringify(body)).toBe(before);
  });
});

describe('a system message mid-conversation (Claude Code on non-Claude models)', () => {
  it('stays a system message where it stands', () => {
    const chat = messagesToChat(
      { model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'Run echo' }, { role: 'system', content: [{ type: 'text', text: 'Agents: a' }, { type: 'text', text: 'Skills: b' }] }] },
      { model: 'gpt-4o' },
    );
    expect(chat.messages).toEqual([
      { role: 'user', content: 'Run echo' },
      { role: 'system', content: 'Agents: a\n\nSkills: b' },
    ]);
  });
});

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { claudeImageTokens, countMessagesTokens, imageSize, openAiImageTokens } from './count-tokens.js';

/*
 * Every expected number below was worked out once by running gpt-tokenizer directly
 * (countTokens of each string) and adding the framing constants by hand:
 *   message = 3 + role (1) + content · tool_use name +1 · reply priming 3
 *   tool = func_init (7 o200k / 10 cl100k) + `${name}:${description}` + JSON(input_schema); +12 once
 *   image = 85 + 170 × tiles (OpenAI) / ceil(w × h / 750) ≤ 1600 (Claude); unknown size = 1024×1024
 *   Claude = ceil(text × 1.2) + images
 * Token counts used (o200k_base / cl100k_base where they differ):
 *   'Hello, world' 3 · 'You are a helpful assistant.' 6 · 'Answer briefly.' 3 · 'What is 2+2?' 7 · '4' 1
 *   'And 3+3?' 6 · 'Let me check.' 4 · 'get_weather' 2 · '{"city":"Paris"}' 5 · 'Sunny, 22°C' 5/6
 *   'Humidity 40%' 4/5 · 'get_weather:Get the current weather' 6 · 'Describe this image.' 4
 *   JSON of the get_weather schema 24/23 · 'Привет, мир! Как дела?' 8/12 · 'x <|endoftext|> y' 9/8
 */

const user = (content: unknown) => ({ role: 'user', content });
const assistant = (content: unknown) => ({ role: 'assistant', content });
const b64 = (bytes: number[] | Buffer) => Buffer.from(bytes as number[]).toString('base64');

const weatherTool = {
  name: 'get_weather',
  description: 'Get the current weather.',
  input_schema: { type: 'object', properties: { city: { type: 'string', description: 'City name' } }, required: ['city'] },
};

// Image headers: just enough bytes for the dimension readers.
function png(width: number, height: number): string {
  const b = Buffer.alloc(33);
  b.writeUInt32BE(0x89504e47, 0);
  b.writeUInt32BE(0x0d0a1a0a, 4);
  b.writeUInt32BE(13, 8);
  b.write('IHDR', 12, 'latin1');
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  return b64(b);
}
function jpeg(width: number, height: number): string {
  const app0 = [0xff, 0xe0, 0x00, 0x10, ...Buffer.from('JFIF\0', 'latin1'), 1, 1, 0, 0, 1, 0, 1, 0, 0];
  const sof0 = [0xff, 0xc0, 0x00, 0x11, 8, height >> 8, height & 0xff, width >> 8, width & 0xff, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
  return b64([0xff, 0xd8, ...app0, ...sof0, 0xff, 0xd9]);
}
function gif(width: number, height: number): string {
  const b = Buffer.alloc(13);
  b.write('GIF89a', 0, 'latin1');
  b.writeUInt16LE(width, 6);
  b.writeUInt16LE(height, 8);
  return b64(b);
}
function webp(chunk: 'VP8 ' | 'VP8L' | 'VP8X', width: number, height: number): string {
  const b = Buffer.alloc(30);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(22, 4);
  b.write('WEBP', 8, 'latin1');
  b.write(chunk, 12, 'latin1');
  if (chunk === 'VP8 ') {
    b.set([0x9d, 0x01, 0x2a], 23);
    b.writeUInt16LE(width, 26);
    b.writeUInt16LE(height, 28);
  } else if (chunk === 'VP8L') {
    b[20] = 0x2f;
    b.writeUInt32LE(((width - 1) | ((height - 1) << 14)) >>> 0, 21);
  } else {
    b.writeUIntLE(width - 1, 24, 3);
    b.writeUIntLE(height - 1, 27, 3);
  }
  return b64(b);
}

const fixtureDir = fileURLToPath(new URL('../../../../test/fixtures/clients/claude-code-2.1.197/', import.meta.url));
const fixtureBody = (name: string) => JSON.parse(readFileSync(fixtureDir + name, 'utf8')).body as Record<string, unknown>;

describe('countMessagesTokens', () => {
  it('counts a plain user string: 3 + 1 + 3 + priming 3', () => {
    expect(countMessagesTokens({ messages: [user('Hello, world')] }, {})).toBe(10);
    expect(countMessagesTokens({ messages: [user('Hello, world')] }, { tokenizer: 'o200k_base' })).toBe(10);
    expect(countMessagesTokens({ messages: [user([{ type: 'text', text: 'Hello, world' }])] }, {})).toBe(10);
  });

  it('counts a system string and system text blocks as one system message', () => {
    const messages = [user('Hello, world')];
    // system 3 + 1 + 6 = 10, user 7, priming 3
    expect(countMessagesTokens({ system: 'You are a helpful assistant.', messages }, {})).toBe(20);
    expect(countMessagesTokens({ system: [{ type: 'text', text: 'You are a helpful assistant.' }], messages }, {})).toBe(20);
    // system 3 + 1 + 6 + 3 = 13 (cache_control not billed), user 7, priming 3
    const blocks = [
      { type: 'text', text: 'You are a helpful assistant.', cache_control: { type: 'ephemeral' } },
      { type: 'text', text: 'Answer briefly.' },
    ];
    expect(countMessagesTokens({ system: blocks, messages }, {})).toBe(23);
    // an empty system adds no message
    expect(countMessagesTokens({ system: '', messages }, {})).toBe(10);
    expect(countMessagesTokens({ system: [], messages }, {})).toBe(10);
  });

  it('counts a multi-turn conversation', () => {
    // user 3+1+7 = 11, assistant 3+1+1 = 5, user 3+1+6 = 10, priming 3
    const body = { messages: [user('What is 2+2?'), assistant('4'), user('And 3+3?')] };
    expect(countMessagesTokens(body, {})).toBe(29);
  });

  it('counts tool_use (name + 1 + JSON input) and tool_result content, not ids or flags', () => {
    const toolUse = assistant([
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
    ]);
    // user 7 · assistant 3+1 + 4 + (2+1+5) = 16 · tool_result 3+1+5 = 9 · priming 3
    const result = user([
      { type: 'tool_result', tool_use_id: 'toolu_1', content: 'Sunny, 22°C', is_error: false, cache_control: { type: 'ephemeral' } },
    ]);
    expect(countMessagesTokens({ messages: [user('Hello, world'), toolUse, result] }, {})).toBe(35);
    // tool_result with text blocks: 3+1+5+4 = 13
    const blocks = user([
      { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'Sunny, 22°C' }, { type: 'text', text: 'Humidity 40%' }] },
    ]);
    expect(countMessagesTokens({ messages: [user('Hello, world'), toolUse, blocks] }, {})).toBe(39);
    // cl100k: 'Sunny, 22°C' 6, 'Humidity 40%' 5 → 41
    expect(countMessagesTokens({ messages: [user('Hello, world'), toolUse, blocks] }, { tokenizer: 'cl100k_base' })).toBe(41);
  });

  it('counts thinking text but not its signature, and nothing for redacted thinking', () => {
    const body = {
      messages: [
        user('Hello, world'),
        assistant([
          { type: 'thinking', thinking: 'Let me check.', signature: 'EqQBCkgIARABGAIiQL'.repeat(20) },
          { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix/LafPsn4a'.repeat(20) },
          { type: 'text', text: '4' },
        ]),
      ],
    };
    // user 7 · assistant 3+1+4+1 = 9 · priming 3
    expect(countMessagesTokens(body, {})).toBe(19);
  });

  it('counts tool definitions with the cookbook function overhead', () => {
    const body = { messages: [user('Hello, world')], tools: [weatherTool] };
    // 10 + func_init 7 + 'get_weather:Get the current weather' 6 + schema JSON 24 + func_end 12
    expect(countMessagesTokens(body, {})).toBe(59);
    // 10 + func_init 10 + 6 + 23 + 12
    expect(countMessagesTokens(body, { tokenizer: 'cl100k_base' })).toBe(61);
    // two tools: + 7 + 6 + 24 (func_end only once)
    expect(countMessagesTokens({ ...body, tools: [weatherTool, weatherTool] }, {})).toBe(96);
    // Claude Code's extra tool fields are not billed
    const decorated = { ...weatherTool, cache_control: { type: 'ephemeral' }, defer_loading: false };
    expect(countMessagesTokens({ ...body, tools: [decorated] }, {})).toBe(59);
    // no tools, no overhead
    expect(countMessagesTokens({ ...body, tools: [] }, {})).toBe(10);
  });

  it('counts images at a fixed cost: 1024×1024 assumed when the size is unknown', () => {
    const withImage = (source: unknown) => ({
      messages: [user([{ type: 'image', source }, { type: 'text', text: 'Describe this image.' }])],
    });
    const url = { type: 'url', url: 'https://example.com/cat.png' };
    // text 3+1+4 + priming 3 = 11; image 85 + 170 × 4 = 765
    expect(countMessagesTokens(withImage(url), {})).toBe(776);
    // Claude: ceil(11 × 1.2) = 14; image ceil(1024 × 1024 / 750) = 1399, not scaled
    expect(countMessagesTokens(withImage(url), { claude: true })).toBe(1413);
    // unreadable base64 data → default size
    expect(countMessagesTokens(withImage({ type: 'base64', media_type: 'image/png', data: 'AAAA' }), {})).toBe(776);

    // a 512×512 PNG: 85 + 170 = 255 / ceil(262144 / 750) = 350
    const small = withImage({ type: 'base64', media_type: 'image/png', data: png(512, 512) });
    expect(countMessagesTokens(small, {})).toBe(266);
    expect(countMessagesTokens(small, { claude: true })).toBe(364);
    // a 3000×2000 JPEG: → 2048×1365 → 1152×768 = 3×2 tiles = 1105 / long edge 1568 → capped at 1600
    const large = withImage({ type: 'base64', media_type: 'image/jpeg', data: jpeg(3000, 2000) });
    expect(countMessagesTokens(large, {})).toBe(1116);
    expect(countMessagesTokens(large, { claude: true })).toBe(1614);
  });

  it('image formulas and header readers', () => {
    expect(openAiImageTokens({ width: 1024, height: 1024 })).toBe(765);
    expect(openAiImageTokens({ width: 512, height: 512 })).toBe(255);
    expect(openAiImageTokens({ width: 2048, height: 4096 })).toBe(1105); // OpenAI's worked example
    // Anthropic's vision-docs table: 200×200 ≈ 54, 1000×1000 ≈ 1334, 1092×1092 ≈ 1590
    expect(claudeImageTokens({ width: 200, height: 200 })).toBe(54);
    expect(claudeImageTokens({ width: 1000, height: 1000 })).toBe(1334);
    expect(claudeImageTokens({ width: 1092, height: 1092 })).toBe(1590);
    expect(claudeImageTokens({ width: 1024, height: 1024 })).toBe(1399);

    expect(imageSize(png(640, 480))).toEqual({ width: 640, height: 480 });
    expect(imageSize(`data:image/png;base64,${png(7, 9)}`)).toEqual({ width: 7, height: 9 });
    expect(imageSize(jpeg(3000, 2000))).toEqual({ width: 3000, height: 2000 });
    expect(imageSize(gif(320, 200))).toEqual({ width: 320, height: 200 });
    expect(imageSize(webp('VP8 ', 300, 150))).toEqual({ width: 300, height: 150 });
    expect(imageSize(webp('VP8L', 1000, 700))).toEqual({ width: 1000, height: 700 });
    expect(imageSize(webp('VP8X', 4000, 3000))).toEqual({ width: 4000, height: 3000 });
    expect(imageSize('bm90IGFuIGltYWdl')).toBeUndefined();
  });

  it('gives different counts for the same text under cl100k_base and o200k_base', () => {
    const body = { messages: [user('Привет, мир! Как дела?')] };
    expect(countMessagesTokens(body, { tokenizer: 'o200k_base' })).toBe(15); // 3+1+8+3
    expect(countMessagesTokens(body, { tokenizer: 'cl100k_base' })).toBe(19); // 3+1+12+3
    // an unknown tokenizer name counts as o200k_base
    expect(countMessagesTokens(body, { tokenizer: 'llama3' })).toBe(15);
  });

  it('applies the Claude correction (×1.2, rounded up) to text tokens', () => {
    expect(countMessagesTokens({ messages: [user('Hello, world')] }, { claude: true })).toBe(12); // 10 × 1.2
    const multiTurn = { messages: [user('What is 2+2?'), assistant('4'), user('And 3+3?')] };
    expect(countMessagesTokens(multiTurn, { claude: true })).toBe(35); // ceil(29 × 1.2 = 34.8)
    const tools = { messages: [user('Hello, world')], tools: [weatherTool] };
    expect(countMessagesTokens(tools, { claude: true })).toBe(71); // ceil(59 × 1.2 = 70.8)
    expect(countMessagesTokens(tools, { claude: true, tokenizer: 'cl100k_base' })).toBe(74); // ceil(61 × 1.2 = 73.2)
  });

  it('ignores fields that are not billed input', () => {
    const body = {
      model: 'claude-sonnet-4',
      messages: [user('Hello, world')],
      metadata: { user_id: '{"device_id":"abc","session_id":"def"}' },
      max_tokens: 32000,
      stream: true,
      temperature: 1,
      thinking: { type: 'enabled', budget_tokens: 31999 },
      context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
      tool_choice: { type: 'auto' },
      stop_sequences: ['\n\nHuman:'],
    };
    expect(countMessagesTokens(body, {})).toBe(10);
  });

  it('counts special-token text as plain text instead of throwing', () => {
    const body = { messages: [user('x <|endoftext|> y')] };
    expect(countMessagesTokens(body, {})).toBe(16); // 3+1+9+3
    expect(countMessagesTokens(body, { tokenizer: 'cl100k_base' })).toBe(15); // 3+1+8+3
  });

  it('tolerates malformed parts', () => {
    expect(countMessagesTokens({}, {})).toBe(3);
    expect(countMessagesTokens({ messages: 'nope', tools: 'nope', system: 42 }, {})).toBe(3);
    expect(countMessagesTokens({ messages: [null, user([null, 7, { type: 'text' }])] }, {})).toBe(7);
  });

  describe('recorded Claude Code 2.1.197 requests (prose replaced by "<text: N chars>")', () => {
    // The sanity range is against the characters of the billed parts (system, messages, tools):
    // English, code and JSON run 2–6 characters per token.
    const billedChars = (body: Record<string, unknown>) => JSON.stringify([body.system, body.messages, body.tools]).length;

    it('counts the first turn (system blocks, 4 user text blocks, 24 tools)', () => {
      const body = fixtureBody('1-first-turn.json');
      const plain = countMessagesTokens(body, { tokenizer: 'o200k_base' });
      expect(plain).toBe(3050);
      expect(countMessagesTokens(body, { tokenizer: 'o200k_base', claude: true })).toBe(3660); // 3050 × 1.2
      expect(plain).toBeGreaterThan(billedChars(body) / 6);
      expect(plain).toBeLessThan(billedChars(body) / 2);
    });

    it('counts the turn after a tool call: + tool_use 23 + tool_result 6', () => {
      const first = countMessagesTokens(fixtureBody('1-first-turn.json'), { tokenizer: 'o200k_base' });
      const body = fixtureBody('2-after-tool-use.json');
      const plain = countMessagesTokens(body, { tokenizer: 'o200k_base' });
      // assistant 3+1 + 'Bash' 2 + 1 + JSON input 16 = 23 · user 3+1 + 'captured' 2 = 6
      expect(plain).toBe(3079);
      expect(plain - first).toBe(29);
      expect(countMessagesTokens(body, { tokenizer: 'o200k_base', claude: true })).toBe(3695); // ceil(3694.8)
      expect(plain).toBeGreaterThan(billedChars(body) / 6);
      expect(plain).toBeLessThan(billedChars(body) / 2);
    });
  });
});

describe('hostile input', () => {
  it('counts 200 KB of one letter in well under a second (one piece took 20 s)', () => {
    const t0 = performance.now();
    const n = countMessagesTokens({ messages: [{ role: 'user', content: 'a'.repeat(200_000) }] });
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(n).toBeGreaterThan(200_000 / 20);
  });
});

#!/usr/bin/env node
// A recording Anthropic Messages server, for capturing what a real client sends (how the
// fixtures under test/fixtures/clients/ were made). Not used by the tests.
//
//   node test/clients/recorder.mjs <out-dir> [port]
//
// Writes every request to <out-dir>/NNN.json ({method, url, headers, body}, unredacted: sanitize
// before committing) and prints the listening URL. Answers HEAD / with 200,
// POST /v1/messages/count_tokens with {input_tokens}, and POST /v1/messages (any query string) in
// Anthropic's format, streamed when asked: a Bash tool_use when the last user message asks to
// "Run echo <word>" and Bash is offered, a <summary> when it looks like a summarisation request,
// plain text otherwise.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const out = process.argv[2] ?? 'recorded';
const port = Number(process.argv[3] ?? 0);
mkdirSync(out, { recursive: true });
let n = 0;
// The input_tokens to report (a large figure makes the client believe its context is nearly full).
const inputTokens = Number(process.env.RECORDER_INPUT_TOKENS ?? 50);

// The last user message: Claude Code may put `role: "system"` messages after it (non-Claude models).
const lastUser = (body) => [...(body.messages ?? [])].reverse().find((m) => m.role === 'user');

const lastUserText = (body) => {
  const last = lastUser(body);
  if (!last) return '';
  if (typeof last.content === 'string') return last.content;
  return last.content.filter((b) => b.type === 'text').at(-1)?.text ?? ''; // the words, not the <system-reminder>s before them
};

function reply(body) {
  const last = lastUser(body);
  const toolResult = Array.isArray(last?.content) && last.content.some((b) => b.type === 'tool_result');
  const text = lastUserText(body);
  const echo = /Run echo (\S+)/i.exec(text);
  if (!toolResult && echo && body.tools?.some((t) => t.name === 'Bash')) {
    return { stop: 'tool_use', blocks: [{ type: 'tool_use', id: `toolu_rec${n}`, name: 'Bash', input: { command: `echo ${echo[1]}`, description: 'Print a word' } }] };
  }
  if (/create a detailed summary|summari[sz]e the conversation/i.test(text)) {
    return { stop: 'end_turn', blocks: [{ type: 'text', text: '<analysis>The user ran one command.</analysis>\n<summary>1. Primary Request: run echo.\n2. Outcome: it printed the word.</summary>' }] };
  }
  return { stop: 'end_turn', blocks: [{ type: 'text', text: toolResult ? 'done' : 'Hello from the recorder.' }] };
}

function sse(res, body, answer) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const ev = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  const id = `msg_rec${n}`;
  ev('message_start', {
    message: { id, type: 'message', role: 'assistant', model: body.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: inputTokens, output_tokens: 1, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 } },
  });
  answer.blocks.forEach((b, index) => {
    if (b.type === 'text') {
      ev('content_block_start', { index, content_block: { type: 'text', text: '' } });
      ev('content_block_delta', { index, delta: { type: 'text_delta', text: b.text } });
    } else {
      ev('content_block_start', { index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } });
      ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(b.input) } });
    }
    ev('content_block_stop', { index });
  });
  ev('message_delta', { delta: { stop_reason: answer.stop, stop_sequence: null }, usage: { output_tokens: 20 } });
  ev('message_stop', {});
  res.end();
}

const server = createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const raw = Buffer.concat(chunks).toString('utf8');
  let body = raw;
  try {
    body = raw ? JSON.parse(raw) : null;
  } catch {}
  n++;
  writeFileSync(join(out, `${String(n).padStart(3, '0')}.json`), JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }, null, 2));
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'HEAD' || (req.method === 'GET' && path === '/')) return res.writeHead(200).end();
  if (req.method === 'POST' && path === '/v1/messages/count_tokens') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ input_tokens: Math.ceil(raw.length / 4) }));
  }
  if (req.method === 'POST' && path === '/v1/messages') {
    const answer = reply(body);
    if (body.stream) return sse(res, body, answer);
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(
      JSON.stringify({ id: `msg_rec${n}`, type: 'message', role: 'assistant', model: body.model, content: answer.blocks, stop_reason: answer.stop, stop_sequence: null, usage: { input_tokens: inputTokens, output_tokens: 20 } }),
    );
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: `${req.method} ${path}` } }));
});
server.listen(port, '127.0.0.1', () => console.log(`http://127.0.0.1:${server.address().port}`));

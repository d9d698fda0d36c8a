#!/usr/bin/env node
// Turns a request recorded by recorder.mjs into a fixture, as shared/fixtures/clients/ does it:
// `authorization` redacted, `host` dropped, and in the body structure, field names and ids kept
// while prose is replaced by `<text: N chars>` (every `description`, `metadata.user_id`, text
// blocks and string contents over 200 characters or starting with <system-reminder>). Claude Code's summarisation
// instruction is the exception: its opening (through "...your previous actions.") and its closing
// REMINDER paragraph stay verbatim around a `<text: N chars>` for the part elided.
//
//   node test/clients/sanitize.mjs <recorded.json> > fixture.json
import { readFileSync } from 'node:fs';

const MARK = 'Your task is to create a detailed summary of the conversation so far';
const HEAD_END = 'your previous actions.';
const TAIL_START = '\n\nREMINDER:';

const elide = (s) => `<text: ${s.length} chars>`;

export function sanitizeText(text) {
  if (text.includes(MARK)) {
    const headEnd = text.indexOf(HEAD_END) === -1 ? Math.min(text.length, 300) : text.indexOf(HEAD_END) + HEAD_END.length;
    const tailAt = text.lastIndexOf(TAIL_START);
    const tailStart = tailAt > headEnd ? tailAt : text.length;
    return text.slice(0, headEnd) + elide(text.slice(headEnd, tailStart)) + text.slice(tailStart);
  }
  return text.length > 200 || text.startsWith('<system-reminder>') ? elide(text) : text;
}

function walk(value, key) {
  if (typeof value === 'string') {
    if (key === 'description' || key === 'user_id') return elide(value);
    // text blocks, and string contents (the role:"system" messages Claude Code sends to non-Claude models)
    return key === 'text' || key === 'content' ? sanitizeText(value) : value;
  }
  if (Array.isArray(value)) return value.map((v) => walk(v));
  // (a schema property named "description" is an object: only the strings under it are prose)
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
  return value;
}

export function sanitize(recorded) {
  const headers = { ...recorded.headers };
  delete headers.host;
  if (headers.authorization) headers.authorization = '<redacted>';
  if (headers['x-api-key']) headers['x-api-key'] = '<redacted>';
  return { method: recorded.method, url: recorded.url, headers, body: walk(recorded.body) };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  process.stdout.write(JSON.stringify(sanitize(JSON.parse(readFileSync(process.argv[2], 'utf8'))), null, 2) + '\n');
}

import { describe, expect, it } from 'vitest';
import { isCompactionRequest, messagesInitiator } from './initiator.js';
import type { MessageParam, MessagesRequest } from './types.js';

const req = (...messages: MessageParam[]): MessagesRequest => ({ model: 'claude-sonnet-4', max_tokens: 100, messages });
const user = (content: MessageParam['content']): MessageParam => ({ role: 'user', content });
const assistant = (content: MessageParam['content']): MessageParam => ({ role: 'assistant', content });
const result = { type: 'tool_result', tool_use_id: 't1', content: 'ok' } as const;
const reminder = { type: 'text', text: '<system-reminder>\nTodo list is empty.\n</system-reminder>' } as const;
const COMPACT =
  "CRITICAL: Respond with TEXT ONLY. Do NOT call any tools.\n\nYour task is to create a detailed summary of the conversation so far, paying close attention to the user's explicit requests and your previous actions.";

describe('messagesInitiator', () => {
  it.each<[string, MessagesRequest, 'user' | 'agent', boolean]>([
    ['a user string', req(user('Hi')), 'user', false],
    ['user text blocks', req(user([{ type: 'text', text: 'Hi' }])), 'user', false],
    ['a user image', req(user([{ type: 'image', source: { type: 'url', url: 'https://x/y.png' } }])), 'user', false],
    ['reminders ahead of a person’s words', req(user([reminder, { type: 'text', text: 'Fix the bug' }])), 'user', false],
    ['a person’s words next to a tool result', req(assistant([{ type: 'tool_use', id: 't1', name: 'f', input: {} }]), user([result, { type: 'text', text: 'Stop, use git instead' }])), 'user', false],
    ['only tool results', req(user('Go'), assistant([{ type: 'tool_use', id: 't1', name: 'f', input: {} }]), user([result])), 'agent', false],
    ['a tool result with Claude Code’s reminders', req(user([result, reminder])), 'agent', false],
    ['an empty text next to a tool result', req(user([result, { type: 'text', text: ' \n' }])), 'agent', false],
    ['the assistant last (prefill)', req(user('Hi'), assistant('Hello')), 'agent', false],
    ['a compaction call after the user’s words', req(user([{ type: 'text', text: 'Say hello again\n' }, { type: 'text', text: COMPACT }])), 'agent', true],
    ['a compaction call after a tool result', req(user([result, { type: 'text', text: COMPACT }])), 'agent', true],
    ['a compaction instruction as a plain string', req(user(COMPACT)), 'agent', true],
    // Claude Code on a non-Claude model: a system message after the person's first words.
    ['a person’s words, then a system message', req(user('Run echo'), { role: 'system', content: 'Agents: …' }), 'user', false],
    ['a tool result, then a system message', req(user('Go'), assistant([{ type: 'tool_use', id: 't1', name: 'f', input: {} }]), user([result]), { role: 'system', content: 'x' }), 'agent', false],
  ])('%s → %s', (_, r, initiator, compaction) => {
    expect(messagesInitiator(r)).toEqual({ initiator, compaction });
  });
});

describe('isCompactionRequest', () => {
  it.each([
    ['Your task is to create a detailed summary of the conversation so far, paying close attention…', true],
    ['Your task is to create a detailed summary of the RECENT portion of the conversation', true],
    ['Your task is to create a detailed summary of this conversation.', true],
    ['Please summarise our conversation', false],
    ['Your task is to create a detailed summary of the README', false],
  ])('%j → %s', (text, expected) => {
    expect(isCompactionRequest(req(user([{ type: 'text', text }])))).toBe(expected);
  });

  it('looks only at the last message, and only at a user one', () => {
    expect(isCompactionRequest(req(user(COMPACT), assistant('<summary>…</summary>'), user('Thanks')))).toBe(false);
    expect(isCompactionRequest(req(user('Hi'), assistant(COMPACT)))).toBe(false);
  });
});

describe('hostile input', () => {
  it('reads 40,000 unclosed <system-reminder> tags in linear time (a regex took 8.8 s)', () => {
    const text = '<system-reminder>'.repeat(40_000);
    const t0 = performance.now();
    expect(messagesInitiator(req(user([{ type: 'text', text }]))).initiator).toBe('user');
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

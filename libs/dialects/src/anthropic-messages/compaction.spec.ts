import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isCompactionRequest, messagesInitiator } from './initiator.js';

/**
 * Claude Code's compaction call, recorded from the real client (test/fixtures/clients/README.md):
 * an ordinary-looking request whose last user message ends with the summarisation instruction.
 * It must go upstream as `agent` (and `x-interaction-type: conversation-compaction`), never bill
 * as a user turn; the ordinary turns recorded alongside must not be taken for one.
 */
const fixtures = fileURLToPath(new URL('../../../../test/fixtures/clients/claude-code-2.1.197/', import.meta.url));
const body = (name: string) => JSON.parse(readFileSync(fixtures + name, 'utf8')).body;

const lastUser = (b: any) => b.messages.at(-1);

describe("Claude Code 2.1.197's compaction request", () => {
  it('is recognised in the recorded /compact call (last user message: earlier words + the instruction)', () => {
    const b = body('compaction.json');
    // the fixture is what we think it is: the instruction rides as the last text block of the last user message
    expect(lastUser(b).role).toBe('user');
    expect(lastUser(b).content.map((c: any) => c.type)).toEqual(['text', 'text']);
    expect(lastUser(b).content[0].text).toBe('Say hello again\n');
    expect(lastUser(b).content[1].text).toMatch(/^CRITICAL: Respond with TEXT ONLY\. Do NOT call any tools\./);
    expect(isCompactionRequest(b)).toBe(true);
    expect(messagesInitiator(b)).toEqual({ initiator: 'agent', compaction: true });
  });

  it('is recognised after a tool turn (last user message: tool_result + the instruction)', () => {
    const b = body('compaction-after-tool-use.json');
    expect(lastUser(b).content.map((c: any) => c.type)).toEqual(['tool_result', 'text']);
    expect(isCompactionRequest(b)).toBe(true);
    expect(messagesInitiator(b)).toEqual({ initiator: 'agent', compaction: true });
  });

  it('is recognised when Claude Code compacts on its own (auto-compaction)', () => {
    const b = body('auto-compaction.json');
    expect(lastUser(b).content.map((c: any) => c.type)).toEqual(['tool_result', 'text', 'text']);
    expect(isCompactionRequest(b)).toBe(true);
    expect(messagesInitiator(b)).toEqual({ initiator: 'agent', compaction: true });
  });

  it('is recognised on a non-Claude model, whose requests carry a role:"system" message mid-conversation', () => {
    const b = body('gpt-4o-compaction.json');
    expect(b.messages.map((m: any) => m.role)).toEqual(['user', 'system', 'assistant', 'user']);
    expect(isCompactionRequest(b)).toBe(true);
    expect(messagesInitiator(b)).toEqual({ initiator: 'agent', compaction: true });
  });

  it('does not change the body it looks at', () => {
    const b = body('compaction.json');
    const before = JSON.stringify(b);
    isCompactionRequest(b);
    messagesInitiator(b);
    expect(JSON.stringify(b)).toBe(before);
  });
});

describe('ordinary Claude Code turns are not compaction', () => {
  it('the first turn (a person’s words) is user', () => {
    const b = body('1-first-turn.json');
    expect(isCompactionRequest(b)).toBe(false);
    const r = messagesInitiator(b);
    expect(r.initiator).toBe('user');
    expect(r.compaction ?? false).toBe(false);
  });

  it('the turn after a tool call (tool_result last) is agent, not compaction', () => {
    const b = body('2-after-tool-use.json');
    expect(isCompactionRequest(b)).toBe(false);
    const r = messagesInitiator(b);
    expect(r.initiator).toBe('agent');
    expect(r.compaction ?? false).toBe(false);
  });

  // For a non-Claude model Claude Code sends its agent/skill listings as a role:"system" message
  // right after the person's first message: on the first turn that system message is the LAST one.
  it('a non-Claude model’s first turn (user words, then a role:"system" message last) is user', () => {
    const b = body('gpt-4o-1-first-turn.json');
    expect(b.messages.map((m: any) => m.role)).toEqual(['user', 'system']);
    expect(isCompactionRequest(b)).toBe(false);
    const r = messagesInitiator(b);
    expect(r.initiator).toBe('user');
    expect(r.compaction ?? false).toBe(false);
  });

  it('a non-Claude model’s turn after a tool call is agent, not compaction', () => {
    const b = body('gpt-4o-2-after-tool-use.json');
    expect(b.messages.map((m: any) => m.role)).toEqual(['user', 'system', 'assistant', 'user']);
    expect(isCompactionRequest(b)).toBe(false);
    const r = messagesInitiator(b);
    expect(r.initiator).toBe('agent');
    expect(r.compaction ?? false).toBe(false);
  });

  it('the turn after a compaction (the summary in the FIRST message, a person’s words last) is user', () => {
    const b = body('after-compaction.json');
    expect(isCompactionRequest(b)).toBe(false);
    const r = messagesInitiator(b);
    expect(r.initiator).toBe('user');
    expect(r.compaction ?? false).toBe(false);
  });
});

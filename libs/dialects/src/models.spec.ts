import { describe, expect, it } from 'vitest';
import { parseModelAliases, resolveModelId } from './models.js';

const COPILOT = ['gpt-4o', 'gpt-5', 'claude-sonnet-4', 'claude-sonnet-4.5', 'claude-haiku-4.5', 'claude-opus-4.1', 'claude-3.5-sonnet', 'claude-3.7-sonnet'];

describe('resolveModelId', () => {
  it.each([
    ['gpt-4o', 'gpt-4o'],
    ['claude-sonnet-4', 'claude-sonnet-4'],
    ['claude-sonnet-4-20250514', 'claude-sonnet-4'],
    ['claude-haiku-4-5-20251001', 'claude-haiku-4.5'],
    ['claude-haiku-4-5', 'claude-haiku-4.5'],
    ['claude-opus-4-1-20250805', 'claude-opus-4.1'],
    ['claude-sonnet-4-5-20250929', 'claude-sonnet-4.5'],
    ['claude-3-5-sonnet-20241022', 'claude-3.5-sonnet'],
    ['claude-3-5-sonnet-latest', 'claude-3.5-sonnet'],
    ['claude-3-7-sonnet-20250219', 'claude-3.7-sonnet'],
    ['Claude-Sonnet-4', 'claude-sonnet-4'],
    ['claude-opus-4-20250514', null],
    ['claude-3-opus-20240229', null],
    ['gpt-4o-2024-08-06', null],
    ['llama-3-1', null],
  ])('%s → %s', (asked, expected) => {
    expect(resolveModelId(asked, COPILOT)).toBe(expected);
  });

  it('uses an alias after the exact id and before the Claude rule', () => {
    const aliases = { 'gpt-4o': 'gpt-5', sonnet: 'claude-sonnet-4.5', 'claude-sonnet-4-20250514': 'claude-sonnet-4.5' };
    expect(resolveModelId('gpt-4o', COPILOT, aliases)).toBe('gpt-4o');
    expect(resolveModelId('sonnet', COPILOT, aliases)).toBe('claude-sonnet-4.5');
    expect(resolveModelId('claude-sonnet-4-20250514', COPILOT, aliases)).toBe('claude-sonnet-4.5');
  });

  it('falls through an alias whose target the account lacks', () => {
    expect(resolveModelId('claude-sonnet-4-20250514', COPILOT, { 'claude-sonnet-4-20250514': 'claude-sonnet-9' })).toBe('claude-sonnet-4');
    expect(resolveModelId('fast', COPILOT, { fast: 'gpt-9' })).toBeNull();
  });

  it('does not treat inherited object keys as aliases', () => {
    expect(resolveModelId('toString', COPILOT)).toBeNull();
  });
});

describe('parseModelAliases', () => {
  it.each([
    ['', {}],
    ['a=b', { a: 'b' }],
    [' sonnet = claude-sonnet-4.5 , opus=claude-opus-4.1,', { sonnet: 'claude-sonnet-4.5', opus: 'claude-opus-4.1' }],
  ])('parses %j', (s, expected) => {
    expect(parseModelAliases(s)).toEqual(expected);
  });

  it.each(['sonnet', 'a=', '=b', 'a=b,c'])('refuses %j', (s) => {
    expect(() => parseModelAliases(s)).toThrow(/MODEL_ALIASES/);
  });
});

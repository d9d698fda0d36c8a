import { describe, expect, it } from 'vitest';
import { StreamedToolCalls } from './tool-calls.js';

const d = (index: number, f: { id?: string; name?: string; args?: string }) => ({ index, ...(f.id ? { id: f.id } : {}), function: { ...(f.name ? { name: f.name } : {}), ...(f.args !== undefined ? { arguments: f.args } : {}) } });

describe('StreamedToolCalls', () => {
  it('opens a call once its id and name are known, with the arguments that came before', () => {
    const calls = new StreamedToolCalls();
    expect(calls.push(d(0, { args: '{"a"' }))).toBeNull();
    expect(calls.push(d(0, { name: 'f', args: ':1' }))).toBeNull();
    const open = calls.push(d(0, { id: 'call_1', args: '' }));
    expect(open).toMatchObject({ kind: 'open', call: { id: 'call_1', name: 'f', args: '{"a":1', state: 'open' } });
    expect(calls.push(d(0, { args: '}' }))).toMatchObject({ kind: 'args', args: '}', call: { args: '{"a":1}' } });
    // an empty fragment says nothing
    expect(calls.push(d(0, { args: '' }))).toBeNull();
  });

  it('drops fragments for a call its translator closed, and keeps calls apart by index', () => {
    const calls = new StreamedToolCalls();
    const first = calls.push(d(0, { id: 'c0', name: 'f', args: '{}' }));
    expect(first?.kind).toBe('open');
    first!.call.state = 'closed';
    expect(calls.push(d(0, { args: 'late' }))).toBeNull();
    expect(calls.push(d(1, { id: 'c1', name: 'g' }))).toMatchObject({ kind: 'open', call: { id: 'c1', name: 'g', args: '' } });
  });

  it('at the end opens the pending calls that have a name, giving an id to one that never got one', () => {
    const calls = new StreamedToolCalls();
    calls.push(d(0, { name: 'named', args: '{}' }));
    calls.push(d(1, { args: '{"nameless":true}' }));
    calls.push(d(2, { id: 'c2', name: 'opened' }));
    let n = 0;
    const opened = calls.finish(() => `made_${++n}`);
    expect(opened.map((c) => [c.id, c.name, c.args, c.state])).toEqual([['made_1', 'named', '{}', 'open']]);
  });
});

import { describe, expect, it } from 'vitest';
import { ChatToResponsesStream, NativeResponsesStream, parseResponsesRequest } from '#libs/dialects';
import { responsesOut } from './streams.js';

const sse = (...datas: string[]) => Buffer.from(datas.map((d) => `data: ${d}\n\n`).join(''));
const frames = (text: string) =>
  text
    .split('\n\n')
    .filter(Boolean)
    .map((f) => JSON.parse(f.split('\ndata: ')[1]));
const request = parseResponsesRequest({ model: 'gpt-4o', input: 'Hi', stream: true });
const ctx = { id: 'resp_t', model: 'gpt-4o', createdAt: 1, request, echo: { store: true, previous_response_id: null } };

describe('the translated stream adapter', () => {
  it('drops an event that is not a JSON object and relays the ones around it, numbered without a gap', () => {
    const out = responsesOut(new NativeResponsesStream(ctx));
    const added = JSON.stringify({ type: 'response.output_item.added', sequence_number: 0, output_index: 0, item: { id: 'msg_1', type: 'message', content: [] } });
    const delta = JSON.stringify({ type: 'response.output_text.delta', sequence_number: 1, item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'Hi' });
    const evs = frames(out.push(sse(added, '{"type":', '42', delta)));
    expect(evs.map((e) => [e.type, e.sequence_number])).toEqual([
      ['response.output_item.added', 0],
      ['response.output_text.delta', 1],
    ]);
  });

  it('gives a chat stream’s content chunks, read with or without a parse, to the translator alike', () => {
    const chunk = (delta: object, extra = '') => `{"choices":[{"index":0,"delta":${JSON.stringify(delta)}${extra}}],"id":"c1","model":"gpt-4o"}`;
    const out = responsesOut(new ChatToResponsesStream(ctx));
    // the first two take the fast path, the third (a field it does not know) the parse; the fourth is dropped
    const text = out.push(sse(chunk({ role: 'assistant', content: 'He' }), chunk({ content: 'l"l' }), chunk({ content: 'o' }, ',"extra":{"a":[1]}'), 'not json')) + out.end();
    const evs = frames(text);
    expect(evs.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta)).toEqual(['He', 'l"l', 'o']);
    expect(evs.at(-1).response.output[0].content[0].text).toBe('Hel"lo');
  });
});

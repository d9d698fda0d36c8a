import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type * as SDK from 'openai/resources/responses/responses';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { chatToResponse } from './from-chat.js';
import { ChatToResponsesStream } from './stream.js';
import type { FunctionCallItem, MessageItem, OutputFunctionCall, OutputMessage, OutputReasoning, ResponseObject, ResponsesRequest, ResponseUsage, StreamEvent } from './types.js';

/* The shapes the gateway writes, checked against the OpenAI SDK's own types (by `npm run
   typecheck`) and the event names it emits against the type union (at run time). */

type Json = Record<string, any>;

describe('types', () => {
  it('writes output items and usage the OpenAI SDK reads', () => {
    expectTypeOf<OutputMessage>().toExtend<SDK.ResponseOutputMessage>();
    expectTypeOf<OutputFunctionCall>().toExtend<SDK.ResponseFunctionToolCall>();
    expectTypeOf<OutputReasoning>().toExtend<SDK.ResponseReasoningItem>();
    expectTypeOf<ResponseUsage>().toExtend<SDK.ResponseUsage>();
    expectTypeOf<ResponseObject['incomplete_details']>().toExtend<SDK.Response['incomplete_details']>();
  });

  it('reads input items the OpenAI SDK writes', () => {
    expectTypeOf<SDK.ResponseFunctionToolCall>().toExtend<FunctionCallItem>();
    expectTypeOf<SDK.EasyInputMessage & { content: string }>().toExtend<MessageItem>();
  });

  const fixtures = fileURLToPath(new URL('../../../../test/fixtures/clients/codex-0.169.0/', import.meta.url));
  it.each([['1-first-turn.json'], ['2-after-function-call.json']])('describes the recorded Codex body %s', (name) => {
    const body: ResponsesRequest = JSON.parse(readFileSync(fixtures + name, 'utf8')).body;
    expect(body).toMatchObject({ model: expect.any(String), input: expect.any(Array), tools: expect.any(Array) });
  });

  const EVENT_TYPES: Array<StreamEvent['type']> = [
    'response.created',
    'response.in_progress',
    'response.output_item.added',
    'response.content_part.added',
    'response.output_text.delta',
    'response.output_text.done',
    'response.content_part.done',
    'response.function_call_arguments.delta',
    'response.function_call_arguments.done',
    'response.reasoning_summary_part.added',
    'response.reasoning_summary_text.delta',
    'response.reasoning_summary_text.done',
    'response.reasoning_summary_part.done',
    'response.output_item.done',
    'response.completed',
    'response.incomplete',
    'response.failed',
  ];
  it.each(EVENT_TYPES)('%s is an event type of the OpenAI SDK', (type) => {
    expectTypeOf<StreamEvent['type']>().toExtend<SDK.ResponseStreamEvent['type']>();
    expect(type.startsWith('response.')).toBe(true);
  });

  it('the stream translator emits only the declared event types', () => {
    const ctx = { id: 'resp_1', model: 'm', createdAt: 0, request: { model: 'm', input: 'x' } };
    const s = new ChatToResponsesStream(ctx);
    const text = [
      { choices: [{ index: 0, delta: { reasoning_text: 'r' } }] },
      { choices: [{ index: 0, delta: { content: 't' } }] },
      { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'c', function: { name: 'f', arguments: '{}' } }] }, finish_reason: 'tool_calls' }] },
    ]
      .map((c) => s.push(c))
      .join('') + s.end();
    const seen = new Set(text.split('\n\n').filter(Boolean).map((f) => JSON.parse(f.split('\n')[1].slice(6)).type));
    expect([...seen].every((t) => EVENT_TYPES.includes(t))).toBe(true);
    expect(seen.size).toBe(EVENT_TYPES.length - 2); // all but incomplete and failed
    const answer: Json = chatToResponse({ choices: [] }, ctx);
    expect(answer.object).toBe('response');
  });
});

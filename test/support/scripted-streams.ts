import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';

/**
 * Scripts the fake's next chat completion as Copilot streams a tool call: the empty-choices first
 * event, a line of text, the call's id and name, its arguments in two pieces (split at `splitAt`),
 * then finish_reason tool_calls with usage. For the real-client tests, whose first answer must be
 * one particular call (the fake's own chat fills a tool's parameters with "x").
 */
export function scriptChatToolCall(fake: FakeCopilot, call: { model: string; id: string; name: string; arguments: string; splitAt: number }) {
  const base = { id: `chatcmpl-${call.id}`, created: Math.floor(Date.now() / 1000), model: call.model };
  const delta = (d: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ ...base, choices: [{ index: 0, delta: d, ...extra }] });
  const args = call.arguments;
  const events = [
    { choices: [], created: 0, id: '', prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] },
    delta({ role: 'assistant', content: 'Running it.' }),
    delta({ tool_calls: [{ index: 0, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }),
    delta({ tool_calls: [{ index: 0, function: { arguments: args.slice(0, call.splitAt) } }] }),
    delta({ tool_calls: [{ index: 0, function: { arguments: args.slice(call.splitAt) } }] }),
    { ...delta({ content: null }, { finish_reason: 'tool_calls' }), usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 } },
  ];
  fake.script('chat', { status: 200, headers: { 'content-type': 'text/event-stream' }, body: events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + 'data: [DONE]\n\n' });
}

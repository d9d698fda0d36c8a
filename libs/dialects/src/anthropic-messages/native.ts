type Json = Record<string, any>;

// Server tools Copilot's /v1/messages refuses (copilot-upstream.md §3).
const refusedTool = (tool: unknown) => typeof (tool as Json)?.type === 'string' && (tool as Json).type.startsWith('web_search_');

/**
 * A Messages body for Copilot's own /v1/messages: the model id mapped and refused server tools
 * taken out; thinking with its signatures, cache_control, context_management and metadata go as sent.
 */
export function prepareNativeBody(body: Record<string, unknown>, copilotModel: string): Record<string, unknown> {
  const out: Json = { ...body, model: copilotModel };
  if (!Array.isArray(body.tools) || !body.tools.some(refusedTool)) return out;
  const removed = new Set(body.tools.filter(refusedTool).map((t: Json) => t.name));
  const tools = body.tools.filter((t) => !refusedTool(t));
  if (tools.length) out.tools = tools;
  else delete out.tools;
  const choice = out.tool_choice as Json | undefined;
  if (choice && (!tools.length || (choice.type === 'tool' && removed.has(choice.name)))) delete out.tool_choice;
  return out;
}

const ACCEPTED_BETAS = new Set(['interleaved-thinking-2025-05-14', 'context-management-2025-06-27', 'advanced-tool-use-2025-11-20']);

/** The anthropic-beta values Copilot accepts (it refuses a request naming any other). */
export function filterBetas(header: string | string[] | undefined): string | undefined {
  const values = [header ?? []].flat().flatMap((h) => h.split(',')).map((v) => v.trim());
  const kept = [...new Set(values.filter((v) => ACCEPTED_BETAS.has(v)))];
  return kept.length ? kept.join(',') : undefined;
}

export interface NativeUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
}

/** Usage and model off the native events relayed to the client, for metrics. */
export class NativeUsageReader {
  private read: NativeUsage | null = null;
  private modelId: string | null = null;

  push(eventData: Record<string, any>): void {
    const usage: Json | undefined =
      eventData?.type === 'message_start' ? eventData.message?.usage : eventData?.type === 'message_delta' ? eventData.usage : undefined;
    if (eventData?.type === 'message_start' && typeof eventData.message?.model === 'string') this.modelId = eventData.message.model;
    if (!usage || typeof usage !== 'object') return;
    // message_delta carries the running output count and, in newer streams, the input counts again.
    const read = (this.read ??= { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0 });
    for (const key of ['input_tokens', 'output_tokens', 'cache_read_input_tokens'] as const) {
      if (typeof usage[key] === 'number') read[key] = usage[key];
    }
  }

  get usage(): NativeUsage | null {
    return this.read && { ...this.read };
  }

  get model(): string | null {
    return this.modelId;
  }
}

/** One tool call as Copilot's chat stream assembles it: its id and name may come after arguments. */
export interface StreamedCall {
  id: string;
  name: string;
  /** every argument fragment so far, those from before the call opened included */
  args: string;
  state: 'pending' | 'open' | 'closed';
}

/** What one tool_calls delta means to a translator: a call to open now (with `args` so far), or a fragment of the open one. */
export type ToolStep = { kind: 'open'; call: StreamedCall } | { kind: 'args'; call: StreamedCall; args: string };

const text = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/**
 * The tool_calls deltas of a chat stream, by index, for the translators to other dialects. A call
 * is pending until both its id and its name are known; then it opens, once. Chat streams one call's
 * arguments after the other, so a fragment for a call that has closed (never seen from Copilot) has
 * nowhere to go and is dropped. The translator marks a call closed when it closes its block.
 */
export class StreamedToolCalls {
  private readonly calls = new Map<number, StreamedCall>();

  push(delta: Record<string, any>): ToolStep | null {
    const key = typeof delta.index === 'number' ? delta.index : 0;
    let call = this.calls.get(key);
    if (!call) this.calls.set(key, (call = { id: '', name: '', args: '', state: 'pending' }));
    if (text(delta.id)) call.id ||= delta.id;
    if (text(delta.function?.name)) call.name ||= delta.function.name;
    const args = typeof delta.function?.arguments === 'string' ? delta.function.arguments : '';
    if (call.state === 'pending') {
      call.args += args;
      if (!call.id || !call.name) return null;
      call.state = 'open';
      return { kind: 'open', call };
    }
    if (call.state !== 'open' || !args) return null;
    call.args += args;
    return { kind: 'args', call, args };
  }

  /**
   * At the end of the stream: the calls still pending that have a name (one with no name cannot be
   * made), each given an id if it never got one, opened now in index order.
   */
  finish(makeId: () => string): StreamedCall[] {
    const out: StreamedCall[] = [];
    for (const call of this.calls.values()) {
      if (call.state !== 'pending' || !call.name) continue;
      call.id ||= makeId();
      call.state = 'open';
      out.push(call);
    }
    return out;
  }
}

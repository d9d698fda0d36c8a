import type { MessagesRequest } from './types.js';

type Block = { type: string; text?: unknown };

// Claude Code's /compact and auto-compaction prompts ("…of the conversation so far", "…of the
// RECENT portion of the conversation", "…of this conversation").
const COMPACTION = /your task is to create a detailed summary of (?:the |this )?(?:recent portion of the )?conversation/i;

/**
 * Claude Code attaches reminders of its own to tool results; they are not a person's words. A
 * plain scan, not a regex: a lazy match with no closing tag in sight would retry from every
 * opening one (quadratic on a hostile body).
 */
function withoutReminders(text: string): string {
  const open = '<system-reminder>';
  const close = '</system-reminder>';
  let out = '';
  let at = 0;
  for (;;) {
    const start = text.indexOf(open, at);
    const end = start < 0 ? -1 : text.indexOf(close, start + open.length);
    if (end < 0) return out + text.slice(at);
    out += text.slice(at, start);
    at = end + close.length;
  }
}
const words = (b: Block) => b.type !== 'tool_result' && !(b.type === 'text' && withoutReminders(String(b.text ?? '')).trim() === '');

const lastUserBlocks = (req: MessagesRequest): Block[] => {
  // System messages mid-conversation are the client's, not a turn: the last turn is before them.
  const last = req.messages.findLast((m) => m.role !== 'system');
  if (last?.role !== 'user') return [];
  return typeof last.content === 'string' ? [{ type: 'text', text: last.content }] : last.content;
};

/** Claude Code asking for a summary of the conversation so far, to replace it with. */
export function isCompactionRequest(req: MessagesRequest): boolean {
  return lastUserBlocks(req).some((b) => b.type === 'text' && typeof b.text === 'string' && COMPACTION.test(b.text));
}

/**
 * x-initiator: `user` only when the last message holds a person's words (anything but tool results
 * and Claude Code's reminders); tool turns, assistant-last requests and compaction are the agent's.
 */
export function messagesInitiator(req: MessagesRequest): { initiator: 'user' | 'agent'; compaction: boolean } {
  if (isCompactionRequest(req)) return { initiator: 'agent', compaction: true };
  return { initiator: lastUserBlocks(req).some(words) ? 'user' : 'agent', compaction: false };
}

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { accountWithKey, startFake, startGateway, type TestGateway } from '../support/gateway.js';
import { scriptChatToolCall } from '../support/scripted-streams.js';

/**
 * The real Claude Code (2.1.197, the native binary test/clients installs) run headless against an
 * in-process gateway on the fake upstream, completing a turn that runs a Bash command: on
 * claude-sonnet-4 (native /v1/messages upstream) and gpt-4o (translated to chat completions).
 */
const CLAUDE = join(process.cwd(), 'test', 'clients', 'node_modules', '@anthropic-ai', `claude-code-${process.platform}-${process.arch}`, 'claude');
const RUN_TIMEOUT_MS = 45_000;

let fake: FakeCopilot;
let gw: TestGateway;
let key: string;

beforeAll(async () => {
  if (!existsSync(CLAUDE))
    throw new Error(
      `Claude Code is not installed at ${CLAUDE}. vitest's global setup installs it (test/clients/ensure.mjs); ` +
        'by hand: `node test/clients/ensure.mjs`, or `cd test/clients && npm ci` (its own lockfile, ~640 MB, not the root install).',
    );
  fake = await startFake();
  gw = await startGateway(fake);
  ({ key } = await accountWithKey(gw, fake, 'claude-code-user'));
});
afterAll(async () => {
  await gw?.close();
  await fake?.stop();
});
beforeEach(() => fake.resetCounters());

interface ClaudeRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `claude -p <prompt> --output-format json --allowedTools Bash` with a fresh HOME and nothing of ours in its environment. */
async function runClaude(model: string, prompt: string): Promise<ClaudeRun> {
  const home = mkdtempSync(join(tmpdir(), 'cgw-claude-home-'));
  const cwd = join(home, 'work');
  mkdirSync(cwd);
  const t0 = Date.now();
  try {
    return await new Promise<ClaudeRun>((resolve, reject) => {
      const child = spawn(CLAUDE, ['-p', prompt, '--output-format', 'json', '--allowedTools', 'Bash'], {
        cwd,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: home,
          ANTHROPIC_BASE_URL: gw.url,
          ANTHROPIC_AUTH_TOKEN: key,
          ANTHROPIC_MODEL: model,
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`claude did not finish in ${RUN_TIMEOUT_MS} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
      }, RUN_TIMEOUT_MS);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr, ms: Date.now() - t0 });
      });
    });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** The JSON result line, after asserting a clean exit (with what the client said when not). */
function result(run: ClaudeRun) {
  const seen = `upstream calls: messages ${fake.counters.messagesRequests}, chat ${fake.counters.chatRequests}`;
  expect(run.code, `claude exited ${run.code} (${seen})\nstdout: ${run.stdout}\nstderr: ${run.stderr}`).toBe(0);
  const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
  expect(out, run.stdout).toMatchObject({ type: 'result', subtype: 'success', is_error: false });
  return out as { result: string; num_turns: number; stop_reason?: string };
}

/** Premium-request accounting: the model calls of the run, in order, by x-initiator. */
const initiators = () => fake.initiators.filter((r) => r.route === 'chat' || r.route === 'messages').map((r) => r.initiator);

describe('the real Claude Code CLI (headless) through the gateway', () => {
  it('claude-sonnet-4 (native /v1/messages): a Bash tool turn, one user-initiated call', { timeout: 60_000 }, async () => {
    // The fake's /v1/messages answers a Bash tool_use ({command: "echo fake"}) while no tool_result
    // is pending, then "Done: <the tool result>".
    const run = await runClaude('claude-sonnet-4', 'Run echo fake with Bash, then say done');
    const out = result(run);
    expect(out.result).toBe('Done: fake');
    expect(out.num_turns).toBe(2);
    expect(run.ms).toBeLessThan(RUN_TIMEOUT_MS);

    // What reached Copilot: the Bash call Claude Code received, and its output coming back, ids paired.
    expect(fake.counters.messagesRequests).toBe(2);
    expect(fake.counters.chatRequests).toBe(0);
    const messages = fake.lastMessagesBody.messages;
    const use = messages.at(-2).content.find((b: any) => b.type === 'tool_use');
    expect(use).toMatchObject({ name: 'Bash', input: { command: 'echo fake' } });
    const res = messages.at(-1).content.find((b: any) => b.type === 'tool_result');
    expect(res.tool_use_id).toBe(use.id);
    expect(res.is_error ?? false).toBe(false);
    expect(typeof res.content === 'string' ? res.content : res.content.map((b: any) => b.text).join('')).toBe('fake');

    // The whole tool loop cost one premium request: the first call is the person's, the rest the agent's.
    expect(initiators()).toEqual(['user', 'agent']);
  });

  it('gpt-4o (translated to chat completions): a Bash tool turn, one user-initiated call', { timeout: 60_000 }, async () => {
    // The chat fake calls tools only for Claude models: the first answer is scripted, a Bash call
    // streamed in Copilot's chat shape; the follow-up gets the fake's ordinary gpt-4o stream.
    const marker = `cgw-${randomBytes(4).toString('hex')}`;
    const args = JSON.stringify({ command: `echo ${marker}`, description: 'Print a marker' });
    scriptChatToolCall(fake, { model: 'gpt-4o', id: 'call_cc1', name: 'Bash', arguments: args, splitAt: 20 });

    const run = await runClaude('gpt-4o', `Run echo ${marker} with Bash, then say done`);
    const out = result(run);
    expect(out.result).toBe('Hello from gpt-4o — ünïcödé ✓!');
    expect(out.num_turns).toBe(2);
    expect(run.ms).toBeLessThan(RUN_TIMEOUT_MS);

    expect(fake.counters.chatRequests).toBe(2);
    expect(fake.counters.messagesRequests).toBe(0);
    const messages = JSON.parse(fake.lastChatRaw).messages;
    const call = messages.find((m: any) => m.role === 'assistant' && m.tool_calls?.length)?.tool_calls[0];
    expect(call?.function.name).toBe('Bash');
    expect(JSON.parse(call.function.arguments)).toMatchObject({ command: `echo ${marker}` });
    const tool = messages.find((m: any) => m.role === 'tool');
    expect(tool?.tool_call_id).toBe(call.id);
    expect(typeof tool.content === 'string' ? tool.content : tool.content.map((b: any) => b.text).join('')).toContain(marker);

    expect(initiators()).toEqual(['user', 'agent']);
  });
});

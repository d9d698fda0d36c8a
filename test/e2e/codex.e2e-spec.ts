import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { accountWithKey, startFake, startGateway, type TestGateway } from '../support/gateway.js';
import { scriptChatToolCall } from '../support/scripted-streams.js';

/**
 * The real Codex CLI (0.169.0, test/clients' install) run headless — `codex exec` — against an
 * in-process gateway on the fake upstream, completing a turn that runs a shell command: on
 * gpt-5-codex (a /responses-only model: Copilot's own /responses) and gpt-4o (chat only: the
 * gateway translates Responses ⇄ chat).
 *
 * Codex is configured as a user would: a fresh HOME and CODEX_HOME with a config.toml naming a
 * provider (`wire_api = "responses"`, the only one 0.169 takes) whose base_url is the gateway's /v1
 * and whose key comes from an environment variable. It runs commands in its own sandbox
 * (`--sandbox workspace-write`, `approval_policy = "never"`: no prompt, no bypass); `features.plugins
 * = false` keeps it from reaching github.com and chatgpt.com for plugin catalogs (it tries both at
 * start otherwise); no update check, analytics or feedback. Between Codex and the gateway sits a
 * pass-through recorder, so a failure shows every request Codex made and what it was answered.
 */
const CODEX = join(process.cwd(), 'test', 'clients', 'node_modules', '@openai', 'codex', 'bin', 'codex.js');
const RUN_TIMEOUT_MS = 55_000;

let fake: FakeCopilot;
let gw: TestGateway;
let key: string;
let recorder: Server;
let recorderUrl: string;

/** One request Codex made to the gateway, as it passed the recorder. */
interface Seen {
  method: string;
  url: string;
  status?: number;
  upgrade?: boolean;
  /** the request body (JSON parsed when it is) */
  body?: any;
  /** the answer, when it was an error */
  answer?: string;
}
const seen: Seen[] = [];

/** A pass-through to the gateway that notes each request (streams go through untouched). */
function startRecorder(target: string): Promise<Server> {
  const server = createServer((req, res) => {
    const rec: Seen = { method: req.method ?? '?', url: req.url ?? '/' };
    seen.push(rec);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        rec.body = text ? JSON.parse(text) : undefined;
      } catch {
        rec.body = text;
      }
    });
    const up = httpRequest(target + rec.url, { method: req.method, headers: req.headers }, (answer) => {
      rec.status = answer.statusCode;
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      if ((answer.statusCode ?? 0) >= 400) {
        const got: Buffer[] = [];
        answer.on('data', (c: Buffer) => got.push(c));
        answer.on('end', () => (rec.answer = Buffer.concat(got).toString('utf8').slice(0, 2000)));
      }
      answer.pipe(res);
    });
    up.on('error', (err) => {
      rec.answer = `recorder: ${err.message}`;
      res.destroy(err);
    });
    req.pipe(up);
  });
  // A websocket attempt (Codex can speak Responses over a websocket to providers that offer it) is noted and refused.
  server.on('upgrade', (req, socket) => {
    seen.push({ method: req.method ?? '?', url: req.url ?? '/', upgrade: true });
    socket.destroy();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  if (!existsSync(CODEX))
    throw new Error(
      `Codex CLI is not installed at ${CODEX}. vitest's global setup installs it (test/clients/ensure.mjs); ` +
        'by hand: `node test/clients/ensure.mjs`, or `cd test/clients && npm ci` (its own lockfile, ~640 MB, not the root install).',
    );
  fake = await startFake();
  gw = await startGateway(fake);
  ({ key } = await accountWithKey(gw, fake, 'codex-user'));
  recorder = await startRecorder(gw.url);
  recorderUrl = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`;
});
afterAll(async () => {
  recorder?.closeAllConnections();
  await new Promise((r) => (recorder ? recorder.close(r) : r(undefined)));
  await gw?.close();
  await fake?.stop();
});
beforeEach(() => {
  fake.resetCounters();
  seen.length = 0;
});

interface CodexRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** `--json` events, parsed */
  events: any[];
  /** `-o`: the last agent message */
  lastMessage: string;
}

const config = (model: string) => `model = "${model}"
model_provider = "gw"
approval_policy = "never"
check_for_update_on_startup = false

[model_providers.gw]
name = "gw"
base_url = "${recorderUrl}/v1"
env_key = "CGW_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[features]
plugins = false

[analytics]
enabled = false

[feedback]
enabled = false
`;

/** `codex exec --json` with a fresh HOME / CODEX_HOME and nothing of ours in its environment; killed (its process group) at RUN_TIMEOUT_MS. */
async function runCodex(model: string, prompt: string): Promise<CodexRun> {
  const home = mkdtempSync(join(tmpdir(), 'cgw-codex-home-'));
  const codexHome = join(home, '.codex');
  const cwd = join(home, 'work');
  mkdirSync(codexHome);
  mkdirSync(cwd);
  writeFileSync(join(codexHome, 'config.toml'), config(model));
  const last = join(home, 'last-message.txt');
  const args = [CODEX, 'exec', '--skip-git-repo-check', '--strict-config', '--sandbox', 'workspace-write', '--json', '-o', last, prompt];
  const t0 = Date.now();
  try {
    const run = await new Promise<Omit<CodexRun, 'events' | 'lastMessage'>>((resolve, reject) => {
      // Node 20 has no process.execve, so codex.js spawns the native binary as its child: a group of our own to kill.
      const child = spawn(process.execPath, args, {
        cwd,
        detached: true,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, CODEX_HOME: codexHome, CGW_KEY: key },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
        reject(new Error(`codex did not finish in ${RUN_TIMEOUT_MS} ms\nrequests: ${describeSeen()}\nstdout: ${stdout}\nstderr: ${stderr}`));
      }, RUN_TIMEOUT_MS);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
      });
    });
    const events = run.stdout
      .split('\n')
      .filter((l) => l.trim().startsWith('{'))
      .map((l) => JSON.parse(l));
    return { ...run, events, lastMessage: existsSync(last) ? readFileSync(last, 'utf8') : '' };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** Every request Codex made, in brief: method, path, status, and the gateway's answer when it was an error. */
function describeSeen(): string {
  return JSON.stringify(
    seen.map((s) => ({
      request: `${s.method} ${s.url}${s.upgrade ? ' (websocket upgrade)' : ''}`,
      status: s.status,
      ...(s.answer ? { answer: s.answer } : {}),
      ...(Array.isArray(s.body?.input) ? { input: s.body.input.map((i: any) => `${i.type ?? 'message'}${i.role ? `:${i.role}` : ''}`) } : {}),
    })),
    null,
    1,
  );
}

/** The run ended well: exit 0, a completed turn, no error events; else everything needed to see why. */
function expectSuccess(run: CodexRun) {
  const why = `codex exited ${run.code}${run.signal ? ` (${run.signal})` : ''} in ${run.ms} ms
requests: ${describeSeen()}
upstream calls: ${JSON.stringify(fake.initiators)}
stdout: ${run.stdout}
stderr: ${run.stderr.slice(-4000)}`;
  expect(run.code, why).toBe(0);
  expect(run.events.some((e) => e.type === 'turn.completed'), why).toBe(true);
  expect(run.events.filter((e) => e.type === 'turn.failed' || e.type === 'error'), why).toEqual([]);
  // only POST /v1/responses reached the gateway
  expect(seen.map((s) => `${s.method} ${s.url}`), why).toEqual(seen.map(() => 'POST /v1/responses'));
  expect(seen.every((s) => s.status === 200), why).toBe(true);
  expect(run.ms).toBeLessThan(RUN_TIMEOUT_MS);
}

/** The shell command Codex ran (its `command_execution` item, completed). */
function commandRun(run: CodexRun) {
  const done = run.events.filter((e) => e.type === 'item.completed' && e.item?.type === 'command_execution').map((e) => e.item);
  expect(done, run.stdout).toHaveLength(1);
  return done[0] as { command: string; aggregated_output: string; exit_code: number; status: string };
}

/** The model calls of the run by x-initiator, in order (premium-request accounting). */
const initiators = () => fake.initiators.filter((r) => r.route === 'responses' || r.route === 'chat').map((r) => r.initiator);

describe('the real Codex CLI (codex exec, headless) through the gateway', () => {
  it('gpt-5-codex (native /responses): a shell command turn, one user-initiated call', { timeout: 60_000 }, async () => {
    // The fake's /responses calls the first function tool it can fill (Codex's exec_command:
    // {cmd: "echo fake"}) while the input does not end with a tool's output, then answers
    // "Done: <that output>".
    const run = await runCodex('gpt-5-codex', 'Run echo fake in the shell, then say done');
    expectSuccess(run);

    const cmd = commandRun(run);
    expect(cmd.command).toContain('echo fake');
    expect(cmd.exit_code).toBe(0);
    expect(cmd.aggregated_output).toBe('fake\n');
    expect(run.lastMessage).toMatch(/^Done: [\s\S]*\bfake\b/);
    expect(run.events.filter((e) => e.type === 'item.completed' && e.item?.type === 'agent_message').at(-1)?.item.text).toBe(run.lastMessage);

    // What reached Copilot: two /responses calls; the second carries the call and its output, ids paired.
    expect(fake.counters.responsesRequests).toBe(2);
    expect(fake.counters.chatRequests).toBe(0);
    const input: any[] = fake.lastResponsesBody.input;
    const call = input.find((i) => i.type === 'function_call');
    expect(call, JSON.stringify(input.slice(-4))).toMatchObject({ name: 'exec_command' });
    expect(JSON.parse(call.arguments)).toMatchObject({ cmd: 'echo fake' });
    const output = input.at(-1);
    expect(output.type).toBe('function_call_output');
    expect(output.call_id).toBe(call.call_id);
    expect(typeof output.output === 'string' ? output.output : JSON.stringify(output.output)).toMatch(/\bfake\b/);
    expect(fake.lastResponsesBody.store).toBe(false);

    // What Codex sent the gateway: stateless, the whole conversation each time.
    expect(seen).toHaveLength(2);
    expect(seen.map((s) => s.body?.stream)).toEqual([true, true]);
    expect(seen.map((s) => s.body?.store)).toEqual([false, false]);
    expect(seen[1].body.previous_response_id).toBeUndefined();

    // The tool loop cost one premium request: the first call is the person's, the follow-up the agent's.
    expect(initiators()).toEqual(['user', 'agent']);
  });

  it('gpt-4o (chat only: translated Responses ⇄ chat): a shell command turn, one user-initiated call', { timeout: 60_000 }, async () => {
    // The fake's chat fills every parameter of the first tool with "x" (Codex's exec_command has
    // boolean and number ones), so the first answer is scripted: an exec_command call streamed in
    // Copilot's chat shape, with a marker only this run knows. The follow-up (ending with the
    // tool's output) gets the fake's ordinary gpt-4o stream.
    const marker = `cgw-${randomBytes(4).toString('hex')}`;
    const args = JSON.stringify({ cmd: `echo ${marker}` });
    scriptChatToolCall(fake, { model: 'gpt-4o', id: 'call_cx1', name: 'exec_command', arguments: args, splitAt: 9 });

    const run = await runCodex('gpt-4o', `Run echo ${marker} in the shell, then say done`);
    expectSuccess(run);

    const cmd = commandRun(run);
    expect(cmd.command).toContain(`echo ${marker}`);
    expect(cmd.exit_code).toBe(0);
    expect(cmd.aggregated_output).toBe(`${marker}\n`);
    expect(run.lastMessage.trim()).toBe('Hello from gpt-4o — ünïcödé ✓!');

    expect(fake.counters.chatRequests).toBe(2);
    expect(fake.counters.responsesRequests).toBe(0);
    const messages: any[] = JSON.parse(fake.lastChatRaw).messages;
    const call = messages.find((m) => m.role === 'assistant' && m.tool_calls?.length)?.tool_calls[0];
    expect(call?.function.name, JSON.stringify(messages.slice(-3))).toBe('exec_command');
    expect(JSON.parse(call.function.arguments)).toMatchObject({ cmd: `echo ${marker}` });
    const tool = messages.at(-1);
    expect(tool.role).toBe('tool');
    expect(tool.tool_call_id).toBe(call.id);
    expect(typeof tool.content === 'string' ? tool.content : tool.content.map((b: any) => b.text).join('')).toContain(marker);
    // and the call Codex answered was the one the gateway handed it, under the same call_id
    const codexCall = seen[1]?.body?.input?.find((i: any) => i.type === 'function_call');
    const codexOutput = seen[1]?.body?.input?.at(-1);
    expect(codexOutput).toMatchObject({ type: 'function_call_output', call_id: codexCall?.call_id });

    expect(initiators()).toEqual(['user', 'agent']);
  });
});

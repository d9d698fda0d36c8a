import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis-server.js';

/** What `npm start` runs: the built entry point (global-setup builds it once per test run). */
export const ENTRY = 'dist/apps/main.js';

export interface AppProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  url: string;
  /** everything the process wrote, stdout and stderr */
  output(): string;
  exited: Promise<number | null>;
  /** SIGKILL unless told otherwise; resolves when the process is gone */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => live.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));

/** Runs `node dist/apps/main.js <args>` with only the given env (and PATH); does not wait for it. */
export function runEntry(env: Record<string, string>, args: string[] = ['all']) {
  const child = spawn(process.execPath, [ENTRY, ...args], { env: { PATH: process.env.PATH!, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) =>
    child.once('exit', (code) => {
      live.delete(child);
      r(code);
    }),
  );
  return { child, exited, output: () => out };
}

/**
 * A gateway/auth/all process on a free port of 127.0.0.1, started and listening. The env is the
 * process's whole environment (plus PATH), so nothing leaks in from the test runner's.
 */
export async function startProcess(role: 'all' | 'gateway' | 'auth', env: Record<string, string>): Promise<AppProcess> {
  const port = await freePort();
  const p = runEntry(
    { HOST: '127.0.0.1', PORT: String(port), DATA_DIR: mkdtempSync(join(tmpdir(), 'cgw-proc-')), SHUTDOWN_DELAY_MS: '0', LOG_LEVEL: 'info', ...env },
    [role],
  );
  const deadline = Date.now() + 20_000;
  while (!p.output().includes('listening on')) {
    if (p.child.exitCode !== null || Date.now() > deadline) throw new Error(`${role} process did not start:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    ...p,
    pid: p.child.pid!,
    port,
    url: `http://127.0.0.1:${port}`,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill(signal);
        await p.exited;
      }
    },
  };
}

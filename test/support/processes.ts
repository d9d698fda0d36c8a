import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis-server.js';
import { redisEnv, type RedisTarget } from './redis-target.js';

/** What `npm start` runs: the built entry point (global-setup builds it once per test run). */
export const ENTRY = 'dist/apps/all/src/main.js';

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

/** Runs `node dist/apps/all/src/main.js <args>` with only the given env (and PATH); does not wait for it. */
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

export const ADMIN_TOKEN = 'admin-token-for-the-tests-0123456789';

/** The environment every process of one test cluster shares: one Redis (a URL, or a Redis Cluster), one fake upstream. */
export function clusterEnv(redis: RedisTarget, fakeUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...redisEnv(redis),
    REDIS_KEY_PREFIX: 'cgw:',
    TOKEN_ENCRYPTION_KEY: 'ab'.repeat(32),
    GITHUB_API_URL: fakeUrl,
    GITHUB_BASE_URL: fakeUrl,
    ADMIN_TOKEN,
    ...extra,
  };
}

/** Imports a GitHub user through the admin API of a running process (POST /auth/accounts). */
export async function registerAccount(authUrl: string, githubToken: string): Promise<{ accountId: string; key: string; keyId: string }> {
  const res = await fetch(`${authUrl}/auth/accounts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ github_token: githubToken }),
  });
  if (res.status !== 200 && res.status !== 201) throw new Error(`POST /auth/accounts answered ${res.status}: ${await res.text()}`);
  const body = await res.json();
  return { accountId: body.account.id, key: body.key.key, keyId: body.key.id };
}

/** Issues one more key for an account (POST /auth/keys). */
export async function issueKey(authUrl: string, accountId: string): Promise<{ key: string; keyId: string }> {
  const res = await fetch(`${authUrl}/auth/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ account_id: accountId }),
  });
  const body = await res.json();
  return { key: body.key, keyId: body.id };
}

/** One request, timed, never throwing: what a load generator needs to count outcomes. */
export async function timed(url: string, init: RequestInit = {}): Promise<{ status: number; ms: number; body: string }> {
  const t0 = performance.now();
  try {
    const res = await fetch(url, init);
    const body = await res.text();
    return { status: res.status, ms: performance.now() - t0, body };
  } catch (err) {
    return { status: 0, ms: performance.now() - t0, body: String((err as Error).cause ?? err) };
  }
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** CPU time a process has used so far, user and system, in seconds (Linux's /proc, 100 ticks a second). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Figures for docs/reliability.md, kept as JSON under test-artifacts/reliability/. */
export function saveFigures(name: string, figures: unknown) {
  mkdirSync('test-artifacts/reliability', { recursive: true });
  writeFileSync(`test-artifacts/reliability/${name}.json`, JSON.stringify(figures, null, 2));
  console.log(`[reliability] ${name}: ${JSON.stringify(figures)}`);
}

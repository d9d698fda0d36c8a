import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunningRedis {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts a private redis-server on a free port (or `port`); stopped with stop(). By default it keeps
 * nothing on disk; `persist` turns on the AOF with an fsync per write, so a SIGKILL loses nothing
 * and a restart on the same `dir` and port brings every key back (the outage tests do that).
 */
export async function startRedis(port?: number, opts: { persist?: boolean; dir?: string; args?: string[] } = {}): Promise<RunningRedis & { dir: string }> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error(
      'The tests need Redis: install redis-server (Debian/Ubuntu: apt-get install -y redis-server) ' +
        'or set TEST_REDIS_URL=redis://host:port to use a running one.',
    );
  }
  const p = port ?? (await freePort());
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'cgw-redis-'));
  const persistence = opts.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const child = await spawnRedis(
    'redis-server',
    ['--port', String(p), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir, '--maxmemory-policy', 'noeviction', ...(opts.args ?? [])],
    'Ready to accept connections',
  );
  return {
    url: `redis://127.0.0.1:${p}`,
    port: p,
    dir,
    process: child,
    async stop() {
      await stopRedisProcess(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Spawns a Redis binary (server or sentinel) and resolves once its log says `ready`. */
export async function spawnRedis(command: string, args: string[], ready: string): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes(ready)) resolve();
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}: ${out}`)));
    setTimeout(() => reject(new Error(`${command} did not start: ${out}`)), 10_000).unref();
  });
  return child;
}

/** Signals a process spawnRedis started (SIGTERM: Redis saves and exits) and waits for it to be gone. */
export async function stopRedisProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

/** SIGKILLs the server and waits for it to be gone: Redis down, connections reset. */
export const killRedis = (redis: RunningRedis): Promise<void> => stopRedisProcess(redis.process, 'SIGKILL');

/**
 * Freezes the server (SIGSTOP): its sockets stay open and nothing answers, like a dead network
 * path without a reset. thawRedis() resumes it; stop() on a frozen server would wait forever.
 */
export function freezeRedis(redis: RunningRedis): void {
  redis.process.kill('SIGSTOP');
}

export function thawRedis(redis: RunningRedis): void {
  if (redis.process.exitCode === null && redis.process.signalCode === null) redis.process.kill('SIGCONT');
}

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitUntil } from './until.js';
import { freePort, freezeRedis, killRedis, spawnRedis, startRedis, stopRedisProcess, thawRedis, type RunningRedis } from './redis-server.js';

export interface SentinelOptions {
  masterName?: string;
  /** requirepass/masterauth of the data nodes (REDIS_PASSWORD) */
  password?: string;
  /** requirepass of the sentinels (REDIS_SENTINEL_PASSWORD) */
  sentinelPassword?: string;
  /** how long the primary may be silent before a sentinel thinks it down */
  downAfterMs?: number;
}

export interface RunningSentinels {
  masterName: string;
  primary: RunningRedis;
  replica: RunningRedis;
  sentinels: RunningRedis[];
  /** REDIS_SENTINELS, REDIS_SENTINEL_MASTER and the passwords, as a gateway is configured */
  env: Record<string, string>;
  /** the port of the primary the sentinels name now (the first answer of any sentinel) */
  primaryPort(): Promise<number>;
  /** SIGKILLs the current primary; resolves with its port once it is gone */
  killPrimary(): Promise<number>;
  /** SIGSTOPs the current primary (its connections stay open, nothing answers); resolves with its port */
  freezePrimary(): Promise<number>;
  /** starts a data node again on `port`, as a replica of the current primary; resolves once the sentinels count on it */
  bringBack(port: number): Promise<void>;
  /** SIGSTOPs sentinel `i`: its connections stay open, nothing answers */
  freezeSentinel(i: number): void;
  /** resolves when a sentinel names another primary than `oldPort`, with when it did (performance.now()) */
  waitForPromotion(oldPort: number, timeoutMs?: number): Promise<{ port: number; at: number }>;
  stop(): Promise<void>;
}

/**
 * A primary, a replica (--replicaof) and three redis-sentinel processes on free ports of 127.0.0.1,
 * quorum 2, failing over a few seconds after the primary stops answering. Resolves once the
 * replica is in sync and every sentinel knows the replica and the two other sentinels.
 */
export async function startSentinels(opts: SentinelOptions = {}): Promise<RunningSentinels> {
  if (spawnSync('redis-sentinel', ['--version']).error) {
    throw new Error('The Sentinel tests need redis-sentinel (Debian/Ubuntu: apt-get install -y redis-sentinel).');
  }
  const masterName = opts.masterName ?? 'cgw-primary';
  const auth = opts.password ? ['--requirepass', opts.password, '--masterauth', opts.password] : [];
  const primary = await startRedis(undefined, { args: auth });
  const startReplica = async (of: number, port?: number) => {
    const replica = await startRedis(port, { args: [...auth, '--replicaof', '127.0.0.1', String(of)] });
    await waitUntil(
      'the replica to sync',
      async () => {
        const c = new Redis({ port: replica.port, host: '127.0.0.1', password: opts.password, maxRetriesPerRequest: 1, lazyConnect: true });
        try {
          return (await c.info('replication')).includes('master_link_status:up');
        } finally {
          c.disconnect();
        }
      },
      { ms: 10_000, every: 100 },
    );
    return replica;
  };
  const replica = await startReplica(primary.port);
  const nodes = [primary, replica];

  const sentinels: RunningRedis[] = [];
  for (let i = 0; i < 3; i++) sentinels.push(await startSentinel(masterName, primary.port, opts));
  const sentinel = (port: number) => {
    const c = new Redis({ port, host: '127.0.0.1', password: opts.sentinelPassword, maxRetriesPerRequest: 1, lazyConnect: true, commandTimeout: 500 });
    c.on('error', () => {}); // a frozen sentinel: the commands say so
    return c;
  };
  // Each sentinel knows the other two, and a replica it thinks healthy (flags exactly "slave").
  const settled = (of: RunningRedis[]) =>
    waitUntil(
      'the sentinels to find the replica and each other',
      async () => {
        for (const s of of) {
          const c = sentinel(s.port);
          try {
            const replicas = (await c.call('SENTINEL', 'REPLICAS', masterName)) as string[][];
            const peers = (await c.call('SENTINEL', 'SENTINELS', masterName)) as unknown[];
            const healthy = replicas.filter((r) => r[r.indexOf('flags') + 1] === 'slave');
            if (healthy.length !== 1 || peers.length !== 2) return false;
          } finally {
            c.disconnect();
          }
        }
        return true;
      },
      { ms: 20_000, every: 100 },
    );
  await settled(sentinels);

  const ask = async (client: Redis) => {
    const addr = (await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as [string, string] | null;
    if (!addr) throw new Error(`no master named ${masterName}`);
    return Number(addr[1]);
  };
  const frozen = new Set<RunningRedis>();
  const alive = () => sentinels.filter((s) => s.process.exitCode === null && s.process.signalCode === null && !frozen.has(s));
  // Every sentinel at once: a frozen one must not hold the answer up.
  const primaryPort = () =>
    Promise.any(
      alive().map(async (s) => {
        const c = sentinel(s.port);
        try {
          return await ask(c);
        } finally {
          c.disconnect();
        }
      }),
    );

  return {
    masterName,
    primary,
    replica,
    sentinels,
    env: {
      REDIS_SENTINELS: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
      REDIS_SENTINEL_MASTER: masterName,
      ...(opts.password ? { REDIS_PASSWORD: opts.password } : {}),
      ...(opts.sentinelPassword ? { REDIS_SENTINEL_PASSWORD: opts.sentinelPassword } : {}),
    },
    primaryPort,
    async killPrimary() {
      const port = await primaryPort();
      await killRedis(nodes.find((n) => n.port === port)!);
      return port;
    },
    async freezePrimary() {
      const port = await primaryPort();
      freezeRedis(nodes.find((n) => n.port === port)!);
      return port;
    },
    async bringBack(port) {
      nodes.push(await startReplica(await primaryPort(), port));
      await settled(alive());
    },
    waitForPromotion(oldPort, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        let done = false;
        const timer = setTimeout(() => {
          done = true;
          reject(new Error(`no sentinel named a new primary within ${timeoutMs} ms`));
        }, timeoutMs);
        for (const s of alive()) {
          void (async () => {
            const c = sentinel(s.port);
            while (!done) {
              const port = await ask(c).catch(() => oldPort);
              if (port !== oldPort && !done) {
                done = true;
                clearTimeout(timer);
                resolve({ port, at: performance.now() });
              }
              await new Promise((r) => setTimeout(r, 20));
            }
            c.disconnect();
          })();
        }
      });
    },
    freezeSentinel(i: number) {
      frozen.add(sentinels[i]);
      freezeRedis(sentinels[i]);
    },
    async stop() {
      // A frozen process would never see the SIGTERM.
      for (const p of [...sentinels, ...nodes]) thawRedis(p);
      await Promise.all([...sentinels, ...nodes].map((p) => p.stop()));
    },
  };
}

async function startSentinel(masterName: string, primaryPort: number, opts: SentinelOptions): Promise<RunningRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cgw-sentinel-'));
  const conf = [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir ${dir}`,
    `sentinel monitor ${masterName} 127.0.0.1 ${primaryPort} 2`,
    `sentinel down-after-milliseconds ${masterName} ${opts.downAfterMs ?? 1000}`,
    `sentinel failover-timeout ${masterName} 10000`,
    ...(opts.password ? [`sentinel auth-pass ${masterName} ${opts.password}`] : []),
    // Sentinels with a password must present it to each other too.
    ...(opts.sentinelPassword ? [`requirepass ${opts.sentinelPassword}`, `sentinel sentinel-pass ${opts.sentinelPassword}`] : []),
  ];
  writeFileSync(join(dir, 'sentinel.conf'), conf.join('\n') + '\n');
  const child = await spawnRedis('redis-sentinel', [join(dir, 'sentinel.conf')], '+monitor master');
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    process: child,
    async stop() {
      await stopRedisProcess(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}


import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { killRedis, startRedis, type RunningRedis } from './redis-server.js';

export interface RunningRedisCluster {
  /** `host:port,…`, as REDIS_CLUSTER_NODES takes it */
  nodes: string;
  servers: (RunningRedis & { dir: string })[];
  /** SIGKILLs every node: the whole cluster down, connections reset. */
  kill(): Promise<void>;
  /** Starts every node again on its port and directory (nodes.conf and, with `persist`, the keys come back). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Three primaries, no replicas, slots spread by `redis-cli --cluster create`; resolved once every
 * node says cluster_state:ok. `persist` keeps every write (AOF, fsync per write), so a restart
 * after kill() brings the keys back.
 */
export async function startRedisCluster(opts: { persist?: boolean } = {}): Promise<RunningRedisCluster> {
  const ports: number[] = [];
  while (ports.length < 3) {
    const p = await clusterPort();
    if (!ports.includes(p)) ports.push(p);
  }
  const args = (p: number) => ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${p}.conf`, '--cluster-node-timeout', '3000'];
  const servers = await Promise.all(ports.map((p) => startRedis(p, { persist: opts.persist, args: args(p) })));
  const nodes = ports.map((p) => `127.0.0.1:${p}`);
  const cluster: RunningRedisCluster = {
    nodes: nodes.join(','),
    servers,
    async kill() {
      await Promise.all(servers.map(killRedis));
    },
    async restart() {
      const back = await Promise.all(servers.map((s) => startRedis(s.port, { persist: opts.persist, dir: s.dir, args: args(s.port) })));
      servers.splice(0, servers.length, ...back);
    },
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
  try {
    await promisify(execFile)('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    await waitForState(ports);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** Every node sees every slot served: clients may start. */
async function waitForState(ports: number[], ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (const port of ports) {
    while (!(await onNode(port, (r) => r.cluster('INFO'))).includes('cluster_state:ok')) {
      if (Date.now() > deadline) throw new Error(`Redis Cluster node ${port} is not ok after ${ms} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function onNode<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

/** Every key of one server (one node of a Cluster) matching `pattern`. */
export async function scanAll(r: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

/**
 * A node also listens on its port + 10000 (the cluster bus), so both must be free. Ports are taken
 * from 20000–22767: both it and its bus port then lie below Linux's ephemeral range (32768 up),
 * where freePort() and every outgoing connection get theirs.
 */
async function clusterPort(): Promise<number> {
  for (;;) {
    const p = 20_000 + Math.floor(Math.random() * 2_768);
    if ((await isFree(p)) && (await isFree(p + 10_000))) return p;
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

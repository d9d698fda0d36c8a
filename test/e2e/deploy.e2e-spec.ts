import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig, type AppRole } from '#libs/config';
import { APPS } from '../../apps/all/src/apps.js';
import { freePort, spawnRedis, stopRedisProcess } from '../support/redis-server.js';

/** The compose stack and the image, checked without a Docker engine (none runs here). */
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }); // Compose applies <<: merge keys
const services = compose.services as Record<string, any>;
const dockerfile = readFileSync('Dockerfile', 'utf8');
/** The services `docker compose up` starts, or `docker compose --profile <profile> up`. */
const enabled = (profile?: string) => Object.keys(services).filter((name) => !services[name].profiles || (profile !== undefined && services[name].profiles.includes(profile)));
const published = (names: string[]) => names.flatMap((name) => (services[name].ports ?? []).map((p: string) => `${name} ${p}`));

describe('docker-compose.yml', () => {
  it('has Redis, auth, two gateway replicas behind one port, Prometheus and Grafana', () => {
    expect(enabled().sort()).toEqual(['auth', 'gateway', 'grafana', 'prometheus', 'proxy', 'redis']);
    expect(services.gateway.deploy.replicas).toBe(2);
    expect(published(enabled())).toEqual(['proxy 8000:80', 'prometheus 9090:9090', 'grafana 3000:3000']);
    expect(services.auth.command).toEqual(['auth']);
    expect(services.gateway.command).toEqual(['gateway']);
  });

  it('runs Redis with AOF, noeviction and a healthcheck, and starts apps only once it is healthy', () => {
    expect(services.redis.command.join(' ')).toContain('--appendonly yes');
    expect(services.redis.command.join(' ')).toContain('--maxmemory-policy noeviction');
    expect(services.redis.healthcheck.test).toEqual(['CMD', 'redis-cli', 'ping']);
    for (const name of ['auth', 'gateway']) {
      expect(services[name].depends_on.redis).toEqual({ condition: 'service_healthy' });
      expect(services[name].environment.REDIS_URL).toBe('redis://redis:6379');
    }
    for (const [name, s] of Object.entries(services))
      for (const [dep, cond] of Object.entries(s.depends_on ?? {})) expect([name, dep, typeof (cond as { condition?: string }).condition]).toEqual([name, dep, 'string']);
  });

  it('gives the gateways more time to stop than the drain needs (5 s delay + 30 s drain)', () => {
    expect(parseInt(services.gateway.stop_grace_period, 10)).toBeGreaterThan(35);
  });

  it('takes secrets from .env, which is ignored, with an example that holds no value', () => {
    for (const name of ['auth', 'gateway', 'auth-sentinel', 'gateway-sentinel']) expect(services[name].env_file).toBe('.env');
    expect(readFileSync('.gitignore', 'utf8').split('\n')).toContain('.env');
    const example = readFileSync('.env.example', 'utf8');
    for (const secret of ['TOKEN_ENCRYPTION_KEY', 'ADMIN_TOKEN', 'GITHUB_TOKEN']) expect(example).toMatch(new RegExp(`^${secret}=$`, 'm'));
  });

  it('mounts only files that are in the repository, where their readers look for them', () => {
    const mounts = Object.values(services).flatMap((s) => (s.volumes ?? []) as string[]).filter((v) => v.startsWith('./'));
    for (const m of mounts) expect([m, existsSync(m.split(':')[0])]).toEqual([m, true]);
    const targets = Object.fromEntries(mounts.map((m) => [m.split(':')[0], m.split(':')[1]]));
    expect(readFileSync('deploy/prometheus.yml', 'utf8')).toContain(`- ${targets['./prometheus/alerts.yml']}`);
    expect(readFileSync('grafana/provisioning/dashboards/dashboards.yml', 'utf8')).toContain(`path: ${targets['./grafana/dashboards']}`);
    expect(readFileSync('deploy/nginx.conf', 'utf8')).toContain('proxy_buffering off;');
  });
});

const REDIS_MODES = ['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'];
/** .env as `cp .env.example .env` and filling in the secrets makes it. */
const dotEnv: Record<string, string> = Object.fromEntries(
  readFileSync('.env.example', 'utf8')
    .split('\n')
    .filter((l) => /^\w+=/.test(l))
    .map((l) => l.split(/=(.*)/).slice(0, 2))
    .map(([k, v]) => [k, ({ TOKEN_ENCRYPTION_KEY: 'ab'.repeat(32), ADMIN_TOKEN: 'admin-token-0123456789' } as Record<string, string>)[k] ?? v]),
);
/** A service's networks as a map, whichever form compose was given. */
const networksOf = (name: string): Record<string, { aliases?: string[] } | null> => {
  const n = services[name].networks;
  return Array.isArray(n) ? Object.fromEntries(n.map((k: string) => [k, null])) : (n ?? {});
};

describe('docker-compose.yml, profile sentinel', () => {
  const stack = enabled('sentinel').filter((name) => !enabled().includes(name));
  const apps = ['auth-sentinel', 'gateway-sentinel'];
  const sentinels = stack.filter((name) => /\bredis-sentinel\b/.test(String(services[name].command?.join(' '))));
  const sentinelConf = readFileSync('deploy/sentinel/sentinel.conf', 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  const monitor = sentinelConf.find((l) => l.startsWith('sentinel monitor '))?.split(' ') ?? [];

  it('adds a primary, a replica, three sentinels and the apps on them behind :8002, and nothing to `docker compose up`', () => {
    expect([...stack].sort()).toEqual(['auth-sentinel', 'gateway-sentinel', 'proxy-sentinel', 'redis-primary', 'redis-replica', 'sentinel-1', 'sentinel-2', 'sentinel-3']);
    for (const name of stack) expect([name, services[name].profiles]).toEqual([name, ['sentinel']]);
    expect(published(enabled('sentinel'))).toEqual(['proxy 8000:80', 'prometheus 9090:9090', 'grafana 3000:3000', 'proxy-sentinel 8002:80']);
    expect(services['auth-sentinel'].command).toEqual(['auth']);
    expect(services['gateway-sentinel'].command).toEqual(['gateway']);
    expect(services['gateway-sentinel'].deploy.replicas).toBe(2);
    expect(parseInt(services['gateway-sentinel'].stop_grace_period, 10)).toBeGreaterThan(35);
    for (const name of apps) expect([name, services[name].image, services[name].build]).toEqual([name, services.gateway.image, '.']);
  });

  it('runs both data nodes with AOF and noeviction, the replica following the primary, each announcing its service name', () => {
    for (const name of ['redis-primary', 'redis-replica']) {
      const s = services[name];
      const cmd = s.command.join(' ');
      expect([name, s.image, s.command[0]]).toEqual([name, 'redis:7-alpine', 'redis-server']);
      for (const flag of ['--appendonly yes', '--maxmemory-policy noeviction', `--replica-announce-ip ${name}`]) expect([name, cmd]).toEqual([name, expect.stringContaining(flag)]);
      expect(s.healthcheck.test).toEqual(['CMD', 'redis-cli', 'ping']);
      expect(s.volumes).toEqual([`${name}-data:/data`]);
      expect(Object.keys(compose.volumes)).toContain(`${name}-data`);
    }
    expect(services['redis-replica'].command.join(' ')).toContain('--replicaof redis-primary 6379');
    expect(services['redis-primary'].command.join(' ')).not.toContain('--replicaof');
    expect(services['redis-replica'].depends_on['redis-primary']).toEqual({ condition: 'service_healthy' });
  });

  it('runs three sentinels on one config that names the master, the primary and a quorum of two', () => {
    expect([...sentinels].sort()).toEqual(['sentinel-1', 'sentinel-2', 'sentinel-3']);
    const [, , master, host, port, quorum] = monitor;
    expect([master, host, port, quorum]).toEqual(['cgw', 'redis-primary', '6379', '2']);
    expect(Number(quorum)).toBeGreaterThan(sentinels.length / 2);
    for (const line of ['port 26379', 'sentinel resolve-hostnames yes', 'sentinel announce-hostnames yes', 'sentinel down-after-milliseconds cgw 5000', 'sentinel failover-timeout cgw 30000'])
      expect(sentinelConf).toContain(line);
    for (const name of sentinels) {
      const s = services[name];
      expect(s.image).toBe('redis:7-alpine');
      expect(s.volumes).toEqual(['./deploy/sentinel/sentinel.conf:/etc/redis/sentinel.conf:ro']);
      // Sentinel rewrites its config, so it runs on a copy; it announces the name it is reached by.
      expect(s.command).toEqual(['sh', '-c', `cp /etc/redis/sentinel.conf /data/ && exec redis-sentinel /data/sentinel.conf --sentinel announce-ip ${name}`]);
      expect(s.healthcheck.test).toEqual(['CMD', 'redis-cli', '-p', '26379', 'ping']);
      expect(s.depends_on).toEqual({ 'redis-primary': { condition: 'service_healthy' }, 'redis-replica': { condition: 'service_healthy' } });
    }
    // The apps ask exactly those sentinels for that master, once they answer.
    for (const name of apps) {
      expect([name, services[name].environment.REDIS_SENTINELS.split(',')]).toEqual([name, sentinels.map((s) => `${s}:26379`)]);
      expect([name, services[name].environment.REDIS_SENTINEL_MASTER]).toEqual([name, master]);
      for (const s of sentinels) expect([name, s, services[name].depends_on[s]]).toEqual([name, s, { condition: 'service_healthy' }]);
    }
  });

  it.each([
    ['docker compose up', undefined, ['auth', 'gateway']],
    ['docker compose --profile sentinel up', 'sentinel', ['auth', 'auth-sentinel', 'gateway', 'gateway-sentinel']],
  ])('%s: every app service has exactly one Redis mode, and the config parser accepts its environment', (_n, profile, expected) => {
    // .env adds no mode of its own: each service's environment sets one.
    expect(Object.keys(dotEnv).filter((k) => REDIS_MODES.includes(k) || k.startsWith('REDIS_'))).toEqual([]);
    const appServices = enabled(profile).filter((name) => services[name].image === 'copilot-gateway:local');
    expect(appServices.sort()).toEqual(expected);
    for (const name of appServices) {
      const env = { ...dotEnv, ...services[name].environment };
      const sentinelMode = name.endsWith('-sentinel');
      expect([name, REDIS_MODES.filter((k) => env[k])]).toEqual([name, [sentinelMode ? 'REDIS_SENTINELS' : 'REDIS_URL']]);
      const config = loadConfig(env, services[name].command[0] as AppRole);
      expect([name, config.mode, config.redis?.kind]).toEqual([name, 'redis', sentinelMode ? 'sentinel' : 'single']);
      if (config.redis?.kind === 'sentinel') {
        expect(config.redis.masterName).toBe(monitor[2]);
        // every sentinel named is a service of the same stack, on the same network
        for (const { host, port } of config.redis.sentinels) expect([host, port, stack.includes(host), Object.keys(networksOf(host))]).toEqual([host, 26379, true, ['sentinel']]);
      } else {
        expect(config.redis).toMatchObject({ kind: 'single', url: 'redis://redis:6379' });
      }
    }
  });

  it('keeps the stacks apart: on its own network `gateway` and `auth` are the Sentinel apps, which deploy/nginx.conf reaches', () => {
    for (const name of stack) expect([name, Object.keys(networksOf(name))]).toEqual([name, ['sentinel']]);
    for (const name of enabled()) expect([name, services[name].networks]).toEqual([name, undefined]);
    expect(Object.keys(compose.networks)).toEqual(['sentinel']);
    const aliases = Object.fromEntries(stack.flatMap((name) => (networksOf(name).sentinel?.aliases ?? []).map((a) => [a, name])));
    expect(aliases).toEqual({ auth: 'auth-sentinel', gateway: 'gateway-sentinel' });
    const upstreams = [...readFileSync('deploy/nginx.conf', 'utf8').matchAll(/upstream\s+\w+\s*\{\s*server\s+([\w-]+):(\d+)/g)].map(([, host, port]) => [host, port]);
    expect(upstreams.length).toBe(2);
    for (const [host, port] of upstreams) expect([host, services[aliases[host]].environment.PORT]).toEqual([host, port]);
    expect(services['proxy-sentinel'].volumes).toEqual(services.proxy.volumes);
    // `docker compose --profile sentinel up proxy-sentinel` starts this whole stack and nothing of the default one.
    const started = new Set<string>();
    const visit = (name: string) => {
      if (started.has(name)) return;
      started.add(name);
      Object.keys(services[name].depends_on ?? {}).forEach(visit);
    };
    visit('proxy-sentinel');
    visit('redis-replica');
    expect([...started].sort()).toEqual([...stack].sort());
  });

  it('the config and commands run: a sentinel on deploy/sentinel/sentinel.conf monitors a primary started as compose starts it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cgw-compose-sentinel-'));
    const [port, sentinelPort] = [await freePort(), await freePort()];
    const procs: ChildProcess[] = [];
    const clients: Redis[] = [];
    const client = (p: number) => {
      const c = new Redis({ port: p, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, enableReadyCheck: false, retryStrategy: () => null });
      c.on('error', () => {});
      clients.push(c);
      return c;
    };
    try {
      const [server, ...args] = services['redis-primary'].command as string[];
      procs.push(await spawnRedis(server, [...args, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir], 'Ready to accept connections'));
      const primary = client(port);
      expect(await primary.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
      expect(await primary.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);

      // The compose sentinel's command, with redis-primary and the ports made local.
      const [, confPath, ...extra] = /exec (redis-sentinel \S+ .*)$/.exec(services['sentinel-1'].command[2])![1].split(' ');
      expect(confPath).toBe('/data/sentinel.conf');
      const conf = sentinelConf.map((l) => l.replace('port 26379', `port ${sentinelPort}`).replace('redis-primary 6379', `localhost ${port}`));
      writeFileSync(join(dir, 'sentinel.conf'), [...conf, 'bind 127.0.0.1', `dir ${dir}`].join('\n'));
      procs.push(await spawnRedis('redis-server', [join(dir, 'sentinel.conf'), '--sentinel', ...extra], '+monitor master cgw'));
      const s = client(sentinelPort);
      expect(await s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'cgw')).toEqual(['localhost', String(port)]);
      const flat = (await s.call('SENTINEL', 'MASTER', 'cgw')) as string[];
      const master = Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, flat[i + 1]]])));
      expect([master.quorum, master.flags]).toEqual(['2', 'master']);
      expect(readFileSync(join(dir, 'sentinel.conf'), 'utf8')).toMatch(/^sentinel announce-ip "sentinel-1"$/m);
    } finally {
      clients.forEach((c) => c.disconnect());
      await Promise.all(procs.map((p) => stopRedisProcess(p)));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});


/**
 * deploy/nginx.conf's locations, and which one nginx picks for a URI: an exact (=) match, else the
 * longest prefix. Regex locations would change that order, so there must be none.
 */
const nginx = readFileSync('deploy/nginx.conf', 'utf8');
const locations = [...nginx.matchAll(/^\s*location\s+(?:(=|\^~|~\*?)\s+)?(\S+)\s*\{([^}]*)\}/gm)].map(([, modifier, path, body]) => ({
  modifier: modifier ?? '',
  path,
  upstream: /proxy_pass\s+http:\/\/(\w+)/.exec(body)?.[1],
}));
function nginxUpstreamFor(uri: string): string | undefined {
  const path = uri.split('?')[0];
  const exact = locations.find((l) => l.modifier === '=' && l.path === path);
  if (exact) return exact.upstream;
  return locations.filter((l) => l.modifier !== '=' && path.startsWith(l.path)).sort((a, b) => b.path.length - a.path.length)[0]?.upstream;
}

/** The routes (method and path) every controller of a role's module tree serves. */
function routesOf(role: AppRole): string[] {
  const routes: string[] = [];
  const seen = new Set<unknown>();
  const walk = (mod: any) => {
    if (!mod || seen.has(mod)) return;
    seen.add(mod);
    const cls = mod.module ?? mod;
    const controllers = [...(Reflect.getMetadata('controllers', cls) ?? []), ...(mod.controllers ?? [])];
    for (const c of controllers) {
      const base = String(Reflect.getMetadata(PATH_METADATA, c) ?? '');
      for (const name of Object.getOwnPropertyNames(c.prototype)) {
        const handler = c.prototype[name];
        const path = typeof handler === 'function' ? Reflect.getMetadata(PATH_METADATA, handler) : undefined;
        if (path === undefined || name === 'constructor') continue;
        const method = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'ALL', 'OPTIONS', 'HEAD'][Reflect.getMetadata(METHOD_METADATA, handler)];
        routes.push(`${method} /${[base, path].map((p) => String(p).replace(/^\/|\/$/g, '')).filter(Boolean).join('/')}`);
      }
    }
    for (const m of [...(Reflect.getMetadata('imports', cls) ?? []), ...(mod.imports ?? [])]) walk(m);
  };
  for (const m of APPS[role](loadConfig({}, role))) walk(m);
  return routes;
}

describe('the admin console behind the front doors', () => {
  it('is served by the auth role (GET /admin), not by the gateway role', () => {
    expect(routesOf('auth')).toContain('GET /admin');
    expect(routesOf('auth')).toContain('GET /auth/keys');
    expect(routesOf('gateway')).not.toContain('GET /admin');
    expect(routesOf('gateway').length).toBeGreaterThan(3);
  });

  it('deploy/nginx.conf (the one port compose publishes) sends /admin to the auth service, and its data routes too', () => {
    expect(locations.filter((l) => l.modifier.startsWith('~'))).toEqual([]);
    expect(locations.length).toBeGreaterThanOrEqual(4);
    const upstreams = Object.fromEntries([...nginx.matchAll(/upstream\s+(\w+)\s*\{\s*server\s+([\w-]+):(\d+)/g)].map(([, name, host, port]) => [name, { host, port }]));
    expect(upstreams.auth).toEqual({ host: 'auth', port: services.auth.environment.PORT });
    expect(upstreams.gateway).toEqual({ host: 'gateway', port: services.gateway.environment.PORT });
    for (const uri of ['/admin', '/admin?lang=zh', '/auth/accounts', '/auth/keys/key_1/rotate', '/auth/usage?format=csv', '/auth/device', '/docs'])
      expect([uri, nginxUpstreamFor(uri)]).toEqual([uri, 'auth']);
    for (const uri of ['/v1/chat/completions', '/chat/completions', '/health/ready', '/administrator', '/admin/x'])
      expect([uri, nginxUpstreamFor(uri)]).toEqual([uri, 'gateway']);
    // compose publishes only that proxy: /admin has no other way in.
    expect(services.proxy.volumes).toContain('./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro');
    expect(services.auth.ports).toBeUndefined();
  });
});

describe('Dockerfile', () => {
  it('is multi-stage on Node 22, installs production dependencies only, runs as non-root', () => {
    const froms = dockerfile.match(/^FROM .*/gm)!;
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f).toMatch(/^FROM node:22-/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
  });

  it('checks liveness, and picks the role from the command', () => {
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/health\/live/m);
    const entry = /^ENTRYPOINT \["node", "(dist\/[^"]+)\.js"\]$/m.exec(dockerfile)?.[1];
    expect(entry).toBe('dist/apps/all/src/main');
    // The image is never built here: the entry must at least be what the build makes of a source file.
    expect(existsSync(`${entry!.replace(/^dist\//, '')}.ts`)).toBe(true);
    expect(readFileSync(`${entry!.replace(/^dist\//, '')}.ts`, 'utf8')).toMatch(/process\.argv\[2\]/);
    expect(dockerfile).toContain('CMD ["all"]');
    // What the package scripts, the tests and the bench start is the same entry.
    const scripts = JSON.parse(readFileSync('package.json', 'utf8')).scripts;
    expect(scripts.start).toBe(`node ${entry}.js`);
    expect(existsSync(scripts['start:gateway'].replace(/^node dist\//, '').replace(/\.js$/, '.ts'))).toBe(true);
    expect(existsSync(scripts['start:auth'].replace(/^node dist\//, '').replace(/\.js$/, '.ts'))).toBe(true);
    expect(readFileSync('test/support/processes.ts', 'utf8')).toContain(`'${entry}.js'`);
    const ignored = readFileSync('.dockerignore', 'utf8').split('\n');
    for (const p of ['node_modules', '.env', 'dist', '.git']) expect(ignored).toContain(p);
  });
});

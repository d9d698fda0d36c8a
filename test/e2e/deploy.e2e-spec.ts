import { existsSync, readFileSync } from 'node:fs';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig, type AppRole } from '#libs/config';
import { APPS } from '../../apps/all/src/apps.js';

/** The compose stack and the image, checked without a Docker engine (none runs here). */
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }); // Compose applies <<: merge keys
const services = compose.services as Record<string, any>;
const dockerfile = readFileSync('Dockerfile', 'utf8');

describe('docker-compose.yml', () => {
  it('has Redis, auth, two gateway replicas behind one port, Prometheus and Grafana', () => {
    expect(Object.keys(services).sort()).toEqual(['auth', 'gateway', 'grafana', 'prometheus', 'proxy', 'redis']);
    expect(services.gateway.deploy.replicas).toBe(2);
    const published = Object.entries(services).flatMap(([name, s]) => (s.ports ?? []).map((p: string) => `${name} ${p}`));
    expect(published).toEqual(['proxy 8000:80', 'prometheus 9090:9090', 'grafana 3000:3000']);
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
    for (const name of ['auth', 'gateway']) expect(services[name].env_file).toBe('.env');
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

import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

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

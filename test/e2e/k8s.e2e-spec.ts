import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse } from 'yaml';
import { loadConfig, type AppRole } from '#libs/config';
import { freePort, spawnRedis, stopRedisProcess } from '../support/redis-server.js';

/**
 * k8s/ without a cluster: the kustomizations built by kubectl (Debian's kubernetes-client), every
 * object validated against the Kubernetes OpenAPI schemas (kubernetes-models, and the Prometheus
 * Operator's for ServiceMonitor and PrometheusRule), and the settings the ops issue requires.
 */
const KUBECTL = process.env.KUBECTL_PATH ?? 'kubectl';
type Obj = { apiVersion: string; kind: string; metadata: { name: string }; spec?: any; data?: any };

function build(dir: string): Obj[] {
  let out: string;
  try {
    out = execFileSync(KUBECTL, ['kustomize', dir], { encoding: 'utf8' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('The k8s test needs kubectl: apt-get install -y kubernetes-client (or set KUBECTL_PATH).');
    throw err;
  }
  return parseAllDocuments(out).map((d) => d.toJSON() as Obj);
}

async function modelFor(obj: Obj): Promise<new (o: object) => { validate(): void }> {
  const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
  const module =
    group === 'monitoring.coreos.com'
      ? await import(`@kubernetes-models/prometheus-operator/${group}/${version}`)
      : await import(`kubernetes-models/${group ? `${group}/` : ''}${version}`);
  const cls = module[obj.kind];
  if (!cls) throw new Error(`no schema for ${obj.apiVersion} ${obj.kind}`);
  return cls;
}

const base = build('k8s/base');
const prod = build('k8s/overlays/prod');
const sentinel = build('k8s/overlays/sentinel');
const find = (objs: Obj[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name)!;

describe('k8s manifests', () => {
  it.each([
    ['base', base, 15],
    ['prod', prod, 15],
    // base's, plus the Redis PodDisruptionBudget and the ConfigMap holding render-config.sh
    ['sentinel', sentinel, 17],
  ])('%s: every object validates against its schema', async (_n, objs, count) => {
    expect(objs.length).toBe(count);
    for (const obj of objs) {
      const Model = await modelFor(obj);
      expect(() => new Model(obj).validate(), `${obj.kind}/${obj.metadata.name}`).not.toThrow();
    }
  });

  it('the validation can fail: a Deployment with replicas "two" is refused', async () => {
    const bad = structuredClone(find(base, 'Deployment', 'gateway'));
    bad.spec.replicas = 'two';
    const Model = await modelFor(bad);
    expect(() => new Model(bad).validate()).toThrow();
  });

  it('has every kind the ops issue lists', () => {
    expect([...new Set(prod.map((o) => o.kind))].sort()).toEqual(
      ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Ingress', 'Namespace', 'NetworkPolicy', 'PodDisruptionBudget', 'PrometheusRule', 'Service', 'ServiceMonitor', 'StatefulSet'].sort(),
    );
    expect(prod.find((o) => o.kind === 'Secret')).toBeUndefined();
    expect(parse(readFileSync('k8s/base/secret.example.yaml', 'utf8')).stringData.TOKEN_ENCRYPTION_KEY).toMatch(/^</);
  });

  it('drains the gateway: probes, preStop, and a grace period longer than preStop + delay + drain', () => {
    const config = find(prod, 'ConfigMap', 'copilot-gateway').data;
    const pod = find(prod, 'Deployment', 'gateway').spec.template.spec;
    const c = pod.containers[0];
    expect(c.readinessProbe.httpGet.path).toBe('/health/ready');
    expect(c.livenessProbe.httpGet.path).toBe('/health/live');
    const preStop = c.lifecycle.preStop.sleep.seconds;
    const needed = preStop + Number(config.SHUTDOWN_DELAY_MS) / 1000 + Number(config.DRAIN_TIMEOUT_MS) / 1000;
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(needed);
    for (const name of ['gateway', 'auth']) {
      const spec = find(prod, 'Deployment', name).spec.template.spec;
      expect(spec.securityContext.runAsNonRoot).toBe(true);
      expect(spec.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
      expect(spec.containers[0].resources.requests).toBeDefined();
      expect(spec.containers[0].image).toBe('ghcr.io/your-org/copilot-gateway:0.1.0');
    }
  });

  it('scales on CPU and active streams, keeps replicas through disruptions, routes /v1 and /auth', () => {
    const hpa = find(prod, 'HorizontalPodAutoscaler', 'gateway').spec;
    expect(hpa.metrics.map((m: any) => m.resource?.name ?? m.pods?.metric.name)).toEqual(['cpu', 'cgw_active_streams']);
    expect(hpa.minReplicas).toBe(3);
    expect(find(prod, 'PodDisruptionBudget', 'gateway').spec.minAvailable).toBe(2);
    const paths = find(prod, 'Ingress', 'copilot-gateway').spec.rules[0].http.paths.map((p: any) => `${p.path} ${p.backend.service.name}`);
    expect(paths).toEqual(['/v1 gateway', '/auth auth', '/docs auth', '/admin auth']);
  });

  it.each([
    ['base', base],
    ['prod', prod],
  ])('%s: the Ingress sends the admin console (/admin) and its API (/auth/*) to the auth pods', (_n, objs) => {
    const rules = find(objs, 'Ingress', 'copilot-gateway').spec.rules[0].http.paths as { path: string; pathType: string; backend: { service: { name: string; port: { name: string } } } }[];
    // Kubernetes' matching: Exact is the whole path; Prefix matches by '/'-separated elements; the longest wins, Exact before Prefix.
    const elements = (p: string) => p.split('/').filter(Boolean);
    const matches = (r: (typeof rules)[number], uri: string) =>
      r.pathType === 'Exact' ? r.path === uri : elements(r.path).every((e, i) => elements(uri)[i] === e);
    const route = (uri: string) =>
      rules.filter((r) => matches(r, uri)).sort((a, b) => b.path.length - a.path.length || (a.pathType === 'Exact' ? -1 : 1))[0]?.backend.service;
    for (const uri of ['/admin', '/auth/accounts', '/auth/keys/key_1/rotate', '/auth/usage']) expect([uri, route(uri)?.name]).toEqual([uri, 'auth']);
    expect(route('/administrator')).toBeUndefined();
    expect(route('/v1/chat/completions')?.name).toBe('gateway');
    // That Service's port reaches the auth Deployment's pods, which run the auth role.
    const backend = route('/admin')!;
    const svc = find(objs, 'Service', backend.name).spec;
    const port = svc.ports.find((p: { name: string }) => p.name === backend.port.name);
    const deploy = find(objs, 'Deployment', 'auth').spec;
    expect(deploy.template.metadata.labels).toMatchObject(svc.selector);
    const c = deploy.template.spec.containers[0];
    expect(c.args).toEqual(['auth']);
    expect(c.ports.map((p: { name: string }) => p.name)).toContain(port.targetPort);
  });

  it('runs Redis as a StatefulSet with storage, AOF and noeviction, reachable only from the apps', () => {
    const redis = find(prod, 'StatefulSet', 'redis').spec;
    expect(redis.template.spec.containers[0].args.join(' ')).toBe('--appendonly yes --maxmemory-policy noeviction');
    expect(redis.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('1Gi');
    const np = find(prod, 'NetworkPolicy', 'redis').spec;
    expect(np.ingress[0].from[0].podSelector.matchExpressions[0].values).toEqual(['gateway', 'auth']);
  });

  it('alerts with the same rules as prometheus/alerts.yml', () => {
    const rule = find(prod, 'PrometheusRule', 'copilot-gateway');
    expect(rule.spec.groups).toEqual(parse(readFileSync('prometheus/alerts.yml', 'utf8')).groups);
    expect(find(prod, 'ServiceMonitor', 'copilot-gateway').spec.endpoints[0].path).toBe('/metrics');
  });
});

/** Values for the Secret the operator creates (secret.example.yaml names its keys). */
const SECRET_VALUES: Record<string, string> = {
  TOKEN_ENCRYPTION_KEY: 'ab'.repeat(32),
  ADMIN_TOKEN: 'admin-token-0123456789',
  REDIS_PASSWORD: 'redis-password-0123',
  REDIS_SENTINEL_PASSWORD: 'sentinel-password-0123',
};
function exampleSecret(file: string): Record<string, string> {
  const keys = Object.keys(parse(readFileSync(file, 'utf8')).stringData);
  return Object.fromEntries(keys.map((k) => [k, SECRET_VALUES[k] ?? `no test value for ${k}`]));
}

/**
 * The environment a container starts with: envFrom in order, then env, which wins. A reference to a
 * ConfigMap, Secret or key that does not exist throws, as the kubelet refuses to start such a pod.
 */
function containerEnv(objs: Obj[], c: any, secret: Record<string, string>, fields: Record<string, string> = {}): Record<string, string> {
  const configMap = (name: string): Record<string, string> => {
    const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
    if (!cm) throw new Error(`${c.name}: no ConfigMap ${name}`);
    return cm.data;
  };
  const secretNamed = (name: string) => {
    if (name !== 'copilot-gateway') throw new Error(`${c.name}: no Secret ${name}`);
    return secret;
  };
  const key = (data: Record<string, string>, k: string) => {
    if (data[k] === undefined) throw new Error(`${c.name}: no key ${k}`);
    return data[k];
  };
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) Object.assign(env, from.configMapRef ? configMap(from.configMapRef.name) : secretNamed(from.secretRef.name));
  for (const e of c.env ?? []) {
    const from = e.valueFrom;
    if (!from) env[e.name] = e.value;
    else if (from.secretKeyRef) env[e.name] = key(secretNamed(from.secretKeyRef.name), from.secretKeyRef.key);
    else if (from.configMapKeyRef) env[e.name] = key(configMap(from.configMapKeyRef.name), from.configMapKeyRef.key);
    else if (from.fieldRef) env[e.name] = key(fields, from.fieldRef.fieldPath);
    else throw new Error(`${c.name}: ${e.name} comes from an unexpected source`);
  }
  return env;
}

const REDIS_MODES = ['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'];

describe('every build gives the apps one Redis mode', () => {
  it.each([
    ['base', 'REDIS_URL', 'single', base, 'k8s/base/secret.example.yaml'],
    ['prod', 'REDIS_URL', 'single', prod, 'k8s/base/secret.example.yaml'],
    ['sentinel', 'REDIS_SENTINELS', 'sentinel', sentinel, 'k8s/overlays/sentinel/secret.example.yaml'],
  ] as const)('%s: each app container has %s alone, and the config parser accepts its environment (%s)', (_n, mode, kind, objs, secretFile) => {
    const secret = exampleSecret(secretFile);
    const deployments = objs.filter((o) => o.kind === 'Deployment');
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['auth', 'gateway']);
    for (const d of deployments) {
      for (const c of d.spec.template.spec.containers) {
        const env = containerEnv(objs, c, secret);
        expect([d.metadata.name, REDIS_MODES.filter((k) => env[k])]).toEqual([d.metadata.name, [mode]]);
        const config = loadConfig(env, c.args[0] as AppRole);
        expect([d.metadata.name, config.mode, config.redis?.kind]).toEqual([d.metadata.name, 'redis', kind]);
      }
    }
  });
});

describe('k8s/overlays/sentinel', () => {
  const sts = find(sentinel, 'StatefulSet', 'redis');
  const pod = sts.spec.template.spec;
  const container = (name: string) => pod.containers.find((c: { name: string }) => c.name === name);
  const init = pod.initContainers[0];
  const secret = exampleSecret('k8s/overlays/sentinel/secret.example.yaml');
  const scripts = sentinel.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('redis-sentinel-'))!;

  it('replaces the single Redis with three pods, each a Redis and a sentinel, named by a headless Service', () => {
    expect(sentinel.filter((o) => o.kind === 'StatefulSet').map((o) => o.metadata.name)).toEqual(['redis']);
    expect(sts.spec.replicas).toBe(3);
    expect(pod.containers.map((c: { name: string }) => c.name)).toEqual(['redis', 'sentinel']);
    expect(container('redis').command).toEqual(['redis-server', '/etc/redis/redis.conf']);
    expect(container('redis').ports).toEqual([{ name: 'redis', containerPort: 6379 }]);
    expect(container('sentinel').command).toEqual(['redis-sentinel', '/etc/redis/sentinel.conf']);
    expect(container('sentinel').ports).toEqual([{ name: 'sentinel', containerPort: 26379 }]);
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('1Gi');
    expect(container('redis').volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });

    const svc = find(sentinel, 'Service', sts.spec.serviceName).spec;
    expect(svc.clusterIP).toBe('None');
    expect(svc.publishNotReadyAddresses).toBe(true);
    expect(svc.ports.map((p: { port: number }) => p.port)).toEqual([6379, 26379]);
    expect(sts.spec.template.metadata.labels).toMatchObject(svc.selector);

    // Drains take one pod at a time: two sentinels stay, the quorum and a majority.
    const pdb = find(sentinel, 'PodDisruptionBudget', 'redis').spec;
    expect(pdb.minAvailable).toBe(2);
    expect(sts.spec.template.metadata.labels).toMatchObject(pdb.selector.matchLabels);
  });

  it('renders both configs in an init container, from the script in the generated ConfigMap, into a volume both containers read', () => {
    expect(init.command).toEqual(['sh', '/scripts/render-config.sh', '/etc/redis']);
    expect(scripts.data['render-config.sh']).toBe(readFileSync('k8s/overlays/sentinel/render-config.sh', 'utf8'));
    const volume = (name: string) => pod.volumes.find((v: { name: string }) => v.name === name);
    const mountedAt = (c: any, path: string) => c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === path)?.name;
    expect(volume(mountedAt(init, '/scripts')).configMap.name).toBe(scripts.metadata.name);
    const config = mountedAt(init, '/etc/redis');
    expect(volume(config).emptyDir).toEqual({ medium: 'Memory', sizeLimit: '1Mi' });
    for (const name of ['redis', 'sentinel']) expect([name, mountedAt(container(name), '/etc/redis')]).toEqual([name, config]);
  });

  it('takes the passwords from the Secret and the master name from the apps’ ConfigMap', () => {
    const env = containerEnv(sentinel, init, secret, { 'metadata.name': 'redis-0' });
    expect(env).toEqual({
      POD_NAME: 'redis-0',
      MASTER_NAME: find(sentinel, 'ConfigMap', 'copilot-gateway').data.REDIS_SENTINEL_MASTER,
      REDIS_PASSWORD: SECRET_VALUES.REDIS_PASSWORD,
      REDIS_SENTINEL_PASSWORD: SECRET_VALUES.REDIS_SENTINEL_PASSWORD,
    });
    // The probes' redis-cli authenticates through REDISCLI_AUTH.
    expect(containerEnv(sentinel, container('redis'), secret)).toEqual({ REDISCLI_AUTH: SECRET_VALUES.REDIS_PASSWORD });
    expect(containerEnv(sentinel, container('sentinel'), secret)).toEqual({ REDISCLI_AUTH: SECRET_VALUES.REDIS_SENTINEL_PASSWORD });
    for (const name of ['gateway', 'auth']) {
      const refs = find(sentinel, 'Deployment', name).spec.template.spec.containers[0].env.filter((e: any) => e.valueFrom?.secretKeyRef);
      expect(refs.map((e: any) => `${e.name}=${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`)).toEqual([
        'REDIS_PASSWORD=copilot-gateway/REDIS_PASSWORD',
        'REDIS_SENTINEL_PASSWORD=copilot-gateway/REDIS_SENTINEL_PASSWORD',
      ]);
    }
  });

  it('probes both containers with an authenticated PING and runs them non-root on a read-only root filesystem', () => {
    expect(container('redis').readinessProbe.exec.command).toEqual(['sh', '-c', 'test "$(redis-cli ping)" = PONG']);
    expect(container('sentinel').readinessProbe.exec.command).toEqual(['sh', '-c', 'test "$(redis-cli -p 26379 ping)" = PONG']);
    expect(container('redis').livenessProbe.tcpSocket.port).toBe('redis');
    expect(container('sentinel').livenessProbe.tcpSocket.port).toBe('sentinel');
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999 });
    for (const c of [init, ...pod.containers]) {
      expect([c.name, c.securityContext.readOnlyRootFilesystem, c.resources.requests !== undefined]).toEqual([c.name, true, true]);
    }
  });

  it('points the apps at every sentinel, by the names the StatefulSet gives its pods, and at the master the sentinels monitor', () => {
    const config = loadConfig(containerEnv(sentinel, find(sentinel, 'Deployment', 'gateway').spec.template.spec.containers[0], secret), 'gateway');
    const pods = Array.from({ length: sts.spec.replicas }, (_, i) => ({ host: `${sts.metadata.name}-${i}.${sts.spec.serviceName}`, port: 26379 }));
    expect(config.redis).toEqual({
      kind: 'sentinel',
      sentinels: pods,
      masterName: 'cgw',
      password: SECRET_VALUES.REDIS_PASSWORD,
      sentinelPassword: SECRET_VALUES.REDIS_SENTINEL_PASSWORD,
      keyPrefix: 'cgw:',
    });
  });

  it('lets the apps reach Redis and the sentinels, and the Redis pods each other, on 6379 and 26379', () => {
    const np = find(sentinel, 'NetworkPolicy', 'redis').spec;
    expect(np.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'redis' });
    const rules = np.ingress.map((r: any) => ({
      from: r.from.map((f: any) => f.podSelector.matchLabels?.['app.kubernetes.io/name'] ?? f.podSelector.matchExpressions[0].values.join('+')),
      ports: r.ports.map((p: { port: number }) => p.port),
    }));
    expect(rules).toEqual([
      { from: ['gateway+auth'], ports: [6379, 26379] },
      { from: ['redis'], ports: [6379, 26379] },
    ]);
    // prod keeps base's: the apps, on 6379 only.
    expect(find(prod, 'NetworkPolicy', 'redis').spec.ingress).toEqual([
      { from: [{ podSelector: { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: ['gateway', 'auth'] }] } }], ports: [{ port: 6379 }] },
    ]);
  });

  describe('render-config.sh, run as the init container runs it', () => {
    const dirs: string[] = [];
    afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

    /**
     * Runs the script for `podName` with a redis-cli that answers for the sentinels in `answers`
     * (host → what redis-cli prints) and cannot connect to any other.
     */
    function render(podName: string, answers: Record<string, string> = {}, secretValues = secret) {
      const dir = mkdtempSync(join(tmpdir(), 'cgw-render-'));
      dirs.push(dir);
      for (const sub of ['bin', 'answers', 'out']) mkdirSync(join(dir, sub));
      for (const [host, text] of Object.entries(answers)) writeFileSync(join(dir, 'answers', host), text);
      writeFileSync(
        join(dir, 'bin', 'redis-cli'),
        [
          '#!/bin/sh',
          'all="$*"; host=""',
          'while [ $# -gt 0 ]; do if [ "$1" = -h ]; then host="$2"; fi; shift; done',
          `echo "$host $REDISCLI_AUTH $all" >> ${dir}/asked`,
          `if [ -f "${dir}/answers/$host" ]; then cat "${dir}/answers/$host"; exit 0; fi`,
          'echo "Could not connect to Redis at $host:26379: Name does not resolve" >&2; exit 1',
        ].join('\n'),
      );
      chmodSync(join(dir, 'bin', 'redis-cli'), 0o755);
      writeFileSync(join(dir, 'render-config.sh'), scripts.data['render-config.sh']);
      const env = containerEnv(sentinel, init, secretValues, { 'metadata.name': podName });
      const [cmd, script, out] = init.command as string[];
      expect([script, out]).toEqual(['/scripts/render-config.sh', '/etc/redis']);
      const run = spawnSync(cmd, [join(dir, 'render-config.sh'), join(dir, 'out')], { env: { ...env, PATH: `${join(dir, 'bin')}:${process.env.PATH}` }, encoding: 'utf8' });
      const read = (f: string) => {
        try {
          return readFileSync(join(dir, f), 'utf8').trim().split('\n');
        } catch {
          return [];
        }
      };
      return { status: run.status, stdout: run.stdout, stderr: run.stderr, redis: read('out/redis.conf'), sentinel: read('out/sentinel.conf'), asked: read('asked'), dir };
    }

    it('makes pod 0 the primary when no sentinel answers (the first start)', () => {
      const r = render('redis-0');
      expect(r.status).toBe(0);
      expect(r.redis).toEqual([
        'port 6379',
        'dir /data',
        'appendonly yes',
        'maxmemory-policy noeviction',
        `requirepass "${SECRET_VALUES.REDIS_PASSWORD}"`,
        `masterauth "${SECRET_VALUES.REDIS_PASSWORD}"`,
        'replica-announce-ip redis-0.redis',
      ]);
      expect(r.sentinel).toEqual([
        'port 26379',
        'sentinel resolve-hostnames yes',
        'sentinel announce-hostnames yes',
        'sentinel announce-ip redis-0.redis',
        `requirepass "${SECRET_VALUES.REDIS_SENTINEL_PASSWORD}"`,
        `sentinel sentinel-pass "${SECRET_VALUES.REDIS_SENTINEL_PASSWORD}"`,
        'sentinel monitor cgw redis-0.redis 6379 2',
        `sentinel auth-pass cgw "${SECRET_VALUES.REDIS_PASSWORD}"`,
        'sentinel down-after-milliseconds cgw 5000',
        'sentinel failover-timeout cgw 30000',
        'sentinel parallel-syncs cgw 1',
      ]);
      // It asked the other pods' sentinels, with the sentinels' password, and not its own.
      expect(r.asked).toEqual([
        `redis-1.redis ${SECRET_VALUES.REDIS_SENTINEL_PASSWORD} -h redis-1.redis -p 26379 sentinel get-master-addr-by-name cgw`,
        `redis-2.redis ${SECRET_VALUES.REDIS_SENTINEL_PASSWORD} -h redis-2.redis -p 26379 sentinel get-master-addr-by-name cgw`,
      ]);
      expect(r.stdout.trim()).toBe('redis-0.redis: primary is redis-0.redis');
    });

    it('makes the other pods replicas of pod 0 on the first start', () => {
      for (const name of ['redis-1', 'redis-2']) {
        const r = render(name);
        expect(r.redis.filter((l) => l.startsWith('replica'))).toEqual([`replica-announce-ip ${name}.redis`, 'replicaof redis-0.redis 6379']);
        expect(r.sentinel).toContain('sentinel monitor cgw redis-0.redis 6379 2');
        expect(r.sentinel).toContain(`sentinel announce-ip ${name}.redis`);
        expect(r.asked.map((l) => l.split(' ')[0])).not.toContain(`${name}.redis`);
      }
    });

    it('has a pod that comes back follow the primary the sentinels name, skipping one that answers with an error', () => {
      const r = render('redis-0', { 'redis-1.redis': 'NOAUTH Authentication required.\n', 'redis-2.redis': 'redis-1.redis\n6379\n' });
      expect(r.redis.at(-1)).toBe('replicaof redis-1.redis 6379');
      expect(r.sentinel).toContain('sentinel monitor cgw redis-1.redis 6379 2');
      expect(r.sentinel).not.toContain('sentinel monitor cgw redis-0.redis 6379 2');
    });

    it('keeps a pod the primary when the sentinels still name it (a quick restart)', () => {
      const r = render('redis-1', { 'redis-0.redis': 'redis-1.redis\n6379\n' });
      expect(r.redis.some((l) => l.startsWith('replicaof'))).toBe(false);
      expect(r.sentinel).toContain('sentinel monitor cgw redis-1.redis 6379 2');
      expect(r.asked).toHaveLength(1);
    });

    it('refuses to start without the Redis password in the Secret', () => {
      const { REDIS_PASSWORD: _omitted, ...rest } = secret;
      expect(() => render('redis-0', {}, rest)).toThrow('no key REDIS_PASSWORD');
      // and the script itself, should the variable be empty
      const r = render('redis-0', {}, { ...secret, REDIS_PASSWORD: '' });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('REDIS_PASSWORD: must be a key of the copilot-gateway Secret');
      expect(r.redis).toEqual([]);
    });

    it('writes configs that redis-server and a sentinel accept: AOF, noeviction, both passwords, the master by name', async () => {
      const r = render('redis-0');
      const [port, sentinelPort] = [await freePort(), await freePort()];
      // The pod's names and ports, made local: redis-0.redis is this machine.
      const local = (lines: string[]) =>
        lines
          .map((l) => l.replace(/^port 6379$/, `port ${port}`).replace(/^port 26379$/, `port ${sentinelPort}`).replace(/^dir \/data$/, `dir ${r.dir}`))
          .map((l) => l.replace('redis-0.redis 6379', `localhost ${port}`).replace('redis-0.redis', 'localhost'))
          .concat('bind 127.0.0.1', `dir ${r.dir}`)
          .join('\n');
      writeFileSync(join(r.dir, 'redis.conf'), local(r.redis));
      writeFileSync(join(r.dir, 'sentinel.conf'), local(r.sentinel));
      const procs: ChildProcess[] = [];
      const clients: Redis[] = [];
      const client = (p: number, password?: string) => {
        const c = new Redis({ port: p, host: '127.0.0.1', password, lazyConnect: true, maxRetriesPerRequest: 0, enableReadyCheck: false, retryStrategy: () => null });
        c.on('error', () => {});
        clients.push(c);
        return c;
      };
      try {
        procs.push(await spawnRedis('redis-server', [join(r.dir, 'redis.conf')], 'Ready to accept connections'));
        procs.push(await spawnRedis('redis-server', [join(r.dir, 'sentinel.conf'), '--sentinel'], '+monitor master cgw'));

        await expect(client(port).ping()).rejects.toThrow(/NOAUTH/);
        const redis = client(port, SECRET_VALUES.REDIS_PASSWORD);
        expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
        expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
        const runId = /run_id:(\w+)/.exec(await redis.info('server'))![1];

        await expect(client(sentinelPort).call('SENTINEL', 'MASTERS')).rejects.toThrow(/NOAUTH/);
        const s = client(sentinelPort, SECRET_VALUES.REDIS_SENTINEL_PASSWORD);
        expect(await s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'cgw')).toEqual(['localhost', String(port)]);
        // The sentinel got in with auth-pass: it has read the primary's INFO (its run id), and sees it up.
        let master: Record<string, string> = {};
        for (let i = 0; i < 50 && master.runid !== runId; i++) {
          const flat = (await s.call('SENTINEL', 'MASTER', 'cgw')) as string[];
          master = Object.fromEntries(flat.flatMap((v, j) => (j % 2 ? [] : [[v, flat[j + 1]]])));
          if (master.runid !== runId) await new Promise((res) => setTimeout(res, 100));
        }
        expect([master.runid, master.flags, master.quorum]).toEqual([runId, 'master', '2']);
      } finally {
        clients.forEach((c) => c.disconnect());
        await Promise.all(procs.map((p) => stopRedisProcess(p)));
      }
    });
  });
});


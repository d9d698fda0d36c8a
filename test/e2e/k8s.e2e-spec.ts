import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse } from 'yaml';

/**
 * k8s/ without a cluster: both kustomizations built by kubectl (Debian's kubernetes-client), every
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
const find = (objs: Obj[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name)!;

describe('k8s manifests', () => {
  it.each([
    ['base', base],
    ['prod', prod],
  ])('%s: every object validates against its schema', async (_n, objs) => {
    expect(objs.length).toBe(15);
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

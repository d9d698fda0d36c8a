import { readFileSync } from 'node:fs';

/**
 * What a `node --cpu-prof` profile spent its time on (BENCH_PROFILE=1 npm run bench writes one for
 * the gateway):
 *   node dist/bench/profile-top.js /tmp/prof/CPU.*.cpuprofile [rows=25]
 * Prints the share of busy time (idle excluded) by package, then the top functions by self time and
 * by total time (each function counted once per sample, however deep it recurses).
 */
interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const [file, rowsArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node dist/bench/profile-top.js <file.cpuprofile> [rows]');
  process.exit(2);
}
const rows = Number(rowsArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const short = (url: string) => {
  if (!url) return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) return url.slice(nm + 'node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist !== -1) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
};
const fn = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`.trim();
const pkg = (n: Node) => {
  const { url, functionName } = n.callFrame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node: ' + url.slice(5).split('/')[0];
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  const d = /\/dist\/((?:apps|libs)\/[^/]+)/.exec(url);
  return d ? d[1] : short(url);
};

const self = new Map<string, number>();
const total = new Map<string, number>();
const packages = new Map<string, number>();
let busy = 0;
let idle = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  const leaf = byId.get(profile.samples[i])!;
  if (leaf.callFrame.functionName === '(idle)') {
    idle += dt;
    continue;
  }
  busy += dt;
  self.set(fn(leaf), (self.get(fn(leaf)) ?? 0) + dt);
  packages.set(pkg(leaf), (packages.get(pkg(leaf)) ?? 0) + dt);
  const seen = new Set<string>();
  for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
    const k = fn(byId.get(id)!);
    if (seen.has(k)) continue;
    seen.add(k);
    total.set(k, (total.get(k) ?? 0) + dt);
  }
}

const share = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
console.log(`busy ${(busy / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s (${((100 * busy) / (busy + idle)).toFixed(0)}% busy)`);
console.log('\nself time by package:');
for (const [k, v] of top(packages, rows)) console.log(`  ${share(v)}  ${k}`);
console.log('\nself time by function:');
for (const [k, v] of top(self, rows)) console.log(`  ${share(v)}  ${k}`);
console.log('\ntotal time by function:');
for (const [k, v] of top(total, rows * 2)) if (!k.startsWith('(root)')) console.log(`  ${share(v)}  ${k}`);

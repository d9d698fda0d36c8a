#!/usr/bin/env node
// Installs the real CLI clients the e2e suites drive (Claude Code, Codex CLI; ~640 MB of native
// binaries) into test/clients/node_modules with `npm ci`, from this folder's own lockfile — never
// into the root install. Runs from vitest's global setup; a no-op when the stamp written after the
// last install matches the lockfile and the binaries are there. Quiet unless it has to install.
//
//   node test/clients/ensure.mjs          install when missing or when package-lock.json changed
//   node test/clients/ensure.mjs --force  reinstall
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const stamp = join(dir, 'node_modules', '.ensure-stamp');
const platform = `${process.platform}-${process.arch}`;

/** What the suites run: the native binaries, not the npm wrappers (whose postinstall may be skipped). */
export const binaries = {
  claude: join(dir, 'node_modules', '@anthropic-ai', `claude-code-${platform}`, process.platform === 'win32' ? 'claude.exe' : 'claude'),
  codex: join(dir, 'node_modules', '@openai', 'codex', 'bin', 'codex.js'),
};

const fingerprint = () =>
  createHash('sha256')
    .update(readFileSync(join(dir, 'package.json')))
    .update(readFileSync(join(dir, 'package-lock.json')))
    .update(platform)
    .digest('hex');

const installed = (want) =>
  existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === want && Object.values(binaries).every((p) => existsSync(p));

const LEAKY =
  /^npm_(package_|lifecycle_|command$|config_(local_prefix|prefix|global_prefix|global|location|workspaces?|include_workspace_root|omit|include|production|only|dry_run|package_lock_only|ignore_scripts|call)$)/i;

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** One installer at a time (several vitest runs may start together): a lock directory in tmpdir. */
function withLock(fn) {
  const lock = join(tmpdir(), `cgw-test-clients-${createHash('sha1').update(dir).digest('hex').slice(0, 12)}.lock`);
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      let holder = 0;
      try {
        holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {}
      const alive = (() => {
        if (!holder) return Date.now() - statSync(lock, { throwIfNoEntry: false })?.mtimeMs < 10_000;
        try {
          process.kill(holder, 0);
          return true;
        } catch {
          return false;
        }
      })();
      if (!alive) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`test/clients: waited 15 min for the install held by pid ${holder} (${lock})`);
      else sleep(500);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export function ensureClients({ force = false } = {}) {
  const want = fingerprint();
  if (!force && installed(want)) return binaries;
  return withLock(() => {
    if (!force && installed(want)) return binaries; // another run installed them while we waited
    process.stderr.write(`test/clients: npm ci (Claude Code, Codex CLI; ~640 MB) in ${dir} ...\n`);
    // Nothing of an enclosing `npm test` may steer it (npm_config_local_prefix=<root> would point
    // the child npm at the root project, npm_config_omit=optional would drop the native binaries):
    // those variables go, the prefix is spelled out; cache, registry and CA settings stay.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !LEAKY.test(k)));
    const t0 = Date.now();
    const r = spawnSync('npm', ['ci', '--prefix', dir, '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: dir,
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      shell: process.platform === 'win32',
    });
    if (r.error || r.status !== 0) {
      process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`);
      throw new Error(`test/clients: npm ci failed (${r.error?.message ?? `exit ${r.status}`}); run it by hand: cd test/clients && npm ci`);
    }
    const missing = Object.values(binaries).filter((p) => !existsSync(p));
    if (missing.length) throw new Error(`test/clients: npm ci left no ${missing.join(', ')} (is ${platform} among the packages' platforms?)`);
    writeFileSync(stamp, `${want}\n`);
    process.stderr.write(`test/clients: installed in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    return binaries;
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    ensureClients({ force: process.argv.includes('--force') });
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}

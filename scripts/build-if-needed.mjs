// `npm start` on a fresh clone: compile once, then only when a source file is newer than the build.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

// The newest of the entries (apps/*/src/main.ts); they are built together.
const entry = 'dist/apps/all/src/main.js';
const newest = (dir) => {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : e.name.endsWith('.ts') ? statSync(p).mtimeMs : 0);
  }
  return t;
};
const built = existsSync(entry) ? statSync(entry).mtimeMs : 0;
const source = Math.max(...['apps', 'libs'].map(newest), statSync('tsconfig.json').mtimeMs, statSync('package.json').mtimeMs);
if (source > built) {
  console.error('building dist/ ...');
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}

#!/usr/bin/env node
// `npm run lint`: ESLint with typescript-eslint's type-checked rules (eslint.config.js beside this file) over the
// repository. Its tools live in their own install here (see package.json): installed from its lockfile the
// first time, and again whenever that lockfile changes.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const here = import.meta.dirname;
const stamp = path.join(here, 'node_modules', '.lockfile-sha256');
const lock = createHash('sha256')
  .update(readFileSync(path.join(here, 'package-lock.json')))
  .digest('hex');
if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== lock) {
  const r = spawnSync('npm', ['ci', '--prefix', here, '--no-audit', '--no-fund', '--silent'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  writeFileSync(stamp, lock);
}
const eslint = path.join(here, 'node_modules', 'eslint', 'bin', 'eslint.js');
const r = spawnSync(process.execPath, [eslint, '-c', path.join(here, 'eslint.config.js'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: path.resolve(here, '../..'),
});
process.exit(r.status ?? 1);

/**
 * `npm test`: start one real embedded Postgres for the whole run, migrate a template database once, then
 * run node's test runner over every test file. Each file clones the template (test/support/db.ts).
 * With TEST_DATABASE_URL (a superuser URL of a Postgres you run), that server is used instead.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbedded } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';

const TEMPLATE = 'mailgate_template';
const root = path.resolve(import.meta.dirname, '..');

async function testFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name !== 'support') out.push(...(await testFiles(p)));
    else if (e.isFile() && e.name.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

const args = process.argv.slice(2);
// A folder named on the command line stands for its test files (node --test would run none of them).
const named = await Promise.all(args.map(async (a) => ((await stat(a)).isDirectory() ? await testFiles(path.resolve(a)) : [path.resolve(a)])));
const files = args.length ? named.flat() : await testFiles(root);

let adminUrl = process.env.TEST_DATABASE_URL;
let stop: () => Promise<void> = () => Promise.resolve();
let tmp: string | undefined;
if (!adminUrl) {
  // Under the OS temp dir: the postgres user (we run as root) must be able to reach it.
  tmp = await mkdtemp(path.join(os.tmpdir(), 'mailgate-test-'));
  // A throwaway cluster: no fsync and no full-page images (what they guard against is an OS crash, and the
  // cluster is deleted at the end of the run). Commits stay synchronous: a kill -9 of a postmaster keeps
  // every acknowledged commit, as in production. Tests that kill Postgres start their own cluster, with
  // the production settings.
  const h = await startEmbedded({ dataDir: tmp, ephemeral: true, settings: { fsync: 'off', full_page_writes: 'off' } });
  adminUrl = h.url;
  stop = () => h.stop();
}
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE}`);
await admin.query(`CREATE DATABASE ${TEMPLATE}`);
await admin.end();
const templateUrl = new URL(adminUrl);
templateUrl.pathname = `/${TEMPLATE}`;
await migrate(templateUrl.toString());

const child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`, ...files], {
  stdio: 'inherit',
  env: { ...process.env, MAILGATE_TEST_ADMIN_URL: adminUrl, MAILGATE_TEST_TEMPLATE: TEMPLATE },
});
const code: number = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
await stop();
if (tmp) await rm(tmp, { recursive: true, force: true });
process.exit(code);

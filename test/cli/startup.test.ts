/**
 * The CLI starts at once because a command loads only what it runs: `mailgate --help` loads no part of the
 * gateway, and a one-shot command (`mailgate keys list`) no HTTP, dialect, MIME or worker code. Checked on the
 * modules each process really loaded (a module loading hook records them), never on times. And a checkout that
 * was not built says so in one line.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { runProcess } from '../support/process.js';

const root = path.resolve(import.meta.dirname, '../..');
let dir: string;
let db: TestDatabase;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-startup-'));
  db = await createTestDatabase();
});
after(async () => {
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

// Runs in the loader's thread: appends the URL of every module loaded to the file it is given.
const HOOK = `import { appendFileSync } from 'node:fs';
let file;
export function initialize(data) { file = data; }
export async function load(url, context, next) { appendFileSync(file, url + '\\n'); return await next(url, context); }`;
const REGISTER = `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOK)}), { data: process.env.MAILGATE_TEST_LOADED });`;

/** `mailgate ...args` and the modules it loaded (file URLs relative to the checkout). */
async function loaded(name: string, args: string[], env: Record<string, string> = {}) {
  const file = path.join(dir, `${name}.loaded`);
  const r = await runProcess(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, path.join(root, 'bin/mailgate.js'), ...args],
    {
      env: { ...env, MAILGATE_TEST_LOADED: file, LOG_LEVEL: 'warn' },
    },
  );
  const prefix = `file://${root}/`;
  const modules = (await readFile(file, 'utf8'))
    .split('\n')
    .filter((u) => u.startsWith(prefix))
    .map((u) => u.slice(prefix.length));
  return { ...r, modules };
}

function assertNone(modules: string[], forbidden: string[]) {
  for (const f of forbidden)
    assert.deepEqual(
      modules.filter((m) => m.startsWith(f)),
      [],
      `${f} was loaded`,
    );
}

describe('cli: a command loads what it runs, no more', () => {
  it('`mailgate --help` loads commander and the command files only', async () => {
    const r = await loaded('help', ['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: mailgate/);
    assert.ok(r.modules.includes('dist/cli/index.js'), 'the built CLI ran');
    assertNone(r.modules, [
      'dist/compose.js',
      'dist/config.js',
      'dist/db/',
      'dist/http/',
      'dist/adapters/',
      'dist/worker/',
      'node_modules/zod/',
      'node_modules/pg/',
      'node_modules/express/',
      'node_modules/knex/',
      'node_modules/graphile-worker/',
    ]);
  });

  it('`mailgate keys list` builds the services over a current schema and loads no server, dialect, MIME or migration code', async () => {
    const r = await loaded('keys', ['keys', 'list', '--json'], { DATABASE_URL: db.url });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
    assert.ok(r.modules.includes('dist/compose.js'));
    assertNone(r.modules, [
      'dist/http/',
      'dist/adapters/',
      'dist/worker/',
      'dist/capture/',
      'dist/bounces/',
      'dist/mime/',
      'dist/migrations/',
      'node_modules/express/',
      'node_modules/knex/',
      'node_modules/graphile-worker/dist/index.js',
      'node_modules/smtp-server/',
      'node_modules/nodemailer/',
      'node_modules/mailparser/',
    ]);
  });
});

describe('cli: a checkout that was not built', () => {
  it('says so in one line and exits 1', async () => {
    const bin = path.join(dir, 'unbuilt', 'bin');
    await mkdir(bin, { recursive: true });
    await copyFile(path.join(root, 'bin/mailgate.js'), path.join(bin, 'mailgate.js'));
    const r = await runProcess(process.execPath, [path.join(bin, 'mailgate.js'), '--help']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'error: mailgate is not built: run `npm run build` (npm install does it)\n');
  });
});

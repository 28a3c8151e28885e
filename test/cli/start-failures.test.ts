/**
 * Every way `mailgate serve` can fail to start that loopback can provoke: exit code 1, one line on stderr that
 * says why, and no stack trace anywhere (stdout included: knex logs there).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort } from '../../src/db/embedded.js';

const root = path.resolve(import.meta.dirname, '../..');
let tmp: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function serve(vars: Record<string, string>): Promise<Run> {
  // warn: the info lines of a normal start are not part of a failure.
  const env: NodeJS.ProcessEnv = { ...process.env, HOST: '127.0.0.1', PORT: '0', BOUNCE_SMTP_PORT: '0', LOG_LEVEL: 'warn', LOG_PRETTY: 'false' };
  for (const name of ['DATABASE_URL', 'SMTP_URL', 'TLS_CERT_FILE', 'TLS_KEY_FILE', 'EMBEDDED_PG_PORT']) delete env[name];
  Object.assign(env, vars);
  const child = spawn(process.execPath, [path.join(root, 'bin/mailgate.js'), 'serve'], { env, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

const STACK_FRAME = /^\s+at .+/m;

/** Exit 1, exactly one non-empty line on stderr, matching `line`, and no stack frame anywhere. */
function assertOneLineFailure(r: Run, line: RegExp): void {
  const output = `--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
  assert.equal(r.code, 1, output);
  const lines = r.stderr.split('\n').filter((l) => l.trim());
  assert.equal(lines.length, 1, output);
  assert.match(lines[0]!, /^error: /, output);
  assert.match(lines[0]!, line, output);
  assert.doesNotMatch(r.stdout + r.stderr, STACK_FRAME, output);
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'mailgate-failures-'));
  // As root, Postgres runs as `postgres`, which must reach the clusters below (else they move elsewhere).
  await chmod(tmp, 0o755);
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('cli: a start that fails says why in one line and exits 1', () => {
  it('bad configuration: names each bad variable', async () => {
    const r = await serve({ PORT: '99999', LOG_LEVEL: 'loud', DATA_DIR: path.join(tmp, 'unused') });
    assertOneLineFailure(r, /invalid configuration: .*PORT.*LOG_LEVEL/);
  });

  it('DATA_DIR is a file', async () => {
    const file = path.join(tmp, 'a-file');
    await writeFile(file, '');
    assertOneLineFailure(await serve({ DATA_DIR: file }), /the data directory .*a-file cannot be used: not a directory/);
  });

  it('the stack is shown with LOG_LEVEL=debug only', async () => {
    const file = path.join(tmp, 'a-file');
    const r = await serve({ DATA_DIR: file, LOG_LEVEL: 'debug' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: the data directory/);
    assert.match(r.stderr, STACK_FRAME);
  });

  it('DATABASE_URL pointing to a closed port', async () => {
    const port = await freePort();
    const r = await serve({ DATABASE_URL: `postgres://mailgate:secret@127.0.0.1:${port}/mailgate` });
    assertOneLineFailure(r, new RegExp(`cannot use the database of DATABASE_URL \\(mailgate@127\\.0\\.0\\.1:${port}/mailgate\\): connection refused`));
    assert.doesNotMatch(r.stderr, /secret/, 'the password is never shown');
  });

  it('DATABASE_URL with a wrong password', async () => {
    const admin = process.env.MAILGATE_TEST_ADMIN_URL;
    assert.ok(admin, 'MAILGATE_TEST_ADMIN_URL is set (run through npm test)');
    const url = new URL(admin);
    url.password = 'certainly-not-the-password';
    const probe = new pg.Client({ connectionString: url.toString() });
    const refused = await probe.connect().then(
      () => false,
      () => true,
    );
    await probe.end().catch(() => undefined);
    assert.ok(refused, "the tests' Postgres refuses a wrong password (else this test proves nothing)");
    assertOneLineFailure(await serve({ DATABASE_URL: url.toString() }), /cannot use the database of DATABASE_URL .*password authentication failed/);
  });

  describe('with an embedded cluster', () => {
    const dataDir = () => path.join(tmp, 'data');

    it('PORT already in use', async () => {
      const port = await freePort();
      const blocker = net.createServer();
      await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
      try {
        assertOneLineFailure(await serve({ DATA_DIR: dataDir(), PORT: String(port) }), new RegExp(`127\\.0\\.0\\.1:${port} is already in use`));
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    });

    it('something unexpected (a TLS file that does not exist)', async () => {
      const missing = path.join(tmp, 'no-such-cert.pem');
      assertOneLineFailure(await serve({ DATA_DIR: dataDir(), TLS_CERT_FILE: missing, TLS_KEY_FILE: missing }), /^error: .*no-such-cert\.pem/);
    });

    it('the embedded Postgres cannot start (a bad setting in its configuration)', async () => {
      await appendFile(path.join(dataDir(), 'pg', 'postgresql.conf'), "\nshared_buffers = 'plenty'\n");
      assertOneLineFailure(await serve({ DATA_DIR: dataDir() }), /^error: the embedded Postgres could not start: .*shared_buffers/);
    });

    it('the embedded Postgres cannot be initialised (a cluster directory with something else in it)', async () => {
      const other = path.join(tmp, 'other');
      await mkdir(path.join(other, 'pg'), { recursive: true });
      await writeFile(path.join(other, 'pg', 'not-a-cluster'), '');
      assertOneLineFailure(await serve({ DATA_DIR: other }), /^error: the embedded Postgres could not be initialised in .*: .*not empty/);
    });
  });
});

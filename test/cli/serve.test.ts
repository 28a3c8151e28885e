/**
 * The README's first command, for real: `mailgate serve` (what `npm start` runs) on an empty DATA_DIR starts
 * an embedded Postgres, migrates, starts the SMTP capture, prints the URL and a first key; other commands
 * join the running cluster; SIGTERM shuts down cleanly; a restart keeps the data.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { basicAuthHeader } from '../support/auth.js';
import { configTable } from '../../src/config.js';
import { freePort } from '../../src/db/embedded.js';

const root = path.resolve(import.meta.dirname, '../..');
let dataDir: string;
let port: number;

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: String(port), BOUNCE_SMTP_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
  delete e.DATABASE_URL;
  delete e.SMTP_URL;
  return e;
}

function mailgate(args: string[]): ChildProcess {
  return spawn(process.execPath, [path.join(root, 'bin/mailgate.js'), ...args], { env: env(), cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
}

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = mailgate(args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
  return { code, stdout, stderr };
}

/** Servers still running: a failed assertion must not leave one holding the port (and the run waiting on it). */
const running = new Set<ChildProcess>();

/** Start `serve` and wait until it printed its banner (or died). */
async function serve(): Promise<{ child: ChildProcess; out: () => string; err: () => string; exited: Promise<number> }> {
  const child = mailgate(['serve']);
  running.add(child);
  child.on('exit', () => running.delete(child));
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  const exited = new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
  const deadline = Date.now() + 60_000;
  while (!out.includes('Mailgate is listening')) {
    if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${err}`);
    if (Date.now() > deadline) throw new Error(`serve did not start: ${out} ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 50)); // the rest of the banner
  return { child, out: () => out, err: () => err, exited };
}

const basic = (secret: string) => basicAuthHeader(secret);
const listMethods = '<?xml version="1.0"?><methodCall><methodName>system.listMethods</methodName><params/></methodCall>';

before(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-serve-'));
  port = await freePort();
});
after(async () => {
  await Promise.all(
    [...running].map((child) => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      return exited;
    }),
  );
  await rm(dataDir, { recursive: true, force: true });
});

describe('cli: serve on an empty data directory', () => {
  let secret = '';

  it('starts embedded Postgres and the capture, prints the URL and the first key once; SIGTERM exits 0', async () => {
    const s = await serve();
    const banner = s.out();
    assert.match(banner, new RegExp(`http://127\\.0\\.0\\.1:${port}/CloudMailing`));
    assert.match(banner, /CAPTURED, not relayed/);
    assert.match(banner, /embedded Postgres/);
    const m = /First API key, shown once \(account "default", key id (\d+)\):\n {2}(\S+)/.exec(banner);
    assert.ok(m, `no key in: ${banner}`);
    secret = m[2]!;

    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    const ok = await fetch(`http://127.0.0.1:${port}/CloudMailing`, {
      method: 'POST',
      headers: { authorization: basic(secret), 'content-type': 'text/xml' },
      body: listMethods,
    });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /create_mailing/);
    const bad = await fetch(`http://127.0.0.1:${port}/CloudMailing`, { method: 'POST', headers: { authorization: basic('nope') }, body: listMethods });
    assert.match(await bad.text(), /<int>401<\/int>/, 'a wrong key: the original fault 401');

    // Another command joins the running cluster instead of starting one.
    const created = await run(['keys', 'create', '--account', 'shop.example', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const key = JSON.parse(created.stdout) as { id: number; secret: string; account: string };
    assert.equal(key.account, 'shop.example');
    assert.ok(key.secret.length >= 22);
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200, 'serve still has its database');
    const listed = await run(['keys', 'list', '--json']);
    const keys = JSON.parse(listed.stdout) as { id: number; account: string }[];
    assert.deepEqual(keys.map((k) => k.account).sort(), ['default', 'shop.example']);
    assert.ok(!listed.stdout.includes(secret), 'secrets are never listed');

    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0, s.err());
  });

  it('a restart keeps the data: no new first key, the old key still works; revoked keys stop working', async () => {
    const s = await serve();
    assert.doesNotMatch(s.out(), /First API key/);
    const ok = await fetch(`http://127.0.0.1:${port}/CloudMailing`, { method: 'POST', headers: { authorization: basic(secret) }, body: listMethods });
    assert.equal(ok.status, 200);
    const keys = JSON.parse((await run(['keys', 'list', '--account', 'default', '--json'])).stdout) as { id: number }[];
    assert.equal((await run(['keys', 'revoke', String(keys[0]!.id)])).code, 0);
    const revoked = await fetch(`http://127.0.0.1:${port}/CloudMailing`, { method: 'POST', headers: { authorization: basic(secret) }, body: listMethods });
    assert.match(await revoked.text(), /<int>401<\/int>/);
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0, s.err());
  });

  it('without serve running, a command starts and stops the embedded cluster itself', async () => {
    const r = await run(['accounts', 'list', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { slug: string }[]).map((a) => a.slug).sort(), ['default', 'shop.example']);
    const bad = await run(['accounts', 'create', 'no spaces allowed']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /letters, digits/);
  });
});

describe('cli: a signal while serve starts', () => {
  it('stops it in order: the embedded cluster it started stops with it, nothing is left running', async () => {
    const child = mailgate(['serve']);
    running.add(child);
    let err = '';
    child.stderr!.on('data', (c) => (err += c));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    // The event: HTTP answers; serve is still starting what comes after it (the bounce listener, the worker)
    // and has printed nothing yet.
    const pidFile = path.join(dataDir, 'pg', 'postmaster.pid');
    const deadline = Date.now() + 60_000;
    for (;;) {
      // Answered at all: /healthz is 503 until the worker has started.
      const up = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        () => true,
        () => false,
      );
      if (up) break;
      assert.equal(child.exitCode, null, `serve exited while starting: ${err}`);
      assert.ok(Date.now() < deadline, 'serve never answered');
      await new Promise((r) => setTimeout(r, 5));
    }
    const postmaster = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
    child.kill('SIGTERM');
    const end = await exited;
    running.delete(child);
    assert.deepEqual(end, { code: 0, signal: null }, err);
    assert.throws(() => process.kill(postmaster, 0), 'the embedded postgres stopped with serve');
    assert.equal(await readFile(pidFile, 'utf8').catch(() => 'gone'), 'gone');
  });
});

describe('cli: README', () => {
  it('documents every configuration variable exactly as src/config.ts declares it', async () => {
    const readme = await readFile(path.join(root, 'README.md'), 'utf8');
    assert.ok(readme.includes(configTable()), 'README config table is stale: paste `mailgate config --variables` between the config-table markers');
    assert.match(readme, /npm install && npm start/);
    assert.match(readme, /npm test/);
  });
});

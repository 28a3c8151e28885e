/**
 * `npm install && npm start` as root in a directory only root can enter (a checkout in /root): Postgres runs as
 * the `postgres` user, which can reach neither `./.data` nor `node_modules` there. The first start must still
 * work (cluster and a copy of the binaries under MAILGATE_SYSTEM_DIR), and the second reuse both.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../src/db/embedded.js';

const root = path.resolve(import.meta.dirname, '../..');
const notRoot = process.getuid?.() !== 0 ? 'runs as root only: it checks what happens when Postgres must run as the postgres user' : false;

let privateDir: string;
let checkout: string;
let systemDir: string;
let port: number;

interface Server {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

async function start(): Promise<Server> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    BOUNCE_SMTP_PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    LOG_PRETTY: 'false',
    MAILGATE_SYSTEM_DIR: systemDir,
  };
  for (const name of ['DATABASE_URL', 'DATA_DIR', 'SMTP_URL', 'EMBEDDED_PG_PORT', 'TLS_CERT_FILE', 'TLS_KEY_FILE']) delete env[name];
  // What `npm start` runs, in the private checkout, with its own node_modules.
  const child = spawn(process.execPath, ['bin/mailgate.js', 'serve'], { cwd: checkout, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  const deadline = Date.now() + 90_000;
  while (!out.includes('Mailgate is listening')) {
    if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}:\n${out}\n${err}`);
    if (Date.now() > deadline) throw new Error(`serve did not start:\n${out}\n${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 100)); // the rest of the banner
  return { child, out: () => out, err: () => err, exited };
}

async function stop(s: Server): Promise<number | null> {
  s.child.kill('SIGTERM');
  return await s.exited;
}

const basic = (secret: string) => `Basic ${Buffer.from(`admin:${secret}`).toString('base64')}`;
const listMethods = '<?xml version="1.0"?><methodCall><methodName>system.listMethods</methodName><params/></methodCall>';

async function listMethodsStatus(secret: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}/CloudMailing`, {
    method: 'POST',
    headers: { authorization: basic(secret), 'content-type': 'text/xml' },
    body: listMethods,
  });
  return { status: r.status, body: await r.text() };
}

/** The cluster directory the checkout's start recorded (it cannot be under the private checkout). */
async function clusterDir(): Promise<string> {
  const meta = JSON.parse(await readFile(path.join(checkout, '.data', 'embedded.json'), 'utf8')) as { pgDir?: string };
  assert.ok(meta.pgDir, 'the cluster was moved out of the private checkout');
  return meta.pgDir;
}

/** The copy of the binaries: MAILGATE_SYSTEM_DIR/pg-<platform>-<version>, exactly one. */
async function binariesCopy(): Promise<string> {
  const copies = (await readdir(systemDir)).filter((n) => n.startsWith('pg-'));
  assert.equal(copies.length, 1, `one copy, no leftovers: ${copies.join(', ')}`);
  return path.join(systemDir, copies[0]!);
}

let running: Server | undefined;

describe('cli: first start as root from a checkout only root can enter', { skip: notRoot }, () => {
  before(async () => {
    privateDir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-private-'));
    await chmod(privateDir, 0o700);
    checkout = path.join(privateDir, 'mailgate');
    await mkdir(checkout);
    const entries = (await readdir(root)).filter((n) => n !== '.git' && !n.startsWith('.data'));
    const paths = entries.map((n) => path.join(root, n));
    // Hard links: the working tree and its node_modules in a second or so (a plain copy off this file system).
    await promisify(execFile)('cp', ['-al', ...paths, checkout]).catch(() => promisify(execFile)('cp', ['-a', ...paths, checkout]));
    // The postgres user must reach MAILGATE_SYSTEM_DIR: mkdtemp makes it 0700.
    systemDir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-system-'));
    await chmod(systemDir, 0o755);
    port = await freePort();
  });

  after(async () => {
    if (running && running.child.exitCode === null) await stop(running);
    // A cluster left running by a failed test (its server killed before it could stop it).
    const pidFile = await clusterDir()
      .then((d) => path.join(d, 'postmaster.pid'))
      .catch(() => '');
    if (pidFile && existsSync(pidFile)) {
      const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGINT');
        } catch {
          // already gone
        }
      }
    }
    await rm(privateDir, { recursive: true, force: true });
    await rm(systemDir, { recursive: true, force: true });
  });

  let secret = '';

  it('starts: the cluster and a copy of the binaries go where the postgres user can reach them', async () => {
    running = await start();
    const banner = running.out();
    const m = /First API key, shown once \(account "default", key id (\d+)\):\n {2}(\S+)/.exec(banner);
    assert.ok(m, `no key in: ${banner}`);
    secret = m[2]!;
    assert.match(banner, new RegExp(`http://127\\.0\\.0\\.1:${port}/CloudMailing`));
    const operator = /First operator of the admin pages, shown once: login "admin", password:\n {2}(\S+)/.exec(banner);
    assert.ok(operator, `no operator password in: ${banner}`);
    assert.ok(!running.err().includes(operator[1]!), 'the password is on the terminal, never in a log line');

    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    const call = await listMethodsStatus(secret);
    assert.equal(call.status, 200, call.body);
    assert.match(call.body, /<methodResponse>/);
    assert.match(call.body, /create_mailing/);

    const cluster = await clusterDir();
    assert.ok(cluster.startsWith(systemDir + path.sep), `${cluster} is under ${systemDir}`);
    const copy = await binariesCopy();
    assert.match(running.err(), /not reachable by the postgres user; Postgres runs from a copy in/);
    for (const dir of [systemDir, copy, path.join(copy, 'native', 'bin'), path.join(copy, 'native', 'lib')]) {
      assert.equal((await stat(dir)).mode & 0o005, 0o005, `${dir} is readable and searchable by others`);
    }
    assert.equal((await stat(path.join(copy, 'native', 'bin', 'postgres'))).mode & 0o005, 0o005);
    // The running postmaster is the copy's binary, not the one in the private node_modules.
    const pid = Number((await readFile(path.join(cluster, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    assert.equal(await readlink(`/proc/${pid}/exe`), path.join(copy, 'native', 'bin', 'postgres'));

    assert.equal(await stop(running), 0, running.err());
    assert.ok(!existsSync(path.join(cluster, 'postmaster.pid')), 'the cluster was stopped');
  });

  it('starts again, reusing the copy and the cluster', async () => {
    const copy = await binariesCopy();
    const before = await stat(copy);
    running = await start();
    assert.doesNotMatch(running.out(), /First API key/);
    assert.doesNotMatch(running.out(), /First operator/);
    assert.doesNotMatch(running.err(), /runs from a copy/, 'no second copy');
    assert.equal((await stat(copy)).ino, before.ino);
    assert.equal(await binariesCopy(), copy);

    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    const call = await listMethodsStatus(secret);
    assert.equal(call.status, 200, 'the first key still works: same cluster');
    assert.equal(await stop(running), 0, running.err());
  });
});

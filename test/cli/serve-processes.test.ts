/**
 * `mailgate serve --processes 2`, the built command as an operator runs it: one embedded Postgres, one worker
 * and one banner in the primary, two HTTP processes sharing the port (node:cluster hands each new connection
 * to the next one, so calls over fresh connections alternate between them). A session made by one process is
 * good in the other, the login limiter counts the node's failures, a transactional send is sent once, /metrics
 * sums the node; a child killed with SIGKILL is replaced while the other answers; SIGTERM drains what is in
 * flight and stops everything.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../src/db/embedded.js';
import { basicAuthHeader } from '../support/auth.js';
import { runProcess } from '../support/process.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';

const root = path.resolve(import.meta.dirname, '../..');
let dataDir: string;
let port: number;
let relay: TestSmtpServer;
let serve: ChildProcess;
let out = '';
let err = '';
let exited: Promise<{ code: number | null; signal: string | null }>;
let secret = '';
let password = '';

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: String(port),
    BOUNCE_SMTP_PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    SMTP_URL: relay.url,
  };
  delete e.DATABASE_URL;
  delete e.MAILGATE_PROCESSES;
  return e;
}

/** env() for runProcess, which lays it over this process's environment: unset is empty there. */
const commandEnv = (o: Record<string, string> = {}) => ({ ...env(), DATABASE_URL: '', MAILGATE_PROCESSES: '', ...o }) as Record<string, string>;

/** The JSON log lines (stderr) with message `msg`. */
const logged = (msg: string) =>
  err
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === msg);
const readyPids = () => logged('HTTP process ready').map((l) => l.httpProcess as number);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One call on a connection of its own (no keep-alive): the cluster gives it to the next HTTP process. */
function call(method: string, p: string, o: { headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, agent: false, headers: o.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

const cookieOf = (a: Answer, name: string) => /^([^=]+)=([^;]*)/.exec((a.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${name}=`)) ?? '')?.[2];
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

/** A login over two connections (the form, then its POST): the answer to the POST. */
async function logIn(login: string, pass: string): Promise<Answer> {
  const page = await call('GET', '/admin/login');
  assert.equal(page.status, 200);
  const csrf = cookieOf(page, 'mailgate_login')!;
  return await call('POST', '/admin/login', {
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `mailgate_login=${csrf}` },
    body: form({ login, password: pass, csrf, next: '/admin/mailings' }),
  });
}

const listMethods = '<?xml version="1.0"?><methodCall><methodName>system.listMethods</methodName><params/></methodCall>';
/** Sender's scheme: the key's secret as the user name. */
const basic = (user: string) => `Basic ${Buffer.from(`${user}:`).toString('base64')}`;

before(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-processes-'));
  port = await freePort();
  relay = await startTestSmtpServer();
  serve = spawn(process.execPath, [path.join(root, 'bin/mailgate.js'), 'serve', '--processes', '2'], {
    env: env(),
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  serve.stdout!.on('data', (c) => (out += c));
  serve.stderr!.on('data', (c) => (err += c));
  exited = new Promise((resolve) => serve.on('exit', (code, signal) => resolve({ code, signal })));
  await waitFor(
    'the banner, with the first operator',
    () => {
      assert.equal(serve.exitCode, null, `serve exited: ${err}`);
      return /log in at /.test(out);
    },
    90_000,
  );
  secret = /First API key, shown once \(account "default", key id \d+\):\n {2}(\S+)/.exec(out)![1]!;
  password = /First operator of the admin pages, shown once: login "admin", password:\n {2}(\S+)/.exec(out)![1]!;
});
after(async () => {
  if (serve.exitCode === null && serve.signalCode === null) {
    serve.kill('SIGTERM');
    await exited;
  }
  await relay?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('cli: serve --processes, a bad count', () => {
  it('is refused in one line before anything starts', async () => {
    for (const bad of ['0', 'many', '257']) {
      const r = await runProcess(process.execPath, [path.join(root, 'bin/mailgate.js'), 'serve', '--processes', bad], { env: commandEnv(), timeoutMs: 60_000 });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, 'error: --processes: a count from 1 to 256, or auto\n');
      assert.equal(r.stdout, '');
    }
  });
});

describe('cli: serve --processes 2', () => {
  it('prints one banner naming the processes, after both HTTP processes are ready; one worker runs', async () => {
    assert.equal(out.split('Mailgate is listening on').length, 2, out);
    assert.equal(out.split('First API key').length, 2, out);
    assert.match(out, /2 HTTP processes; the worker and the bounce listener run once, in the primary/);
    assert.equal(new Set(readyPids()).size, 2, err);
    assert.equal(logged('worker started').length, 1, 'one worker, in the primary');
    const health = await call('GET', '/healthz');
    assert.equal(health.status, 200, health.body);
    assert.equal((JSON.parse(health.body) as { workers_alive: number }).workers_alive, 1);
  });

  it('a session made in one process is good in the other: login, then pages over fresh connections', async () => {
    const signedIn = await logIn('admin', password);
    assert.equal(signedIn.status, 303, signedIn.body);
    const session = cookieOf(signedIn, 'mailgate_admin');
    assert.ok(session);
    for (let i = 0; i < 4; i++) {
      const page = await call('GET', '/admin/mailings', { headers: { cookie: `mailgate_admin=${session}` } });
      assert.equal(page.status, 200, `page ${i}: ${page.status}`);
    }
    for (let i = 0; i < 4; i++) {
      const ok = await call('POST', '/CloudMailing', { headers: { authorization: basicAuthHeader(secret), 'content-type': 'text/xml' }, body: listMethods });
      assert.match(ok.body, /create_mailing/);
    }
  });

  it('transactional sends over fresh connections are each delivered once, by the one worker; /metrics sums the node', async () => {
    const html = path.join(dataDir, 'order.html');
    await writeFile(html, '<p>Order {{ n }}</p>');
    const made = await runProcess(
      process.execPath,
      [
        path.join(root, 'bin/mailgate.js'),
        'campaigns',
        'create',
        'ORDERS',
        '--account',
        'default',
        '--from',
        'shop@example.org',
        '--subject',
        'Order {{ n }}',
        '--html-file',
        html,
      ],
      { env: commandEnv({ LOG_LEVEL: 'warn' }), timeoutMs: 60_000 },
    );
    assert.equal(made.code, 0, made.stderr);
    const to = [1, 2, 3, 4].map((n) => `buyer${n}@example.com`);
    for (const [i, email] of to.entries()) {
      const r = await call('POST', '/api/0/default/transactional/ORDERS/send', {
        headers: { authorization: basic(secret), 'content-type': 'application/json' },
        body: JSON.stringify({ to: [{ email }], args: { n: i + 1 } }),
      });
      assert.equal(r.status, 200, r.body);
    }
    await waitFor('every message sent', async () => {
      const metrics = await call('GET', '/metrics');
      return /^mailgate_messages_total\{outcome="sent",relay="[^"]+"\} 4$/m.test(metrics.body);
    });
    for (const email of to) assert.equal(relay.to(email).length, 1, `${email}: one copy`);
    const metrics = (await call('GET', '/metrics')).body;
    // The installation's gauges once, not once per process.
    assert.match(metrics, /^mailgate_workers_alive 1$/m);
    assert.match(metrics, /^mailgate_database_up 1$/m);
    const sends = [...metrics.matchAll(/^mailgate_api_requests_total\{dialect="sender",function="[^"]*transactional[^"]*",status="200"\} (\d+)$/gm)];
    assert.equal(
      sends.reduce((n, m) => n + Number(m[1]), 0),
      4,
      'the sends both processes answered, summed',
    );
  });

  it('the login limiter counts the failures of the node, not of one process', async () => {
    // One login form, then each attempt a POST on a connection of its own: the attempts alternate between the
    // two processes. 5 failures per address and 5 minutes: 3 in one process, 2 in the other.
    const page = await call('GET', '/admin/login');
    const csrf = cookieOf(page, 'mailgate_login')!;
    const attempt = (pass: string) =>
      call('POST', '/admin/login', {
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `mailgate_login=${csrf}` },
        body: form({ login: 'admin', password: pass, csrf, next: '/admin/mailings' }),
      });
    for (let i = 0; i < 5; i++) assert.equal((await attempt('wrong password')).status, 401, `failure ${i + 1}`);
    for (let i = 0; i < 2; i++) assert.equal((await attempt(password)).status, 429, `refused in either process (${i})`);
  });

  it('a child killed with SIGKILL is replaced, and the node answers meanwhile', async () => {
    const [victim, other] = readyPids();
    process.kill(victim!, 'SIGKILL');
    await waitFor('the primary saw it end', () => logged('HTTP process ended; starting another').some((l) => l.httpProcess === victim));
    assert.ok(alive(other!));
    for (let i = 0; i < 3; i++) {
      const ok = await call('POST', '/CloudMailing', { headers: { authorization: basicAuthHeader(secret), 'content-type': 'text/xml' }, body: listMethods });
      assert.match(ok.body, /create_mailing/);
    }
    await waitFor('a new HTTP process', () => readyPids().length === 3);
    const replacement = readyPids()[2]!;
    assert.ok(![victim, other].includes(replacement));
    assert.ok(alive(replacement));
    for (let i = 0; i < 3; i++) assert.equal((await call('GET', '/healthz')).status, 200);
    assert.equal(logged('worker started').length, 1, 'the worker was not restarted');
  });

  it('SIGTERM: a request in flight is answered, the children exit, then the worker and Postgres; exit code 0', async () => {
    const children = readyPids().filter(alive);
    assert.equal(children.length, 2);
    const postmaster = Number((await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    // A request in flight when both children are told to stop: its headers taken by a child (which answers
    // `100 Continue`), its body sent only once both are stopping.
    let taken!: () => void;
    const inFlight = new Promise<void>((resolve) => (taken = resolve));
    const answer = new Promise<Answer>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/CloudMailing',
          agent: false,
          headers: {
            authorization: basicAuthHeader(secret),
            'content-type': 'text/xml',
            'content-length': String(Buffer.byteLength(listMethods)),
            expect: '100-continue',
          },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        },
      );
      req.on('error', reject);
      req.on('continue', () => {
        taken();
        waitFor('both children stopping', () => logged('HTTP process stopping').length === 2, 60_000).then(() => req.end(listMethods), reject);
      });
      req.flushHeaders();
    });
    await inFlight;
    serve.kill('SIGTERM');
    const r = await answer;
    assert.equal(r.status, 200);
    assert.match(r.body, /create_mailing/);
    assert.deepEqual(await exited, { code: 0, signal: null }, err);
    for (const pid of children) assert.ok(!alive(pid), `child ${pid} ended`);
    assert.ok(!alive(postmaster), 'the embedded Postgres stopped');
    assert.ok(logged('worker stopped').length === 1);
  });
});

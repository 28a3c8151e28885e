/**
 * A transactional send's recipient is committed before its send's job is woken (src/core/transactional/wake.ts),
 * so a gateway can die in between. Here it does, for real: a `mailgate serve --no-worker` process armed with the
 * `transactional-wake` failpoint kills itself with SIGKILL right after the commit of a send to a running
 * transactional campaign, before any enqueue. The recipient is stored READY with no job; a worker started
 * afterwards finds it (its start's sweep) and the message reaches the SMTP relay exactly once.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../src/db/embedded.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { sendJobs, sendOf } from '../support/jobs.js';
import { runProcess } from '../support/process.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';

const root = path.resolve(import.meta.dirname, '../..');
/** Waits for what must happen; generous, a safety net only (the machine is shared). */
const LONG = 120_000;

let gw: TestGateway;
let smtp: TestSmtpServer;
let dir: string | undefined;
const children = new Set<ChildProcess>();

interface Child {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `mailgate <args>` on the test's database, once it printed `ready`. */
async function mailgate(args: string[], ready: RegExp, extra: Record<string, string> = {}): Promise<Child> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: gw.databaseUrl,
    SMTP_URL: smtp.url,
    PUBLIC_URL: 'http://mailgate.test',
    HOST: '127.0.0.1',
    BOUNCE_SMTP_PORT: '0',
    LOG_LEVEL: 'warn',
    // No periodic sweep comes in time: the start's sweep is what finds the recipient.
    WORKER_STALE_SECONDS: '3600',
    SEND_LANES: '1',
    ...extra,
  };
  const child = spawn(process.execPath, [path.join(root, 'bin/mailgate.js'), ...args], { env, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  await waitFor(
    `mailgate ${args.join(' ')} started`,
    () => {
      if (child.exitCode !== null) throw new Error(`mailgate ${args.join(' ')} exited ${child.exitCode}: ${out} ${err}`);
      return ready.test(out);
    },
    LONG,
  );
  return { child, exited };
}

/** The transactional send of the Sender page, by curl (what the page's integrations run). */
const sendCommand = (port: number | string, email: string) =>
  `curl -s -X POST -u '${gw.key.secret}:' -H 'Content-Type: application/json' ` +
  `--data '${JSON.stringify({ to_email: email, args: { n: email } })}' 'http://127.0.0.1:${port}/api/0/acme/transactional/WAKE-1/send'`;

const to = (email: string) => smtp.messages.filter((m) => m.to[0] === email);

async function recipient(email: string): Promise<{ status: string; mailing_id: number } | undefined> {
  const { rows } = await gw.pool.query<{ status: string; mailing_id: number }>('SELECT status, mailing_id FROM recipients WHERE email = $1', [email]);
  return rows[0];
}

before(async () => {
  smtp = await startTestSmtpServer();
  // One lane: the send's one job ends once it finds nothing to send (a second lane waits for the first one's lease).
  gw = await startTestGateway({ worker: false, env: { SEND_LANES: '1' } });
  dir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-wake-'));
  await writeFile(path.join(dir, 'body.html'), '<p>Order {{ n }}</p>');
  const made = await runProcess(
    process.execPath,
    [
      path.join(root, 'bin/mailgate.js'),
      'campaigns',
      'create',
      'WAKE-1',
      '--account',
      'acme',
      '--from',
      'shop@acme.example',
      '--subject',
      'Order {{ n }}',
      '--html-file',
      path.join(dir, 'body.html'),
    ],
    { env: { DATABASE_URL: gw.databaseUrl, LOG_LEVEL: 'warn' }, timeoutMs: 60_000 },
  );
  assert.equal(made.code, 0, made.stderr);
});
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await gw?.stop();
  await smtp?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('reliability: a gateway killed between a transactional commit and its wake-up', () => {
  it('kill -9 at the failpoint: the recipient stays READY with no job; a worker started afterwards delivers it once', { timeout: 300_000 }, async () => {
    // The campaign becomes a running transactional send, its first message sent, its job done.
    const first = await runProcess('bash', ['-c', sendCommand(new URL(gw.url).port, 'first@acme.example')]);
    assert.match(first.stdout, /"message_id"/, first.stderr);
    const a = await mailgate(['worker'], /worker is running/);
    await waitFor(
      'the first message delivered',
      async () => to('first@acme.example').length === 1 && (await recipient('first@acme.example'))?.status === 'finished',
      LONG,
    );
    const sendId = await sendOf(gw.pool, (await recipient('first@acme.example'))!.mailing_id);
    await waitFor('the send job done', async () => (await sendJobs(gw.pool, sendId)).length === 0, LONG);
    a.child.kill('SIGTERM');
    assert.equal((await a.exited).code, 0, 'the worker drained and exited');

    // The gateway armed with the failpoint commits the recipient and kills itself before any enqueue.
    const port = await freePort();
    const g = await mailgate(['serve', '--no-worker'], /Mailgate is listening on/, { PORT: String(port), MAILGATE_FAILPOINT: 'transactional-wake' });
    const killed = await runProcess('bash', ['-c', sendCommand(port, 'second@acme.example')]);
    assert.notEqual(killed.code, 0, `the call got no answer: ${killed.stdout}`);
    assert.deepEqual(await g.exited, { code: null, signal: 'SIGKILL' });
    assert.equal((await recipient('second@acme.example'))?.status, 'ready', 'the recipient was committed READY');
    assert.deepEqual(await sendJobs(gw.pool, sendId), [], 'no job woke the send');
    assert.equal(to('second@acme.example').length, 0);

    const b = await mailgate(['worker'], /worker is running/);
    await waitFor('the second message delivered', async () => (await recipient('second@acme.example'))?.status === 'finished', LONG);
    b.child.kill('SIGTERM');
    assert.equal((await b.exited).code, 0, 'the worker drained and exited');
    assert.equal(to('second@acme.example').length, 1, 'delivered once');
    assert.equal(to('first@acme.example').length, 1, 'the first message was not sent again');
  });
});

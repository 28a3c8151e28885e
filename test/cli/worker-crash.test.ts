/**
 * `mailgate worker` as real processes: kill -9 one in the middle of a mailing, start another, and every
 * recipient still ends final; duplicates are at most the messages that were in flight (and carry the same
 * Message-ID); SIGTERM drains and exits 0.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CallContext } from '../../src/core/context.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';

const root = path.resolve(import.meta.dirname, '../..');
const N = 3000;
const BATCH = 50;
let smtp: TestSmtpServer;
let gw: TestGateway;
let ctx: CallContext;
const children: ChildProcess[] = [];

async function worker(): Promise<{ child: ChildProcess; exited: Promise<number | null> }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: gw.databaseUrl,
    SMTP_URL: smtp.url,
    WORKER_STALE_SECONDS: '4',
    SEND_BATCH_SIZE: String(BATCH),
    LOG_LEVEL: 'warn',
    PUBLIC_URL: 'http://mailgate.test',
  };
  const child = spawn(process.execPath, [path.join(root, 'bin/mailgate.js'), 'worker'], { env, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  const deadline = Date.now() + 30_000;
  while (!out.includes('worker is running')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`worker did not start: ${out} ${err}`);
    await sleep(50);
  }
  return { child, exited };
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, ms = 90_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

before(async () => {
  smtp = await startTestSmtpServer();
  smtp.dataDelayMs = 3; // slow enough that the mailing is mid-way when the worker is killed
  gw = await startTestGateway({ worker: false });
  ctx = { accountId: (await gw.services.store.accounts.bySlug('acme'))!.id, requestId: 't' };
});
after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await gw.stop();
  await smtp.close();
});

describe('worker: crash recovery with real processes', () => {
  it('kill -9 mid-mailing, a new worker finishes it; duplicates only from the batches in flight', async () => {
    const id = await gw.core.mailings.create(ctx, { dialect: 'test', fromEmail: 'news@example.org', subject: 'Hi {{ n }}', html: '<p>{{ n }}</p>' });
    await gw.core.recipients.add(
      ctx,
      id,
      Array.from({ length: N }, (_, i) => ({ email: `k${i}@example.org`, fields: { n: String(i) } })),
    );
    const a = await worker();
    await gw.core.mailings.start(ctx, id);
    await waitFor('a few hundred sent', () => smtp.messages.length >= 300);
    a.child.kill('SIGKILL');
    await a.exited;
    const atKill = smtp.messages.length;
    assert.ok(atKill < N, 'killed before the end');

    const b = await worker();
    await waitFor('the mailing finished', async () => (await gw.core.mailings.get(ctx, id)).status === 'finished');
    const m = await gw.core.mailings.get(ctx, id);
    assert.deepEqual(m.totals, { recipients: N, sent: N, pending: 0, error: 0, softbounce: 0 });
    const { rows } = await gw.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM recipients WHERE mailing_id = $1 AND (lease_owner IS NOT NULL OR status <> 'finished')`,
      [id],
    );
    assert.equal(rows[0]!.n, 0, 'nothing left leased or unfinished');

    const byAddress = new Map<string, string[]>();
    for (const msg of smtp.messages) byAddress.set(msg.to[0]!, [...(byAddress.get(msg.to[0]!) ?? []), msg.header('Message-ID')!]);
    assert.equal(byAddress.size, N, 'everyone got the mailing');
    const duplicates = smtp.messages.length - N;
    // In flight at the kill: at most one batch per running job (SEND_LANES jobs of this send).
    assert.ok(duplicates <= BATCH * gw.config.SEND_LANES, `${duplicates} duplicates`);
    for (const ids of byAddress.values()) assert.equal(new Set(ids).size, 1, 'a duplicate carries the same Message-ID');
    console.log(`# killed after ${atKill} messages; ${duplicates} sent twice`);

    b.child.kill('SIGTERM');
    assert.equal(await b.exited, 0, 'SIGTERM drains and exits 0');
  });

  it('SIGTERM mid-mailing drains: exit 0 within 30 s, nothing left leased, a successor finishes with no duplicate', async () => {
    const before = smtp.messages.length;
    const id = await gw.core.mailings.create(ctx, { dialect: 'test', fromEmail: 'news@example.org', subject: 'Hi', html: '<p>x</p>' });
    await gw.core.recipients.add(
      ctx,
      id,
      Array.from({ length: 1500 }, (_, i) => ({ email: `t${i}@example.org`, fields: {} })),
    );
    const a = await worker();
    await gw.core.mailings.start(ctx, id);
    await waitFor('some sent', () => smtp.messages.length - before >= 200);
    const t0 = Date.now();
    a.child.kill('SIGTERM');
    assert.equal(await a.exited, 0);
    assert.ok(Date.now() - t0 < 30_000, 'drained within 30 s');
    const { rows } = await gw.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM recipients WHERE mailing_id = $1 AND lease_owner IS NOT NULL', [id]);
    assert.equal(rows[0]!.n, 0, 'in-flight batches were finished or released');
    assert.ok((await gw.core.mailings.get(ctx, id)).totals.pending > 0, 'stopped before the end');

    const b = await worker();
    await waitFor('the mailing finished', async () => (await gw.core.mailings.get(ctx, id)).status === 'finished');
    const mine = smtp.messages.slice(before).map((m) => m.to[0]!);
    assert.equal(mine.length, 1500, 'a graceful stop sends nobody twice');
    assert.equal(new Set(mine).size, 1500);
    b.child.kill('SIGTERM');
    assert.equal(await b.exited, 0);
  });
});

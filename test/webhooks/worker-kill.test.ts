/**
 * A worker process killed (kill -9) between the state changes and their webhooks: its requests are on the
 * wire, unanswered, when it dies. A new worker delivers every event after the dead one's leases expire:
 * exactly the events that happened, once each by webhook-id.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CallContext } from '../../src/core/context.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';
import { startReceiver, type Receiver } from './receiver.js';

const root = path.resolve(import.meta.dirname, '../..');
const N = 120;
let smtp: TestSmtpServer;
let gw: TestGateway;
let receiver: Receiver;
let ctx: CallContext;
let secret = '';
const children: ChildProcess[] = [];

async function worker(): Promise<{ child: ChildProcess; exited: Promise<number | null> }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: gw.databaseUrl,
    SMTP_URL: smtp.url,
    WORKER_STALE_SECONDS: '4',
    SEND_BATCH_SIZE: '20',
    LOG_LEVEL: 'warn',
    PUBLIC_URL: 'http://mailgate.test',
    // Long enough that the first worker dies with its requests unanswered; its leases last 5 s more.
    WEBHOOK_TIMEOUT_SECONDS: '3',
    WEBHOOK_RETRY_SCHEDULE: Array.from({ length: 20 }, () => '0.1').join(','),
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

before(async () => {
  smtp = await startTestSmtpServer();
  receiver = await startReceiver(() => secret);
  gw = await startTestGateway({ worker: false });
  ctx = { accountId: (await gw.services.store.accounts.bySlug('acme'))!.id, requestId: 't' };
});
after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await gw?.stop();
  await smtp?.close();
  await receiver?.close();
});

describe('webhooks: a worker killed between the changes and their webhooks', () => {
  it('kill -9 with requests unanswered: a new worker delivers exactly the events that happened', async () => {
    const added = await gw.core.webhooks.add(ctx, { url: receiver.url, kinds: ['delivered'] });
    secret = added.secret;
    receiver.mode = 'hang';
    const id = await gw.core.mailings.create(ctx, { dialect: 'cloudmailing', fromEmail: 'news@example.org', subject: 'Hi', text: 'Hi' });
    await gw.core.recipients.add(
      ctx,
      id,
      Array.from({ length: N }, (_, i) => ({ email: `k${i}@example.org`, fields: {} })),
    );
    const a = await worker();
    await gw.core.mailings.start(ctx, id);
    await waitFor('every recipient delivered', async () => (await gw.core.mailings.get(ctx, id)).totals.sent === N, 60_000);
    await waitFor('webhook requests on the wire', () => receiver.requests.length > 0);
    a.child.kill('SIGKILL');
    await a.exited;
    assert.equal(receiver.delivered().size, 0, 'nothing was delivered before the kill');

    receiver.mode = 'ok';
    const b = await worker();
    const settled = async () =>
      (await gw.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_messages WHERE state <> 'delivered'`)).rows[0]!.n === 0;
    await waitFor('every event delivered', async () => receiver.delivered().size >= N && (await settled()), 90_000);
    const got = [...receiver.delivered().values()].map((q) => `${q.verified!.type} ${(q.verified!.data.recipient as { email: string }).email}`).sort();
    assert.deepEqual(got, Array.from({ length: N }, (_, i) => `delivered k${i}@example.org`).sort());
    const { rows } = await gw.pool.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM webhook_messages GROUP BY state');
    assert.deepEqual(rows, [{ state: 'delivered', n: N }]);
    for (const q of receiver.requests) assert.ok(q.verified, 'every request verifies');
    const ids = new Set(receiver.requests.map((q) => q.id));
    assert.equal(ids.size, N, 'a message sent again carries the same webhook-id');
    b.child.kill('SIGTERM');
    assert.equal(await b.exited, 0);
  });
});

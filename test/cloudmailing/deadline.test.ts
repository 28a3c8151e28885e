/**
 * cloudmailing: `scheduled_duration` is a deadline counted from the mailing's actual start (the original
 * server's meaning): when it is over, what is left ends TIMEOUT and the mailing FINISHED; 0 removes it.
 * A relay slowed down (one connection, small batches, a delay before each DATA answer) makes the one-minute
 * deadline of a 400-recipient mailing fall mid-mailing.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { SEED_MAILING, client, type Client } from './helpers.js';

const DATA_DELAY_MS = 250;
const BATCH = 5;
const CONCURRENCY = 4;
/** A batch already handed to the relay when the deadline falls may finish: every job's batch, one at a time. */
const IN_FLIGHT_ALLOWANCE_MS = CONCURRENCY * BATCH * DATA_DELAY_MS + 3_000;
const A_COUNT = 400;
const B_COUNT = 300;

let relay: TestSmtpServer;
let gw: TestGateway;
let cm: Client;

before(async () => {
  relay = await startTestSmtpServer();
  gw = await startTestGateway({
    worker: true,
    env: {
      SMTP_URL: relay.url,
      SMTP_MAX_CONNECTIONS: '1',
      SEND_BATCH_SIZE: String(BATCH),
      WORKER_CONCURRENCY: String(CONCURRENCY),
      LOG_LEVEL: 'silent',
    },
  });
  cm = client(gw);
});
after(async () => {
  await gw?.stop();
  await relay?.close();
});

async function mailing(id: number): Promise<Record<string, any>> {
  const [m] = await cm.call('list_mailings', { id: [id] });
  assert.ok(m, `mailing ${id}`);
  return m;
}

async function waitUntil(what: string, limitMs: number, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(500);
  }
}

async function createWith(count: number, prefix: string): Promise<number> {
  const id: number = await cm.call('create_mailing', ...SEED_MAILING);
  const added: any[] = await cm.call(
    'add_recipients',
    id,
    Array.from({ length: count }, (_, n) => ({ email: `${prefix}${n}@deadline.example`, firstname: `N${n}` })),
  );
  assert.equal(added.filter((a) => a.error).length, 0);
  return id;
}

/**
 * Every recipient status of a mailing, through the status feed, followed until `expected` recipients have a
 * final status (bounded). The feed's horizon is cluster-wide: a transaction open in another test file's
 * database holds fresh changes back for a moment (the feed lags, never skips), so an empty page is not the end.
 */
async function statuses(id: number, expected: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '';
  const deadline = Date.now() + 30_000;
  const final = () => [...out.values()].filter((s) => s === 'FINISHED' || s === 'TIMEOUT' || s === 'ERROR').length;
  for (;;) {
    const page = await cm.call('get_recipients_status_updated_since', cursor, { mailings: [id] }, 1000);
    cursor = page.cursor;
    for (const r of page.recipients) out.set(r.email, r.status);
    if (!page.recipients.length && (final() >= expected || Date.now() > deadline)) return out;
    if (!page.recipients.length) await new Promise((r) => setTimeout(r, 50));
  }
}

describe('cloudmailing: scheduled_duration is a deadline', () => {
  it('ends what is left TIMEOUT when the minute is over; 0 removes the limit', { timeout: 115_000 }, async (t) => {
    relay.dataDelayMs = DATA_DELAY_MS;
    const a = await createWith(A_COUNT, 'a');
    const b = await createWith(B_COUNT, 'b');
    assert.equal(await cm.call('set_mailing_properties', a, { scheduled_duration: 1 }), 0);
    assert.equal(await cm.call('set_mailing_properties', b, { scheduled_duration: 1 }), 0);
    await cm.call('start_mailing', a);
    await cm.call('start_mailing', b);
    // Changed once started: B has no limit any more.
    assert.equal(await cm.call('set_mailing_properties', b, { scheduled_duration: 0 }), 0);
    assert.equal((await mailing(b)).scheduled_duration, undefined, 'no limit: left out, as the original leaves None out');
    assert.equal((await mailing(a)).scheduled_duration, 1);

    await waitUntil('mailing A started', 20_000, async () => (await mailing(a)).start_time instanceof Date);
    const startA: Date = (await mailing(a)).start_time;
    const deadlineA = startA.getTime() + 60_000;

    // Past the deadline (and the manager's next minute at most), A is over.
    await waitUntil('mailing A FINISHED after its minute', 100_000, async () => (await mailing(a)).status === 'FINISHED');
    const atFinish = await mailing(a);
    assert.ok(Date.now() >= deadlineA - 1_000, 'A finished at its deadline, not before (it had more than a minute of work)');
    // Checked last (so that the rest is seen too): a FINISHED mailing has nothing pending.
    const finishedWithPending = `A was FINISHED with total_pending ${atFinish.total_pending}, total_sent ${atFinish.total_sent}, total_error ${atFinish.total_error}, total_recipient ${atFinish.total_recipient}`;
    // The batches in flight at the deadline settle within their lease at most.
    await waitUntil('A has nothing pending', 30_000, async () => (await mailing(a)).total_pending === 0);
    const endA = await mailing(a);
    t.diagnostic(`A: sent ${endA.total_sent}, error ${endA.total_error}; at FINISHED: pending ${atFinish.total_pending}, sent ${atFinish.total_sent}`);
    assert.equal(endA.total_recipient, A_COUNT);
    assert.equal(endA.total_sent + endA.total_error, endA.total_recipient);
    assert.ok(endA.total_sent > 0, 'part of A went out');
    assert.ok(endA.total_error > 0, `part of A timed out (sent ${endA.total_sent})`);

    const timeoutCount: number = await cm.call('get_recipients_count', { status: ['TIMEOUT'], mailings: [a] });
    assert.equal(timeoutCount, endA.total_error, 'what A did not send is TIMEOUT');
    const finishedCount: number = await cm.call('get_recipients_count', { status: ['FINISHED'], mailings: [a] });
    assert.equal(finishedCount, endA.total_sent);

    // The feed agrees, recipient by recipient, with what the relay got.
    const seen = await statuses(a, A_COUNT);
    assert.equal(seen.size, A_COUNT);
    for (const [email, status] of seen) {
      assert.ok(status === 'FINISHED' || status === 'TIMEOUT', `${email}: ${status}`);
      assert.equal(relay.to(email).length, status === 'FINISHED' ? 1 : 0, `${email} (${status}) at the relay`);
    }
    const lastOfA = Math.max(...relay.messages.filter((m) => m.to[0]!.startsWith('a')).map((m) => m.receivedAt.getTime()));
    // start_time is to the second on the wire: the true deadline lies within the second after deadlineA.
    const afterDeadline = relay.messages.filter((m) => m.to[0]!.startsWith('a') && m.receivedAt.getTime() > deadlineA + 1_000).length;
    t.diagnostic(`A's deadline ${new Date(deadlineA).toISOString()} (+1 s), its last message at the relay ${new Date(lastOfA).toISOString()}, ${afterDeadline} received after it`);
    const late = relay.messages.filter((m) => m.to[0]!.startsWith('a') && m.receivedAt.getTime() > deadlineA + IN_FLIGHT_ALLOWANCE_MS);
    assert.deepEqual(late.map((m) => `${m.to[0]} at ${m.receivedAt.toISOString()}`), [], `nothing of A sent after ${new Date(deadlineA).toISOString()}`);

    // B started with A and is past its original minute: still sending, nothing TIMEOUT.
    const startB: Date = (await mailing(b)).start_time;
    await waitUntil("B past its first minute", 30_000, async () => Date.now() > startB.getTime() + 62_000);
    const midB = await mailing(b);
    // 700 messages at one a DATA_DELAY_MS cannot all be out by now: B must still be at work.
    assert.equal(midB.status, 'RUNNING');
    assert.ok(midB.total_pending > 0, `B has work left (${midB.total_pending})`);
    assert.equal(await cm.call('get_recipients_count', { status: ['TIMEOUT'], mailings: [b] }), 0);

    relay.dataDelayMs = 0;
    await waitUntil('mailing B FINISHED', 60_000, async () => (await mailing(b)).status === 'FINISHED');
    const endB = await mailing(b);
    assert.equal(endB.total_sent, B_COUNT);
    assert.equal(endB.total_error, 0);
    assert.equal(await cm.call('get_recipients_count', { status: ['TIMEOUT'], mailings: [b] }), 0);
    assert.equal(relay.messages.filter((m) => m.to[0]!.startsWith('b')).length, B_COUNT);

    assert.equal(atFinish.total_pending, 0, finishedWithPending);
    assert.equal(atFinish.total_sent + atFinish.total_error, atFinish.total_recipient, finishedWithPending);
  });
});

/**
 * cloudmailing: `scheduled_duration` is a deadline counted from the mailing's actual start (the original
 * server's meaning): when it is over, what is left ends TIMEOUT and the mailing FINISHED; 0 removes it.
 *
 * No minute is waited for. The relay holds every message at a gate (one connection, small batches), so the
 * send jobs stand still while the test moves a mailing's recorded start back in the database (its minute
 * then over, or not yet) and runs the mailing manager's check on the wire (`mailing_manager_force_check`, what
 * the worker runs every minute). What each step may and may not do is then read from stored state and from
 * the order in which the relay accepted messages, never from the clock.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gate, type RelayGate } from '../support/gate.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';
import { SEED_MAILING, client, type Client } from './helpers.js';

const BATCH = 5;
const A_COUNT = 400;
const B_COUNT = 300;

let relay: TestSmtpServer;
let door: RelayGate;
let gw: TestGateway;
let cm: Client;

before(async () => {
  relay = await startTestSmtpServer();
  door = gate(relay);
  gw = await startTestGateway({
    worker: true,
    env: {
      SMTP_URL: relay.url,
      SMTP_MAX_CONNECTIONS: '1',
      SEND_BATCH_SIZE: String(BATCH),
      WORKER_CONCURRENCY: '4',
      // One job per mailing: while A has a batch claimed, A's only job waits at the gate and claims nothing more.
      SEND_LANES: '1',
      // A message held at the gate waits for the test, not for a socket timeout.
      SMTP_TIMEOUT_MS: '600000',
      LOG_LEVEL: 'silent',
    },
  });
  cm = client(gw);
});
after(async () => {
  await door?.open();
  await gw?.stop();
  await relay?.close();
});

async function mailing(id: number): Promise<Record<string, any>> {
  const [m] = await cm.call('list_mailings', { id: [id] });
  assert.ok(m, `mailing ${id}`);
  return m;
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

const received = (prefix: string) => relay.messages.filter((m) => m.to[0]!.startsWith(prefix)).length;
const timedOut = (id: number): Promise<number> => cm.call('get_recipients_count', { status: ['TIMEOUT'], mailings: [id] });

/** A's recipients leased to a worker (claimed, their batch not recorded yet). */
async function inFlight(id: number): Promise<string[]> {
  const { rows } = await gw.pool.query<{ email: string }>(
    `SELECT email FROM recipients WHERE mailing_id = $1 AND status IN ('ready', 'warning') AND lease_owner IS NOT NULL ORDER BY id`,
    [id],
  );
  return rows.map((r) => r.email);
}

/**
 * Every recipient status of a mailing, through the status feed, followed until `expected` recipients have a
 * final status (bounded). The feed's horizon is cluster-wide: a transaction open in another test file's
 * database holds fresh changes back for a moment (the feed lags, never skips), so an empty page is not the end.
 */
async function statuses(id: number, expected: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '';
  const final = () => [...out.values()].filter((s) => s === 'FINISHED' || s === 'TIMEOUT' || s === 'ERROR').length;
  await waitFor(
    `the feed shows ${expected} final statuses of mailing ${id}`,
    async () => {
      for (;;) {
        const page = await cm.call('get_recipients_status_updated_since', cursor, { mailings: [id] }, 1000);
        cursor = page.cursor;
        for (const r of page.recipients) out.set(r.email, r.status);
        if (!page.recipients.length) return final() >= expected;
      }
    },
    30_000,
  );
  return out;
}

describe('cloudmailing: scheduled_duration is a deadline', () => {
  it('ends what is left TIMEOUT when the minute is over; 0 removes the limit', async (t) => {
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
    await waitFor('A and B started', async () => (await mailing(a)).start_time instanceof Date && (await mailing(b)).start_time instanceof Date);

    // Part of both goes out within their minute; then the pipeline stands still: a message held at the gate,
    // A's batch claimed behind it.
    await door.releaseUntil('some of A and of B at the relay', () => received('a') >= BATCH && received('b') >= BATCH);
    await door.waitHeld();
    await waitFor("A's next batch claimed", async () => (await inFlight(a)).length > 0);
    const midA = await mailing(a);
    assert.equal(midA.status, 'RUNNING');
    assert.ok(midA.total_pending > 0, `A has work left (${midA.total_pending})`);
    assert.equal(await timedOut(a), 0);

    // Not before its deadline: half a minute after its start, the manager's check leaves A running, nothing TIMEOUT.
    await gw.pool.query(`UPDATE sends SET started_at = now() - interval '30 seconds' WHERE mailing_id = $1`, [a]);
    assert.equal(await cm.call('mailing_manager_force_check'), 0);
    assert.equal((await mailing(a)).status, 'RUNNING', 'A is not ended before its minute is over');
    assert.equal(await timedOut(a), 0);

    // A's minute (counted from its start) and B's first minute are over now.
    const held = await inFlight(a);
    const acceptedBefore = relay.messages.length;
    const shifted = await gw.pool.query<{ deadline: Date }>(
      `UPDATE sends SET started_at = now() - interval '1 minute' WHERE mailing_id = $1 RETURNING started_at + make_interval(mins => max_duration_minutes) AS deadline`,
      [a],
    );
    const deadlineA = shifted.rows[0]!.deadline;
    await gw.pool.query(`UPDATE sends SET started_at = started_at - interval '1 minute' WHERE mailing_id = $1`, [b]);
    assert.equal(await cm.call('mailing_manager_force_check'), 0);

    // A: what was not claimed is TIMEOUT at once; the batch in flight keeps A open (FINISHED never has pending).
    const closing = await mailing(a);
    assert.equal(closing.status, 'RUNNING', 'not FINISHED while a batch is in flight');
    assert.equal(closing.total_pending, held.length);
    // (A message of the claimed batch may be at the relay already: its outcome is recorded with its batch.)
    const sentOrClaimed = new Set([...relay.messages.map((m) => m.to[0]!).filter((e) => e.startsWith('a')), ...held]);
    assert.equal(await timedOut(a), A_COUNT - sentOrClaimed.size);
    // B is past its original minute: still sending, nothing TIMEOUT.
    const midB = await mailing(b);
    assert.equal(midB.status, 'RUNNING');
    assert.ok(midB.total_pending > 0, `B has work left (${midB.total_pending})`);
    assert.equal(await timedOut(b), 0);

    await door.open();
    await waitFor('mailing A FINISHED', async () => (await mailing(a)).status === 'FINISHED');
    const atFinish = await mailing(a);
    // Checked last (so that the rest is seen too): a FINISHED mailing has nothing pending.
    const finishedWithPending = `A was FINISHED with total_pending ${atFinish.total_pending}, total_sent ${atFinish.total_sent}, total_error ${atFinish.total_error}, total_recipient ${atFinish.total_recipient}`;
    const endA = await mailing(a);
    t.diagnostic(`A: sent ${endA.total_sent}, error ${endA.total_error}; ${held.length} in flight at the deadline`);
    assert.equal(endA.total_recipient, A_COUNT);
    assert.equal(endA.total_sent + endA.total_error, endA.total_recipient);
    assert.ok(endA.total_sent > 0, 'part of A went out');
    assert.ok(endA.total_error > 0, `part of A timed out (sent ${endA.total_sent})`);
    const { rows: ends } = await gw.pool.query<{ after_deadline: boolean }>('SELECT finished_at >= $2 AS after_deadline FROM sends WHERE mailing_id = $1', [
      a,
      deadlineA,
    ]);
    assert.deepEqual(ends, [{ after_deadline: true }], 'A finished at its deadline, not before');

    const timeoutCount: number = await timedOut(a);
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
    // After the deadline only the batch already claimed may still reach the relay.
    const late = relay.messages
      .slice(acceptedBefore)
      .map((m) => m.to[0]!)
      .filter((e) => e.startsWith('a') && !held.includes(e));
    assert.deepEqual(late, [], `nothing of A claimed after ${deadlineA.toISOString()} was sent`);

    await waitFor('mailing B FINISHED', async () => (await mailing(b)).status === 'FINISHED');
    const endB = await mailing(b);
    assert.equal(endB.total_sent, B_COUNT);
    assert.equal(endB.total_error, 0);
    assert.equal(await timedOut(b), 0);
    assert.equal(received('b'), B_COUNT);

    assert.equal(atFinish.total_pending, 0, finishedWithPending);
    assert.equal(atFinish.total_sent + atFinish.total_error, atFinish.total_recipient, finishedWithPending);
  });
});

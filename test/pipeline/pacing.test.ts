/**
 * Pacing: scheduled_start (not before), scheduled_end (not after; what is left ends TIMEOUT), pause, spread.
 * One connection to the relay; where a test must act while a mailing is still going, the relay holds its
 * messages at a gate (test/support/gate.ts) so the pipeline stands still at a known point, and what happened
 * before and after that point is read from stored state and from the order the relay accepted messages in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gate } from '../support/gate.js';
import { people, setup, waitFor, type Harness } from '../support/harness.js';
import { runSendJobsNow, sendJobs, sendOf } from '../support/jobs.js';

let h: Harness;

before(async () => {
  // A message held at the gate waits for the test, not for a socket timeout.
  h = await setup({ SEND_BATCH_SIZE: '2', SMTP_MAX_CONNECTIONS: '1', SMTP_TIMEOUT_MS: '600000' });
  await h.startWorker();
});
after(async () => {
  await h.close();
});

const count = async (mailingId: number, status: string) => (await h.recipients(mailingId)).filter((r) => r.status === status).length;
const leased = async (mailingId: number) => (await h.recipients(mailingId)).filter((r) => r.lease_owner !== null).map((r) => r.email);

describe('pipeline: pacing', () => {
  it('sends nothing before scheduled_start, then everything', async () => {
    const start = new Date(Date.now() + 3_600_000);
    const id = await h.mailing(people(5, 'early'), { scheduledStart: start });
    const sendId = await sendOf(h.pool, id);
    assert.equal(await h.core.mailings.start(h.ctx, id), 'ready');
    const waitsForTheStart = async () => {
      const jobs = await sendJobs(h.pool, sendId);
      return jobs.length === 1 && !jobs[0]!.locked && jobs[0]!.runAt.getTime() === start.getTime();
    };
    assert.ok(await waitsForTheStart(), 'the send job is due at the scheduled start');
    // Run early anyway, the send job starts nothing and puts itself off to the start again.
    assert.equal(await runSendJobsNow(h.pool, sendId), 1);
    await waitFor('the early job put itself off to the start', waitsForTheStart);
    assert.equal(await h.mailingStatus(id), 'ready');
    assert.equal(h.smtp.messages.filter((m) => m.to[0]!.startsWith('early')).length, 0);
    assert.ok((await h.recipients(id)).every((r) => r.status === 'ready' && r.try_count === 0 && r.lease_owner === null));

    // The start comes (moved to now in the database, not waited for): everything goes.
    const moved = await h.pool.query<{ start: Date }>('UPDATE sends SET scheduled_start = now() WHERE id = $1 RETURNING scheduled_start AS start', [sendId]);
    const due = moved.rows[0]!.start;
    assert.equal(await runSendJobsNow(h.pool, sendId), 1);
    await waitFor('the mailing finished', async () => (await h.mailingStatus(id)) === 'finished');
    const got = h.smtp.messages.filter((m) => m.to[0]!.startsWith('early'));
    assert.equal(got.length, 5);
    for (const m of got) assert.ok(m.receivedAt >= due, `received at ${m.receivedAt.toISOString()}, before ${due.toISOString()}`);
    const { rows } = await h.pool.query('SELECT started_at >= scheduled_start AS after_start FROM sends WHERE id = $1', [sendId]);
    assert.equal(rows[0].after_start, true);
    const early = await h.pool.query<{ email: string }>(
      'SELECT email FROM recipients r JOIN sends s ON s.id = r.send_id WHERE s.id = $1 AND NOT r.first_try >= s.scheduled_start',
      [sendId],
    );
    assert.deepEqual(early.rows, [], 'no recipient tried before the start');
  });

  it('at scheduled_end, the recipients left end TIMEOUT and the mailing is finished', async () => {
    const door = gate(h.smtp);
    try {
      const id = await h.mailing(people(30, 'late'), { scheduledEnd: new Date(Date.now() + 3_600_000) });
      const mine = () => h.smtp.messages.filter((m) => m.to[0]!.startsWith('late'));
      await h.core.mailings.start(h.ctx, id);
      await door.releaseUntil('a few sent before the end', () => mine().length >= 2);
      // Held: a message at the gate, the batch it belongs to claimed. Then the end comes, as a client moves it.
      await door.waitHeld();
      await waitFor('a batch claimed', async () => (await leased(id)).length > 0);
      const held = await leased(id);
      const acceptedBefore = h.smtp.messages.length;
      await h.core.mailings.setProperties(h.ctx, id, { scheduledEnd: new Date() });
      await door.open();

      await waitFor('the mailing finished', async () => (await h.mailingStatus(id)) === 'finished');
      await waitFor('no recipient pending', async () => (await count(id, 'ready')) + (await count(id, 'warning')) === 0);
      const sent = await count(id, 'finished');
      const timedOut = await count(id, 'timeout');
      assert.ok(sent >= 1, 'some were sent before the end');
      assert.ok(timedOut >= 1, 'some were left at the end');
      assert.equal(sent + timedOut, 30);
      assert.equal(mine().length, sent);
      // After the end only the batch already claimed may still reach the relay.
      const late = h.smtp.messages
        .slice(acceptedBefore)
        .map((m) => m.to[0]!)
        .filter((e) => e.startsWith('late') && !held.includes(e));
      assert.deepEqual(late, [], 'nothing claimed after the end was sent');
    } finally {
      await door.open();
    }
  });

  it('pause stops sending after the batch in hand; start resumes; nobody is sent twice', async () => {
    const door = gate(h.smtp);
    try {
      const id = await h.mailing(people(40, 'p'));
      const sendId = await sendOf(h.pool, id);
      const mine = () => h.smtp.messages.filter((m) => m.to[0]!.startsWith('p'));
      await h.core.mailings.start(h.ctx, id);
      await door.releaseUntil('a few sent', () => mine().length >= 4);
      await door.waitHeld();
      assert.equal(await h.core.mailings.pause(h.ctx, id), 'paused');
      await door.open();
      await waitFor('no batch in flight', async () => (await h.recipients(id)).every((r) => !r.lease_until || r.lease_until < new Date()));
      // The send job has seen the pause and ended: nothing is left that could send this mailing.
      await waitFor('no send job left', async () => (await sendJobs(h.pool, sendId)).length === 0);
      const sentAtPause = mine().length;
      const readyAtPause = await count(id, 'ready');
      assert.ok(readyAtPause > 0, 'some are left');
      // A mailing started after the pause goes out through the same worker and relay: once it is through,
      // the paused one has had every chance to send.
      const marker = await h.mailing(people(2, 'marker'));
      await h.core.mailings.start(h.ctx, marker);
      await waitFor('the marker mailing finished', async () => (await h.mailingStatus(marker)) === 'finished');
      assert.equal(mine().length, sentAtPause, 'nothing sent while paused');
      assert.equal(await count(id, 'ready'), readyAtPause);
      assert.equal(await h.mailingStatus(id), 'paused');

      await h.core.mailings.start(h.ctx, id);
      await waitFor('the mailing finished', async () => (await h.mailingStatus(id)) === 'finished');
      assert.equal(await count(id, 'finished'), 40);
      const ids = mine().map((m) => m.header('Message-ID'));
      assert.equal(ids.length, 40);
      assert.equal(new Set(ids).size, 40);
    } finally {
      await door.open();
    }
  });

  it('spread_minutes (Mailgate) spreads the mailing: not everything goes out at once', async () => {
    const total = 20;
    const id = await h.mailing(people(total, 'spread'), { spreadMinutes: 1 });
    await h.core.mailings.start(h.ctx, id);
    await waitFor('a first one sent', () => h.smtp.messages.some((m) => m.to[0]!.startsWith('spread')));
    // At a fraction f of the minute since the start, at most ceil(f * total) (at least one) may have been tried
    // or be in flight: read the counts and the database's clock in one statement.
    const { rows } = await h.pool.query<{ elapsed_ms: number; tried: number; ready: number }>(
      `SELECT extract(epoch FROM now() - s.started_at) * 1000 AS elapsed_ms,
              count(*) FILTER (WHERE r.status <> 'ready' OR r.try_count > 0 OR r.lease_until > now())::int AS tried,
              count(*) FILTER (WHERE r.status = 'ready')::int AS ready
         FROM sends s JOIN recipients r ON r.send_id = s.id WHERE s.mailing_id = $1 GROUP BY s.started_at`,
      [id],
    );
    const { elapsed_ms, tried, ready } = rows[0]!;
    // (+1 ms: the worker reads both times to the millisecond, so it may count up to 1 ms more than the database.)
    const allowed = Math.max(1, Math.ceil(Math.min(1, (Number(elapsed_ms) + 1) / 60_000) * total));
    assert.ok(tried <= allowed, `${tried} tried ${Math.round(Number(elapsed_ms))} ms into a one-minute spread of ${total} (at most ${allowed})`);
    assert.ok(tried < total && ready > 0, `not everything at once (${tried} tried, ${ready} ready)`);
    await h.core.mailings.pause(h.ctx, id);
  });
});

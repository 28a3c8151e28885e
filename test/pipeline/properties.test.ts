/**
 * What a mailing's properties do to its sending, as the original CloudMailing server runs them: changes on a
 * started mailing reach the recipients not sent yet; dont_close_if_empty keeps a started mailing open until
 * it is cleared; `testing` mailings go to the built-in capture and never to the relay; kept messages
 * (backup_customized_emails); hourly statistics counted as tries happen; the manager's checks.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gate } from '../support/gate.js';
import { people, setup, waitFor, type Harness } from '../support/harness.js';

let h: Harness;

before(async () => {
  // A message held at the gate waits for the test, not for a socket timeout.
  h = await setup({ SEND_BATCH_SIZE: '5', SMTP_MAX_CONNECTIONS: '1', SMTP_TIMEOUT_MS: '600000' });
  await h.startWorker();
});
after(async () => {
  await h.close();
});

const finished = (id: number) => waitFor(`mailing ${id} finished`, async () => (await h.mailingStatus(id)) === 'finished');

describe('pipeline: properties of a started mailing', () => {
  it('a content change reaches every recipient not sent yet', async () => {
    const door = gate(h.smtp);
    try {
      const id = await h.mailing(people(40, 'chg'), {}, { subject: 'Old {{ firstname }}', html: '<p>old</p>', text: 'old' });
      const mine = () => h.smtp.messages.filter((m) => m.to[0]!.startsWith('chg'));
      await h.core.mailings.start(h.ctx, id);
      await door.releaseUntil('a few sent', () => mine().length >= 5);
      // Changed while the pipeline is held (a message at the gate, its batch claimed and built).
      await door.waitHeld();
      await waitFor('a batch claimed', async () => (await h.recipients(id)).some((r) => r.lease_owner !== null));
      const claimed = (await h.recipients(id)).filter((r) => r.lease_owner !== null).map((r) => r.email);
      const sentBefore = mine().length;
      await h.core.mailings.setProperties(h.ctx, id, { subject: 'New {{ firstname }}', html: '<p>new</p>', text: 'new', charset: 'utf-8' });
      await door.open();
      await finished(id);
      const got = mine();
      assert.equal(got.length, 40);
      const subjects = got.map((m) => m.header('Subject')!);
      const firstNew = subjects.findIndex((s) => s.startsWith('New'));
      assert.ok(firstNew > 0, 'the first ones went out with the old content');
      assert.ok(
        subjects.slice(firstNew).every((s) => s.startsWith('New')),
        'after the change, only the new content',
      );
      assert.ok(firstNew >= sentBefore, 'nothing with the new content before the change');
      const oldAfter = got
        .slice(sentBefore, firstNew)
        .map((m) => m.to[0]!)
        .filter((e) => !claimed.includes(e));
      assert.deepEqual(oldAfter, [], 'after the change the old content went only to the batch already claimed');
      assert.match(subjects[subjects.length - 1]!, /^New N\d+$/);
    } finally {
      await door.open();
    }
  });

  it('dont_close_if_empty keeps a started mailing open for recipients added later; cleared, it finishes', async () => {
    const id = await h.mailing([], { dontCloseIfEmpty: true });
    assert.equal(await h.core.mailings.start(h.ctx, id), 'ready');
    await h.core.recipients.add(h.ctx, id, people(12, 'open').slice(0, 6));
    await waitFor('the first six sent', async () => (await h.recipients(id)).filter((r) => r.status === 'finished').length === 6);
    await h.services.core.mailings.forceCheck(h.ctx);
    assert.equal(await h.mailingStatus(id), 'running', 'nothing left, yet it stays open');
    await h.core.recipients.add(h.ctx, id, people(12, 'open').slice(6));
    await waitFor('all twelve sent', async () => (await h.recipients(id)).filter((r) => r.status === 'finished').length === 12);
    assert.equal(await h.mailingStatus(id), 'running');
    await h.core.mailings.setProperties(h.ctx, id, { dontCloseIfEmpty: false });
    await finished(id);
  });

  it('testing: the messages go to the built-in capture, never to the relay', async () => {
    const id = await h.mailing(people(3, 'tst'), { testing: true }, { subject: 'Test {{ firstname }}' });
    await h.core.recipients.sendTest(h.ctx, id, [{ email: 'tst-send-test@example.org', fields: {} }]);
    await h.core.mailings.start(h.ctx, id);
    await finished(id);
    await waitFor('the test recipient sent', async () => (await h.recipients(id)).every((r) => r.status === 'finished'));
    assert.equal(h.smtp.messages.filter((m) => m.to[0]!.startsWith('tst')).length, 0, 'the relay saw nothing');
    const { rows } = await h.pool.query<{ to: string[]; subject: string }>(
      `SELECT envelope_to AS to, subject FROM captured_messages WHERE account_id = $1 AND envelope_to[1] LIKE 'tst%' ORDER BY id`,
      [h.ctx.accountId],
    );
    assert.deepEqual(rows.map((r) => r.to[0]).sort(), ['tst-send-test@example.org', 'tst0@example.org', 'tst1@example.org', 'tst2@example.org']);
    assert.ok(rows.some((r) => r.subject === 'Test N1'));
  });

  it('backup_customized_emails keeps each recipient message as sent', async () => {
    const id = await h.mailing(people(2, 'bk'), { backupCustomizedEmails: true }, { text: 'Bonjour {{ firstname }}' });
    await h.core.mailings.start(h.ctx, id);
    await finished(id);
    const rows = await h.recipients(id);
    const kept = await h.core.recipients.customizedMessages(
      h.ctx,
      rows.map((r) => r.id),
    );
    assert.equal(kept.size, 2);
    for (const r of rows) {
      const raw = kept.get(r.id)!.toString();
      assert.ok(raw.includes(`To: ${r.email}\r\n`));
      assert.ok(raw.includes(`Bonjour N${r.email.slice(2, 3)}`), raw);
      assert.equal(raw, h.smtp.to(r.email)[0]!.raw.toString(), 'exactly what the relay received');
    }
    // Read with delete: gone afterwards.
    assert.equal((await h.core.recipients.customizedMessages(h.ctx, [rows[0]!.id], true)).size, 1);
    assert.equal((await h.core.recipients.customizedMessages(h.ctx, [rows[0]!.id])).size, 0);
  });

  it('counts tries in hourly statistics as they happen', async () => {
    // One window for both reads, from the previous hour on: an hour that begins in between adds an entry, and drops none.
    const from = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000);
    const before = await h.core.mailings.hourlyStatistics(h.ctx, from, null);
    const count = (stats: typeof before) =>
      stats.reduce((n, s) => ({ sent: n.sent + s.sent, failed: n.failed + s.failed, tries: n.tries + s.tries }), { sent: 0, failed: 0, tries: 0 });
    h.smtp.reject550.add('hs-bad@example.org');
    const id = await h.mailing([...people(3, 'hs'), { email: 'hs-bad@example.org', fields: {} }]);
    await h.core.mailings.start(h.ctx, id);
    await finished(id);
    const after = count(await h.core.mailings.hourlyStatistics(h.ctx, from, null));
    const was = count(before);
    assert.deepEqual({ sent: after.sent - was.sent, failed: after.failed - was.failed, tries: after.tries - was.tries }, { sent: 3, failed: 1, tries: 4 });
  });
});

describe('pipeline: the mailing manager', () => {
  it('closes a paused mailing whose scheduled_end has passed: what is left ends TIMEOUT', async () => {
    const id = await h.mailing(people(4, 'exp'), { scheduledEnd: new Date(Date.now() + 3_600_000) });
    await h.core.mailings.start(h.ctx, id);
    await h.core.mailings.pause(h.ctx, id);
    await h.pool.query(`UPDATE sends SET scheduled_end = now() - interval '1 second' WHERE mailing_id = $1`, [id]);
    // A batch a worker claimed before the pause may still be in flight: the send then closes at a later
    // check, once its outcomes are recorded (see closeAtDeadline).
    await waitFor('closed at its deadline', async () => {
      await h.core.mailings.forceCheck(h.ctx);
      return (await h.mailingStatus(id)) === 'finished';
    });
    const rows = await h.recipients(id);
    assert.equal(rows.filter((r) => r.status === 'timeout').length + rows.filter((r) => r.status === 'finished').length, 4);
    assert.ok(rows.every((r) => r.status !== 'ready'));
  });

  it('starts a READY mailing whose start is due', async () => {
    const id = await h.mailing(people(2, 'due'), { scheduledStart: new Date(Date.now() + 3_600_000) });
    assert.equal(await h.core.mailings.start(h.ctx, id), 'ready');
    await h.core.mailings.forceCheck(h.ctx);
    assert.equal(await h.mailingStatus(id), 'ready', 'not yet due');
    await h.pool.query(`UPDATE sends SET scheduled_start = now() - interval '1 second' WHERE mailing_id = $1`, [id]);
    await h.core.mailings.forceCheck(h.ctx);
    assert.ok(['running', 'finished'].includes(await h.mailingStatus(id)));
    await finished(id);
  });

  it("lists the live workers (CloudMailing's satellites)", async () => {
    const alive = await h.core.workers.alive();
    assert.equal(alive.length, h.workers.length);
    assert.equal(alive[0]!.id, h.workers[0]!.workerId);
    assert.ok(alive[0]!.number > 0);
  });
});

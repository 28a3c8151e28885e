/**
 * The pipeline under trouble: a relay that is down, a worker that died holding leases and a job, two
 * workers on one mailing. Recipients never fail because of the relay, nobody is sent twice, nothing is
 * left in progress.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { people, setup, waitFor, type Harness } from '../support/harness.js';
import { runSendJobsNow, sendJobs, sendOf } from '../support/jobs.js';

const opened: Harness[] = [];
after(async () => {
  await Promise.all(opened.map((h) => h.close()));
});
async function harness(...args: Parameters<typeof setup>) {
  const h = await setup(...args);
  opened.push(h);
  return h;
}

describe('pipeline: resilience', () => {
  it('a relay down for everyone pauses sending without failing anyone; once back, all are sent', async () => {
    const h = await harness();
    await h.startWorker();
    await h.smtp.down();
    const id = await h.mailing(people(6, 'down'));
    const sendId = await sendOf(h.pool, id);
    await h.core.mailings.start(h.ctx, id);
    // The first attempt happens at once and finds nobody listening: the send job puts itself off (its back-off).
    await waitFor('the send put off after a failed attempt', async () => {
      const jobs = await sendJobs(h.pool, sendId);
      return jobs.length > 0 && jobs.every((j) => !j.locked && j.later);
    });
    for (const r of await h.recipients(id)) {
      assert.equal(r.status, 'ready');
      assert.equal(r.try_count, 0);
      assert.ok(!r.lease_until || r.lease_until < new Date(), 'leases released');
    }
    await h.smtp.up();
    // The back-off is not waited out: its time is treated as passed.
    assert.ok((await runSendJobsNow(h.pool, sendId)) > 0);
    await waitFor('the mailing finished', async () => (await h.mailingStatus(id)) === 'finished', 30_000);
    const rows = await h.recipients(id);
    assert.deepEqual([...new Set(rows.map((r) => r.status))], ['finished']);
    assert.ok(rows.every((r) => r.try_count === 1));
    assert.equal(h.smtp.messages.length, 6);
    const { rows: bounces } = await h.pool.query('SELECT 1 FROM bounces');
    assert.equal(bounces.length, 0);
  });

  it('a dead worker (silent, holding leases and the job) is swept: another worker finishes the mailing', async () => {
    const h = await harness();
    const id = await h.mailing(people(6, 'dead'));
    await h.core.mailings.start(h.ctx, id);
    // What a worker killed mid-batch leaves behind: its row gone silent, a live-looking lease on half the
    // recipients, and the send job locked by its graphile-worker pool.
    await h.pool.query(`INSERT INTO workers (id, seen_at, queue_pool_id) VALUES ('dead-1', now() - interval '5 minutes', 'pool-dead-1')`);
    await h.pool.query(
      `UPDATE recipients SET lease_owner = 'dead-1', lease_until = now() + interval '1 hour'
        WHERE id IN (SELECT id FROM recipients WHERE mailing_id = $1 ORDER BY id LIMIT 3)`,
      [id],
    );
    const locked = await h.pool.query(`UPDATE graphile_worker._private_jobs SET locked_at = now(), locked_by = 'pool-dead-1' RETURNING id`);
    assert.equal(locked.rowCount, 1);

    await h.startWorker('w-survivor');
    await waitFor('the mailing finished', async () => (await h.mailingStatus(id)) === 'finished');
    const rows = await h.recipients(id);
    assert.ok(rows.every((r) => r.status === 'finished' && r.lease_owner === null));
    assert.equal(h.smtp.messages.length, 6);
    const { rows: stillLocked } = await h.pool.query(`SELECT id FROM graphile_worker._private_jobs WHERE locked_by = 'pool-dead-1'`);
    assert.equal(stillLocked.length, 0, "the dead pool's job was unlocked");
    const { rows: workers } = await h.pool.query<{ id: string }>('SELECT id FROM workers ORDER BY id');
    assert.deepEqual(
      workers.map((w) => w.id),
      ['w-survivor'],
    );
  });

  it('a dead worker whose batch outlived scheduled_end: the recipients it held end TIMEOUT, not READY for good', async () => {
    const h = await harness();
    const id = await h.mailing(people(4, 'late-dead'));
    await h.core.mailings.start(h.ctx, id);
    // The mailing reached its end (2 sent, the rest timed out) while a now silent worker still held 2 of them.
    await h.pool.query(`DELETE FROM graphile_worker._private_jobs`);
    await h.pool.query(`INSERT INTO workers (id, seen_at) VALUES ('dead-2', now() - interval '5 minutes')`);
    await h.pool.query(
      `UPDATE recipients SET lease_owner = 'dead-2', lease_until = now() + interval '1 hour'
        WHERE id IN (SELECT id FROM recipients WHERE mailing_id = $1 ORDER BY id LIMIT 2)`,
      [id],
    );
    await h.pool.query(`UPDATE recipients SET status = 'finished', try_count = 1 WHERE mailing_id = $1 AND lease_owner IS NULL`, [id]);
    await h.pool.query(`UPDATE sends SET status = 'finished', scheduled_end = now() - interval '1 minute', finished_at = now() WHERE mailing_id = $1`, [id]);

    await h.startWorker('w-after-end');
    await waitFor('the held recipients got a final status', async () => (await h.recipients(id)).every((r) => r.status !== 'ready'));
    const rows = await h.recipients(id);
    assert.deepEqual(
      rows.map((r) => r.status),
      ['timeout', 'timeout', 'finished', 'finished'],
    );
    assert.ok(rows.every((r) => r.lease_owner === null));
    assert.equal(h.smtp.messages.length, 0, 'nothing is sent after the end');
  });

  it('two workers on one mailing never send a recipient twice', async () => {
    const h = await harness({ SEND_BATCH_SIZE: '5', SEND_LANES: '2' });
    h.smtp.dataDelayMs = 2;
    const n = 200;
    const id = await h.mailing(people(n, 'par'));
    await Promise.all([h.startWorker('w-a'), h.startWorker('w-b')]);
    await h.core.mailings.start(h.ctx, id);
    await waitFor('the mailing finished', async () => (await h.mailingStatus(id)) === 'finished', 30_000);
    const rows = await h.recipients(id);
    assert.ok(rows.every((r) => r.status === 'finished' && r.try_count === 1));
    const ids = h.smtp.messages.map((m) => m.header('Message-ID'));
    assert.equal(ids.length, n);
    assert.equal(new Set(ids).size, n);
  });

  it('a temporary failure past RETRY_MAX_HOURS since the first try ends TIMEOUT', async () => {
    const h = await harness({ RETRY_MAX_HOURS: '0' });
    await h.startWorker();
    h.smtp.reject452.add('always-full@example.org');
    const id = await h.mailing([{ email: 'always-full@example.org', fields: {} }]);
    await h.core.mailings.start(h.ctx, id);
    await waitFor('the mailing finished', async () => (await h.mailingStatus(id)) === 'finished');
    const [r] = await h.recipients(id);
    assert.equal(r!.status, 'timeout');
    assert.equal(r!.try_count, 2);
    assert.equal(r!.reply_code, 452);
    assert.equal(r!.next_try, null);
    const { rows } = await h.pool.query(`SELECT kind FROM bounces WHERE recipient_id = $1`, [r!.id]);
    assert.deepEqual(
      rows.map((b) => b.kind),
      ['temporary', 'temporary'],
    );
  });

  it('stop() is graceful: the batch in hand is finished, the rest is left for another worker', async () => {
    const h = await harness({ SEND_BATCH_SIZE: '3', SMTP_MAX_CONNECTIONS: '1' });
    h.smtp.dataDelayMs = 30;
    const id = await h.mailing(people(30, 'handover'));
    const first = await h.startWorker('w-first');
    await h.core.mailings.start(h.ctx, id);
    await waitFor('some sent', () => h.smtp.messages.length >= 3);
    await first.stop();
    const rows = await h.recipients(id);
    assert.ok(
      rows.every((r) => r.lease_owner === null),
      'no lease left behind',
    );
    assert.ok(rows.every((r) => r.status === 'ready' || r.status === 'finished'));
    const { rows: workers } = await h.pool.query('SELECT id FROM workers');
    assert.equal(workers.length, 0, 'deregistered');

    await h.startWorker('w-second');
    await waitFor('the mailing finished', async () => (await h.mailingStatus(id)) === 'finished');
    const ids = h.smtp.messages.map((m) => m.header('Message-ID'));
    assert.equal(ids.length, 30);
    assert.equal(new Set(ids).size, 30);
  });
});

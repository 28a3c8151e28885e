/**
 * Waking a transactional send's job after a recipient's commit (src/db/jobs.ts wakeSend): a lane whose job
 * already waits, untaken, due now and at the transactional priority keeps that job untouched (it runs after
 * the commit anyway); a lane whose job is running, failed before, waits for later or has the bulk priority
 * gets what enqueueSend gives it. No worker runs here: the queue's state is read after each call.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { sendJobKey, TRANSACTIONAL_PRIORITY } from '../../src/db/jobs.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let gw: TestGateway;
let sendId: number;
const key = () => sendJobKey(sendId, 0);

interface Job {
  id: number;
  revision: number;
  priority: number;
  attempts: number;
  locked: boolean;
  due: boolean;
}

/** Every send job of the send, lane 0's key or a key cleared by graphile-worker (a taken job's). */
const jobs = async (): Promise<(Job & { keyed: boolean })[]> =>
  (
    await gw.pool.query<Job & { keyed: boolean }>(
      `SELECT id::int, revision, priority, attempts, locked_at IS NOT NULL AS locked, run_at <= now() AS due, key IS NOT NULL AS keyed
         FROM graphile_worker._private_jobs WHERE (payload->>'sendId')::bigint = $1 AND (key = $2 OR key IS NULL) ORDER BY id`,
      [sendId, key()],
    )
  ).rows;

const wake = () => gw.services.store.jobs.wakeSend(sendId, 1);

before(async () => {
  gw = await startTestGateway();
  const ctx = { accountId: (await gw.services.store.accounts.bySlug('acme'))!.id, requestId: 't' };
  const id = await gw.core.mailings.create(ctx, { dialect: 'sender', name: 'wake', fromEmail: 'news@example.org', subject: 'Wake', html: '<p>x</p>' });
  // The first message makes it a transactional standing send (started: a worker would run it).
  await gw.core.transactional.sendMessage(ctx, { mailingId: id, to: [{ email: 'a@example.org' }], cc: [], bcc: [], fields: {} });
  sendId = (await gw.pool.query<{ id: number }>('SELECT id::int FROM sends WHERE mailing_id = $1', [id])).rows[0]!.id;
  assert.equal((await gw.pool.query('SELECT 1 FROM mailings WHERE id = $1 AND transactional', [id])).rowCount, 1);
});
after(async () => {
  await gw.stop();
});
beforeEach(async () => {
  // Lane 0's job, waiting, due now, at the transactional priority: what a wake leaves alone.
  await gw.pool.query(`DELETE FROM graphile_worker._private_jobs WHERE (payload->>'sendId')::bigint = $1`, [sendId]);
  await gw.services.store.jobs.enqueueSend(sendId, null, 1);
});

describe('wakeSend', () => {
  it('leaves a job waiting untaken, due now, at the transactional priority as it is', async () => {
    const [before] = await jobs();
    assert.deepEqual({ ...before, id: 0 }, { id: 0, revision: 0, priority: TRANSACTIONAL_PRIORITY, attempts: 0, locked: false, due: true, keyed: true });
    await wake();
    assert.deepEqual(await jobs(), [before]);
  });

  it('adds a follow-up job when the waiting one was taken (running)', async () => {
    const [taken] = await jobs();
    await gw.pool.query(`UPDATE graphile_worker._private_jobs SET locked_at = now(), locked_by = 'test' WHERE id = $1`, [taken!.id]);
    await wake();
    const after = await jobs();
    assert.equal(after.length, 2);
    assert.deepEqual(
      after.map((j) => ({ id: j.id === taken!.id, locked: j.locked, keyed: j.keyed, due: j.due, priority: j.priority })),
      [
        { id: true, locked: true, keyed: false, due: true, priority: TRANSACTIONAL_PRIORITY },
        { id: false, locked: false, keyed: true, due: true, priority: TRANSACTIONAL_PRIORITY },
      ],
    );
  });

  it('brings a job waiting for later, one that failed before, or one at the bulk priority to now, replaced', async () => {
    for (const change of ["run_at = now() + interval '1 hour'", 'attempts = 1', 'priority = 0']) {
      const [j] = await jobs();
      await gw.pool.query(`UPDATE graphile_worker._private_jobs SET ${change} WHERE id = $1`, [j!.id]);
      await wake();
      const after = await jobs();
      assert.deepEqual(
        after.map((a) => ({ ...a, revision: a.revision - j!.revision })),
        [{ id: j!.id, revision: 1, priority: TRANSACTIONAL_PRIORITY, attempts: 0, locked: false, due: true, keyed: true }],
        change,
      );
    }
  });

  it('enqueues a lane that has no job', async () => {
    await gw.pool.query(`DELETE FROM graphile_worker._private_jobs WHERE (payload->>'sendId')::bigint = $1`, [sendId]);
    await wake();
    const after = await jobs();
    assert.deepEqual(
      after.map((j) => ({ ...j, id: 0 })),
      [{ id: 0, revision: 0, priority: TRANSACTIONAL_PRIORITY, attempts: 0, locked: false, due: true, keyed: true }],
    );
  });
});

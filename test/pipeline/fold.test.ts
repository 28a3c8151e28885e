/**
 * Workers fold recipient_counts' deltas by themselves, every few seconds (src/worker/index.ts FOLD_EVERY_MS), so
 * a mailing's readers sum a few rows, not a minute of a busy campaign's; the counts stay exact through it; a
 * stopping worker waits for the fold it has in flight.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type pg from 'pg';
import { FOLD_LOCK } from '../../src/db/mailings.js';
import { people, setup, waitFor, type Harness } from '../support/harness.js';

const opened: Harness[] = [];
after(async () => {
  await Promise.all(opened.map((h) => h.close()));
});
async function harness() {
  const h = await setup();
  opened.push(h);
  return h;
}

const deltas = async (q: pg.Pool, mailingId: number) =>
  (await q.query<{ n: number }>('SELECT count(*)::int AS n FROM recipient_counts WHERE mailing_id = $1 AND NOT folded', [mailingId])).rows[0]!.n;

/** Counts by status as recipient_counts sums them and as a real count gives them, in one snapshot. */
const counts = async (q: pg.Pool, mailingId: number) => {
  const { rows } = await q.query<{ kept: Record<string, number> | null; real: Record<string, number> | null }>(
    `SELECT (SELECT json_object_agg(status, n) FROM (SELECT status, sum(n)::int AS n FROM recipient_counts WHERE mailing_id = $1
                                                       GROUP BY status HAVING sum(n) <> 0) k) AS kept,
            (SELECT json_object_agg(status, n) FROM (SELECT status, count(*)::int AS n FROM recipients WHERE mailing_id = $1 GROUP BY status) r) AS real`,
    [mailingId],
  );
  return rows[0]!;
};

describe('pipeline: the workers fold recipient counts', () => {
  it('a running worker folds the deltas of a mailing being sent, which keeps its counts exact', async () => {
    const h = await harness();
    const id = await h.mailing(people(30, 'fold'));
    assert.ok((await deltas(h.pool, id)) > 0, 'adding recipients wrote deltas');
    await h.startWorker();
    await h.core.mailings.start(h.ctx, id);
    await waitFor('the mailing finished', async () => (await h.mailingStatus(id)) === 'finished', 30_000);
    // Nobody folds here but the worker's timer (the minute sweep no longer does).
    await waitFor('its deltas folded', async () => (await deltas(h.pool, id)) === 0, 30_000);
    const c = await counts(h.pool, id);
    assert.deepEqual(c.kept, c.real);
    assert.deepEqual(c.real, { finished: 30 });
    const [view] = await h.core.mailings.list(h.ctx, { ids: [id] });
    assert.deepEqual(view!.totals, { recipients: 30, sent: 30, pending: 0, error: 0, softbounce: 0 });
  });

  it('a stopping worker waits for the fold in flight, which commits', async () => {
    const h = await harness();
    const w = await h.startWorker('w-fold');
    const blocker = await h.pool.connect();
    const holder = await h.pool.connect();
    let id: number;
    try {
      // Held, the fold lock makes the worker's folds fold nothing: the deltas written now stay.
      await holder.query('SELECT pg_advisory_lock($1, 0)', [FOLD_LOCK]);
      id = await h.mailing(people(5, 'stop'));
      assert.ok((await deltas(h.pool, id)) > 0);
      // Writers and folds queue behind this lock, before they run a step (readers do not).
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE recipient_counts IN EXCLUSIVE MODE');
      await holder.query('SELECT pg_advisory_unlock($1, 0)', [FOLD_LOCK]);
      await waitFor('a fold waiting on the lock', async () => {
        const { rows } = await h.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'
              AND query LIKE '%DELETE FROM recipient_counts%'`,
        );
        return rows[0]!.n === 1;
      });
      const stopping = w.stop();
      // Stopping, the worker gives its work back and leaves its row last: not while the fold waits.
      const { rows } = await h.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM workers WHERE id = 'w-fold'`);
      assert.equal(rows[0]!.n, 1);
      await blocker.query('COMMIT');
      await stopping;
    } finally {
      blocker.release();
      holder.release();
    }
    const { rows: running } = await h.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle' AND query LIKE '%DELETE FROM recipient_counts%'`,
    );
    assert.equal(running[0]!.n, 0, 'no fold left running');
    assert.equal(await deltas(h.pool, id), 0, 'the fold in flight folded them');
    const c = await counts(h.pool, id);
    assert.deepEqual(c.kept, c.real);
    assert.deepEqual(c.real, { ready: 5 });
    const { rows } = await h.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM workers WHERE id = 'w-fold'`);
    assert.equal(rows[0]!.n, 0, 'the worker left');
  });
});

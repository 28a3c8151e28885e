/**
 * The send jobs of one send in graphile-worker's queue, read and moved from a test: what the pipeline will do
 * next is observed here (a job waiting for later, no job at all) instead of being waited out on the clock.
 */
import type { Pool } from '../../src/db/pool.js';

export interface SendJob {
  runAt: Date;
  locked: boolean;
  /** The job's run_at is still ahead on the database's clock. */
  later: boolean;
}

/** The queued or running jobs of a send (every lane, test sends too). */
export async function sendJobs(pool: Pool, sendId: number): Promise<SendJob[]> {
  const { rows } = await pool.query<{ run_at: Date; locked: boolean; later: boolean }>(
    `SELECT run_at, locked_at IS NOT NULL AS locked, run_at > now() AS later
       FROM graphile_worker._private_jobs WHERE task_id = (SELECT id FROM graphile_worker._private_tasks WHERE identifier = 'send')
        AND (payload->>'sendId')::bigint = $1 ORDER BY id`,
    [sendId],
  );
  return rows.map((r) => ({ runAt: r.run_at, locked: r.locked, later: r.later }));
}

/** The send of a mailing (its first). */
export async function sendOf(pool: Pool, mailingId: number): Promise<number> {
  const { rows } = await pool.query<{ id: number }>('SELECT id FROM sends WHERE mailing_id = $1 ORDER BY id LIMIT 1', [mailingId]);
  return Number(rows[0]!.id);
}

/**
 * A send's jobs waiting for later run now: the time they wait for is treated as passed. The notification is
 * the one graphile-worker's add_job sends for a job due now, so an idle worker takes them at once instead of
 * at its next poll.
 */
export async function runSendJobsNow(pool: Pool, sendId: number): Promise<number> {
  const { rowCount } = await pool.query(
    `UPDATE graphile_worker._private_jobs SET run_at = now()
      WHERE locked_at IS NULL AND run_at > now() AND (payload->>'sendId')::bigint = $1
        AND task_id = (SELECT id FROM graphile_worker._private_tasks WHERE identifier = 'send')`,
    [sendId],
  );
  const n = rowCount ?? 0;
  if (n) await pool.query(`SELECT pg_notify('jobs:insert', json_build_object('count', $1::int)::text)`, [n]);
  return n;
}

/**
 * Enqueueing graphile-worker jobs from SQL, inside the caller's transaction: the state change and its job
 * commit together or not at all. Jobs carry ids only.
 */
import type { Queryable } from './pool.js';

export const TASKS = {
  /** Work through one send's due recipients (see src/worker/send.ts). */
  send: 'send',
} as const;

/** Job key of a send's main job: one queued job per send; a later enqueue replaces the waiting one. */
export const sendJobKey = (sendId: number, lane = 0) => `send:${sendId}:${lane}`;

export async function enqueueSend(db: Queryable, sendId: number, runAt: Date | null, lanes = 1, testOnly = false): Promise<void> {
  await db.query(
    `SELECT graphile_worker.add_job($1, json_build_object('sendId', $2::bigint, 'testOnly', $5::boolean),
              run_at => coalesce($3::timestamptz, now()), job_key => lane_key, job_key_mode => 'replace', max_attempts => 50)
       FROM unnest($4::text[]) AS lane_key`,
    [TASKS.send, sendId, runAt, Array.from({ length: lanes }, (_, i) => (testOnly ? `send-test:${sendId}:${i}` : sendJobKey(sendId, i))), testOnly],
  );
}

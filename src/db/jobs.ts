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

/** Priority of a transactional mailing's send jobs (graphile-worker runs lower numbers first; bulk is 0). */
export const TRANSACTIONAL_PRIORITY = -10;

export async function enqueueSend(db: Queryable, sendId: number, runAt: Date | null, lanes = 1, testOnly = false): Promise<void> {
  await db.query(
    `SELECT graphile_worker.add_job($1, json_build_object('sendId', $2::bigint, 'testOnly', $5::boolean),
              run_at => coalesce($3::timestamptz, now()), job_key => lane_key, job_key_mode => 'replace', max_attempts => 50,
              priority => coalesce((SELECT CASE WHEN m.transactional THEN ${TRANSACTIONAL_PRIORITY} ELSE 0 END
                                      FROM sends s JOIN mailings m ON m.id = s.mailing_id WHERE s.id = $2), 0))
       FROM unnest($4::text[]) AS lane_key`,
    [TASKS.send, sendId, runAt, Array.from({ length: lanes }, (_, i) => (testOnly ? `send-test:${sendId}:${i}` : sendJobKey(sendId, i))), testOnly],
  );
}

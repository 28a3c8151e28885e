/**
 * Enqueueing graphile-worker jobs from SQL, inside the caller's transaction: the state change and its job
 * commit together or not at all (but a transactional send's wake-up, which follows its commit, with
 * wakeStrandedSends for a process that died in between). Jobs carry ids only. Every graphile_worker.add_job is here, and only
 * graphile-worker's public SQL functions are called (never its private tables).
 */
import type { Queryable } from './pool.js';

export const TASKS = {
  /** Work through one send's due recipients (see src/worker/send.ts). */
  send: 'send',
  /** Deliver one webhook endpoint's due messages (see src/worker/webhooks.ts). */
  webhooks: 'webhooks',
} as const;

/**
 * The named queue of an endpoint's webhook jobs: one runs at a time per endpoint, so a slow or dead endpoint
 * holds at most one of a worker's job slots. The outbox triggers add the same jobs (SQL function
 * webhooks_wake, migration 20261207300000_webhooks.ts), keyed per transaction.
 */
export const webhookQueue = (endpointId: number) => `webhooks:${endpointId}`;

/**
 * Run the webhook jobs of `endpointIds` at `runAt` (null: now), not before an endpoint's circuit allows
 * (retry_at), each replacing the follow-up job of its endpoint waiting: a delivery job's next round, an
 * operator's enable or replay. Disabled endpoints get none.
 */
export async function wakeWebhooks(db: Queryable, endpointIds: readonly number[], runAt: Date | null = null): Promise<void> {
  if (!endpointIds.length) return;
  await db.query(
    `SELECT graphile_worker.add_job('${TASKS.webhooks}', json_build_object('endpointId', e.id), queue_name => 'webhooks:' || e.id,
              run_at => greatest(coalesce($2::timestamptz, now()), e.retry_at), job_key => 'webhooks:' || e.id || ':next',
              job_key_mode => 'replace', max_attempts => 5)
       FROM webhook_endpoints e WHERE e.id = ANY ($1::bigint[]) AND e.disabled_at IS NULL`,
    [endpointIds, runAt],
  );
}

/** Run one Sender bulk task and the next ones of its queue (see src/core/tasks/service.ts). */
export const TASK_JOB = 'task';

/** Job key of a send's main job: one queued job per send; a later enqueue replaces the waiting one. */
export const sendJobKey = (sendId: number, lane = 0) => `send:${sendId}:${lane}`;

/** Priority of a transactional mailing's send jobs (graphile-worker runs lower numbers first; bulk is 0). */
export const TRANSACTIONAL_PRIORITY = -10;

/**
 * SQL: add the job of send `sendId` (an SQL expression) under `jobKey`, as graphile-worker's add_job returns
 * it (the job row). `preserve_run_at` keeps the run time of a job of that key already waiting.
 */
const addSendJob = (o: { sendId: string; testOnly: string; runAt: string; jobKey: string; mode: 'replace' | 'preserve_run_at' }) =>
  `graphile_worker.add_job('${TASKS.send}', json_build_object('sendId', ${o.sendId}, 'testOnly', ${o.testOnly}),
      run_at => ${o.runAt}, job_key => ${o.jobKey}, job_key_mode => '${o.mode}', max_attempts => 50,
      priority => coalesce((SELECT CASE WHEN m.transactional THEN ${TRANSACTIONAL_PRIORITY} ELSE 0 END
                              FROM sends s JOIN mailings m ON m.id = s.mailing_id WHERE s.id = ${o.sendId}), 0))`;

/** The send's jobs, one per lane, to run at `runAt` (null: now), each replacing the one of its key waiting. */
export async function enqueueSend(db: Queryable, sendId: number, runAt: Date | null, lanes = 1, testOnly = false): Promise<void> {
  await db.query(
    `SELECT ${addSendJob({ sendId: '$1::bigint', testOnly: '$3::boolean', runAt: 'coalesce($2::timestamptz, now())', jobKey: 'lane_key', mode: 'replace' })}
       FROM unnest($4::text[]) AS lane_key`,
    [sendId, runAt, testOnly, Array.from({ length: lanes }, (_, i) => (testOnly ? `send-test:${sendId}:${i}` : sendJobKey(sendId, i)))],
  );
}

/**
 * Wake a running send's jobs, one per lane, now (a transactional recipient just committed), as enqueueSend
 * does, except for a lane whose job already waits unlocked, never attempted, due now and at the priority enqueueSend would
 * give it: that job is what enqueueSend would leave (replaced in place), and it is not taken yet, so it runs
 * after this statement's snapshot, which was taken after the caller's commit; it finds that recipient. A
 * locked job (running) or one waiting for later gets its follow-up job as with enqueueSend. One statement;
 * add_job's own half dozen run only for a lane that needs it. (graphile-worker's job table is read directly,
 * by its unique key: the same table test/support/jobs.ts reads.)
 */
export async function wakeSend(db: Queryable, sendId: number, lanes = 1): Promise<void> {
  await db.query(
    `SELECT ${addSendJob({ sendId: '$1::bigint', testOnly: 'false', runAt: 'now()', jobKey: 'lane_key', mode: 'replace' })}
       FROM unnest($2::text[]) AS lane_key
      WHERE NOT EXISTS (
        SELECT 1 FROM graphile_worker._private_jobs j
         WHERE j.key = lane_key AND j.is_available AND j.attempts = 0 AND j.run_at <= now()
           AND j.priority = coalesce((SELECT CASE WHEN m.transactional THEN ${TRANSACTIONAL_PRIORITY} ELSE 0 END
                                        FROM sends s JOIN mailings m ON m.id = s.mailing_id WHERE s.id = $1::bigint), 0))`,
    [sendId, Array.from({ length: lanes }, (_, i) => sendJobKey(sendId, i))],
  );
}

/**
 * Run this send's job again at `runAt` (null: now), keeping its job key (its lane). When a job with that key
 * is already waiting, the earlier of the two times wins: a re-enqueue for "later" (a retry in 5 minutes)
 * must not postpone a job enqueued for "now" (recipients just added). add_job in preserve_run_at mode keeps
 * the waiting job's time and returns it; when that is later than `runAt`, reschedule_jobs brings it forward.
 * (A waiting job that failed before is not kept waiting: graphile-worker preserves the run time of a job
 * never attempted only.) One statement, so no worker takes the job in between.
 */
export async function requeueSend(db: Queryable, jobKey: string | null, sendId: number, testOnly: boolean, runAt: Date | null): Promise<void> {
  if (!jobKey) {
    await enqueueSend(db, sendId, runAt, 1, testOnly);
    return;
  }
  await db.query(
    `WITH j AS (
       SELECT id, run_at FROM ${addSendJob({ sendId: '$1::bigint', testOnly: '$2::boolean', runAt: 'coalesce($3::timestamptz, now())', jobKey: '$4::text', mode: 'preserve_run_at' })})
     SELECT graphile_worker.reschedule_jobs(ARRAY[j.id], run_at => coalesce($3::timestamptz, now())) FROM j
      WHERE j.run_at > coalesce($3::timestamptz, now())`,
    [sendId, testOnly, runAt, jobKey],
  );
}

/**
 * Enqueue every running send of a transactional mailing that has a recipient to send (ready or warning, not
 * a test, not leased) at that recipient's time, as requeueSend does (an earlier job waiting is kept). A transactional recipient is
 * committed before its send's job is woken (src/core/transactional/wake.ts): a process that died in between
 * left the recipient with no job, and this finds it. A send whose job is waiting or running gets nothing
 * new but at most one follow-up job, which finds nothing to claim. Returns how many sends were enqueued.
 */
export async function wakeStrandedSends(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ id: number; at: Date }>(
    `SELECT s.id, d.at FROM sends s
       JOIN mailings m ON m.id = s.mailing_id AND m.transactional
       CROSS JOIN LATERAL (
         SELECT greatest(coalesce(r.next_try, now()), now()) AS at FROM recipients r
          WHERE r.send_id = s.id AND r.status IN ('ready', 'warning') AND NOT r.is_test AND r.lease_owner IS NULL
          ORDER BY r.next_try NULLS FIRST, r.id LIMIT 1) d
      WHERE s.status = 'running'`,
  );
  for (const r of rows) await requeueSend(db, sendJobKey(r.id), r.id, false, r.at);
  return rows.length;
}

/**
 * SQL: add the job of Sender task `taskId` to its queue `queue` (SQL expressions), for the statement that
 * creates the task: jobs of one queue run one after another, in order.
 */
export const addTaskJob = (taskId: string, queue: string) =>
  `graphile_worker.add_job('${TASK_JOB}', json_build_object('taskId', ${taskId}, 'queue', ${queue}), queue_name => ${queue}, max_attempts => 5)`;

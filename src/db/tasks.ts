/**
 * Asynchronous tasks (Sender's bulk calls): a row a client can follow by its uuid, and the graphile-worker job
 * that runs it, written in one statement. Jobs of one queue run one after another, and each runs the queue's
 * tasks in the order of their place (seq): the bulk calls of one list apply in the order they were made, a
 * bulk PUT's place being taken with its revision at the end of its call (placePut).
 */
import { TASK_JOB, addTaskJob } from './jobs.js';
import type { Queryable } from './pool.js';

export { TASK_JOB };

export type TaskStatus = 'pending' | 'started' | 'success' | 'failure';

export interface TaskRow {
  id: string;
  account_id: number;
  kind: string;
  queue: string | null;
  status: TaskStatus;
  /** As stored; a bulk PUT's without its items when the task is returned started (see STARTED). */
  params: Record<string, unknown>;
  /** A bulk PUT's list revision (see placePut); null for other kinds. */
  rev: number | null;
  result: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
}

/** A task as a status poll reads it: every column but its params (see get). */
export type TaskState = Omit<TaskRow, 'params'>;
const STATE = 'id, account_id, kind, queue, status, rev, result, created_at, updated_at';

/**
 * A started task's columns: a bulk PUT's params without its items (a thousand of them), which the worker
 * would otherwise read, parse and send back (see upsertFromTask in lists.ts).
 */
const STARTED = `${STATE},
  CASE WHEN kind = 'subscribers.put' THEN params - 'items' ELSE params END AS params`;

/**
 * A finished task keeps its status, result and the params that name its list; its items (a bulk PUT's
 * subscribers, a bulk DELETE's addresses: tens of kilobytes) are read by nothing once it is done, so they go
 * with the statement that finishes it.
 */
const ITEMS_DROPPED = `params = params - 'items' - 'emailKeys'`;

export function tasksRepo(db: Queryable) {
  return {
    /** A new pending task and its job (in queue `queue`: serial with the other tasks of that queue). */
    async create(accountId: number, kind: string, params: Record<string, unknown>, queue: string): Promise<string> {
      const { rows } = await db.query<{ id: string }>(
        `WITH t AS (INSERT INTO tasks (id, account_id, kind, params, queue) VALUES (gen_random_uuid(), $1, $2, $3, $4) RETURNING id)
         SELECT t.id, ${addTaskJob('t.id', '$4::text')} FROM t`,
        [accountId, kind, JSON.stringify(params), queue],
      );
      return rows[0]!.id;
    },

    /**
     * Gives bulk PUT task `taskId` of list `listId` its revision (`rev`, else a new revision of the list) and
     * its place in its queue, and returns the revision; undefined when the list is gone. Call it last in the
     * transaction that created the task: a new revision locks the list's row until the commit, so concurrent
     * calls of one list wait on each other only through this statement and their commit, not through the
     * task's insert (a thousand items). The place (seq) is taken under that lock: the list's tasks run in the
     * order of their revisions, and a task of a later place commits after those of earlier ones. A `rev` the
     * client names moves the list's revision up to it, locking the row only then (as before).
     */
    async placePut(accountId: number, listId: number, taskId: string, rev: number | null): Promise<number | undefined> {
      const { rows } = await db.query<{ rev: number }>(
        rev === null
          ? `WITH l AS (UPDATE lists SET current_rev = current_rev + 1 WHERE account_id = $1 AND id = $2 RETURNING current_rev)
             UPDATE tasks t SET rev = l.current_rev, seq = DEFAULT FROM l WHERE t.id = $3 RETURNING t.rev`
          : `WITH l AS (UPDATE lists SET current_rev = $4 WHERE account_id = $1 AND id = $2 AND current_rev < $4)
             UPDATE tasks SET rev = $4, seq = DEFAULT WHERE id = $3 RETURNING rev`,
        rev === null ? [accountId, listId, taskId] : [accountId, listId, taskId, rev],
      );
      return rows[0]?.rev;
    },

    /** A task's state for a status poll: without its params (a bulk PUT's thousand items, read for nothing). */
    async get(accountId: number, id: string): Promise<TaskState | undefined> {
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return undefined;
      const { rows } = await db.query<TaskState>(`SELECT ${STATE} FROM tasks WHERE account_id = $1 AND id = $2`, [accountId, id]);
      return rows[0];
    },

    /**
     * Marks a task started, locked for the caller's transaction; undefined when it is already done. A bulk
     * PUT's items are not in the row returned (STARTED): the statement that applies them reads them.
     */
    async start(id: string): Promise<TaskRow | undefined> {
      const { rows } = await db.query<TaskRow>(
        `UPDATE tasks SET status = 'started', updated_at = now() WHERE id = $1 AND status IN ('pending', 'started') RETURNING ${STARTED}`,
        [id],
      );
      return rows[0];
    },

    /**
     * The oldest unfinished tasks of a queue, in order, started (at most `limit`), as start returns them.
     * Only the job holding the queue calls it, so a task found 'started' is one that a crashed run left half
     * done: it comes first.
     */
    async startNext(queue: string, limit: number): Promise<TaskRow[]> {
      const { rows } = await db.query<TaskRow & { seq: string }>(
        `UPDATE tasks SET status = 'started', updated_at = now()
          WHERE id IN (SELECT id FROM tasks WHERE queue = $1 AND status IN ('pending', 'started') ORDER BY seq LIMIT $2)
            AND status IN ('pending', 'started')
          RETURNING ${STARTED}, seq`,
        [queue, limit],
      );
      return rows.sort((a, b) => Number(a.seq) - Number(b.seq));
    },

    /** Is the task still to run (pending, or started by a run that did not finish it)? */
    async unfinished(id: string): Promise<boolean> {
      const { rows } = await db.query(`SELECT 1 FROM tasks WHERE id = $1 AND status IN ('pending', 'started')`, [id]);
      return rows.length > 0;
    },

    /** A task done: its status and result; its items are dropped (see ITEMS_DROPPED). */
    async finish(id: string, status: 'success' | 'failure', result: Record<string, unknown>): Promise<void> {
      await db.query(`UPDATE tasks SET status = $2, result = $3, ${ITEMS_DROPPED}, updated_at = now() WHERE id = $1`, [id, status, JSON.stringify(result)]);
    },

    /**
     * Several tasks finished as success, each with its own result, in one statement: the same rows as a
     * `finish` of each (a run of bulk PUTs applied in one transaction, see applyRun in src/core/tasks).
     */
    async succeedAll(done: readonly { id: string; result: Record<string, unknown> }[]): Promise<void> {
      if (!done.length) return;
      await db.query(
        `UPDATE tasks t SET status = 'success', result = r.result::jsonb, ${ITEMS_DROPPED}, updated_at = now()
           FROM unnest($1::uuid[], $2::text[]) AS r(id, result) WHERE t.id = r.id`,
        [done.map((d) => d.id), done.map((d) => JSON.stringify(d.result))],
      );
    },

    /** Deletes the tasks finished more than `retentionDays` ago (TASK_RETENTION_DAYS); how many. */
    async purge(retentionDays: number): Promise<number> {
      const { rowCount } = await db.query(`DELETE FROM tasks WHERE status IN ('success', 'failure') AND updated_at < now() - make_interval(days => $1)`, [
        retentionDays,
      ]);
      return rowCount ?? 0;
    },
  };
}

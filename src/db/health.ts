/**
 * What /healthz and the scrape-time gauges of /metrics read. Each is one statement, run at most every
 * second or two per process (the callers cache it), so a scrape or probe storm does not load the database:
 *  - check(): the migrations recorded against those this code ships, and the live workers with the relay
 *    state their heartbeats carry (workers has a row per process);
 *  - gauges(): the queue (a count over the partial index recipients_claim, which holds only recipients
 *    still to send), the oldest due recipient (two index probes per running send), the status feed's lag
 *    (pg_stat_activity), the live workers.
 *  - and the webhook backlog: messages not yet delivered to their endpoint (an index of the pending ones only,
 *    migration 20261207700000).
 */
import { migrationNames, newestWorkerMigration } from './migrate.js';
import { SQLSTATE, sqlState, type Pool } from './pool.js';

export interface SchemaAndWorkers {
  /** Our migrations not recorded, and `graphile-worker` when its schema is behind. */
  pendingMigrations: string[];
  /** Null when the schema is too far behind to say. */
  workers: {
    /** Heard from within the stale limit. */
    alive: number;
    /** Of those, how many report no relay answering, and how many report one answering. */
    relayDown: number;
    relayUp: number;
  } | null;
}

export interface ClusterGauges {
  /** Recipients waiting for their first try, and for a retry. */
  ready: number;
  retry: number;
  /** How long the longest-waiting due recipient of a running send has waited; 0 when none waits. */
  oldestDueSeconds: number;
  /** How long the oldest open writing transaction has held the status feed back (it passes only changes below it). */
  feedLagSeconds: number;
  workersAlive: number;
  /** Webhook messages still to deliver (retries and disabled endpoints' included). */
  webhooksPending: number;
}

/** Read once per process: the files do not change under a running process. */
let expected: Promise<{ names: string[]; worker: number | null }> | undefined;
const expectedSchema = () =>
  (expected ??= migrationNames().then((names) => {
    let worker: number | null;
    try {
      worker = newestWorkerMigration();
    } catch {
      worker = null;
    }
    return { names, worker: Number.isFinite(worker) ? worker : null };
  }));

export function healthRepo(db: Pool) {
  return {
    async check(staleSeconds: number): Promise<SchemaAndWorkers> {
      const want = await expectedSchema();
      let row: { names: string[] | null; worker: number | null; alive: number; relay_down: number; relay_up: number };
      try {
        const { rows } = await db.query<typeof row>(
          `SELECT (SELECT array_agg(name) FROM knex_migrations) AS names,
                  (SELECT max(id) FROM graphile_worker.migrations) AS worker,
                  count(*)::int AS alive,
                  count(*) FILTER (WHERE relay_up = false)::int AS relay_down,
                  count(*) FILTER (WHERE relay_up)::int AS relay_up
             FROM workers WHERE seen_at >= now() - make_interval(secs => $1)`,
          [staleSeconds],
        );
        row = rows[0]!;
      } catch (e) {
        // The database answers but lacks a table or column this code reads: its schema is behind.
        const state = sqlState(e);
        if (state === SQLSTATE.undefinedTable || state === SQLSTATE.undefinedColumn) return { pendingMigrations: ['(the schema is behind)'], workers: null };
        throw e;
      }
      const recorded = new Set(row.names ?? []);
      const pending = want.names.filter((n) => !recorded.has(n));
      if (want.worker !== null && (row.worker ?? 0) < want.worker) pending.push('graphile-worker');
      return { pendingMigrations: pending, workers: { alive: row.alive, relayDown: row.relay_down, relayUp: row.relay_up } };
    },

    async gauges(staleSeconds: number): Promise<ClusterGauges> {
      const { rows } = await db.query<{ ready: number; retry: number; oldest: number; lag: number; alive: number; webhooks: number }>(
        `SELECT q.ready, q.retry, o.oldest, f.lag, w.alive, h.webhooks
           FROM (SELECT count(*) FILTER (WHERE status = 'ready')::int AS ready,
                        count(*) FILTER (WHERE status = 'warning')::int AS retry
                   FROM recipients WHERE status IN ('ready', 'warning')) q,
                -- Per running send, in recipients_claim order: the first never-tried recipient (it waits since
                -- it was added, or since the send started) and the first retry that is due (since it fell due).
                (SELECT coalesce(extract(epoch FROM now() - min(d.since)), 0)::float8 AS oldest
                   FROM sends s CROSS JOIN LATERAL (
                     (SELECT greatest(r.created_at, s.started_at) AS since FROM recipients r
                       WHERE r.send_id = s.id AND r.status IN ('ready', 'warning') AND r.next_try IS NULL
                       ORDER BY r.next_try NULLS FIRST, r.id LIMIT 1)
                     UNION ALL
                     (SELECT r.next_try FROM recipients r
                       WHERE r.send_id = s.id AND r.status IN ('ready', 'warning') AND r.next_try <= now()
                       ORDER BY r.next_try NULLS FIRST, r.id LIMIT 1)) d
                  WHERE s.status = 'running') o,
                -- xids are the cluster's: a transaction of any database holds the feed's horizon back.
                (SELECT coalesce(extract(epoch FROM now() - min(xact_start)), 0)::float8 AS lag
                   FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()) f,
                (SELECT count(*)::int AS alive FROM workers WHERE seen_at >= now() - make_interval(secs => $1)) w,
                (SELECT count(*)::int AS webhooks FROM webhook_messages WHERE state = 'pending') h`,
        [staleSeconds],
      );
      const r = rows[0]!;
      return {
        ready: r.ready,
        retry: r.retry,
        oldestDueSeconds: Math.max(0, r.oldest),
        feedLagSeconds: Math.max(0, r.lag),
        workersAlive: r.alive,
        webhooksPending: r.webhooks,
      };
    },
  };
}
export type HealthRepo = ReturnType<typeof healthRepo>;

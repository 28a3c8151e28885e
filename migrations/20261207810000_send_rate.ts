/**
 * The send rate of a send, per minute: how many of its messages were delivered, deferred and failed in each
 * minute (the admin mailing page's chart). Read from the recipients it would be a scan of every recipient of
 * the mailing on every refresh (a million on a big mailing); this rollup holds one row per send and minute.
 *
 * Counted by a statement-level trigger on recipients, with the same rule the webhooks trigger reports
 * outcomes by (migration 20261207300000): a stamped status change (recipients.ts STAMP_CHANGE: a new
 * change_seq) to finished (delivered), warning (deferred: every deferral) or error, timeout, general_error
 * (failed: a refusal, a message given up, a late bounce), test recipients apart, in the minute of the stamp
 * (modified_at, the writing transaction's now()). So it is a history of outcomes: a deferral later delivered
 * counts once in each minute, and a reset (resend) takes nothing back.
 *
 * Append-only: each statement inserts its own rows (one per send and minute it stamped), never updating a
 * row another transaction may hold. An upsert of one row per send and minute made every writer of a send
 * wait for the commit of the one before (a worker's result batch behind a long transaction touching the same
 * send: a status-feed writer held open, a bulk update). Readers sum by minute; the workers' minute sweep folds
 * a send's rows of a past minute into one (src/db/overview.ts foldSendRate), which keeps every sum as it is.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE send_minute_counts (
      send_id    bigint NOT NULL REFERENCES sends ON DELETE CASCADE,
      minute     timestamptz NOT NULL,
      delivered  integer NOT NULL,
      deferred   integer NOT NULL,
      failed     integer NOT NULL
    );
    CREATE INDEX send_minute_counts_send ON send_minute_counts (send_id, minute);

    CREATE FUNCTION send_minute_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO send_minute_counts (send_id, minute, delivered, deferred, failed)
      SELECT n.send_id, date_trunc('minute', n.modified_at),
             count(*) FILTER (WHERE n.status = 'finished'), count(*) FILTER (WHERE n.status = 'warning'),
             count(*) FILTER (WHERE n.status IN ('error', 'timeout', 'general_error'))
        FROM new_rows n JOIN old_rows o ON o.id = n.id
       WHERE n.change_seq <> o.change_seq AND NOT n.is_test AND n.send_id IS NOT NULL
         AND n.status IN ('finished', 'warning', 'error', 'timeout', 'general_error')
       GROUP BY 1, 2;
      RETURN NULL;
    END $$;
    CREATE TRIGGER send_minute_counts AFTER UPDATE ON recipients
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION send_minute_counts_changed();

    -- The outcomes written before this migration: each message's last one, in the minute of its last change.
    INSERT INTO send_minute_counts (send_id, minute, delivered, deferred, failed)
    SELECT send_id, date_trunc('minute', modified_at),
           count(*) FILTER (WHERE status = 'finished'), count(*) FILTER (WHERE status = 'warning'),
           count(*) FILTER (WHERE status IN ('error', 'timeout', 'general_error'))
      FROM recipients
     WHERE NOT is_test AND send_id IS NOT NULL AND status <> 'ready'
     GROUP BY 1, 2;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER IF EXISTS send_minute_counts ON recipients;
    DROP FUNCTION IF EXISTS send_minute_counts_changed();
    DROP TABLE IF EXISTS send_minute_counts;
  `);
}

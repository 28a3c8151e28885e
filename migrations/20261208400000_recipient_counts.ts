/**
 * A mailing's recipients counted by send, test flag, status and whether they were tried (try_count > 0),
 * maintained instead of counted: list_mailings, the mailing reads of every dialect, report.campaign, the
 * admin mailing pages and a spread send's pacing counted every recipient of the mailing on every call (a
 * transactional mailing grows by thousands a minute; a big one has a million).
 *
 * Kept by statement-level triggers on recipients with transition tables (one GROUP BY over the statement's
 * rows): an insert adds its rows' counts, a delete takes them back, an update moves the rows whose counted
 * columns changed from their old key to their new one (an update that changes none, a lease, adds nothing).
 * So for every key, sum(n) = count(*) of the recipients with that key, in every snapshot.
 *
 * Append-only, as the send-rate rollup (20261207810000): each statement inserts its own delta rows, never
 * updating a row another transaction may hold, so writers of one mailing never wait on each other's commit.
 * Readers sum a mailing's rows; every worker folds the rows of each mailing written to since into one row
 * per key every few seconds (src/db/mailings.ts foldRecipientCounts, src/worker/index.ts FOLD_EVERY_MS), which
 * keeps every sum.
 *
 * No foreign key to mailings: deleting a mailing cascades to its recipients, whose delete trigger then adds
 * the negative rows (a key's sum is 0 again) after the mailing row is gone, which a foreign key would refuse.
 * The fold drops a key whose rows sum to 0.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE recipient_counts (
      mailing_id  bigint NOT NULL,
      send_id     bigint,
      is_test     boolean NOT NULL,
      status      text NOT NULL,
      tried       boolean NOT NULL,
      n           integer NOT NULL,
      -- false on a trigger's delta row, true on a fold's sum: the fold looks only at mailings with a delta
      folded      boolean NOT NULL DEFAULT false
    );
    CREATE INDEX recipient_counts_mailing ON recipient_counts (mailing_id, send_id);
    CREATE INDEX recipient_counts_deltas ON recipient_counts (mailing_id) WHERE NOT folded;

    -- One function for the three triggers (a trigger with transition tables has one event); each branch
    -- names only the transition table its event has.
    CREATE FUNCTION recipient_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO recipient_counts (mailing_id, send_id, is_test, status, tried, n)
        SELECT mailing_id, send_id, is_test, status, try_count > 0, count(*) FROM new_rows GROUP BY 1, 2, 3, 4, 5;
      ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO recipient_counts (mailing_id, send_id, is_test, status, tried, n)
        SELECT mailing_id, send_id, is_test, status, try_count > 0, -count(*) FROM old_rows GROUP BY 1, 2, 3, 4, 5;
      ELSE
        INSERT INTO recipient_counts (mailing_id, send_id, is_test, status, tried, n)
        SELECT k.mailing_id, k.send_id, k.is_test, k.status, k.tried, sum(k.d)
          FROM old_rows o JOIN new_rows n ON n.id = o.id
         CROSS JOIN LATERAL (VALUES (o.mailing_id, o.send_id, o.is_test, o.status, o.try_count > 0, -1),
                                    (n.mailing_id, n.send_id, n.is_test, n.status, n.try_count > 0, 1))
                 AS k (mailing_id, send_id, is_test, status, tried, d)
         WHERE o.status <> n.status OR (o.try_count > 0) <> (n.try_count > 0) OR o.mailing_id <> n.mailing_id
            OR o.send_id IS DISTINCT FROM n.send_id OR o.is_test <> n.is_test
         GROUP BY 1, 2, 3, 4, 5 HAVING sum(k.d) <> 0;
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER recipient_counts_insert AFTER INSERT ON recipients
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION recipient_counts_changed();
    CREATE TRIGGER recipient_counts_update AFTER UPDATE ON recipients
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION recipient_counts_changed();
    CREATE TRIGGER recipient_counts_delete AFTER DELETE ON recipients
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION recipient_counts_changed();

    -- The recipients already there. CREATE TRIGGER locked out every writer of recipients until this
    -- migration commits, so nothing is counted twice or missed.
    INSERT INTO recipient_counts (mailing_id, send_id, is_test, status, tried, n, folded)
    SELECT mailing_id, send_id, is_test, status, try_count > 0, count(*), true FROM recipients GROUP BY 1, 2, 3, 4, 5;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER IF EXISTS recipient_counts_insert ON recipients;
    DROP TRIGGER IF EXISTS recipient_counts_update ON recipients;
    DROP TRIGGER IF EXISTS recipient_counts_delete ON recipients;
    DROP FUNCTION IF EXISTS recipient_counts_changed();
    DROP TABLE IF EXISTS recipient_counts;
  `);
}

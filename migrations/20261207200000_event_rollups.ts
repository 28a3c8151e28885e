/**
 * Rollups of the event log, so a report over millions of events reads a few rows: per send (and per link of
 * a send) the events by kind and verdict, total and unique (unique = recipients), and per recipient the same
 * (which the unique counts are derived from, and which a subscriber's engagement reads).
 *
 * `machine` is the verdict as a boolean: true for verdict 'machine', false for 'human' and for the kinds and
 * old rows without a verdict (counted as human: they were never judged machine).
 *
 * Maintained by statement-level triggers on events, in the inserting (or re-judging) statement itself, so a
 * rollup is never apart from its events. Every event writer holds the event log's advisory lock while the
 * triggers run (src/db/events.ts), so the rollups' rows are updated by one transaction at a time: no deadlock,
 * and "this recipient's first event of this kind" is decided exactly. An UPDATE that changes a verdict (a
 * burst of clicks judged machine after the fact) moves its events from one bucket to the other. Rows go when
 * their send or recipient goes (foreign keys); events are never deleted otherwise.
 *
 * A link is keyed by the md5 of its URL: a URL may be longer than an index entry can hold.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE recipient_event_counts (
      recipient_id  bigint NOT NULL REFERENCES recipients ON DELETE CASCADE,
      kind          text NOT NULL,
      machine       boolean NOT NULL,
      events        integer NOT NULL,
      last_at       timestamptz,
      PRIMARY KEY (recipient_id, kind, machine)
    );

    CREATE TABLE recipient_link_counts (
      recipient_id  bigint NOT NULL REFERENCES recipients ON DELETE CASCADE,
      link_key      uuid NOT NULL,
      machine       boolean NOT NULL,
      clicks        integer NOT NULL,
      PRIMARY KEY (recipient_id, link_key, machine)
    );

    CREATE TABLE send_event_counts (
      send_id     bigint NOT NULL REFERENCES sends ON DELETE CASCADE,
      kind        text NOT NULL,
      machine     boolean NOT NULL,
      events      bigint NOT NULL,
      recipients  bigint NOT NULL,
      PRIMARY KEY (send_id, kind, machine)
    );

    CREATE TABLE send_link_counts (
      send_id         bigint NOT NULL REFERENCES sends ON DELETE CASCADE,
      link_key        uuid NOT NULL,
      machine         boolean NOT NULL,
      link            text NOT NULL,
      -- the order of the send's links: first clicked first
      first_event_id  bigint NOT NULL,
      clicks          bigint NOT NULL,
      visits          bigint NOT NULL,
      PRIMARY KEY (send_id, link_key, machine)
    );

    -- Add signed deltas of events (sign +1: counted in, -1: counted out) to every rollup. A recipient's bucket
    -- that goes from 0 to more is one more unique recipient of its send (and back again one less).
    CREATE FUNCTION event_rollups_apply(ids bigint[], recipient_ids bigint[], kinds text[], machines boolean[], links text[], ats timestamptz[], signs integer[])
    RETURNS void LANGUAGE plpgsql AS $fn$
    BEGIN
      WITH u AS (
        SELECT * FROM unnest(ids, recipient_ids, kinds, machines, links, ats, signs) AS u(id, recipient_id, kind, machine, link, at, sign)
      ), d AS (
        SELECT recipient_id, kind, machine, sum(sign)::int AS n, max(at) FILTER (WHERE sign > 0) AS last_at
          FROM u GROUP BY recipient_id, kind, machine
      ), up AS (
        INSERT INTO recipient_event_counts AS c (recipient_id, kind, machine, events, last_at)
        SELECT recipient_id, kind, machine, n, last_at FROM d WHERE n <> 0
        ON CONFLICT (recipient_id, kind, machine) DO UPDATE
          SET events = c.events + excluded.events, last_at = greatest(c.last_at, excluded.last_at)
        RETURNING c.recipient_id, c.kind, c.machine, c.events
      ), moved AS (
        SELECT r.send_id, up.kind, up.machine, d.n,
               CASE WHEN up.events > 0 AND up.events - d.n <= 0 THEN 1 WHEN up.events <= 0 AND up.events - d.n > 0 THEN -1 ELSE 0 END AS first
          FROM up JOIN d USING (recipient_id, kind, machine) JOIN recipients r ON r.id = up.recipient_id
         WHERE r.send_id IS NOT NULL
      )
      INSERT INTO send_event_counts AS s (send_id, kind, machine, events, recipients)
      SELECT send_id, kind, machine, sum(n), sum(first) FROM moved GROUP BY send_id, kind, machine
      ON CONFLICT (send_id, kind, machine) DO UPDATE SET events = s.events + excluded.events, recipients = s.recipients + excluded.recipients;

      WITH u AS (
        SELECT * FROM unnest(ids, recipient_ids, kinds, machines, links, signs) AS u(id, recipient_id, kind, machine, link, sign)
         WHERE kind = 'click' AND link IS NOT NULL
      ), d AS (
        SELECT recipient_id, md5(link)::uuid AS link_key, machine, sum(sign)::int AS n, min(link) AS link,
               -- NOT NULL is checked on the proposed row before its conflict is: never null here
               coalesce(min(id) FILTER (WHERE sign > 0), 9223372036854775807) AS first_id
          FROM u GROUP BY recipient_id, md5(link)::uuid, machine
      ), up AS (
        INSERT INTO recipient_link_counts AS c (recipient_id, link_key, machine, clicks)
        SELECT recipient_id, link_key, machine, n FROM d WHERE n <> 0
        ON CONFLICT (recipient_id, link_key, machine) DO UPDATE SET clicks = c.clicks + excluded.clicks
        RETURNING c.recipient_id, c.link_key, c.machine, c.clicks
      ), moved AS (
        SELECT r.send_id, up.link_key, up.machine, d.link, d.first_id, d.n,
               CASE WHEN up.clicks > 0 AND up.clicks - d.n <= 0 THEN 1 WHEN up.clicks <= 0 AND up.clicks - d.n > 0 THEN -1 ELSE 0 END AS first
          FROM up JOIN d USING (recipient_id, link_key, machine) JOIN recipients r ON r.id = up.recipient_id
         WHERE r.send_id IS NOT NULL
      )
      INSERT INTO send_link_counts AS s (send_id, link_key, machine, link, first_event_id, clicks, visits)
      SELECT send_id, link_key, machine, min(link), min(first_id), sum(n), sum(first) FROM moved GROUP BY send_id, link_key, machine
      ON CONFLICT (send_id, link_key, machine) DO UPDATE
        SET clicks = s.clicks + excluded.clicks, visits = s.visits + excluded.visits,
            first_event_id = least(s.first_event_id, excluded.first_event_id);
    END
    $fn$;

    CREATE FUNCTION events_rollup_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM event_rollups_apply(array_agg(id), array_agg(recipient_id), array_agg(kind), array_agg(coalesce(verdict = 'machine', false)),
                                  array_agg(link), array_agg(created_at), array_agg(1))
         FROM new_events WHERE recipient_id IS NOT NULL;
      RETURN NULL;
    END
    $fn$;

    -- Only a changed verdict moves counts; other updates (a deleted subscriber's id set to null) move none.
    CREATE FUNCTION events_rollup_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM event_rollups_apply(array_agg(id), array_agg(recipient_id), array_agg(kind), array_agg(machine), array_agg(link), array_agg(created_at), array_agg(sign))
         FROM (SELECT o.id, o.recipient_id, o.kind, m.machine, o.link, o.created_at, m.sign
                 FROM old_events o JOIN new_events n ON n.id = o.id
                 CROSS JOIN LATERAL (VALUES (coalesce(o.verdict = 'machine', false), -1), (coalesce(n.verdict = 'machine', false), 1)) AS m(machine, sign)
                WHERE o.recipient_id IS NOT NULL AND coalesce(o.verdict = 'machine', false) <> coalesce(n.verdict = 'machine', false)) d;
      -- The bucket the events left: its latest event is found again.
      UPDATE recipient_event_counts c
         SET last_at = (SELECT max(e.created_at) FROM events e
                         WHERE e.recipient_id = c.recipient_id AND e.kind = c.kind AND coalesce(e.verdict = 'machine', false) = c.machine)
        FROM (SELECT DISTINCT o.recipient_id, o.kind, coalesce(o.verdict = 'machine', false) AS machine
                FROM old_events o JOIN new_events n ON n.id = o.id
               WHERE o.recipient_id IS NOT NULL AND coalesce(o.verdict = 'machine', false) <> coalesce(n.verdict = 'machine', false)) left_bucket
       WHERE c.recipient_id = left_bucket.recipient_id AND c.kind = left_bucket.kind AND c.machine = left_bucket.machine;
      RETURN NULL;
    END
    $fn$;

    CREATE TRIGGER events_rollup_insert AFTER INSERT ON events REFERENCING NEW TABLE AS new_events
      FOR EACH STATEMENT EXECUTE FUNCTION events_rollup_insert();
    CREATE TRIGGER events_rollup_update AFTER UPDATE ON events REFERENCING OLD TABLE AS old_events NEW TABLE AS new_events
      FOR EACH STATEMENT EXECUTE FUNCTION events_rollup_update();

    -- The events written before this migration.
    SELECT event_rollups_apply(array_agg(id ORDER BY id), array_agg(recipient_id ORDER BY id), array_agg(kind ORDER BY id),
                               array_agg(coalesce(verdict = 'machine', false) ORDER BY id), array_agg(link ORDER BY id),
                               array_agg(created_at ORDER BY id), array_agg(1))
      FROM events WHERE recipient_id IS NOT NULL;`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER events_rollup_update ON events;
    DROP TRIGGER events_rollup_insert ON events;
    DROP FUNCTION events_rollup_update(), events_rollup_insert(), event_rollups_apply(bigint[], bigint[], text[], boolean[], text[], timestamptz[], integer[]);
    DROP TABLE send_link_counts, send_event_counts, recipient_link_counts, recipient_event_counts;`);
}

/**
 * Status and schedule belong to a send, not to its mailing: one mailing can be dispatched several times
 * (Emailicious deliveries, Mailkit ID_send); a CloudMailing mailing is its one implicit send.
 *
 * Also:
 * - scheduled_duration is a deadline counted from the actual start (the original CloudMailing server's
 *   meaning), kept as sends.max_duration_minutes. Rows migrated from the first schema, which read it as
 *   pacing, keep the value as the deadline their client meant. Spreading a send over time is the separate
 *   Mailgate-only sends.spread_minutes.
 * - mailings.rev counts property and content changes: a running send job notices a change at its next claim.
 * - test recipients (send_test) count in a mailing's totals, as in the original: the totals index covers them.
 * - customized_messages keeps each recipient's rendered message when the mailing asks for it
 *   (backup_customized_emails); purged after a retention period.
 * - hourly_stats counts tries per hour as they happen (get_hourly_statistics).
 * - mailings.headers goes: a mailing's headers are those of its stored message (variants.raw_message), which
 *   every mailing now has, created or edited whole as in the original server.
 * - workers get a stable number (CloudMailing lists its satellites by integer id) and a version.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE sends DROP CONSTRAINT sends_status_check;
    ALTER TABLE sends
      ADD COLUMN scheduled_start       timestamptz,
      ADD COLUMN scheduled_end         timestamptz,
      ADD COLUMN max_duration_minutes  integer NOT NULL DEFAULT 0 CHECK (max_duration_minutes >= 0),
      ADD COLUMN spread_minutes        integer NOT NULL DEFAULT 0 CHECK (spread_minutes >= 0),
      ADD COLUMN dont_close_if_empty   boolean NOT NULL DEFAULT false;
    UPDATE sends s
       SET status = m.status,
           scheduled_start = coalesce(s.scheduled_at, m.scheduled_start),
           scheduled_end = m.scheduled_end,
           max_duration_minutes = m.scheduled_duration,
           dont_close_if_empty = m.dont_close_if_empty,
           started_at = coalesce(s.started_at, m.start_time),
           finished_at = coalesce(s.finished_at, m.end_time)
      FROM mailings m WHERE m.id = s.mailing_id;
    ALTER TABLE sends DROP COLUMN scheduled_at;
    ALTER TABLE sends ALTER COLUMN status SET DEFAULT 'filling';
    ALTER TABLE sends ADD CONSTRAINT sends_status_check CHECK (status IN ('filling','ready','running','paused','finished'));
    CREATE INDEX sends_account_status ON sends (account_id, status, mailing_id);
    -- the mailing manager: sends that may reach a deadline or be due to start
    CREATE INDEX sends_active ON sends (id) WHERE status IN ('ready','running','paused');

    ALTER TABLE mailings
      DROP COLUMN status,
      DROP COLUMN scheduled_start,
      DROP COLUMN scheduled_end,
      DROP COLUMN scheduled_duration,
      DROP COLUMN dont_close_if_empty,
      DROP COLUMN start_time,
      DROP COLUMN end_time,
      -- custom headers now live in the stored message itself (the header property edits it)
      DROP COLUMN headers,
      ADD COLUMN testing          boolean NOT NULL DEFAULT false,
      ADD COLUMN satellite_group  text,
      ADD COLUMN rev              integer NOT NULL DEFAULT 0;

    ALTER TABLE recipients ADD COLUMN sent_by text;
    DROP INDEX recipients_mailing_status;
    CREATE INDEX recipients_mailing_status ON recipients (mailing_id, status);

    CREATE TABLE customized_messages (
      recipient_id  bigint PRIMARY KEY REFERENCES recipients ON DELETE CASCADE,
      account_id    bigint NOT NULL,
      raw           bytea NOT NULL,
      created_at    timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX customized_messages_created ON customized_messages (created_at);

    CREATE TABLE hourly_stats (
      account_id  bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
      hour        timestamptz NOT NULL,
      sent        integer NOT NULL DEFAULT 0,
      failed      integer NOT NULL DEFAULT 0,
      tries       integer NOT NULL DEFAULT 0,
      PRIMARY KEY (account_id, hour)
    );
    DROP INDEX recipients_last_try;

    ALTER TABLE workers
      ADD COLUMN number bigint GENERATED ALWAYS AS IDENTITY,
      ADD COLUMN version text;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE workers DROP COLUMN number, DROP COLUMN version;
    CREATE INDEX recipients_last_try ON recipients (account_id, last_try) WHERE last_try IS NOT NULL;
    DROP TABLE hourly_stats, customized_messages;
    DROP INDEX recipients_mailing_status;
    CREATE INDEX recipients_mailing_status ON recipients (mailing_id, status) WHERE NOT is_test;
    ALTER TABLE recipients DROP COLUMN sent_by;
    ALTER TABLE mailings
      DROP COLUMN testing, DROP COLUMN satellite_group, DROP COLUMN rev,
      ADD COLUMN headers jsonb NOT NULL DEFAULT '{}',
      ADD COLUMN status text NOT NULL DEFAULT 'filling' CHECK (status IN ('filling','ready','running','paused','finished')),
      ADD COLUMN scheduled_start timestamptz,
      ADD COLUMN scheduled_end timestamptz,
      ADD COLUMN scheduled_duration integer NOT NULL DEFAULT 0 CHECK (scheduled_duration >= 0),
      ADD COLUMN dont_close_if_empty boolean NOT NULL DEFAULT false,
      ADD COLUMN start_time timestamptz,
      ADD COLUMN end_time timestamptz;
    UPDATE mailings m
       SET status = s.status, scheduled_start = s.scheduled_start, scheduled_end = s.scheduled_end,
           scheduled_duration = s.max_duration_minutes, dont_close_if_empty = s.dont_close_if_empty,
           start_time = s.started_at, end_time = s.finished_at
      FROM (SELECT DISTINCT ON (mailing_id) * FROM sends ORDER BY mailing_id, id) s
     WHERE s.mailing_id = m.id;
    CREATE INDEX mailings_account_status ON mailings (account_id, status, id);
    DROP INDEX sends_active, sends_account_status;
    ALTER TABLE sends DROP CONSTRAINT sends_status_check;
    UPDATE sends SET status = CASE status WHEN 'filling' THEN 'pending' WHEN 'ready' THEN 'pending' ELSE status END;
    ALTER TABLE sends ALTER COLUMN status SET DEFAULT 'pending';
    ALTER TABLE sends ADD CONSTRAINT sends_status_check CHECK (status IN ('pending','running','paused','finished'));
    ALTER TABLE sends ADD COLUMN scheduled_at timestamptz;
    UPDATE sends SET scheduled_at = scheduled_start;
    ALTER TABLE sends DROP COLUMN scheduled_start, DROP COLUMN scheduled_end, DROP COLUMN max_duration_minutes,
      DROP COLUMN spread_minutes, DROP COLUMN dont_close_if_empty;
  `);
}

/**
 * The whole core schema, shared by every dialect (see ../shared/spec/README.md, "Domain model").
 *
 * Why some columns look the way they do:
 * - recipients.changed_xid / change_seq: the exact status feed. Every status change stamps the writing
 *   transaction's xid and a sequence value; readers only pass rows whose xid is below the snapshot's xmin,
 *   so a row that commits late can never land behind a cursor (see src/db/recipients.ts, statusFeed).
 * - recipients.lease_owner / lease_until: a claim is a committed lease, never a transaction held open across
 *   an SMTP conversation. An expired lease makes the recipient claimable again.
 * - bounces.id is not a serial default: ids are handed out under an advisory lock at the end of the writing
 *   transaction, so they appear in commit order (Mailkit's raw bounce loop resumes from the last id + 1).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE accounts (
      id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      slug        text NOT NULL UNIQUE CHECK (slug ~ '^[A-Za-z0-9._-]{1,100}$'),
      name        text,
      created_at  timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE api_keys (
      id            bigint GENERATED ALWAYS AS IDENTITY (START WITH 1001) PRIMARY KEY,
      account_id    bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
      label         text,
      secret_hash   bytea NOT NULL UNIQUE,
      created_at    timestamptz NOT NULL DEFAULT now(),
      last_used_at  timestamptz,
      revoked_at    timestamptz
    );
    CREATE INDEX api_keys_account ON api_keys (account_id);

    -- Key/value settings the process needs to share across nodes (the HMAC secret for cursors and tokens).
    CREATE TABLE settings (
      key    text PRIMARY KEY,
      value  text NOT NULL
    );

    CREATE TABLE lists (
      id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      account_id             bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
      slug                   text NOT NULL,
      name                   text NOT NULL DEFAULT '',
      description            text NOT NULL DEFAULT '',
      language               text,
      default_from_name      text,
      default_from_email     text,
      default_replyto_email  text,
      current_rev            bigint NOT NULL DEFAULT 0,
      confirm_mailing_id     bigint,
      created_at             timestamptz NOT NULL DEFAULT now(),
      updated_at             timestamptz NOT NULL DEFAULT now(),
      UNIQUE (account_id, slug)
    );

    CREATE TABLE subscribers (
      id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      account_id   bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
      list_id      bigint NOT NULL REFERENCES lists ON DELETE CASCADE,
      email        text NOT NULL,
      -- local part as given, domain lower-cased: the uniqueness key
      email_key    text NOT NULL,
      params       jsonb NOT NULL DEFAULT '{}',
      enabled      boolean NOT NULL DEFAULT true,
      status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active','unconfirmed','unsubscribed','bounced','complained','disabled')),
      rev          bigint NOT NULL DEFAULT 0,
      created_at   timestamptz NOT NULL DEFAULT now(),
      modified_at  timestamptz NOT NULL DEFAULT now(),
      UNIQUE (list_id, email_key)
    );
    CREATE INDEX subscribers_list_modified ON subscribers (list_id, modified_at, id);

    CREATE TABLE mailings (
      id                        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      account_id                bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
      dialect                   text NOT NULL,
      name                      text,
      campaign_id               bigint,
      list_id                   bigint REFERENCES lists ON DELETE SET NULL,
      segments                  jsonb NOT NULL DEFAULT '[]',
      status                    text NOT NULL DEFAULT 'filling' CHECK (status IN ('filling','ready','running','paused','finished')),
      type                      text NOT NULL DEFAULT 'regular' CHECK (type IN ('regular','opened')),
      owner_guid                text CHECK (char_length(owner_guid) <= 50),
      domain_name               text NOT NULL DEFAULT '',
      tracking_url              text,
      scheduled_start           timestamptz,
      scheduled_end             timestamptz,
      scheduled_duration        integer NOT NULL DEFAULT 0 CHECK (scheduled_duration >= 0),
      dont_close_if_empty       boolean NOT NULL DEFAULT false,
      read_tracking             boolean NOT NULL DEFAULT true,
      click_tracking            boolean NOT NULL DEFAULT false,
      backup_customized_emails  boolean NOT NULL DEFAULT false,
      url_encoding              text,
      dkim                      jsonb,
      headers                   jsonb NOT NULL DEFAULT '{}',
      submit_time               timestamptz NOT NULL DEFAULT now(),
      start_time                timestamptz,
      end_time                  timestamptz,
      updated_at                timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX mailings_account_name ON mailings (account_id, name) WHERE name IS NOT NULL;
    CREATE INDEX mailings_account_status ON mailings (account_id, status, id);
    CREATE INDEX mailings_account_owner ON mailings (account_id, owner_guid) WHERE owner_guid IS NOT NULL;

    CREATE TABLE variants (
      id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      mailing_id     bigint NOT NULL REFERENCES mailings ON DELETE CASCADE,
      position       integer NOT NULL DEFAULT 0,
      language       text,
      from_name      text,
      from_email     text NOT NULL,
      replyto_email  text,
      subject        text NOT NULL DEFAULT '',
      html           text,
      text           text,
      charset        text NOT NULL DEFAULT 'utf-8',
      -- create_mailing_ext: the whole RFC 822 message, sent as is but for the personalized headers
      raw_message    bytea,
      layout_source  text,
      UNIQUE (mailing_id, position)
    );

    CREATE TABLE sends (
      id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      account_id    bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
      mailing_id    bigint NOT NULL REFERENCES mailings ON DELETE CASCADE,
      variant_id    bigint REFERENCES variants ON DELETE CASCADE,
      status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','running','paused','finished')),
      scheduled_at  timestamptz,
      "limit"       integer,
      exclusions    jsonb NOT NULL DEFAULT '[]',
      started_at    timestamptz,
      finished_at   timestamptz
    );
    CREATE INDEX sends_mailing ON sends (mailing_id);

    CREATE SEQUENCE recipient_change_seq;

    -- account_id and send_id are copies of the mailing's (written only by insertMany, from the locked mailing
    -- row) and carry no foreign key on purpose: checking them cost a third of a bulk insert. Deletion cascades
    -- through mailing_id.
    CREATE TABLE recipients (
      id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      account_id           bigint NOT NULL,
      mailing_id           bigint NOT NULL REFERENCES mailings ON DELETE CASCADE,
      send_id              bigint,
      subscriber_id        bigint REFERENCES subscribers ON DELETE SET NULL,
      tracking_id          text NOT NULL CHECK (char_length(tracking_id) < 50),
      email                text NOT NULL,
      fields               jsonb NOT NULL DEFAULT '{}',
      attachments          jsonb,
      is_test              boolean NOT NULL DEFAULT false,
      status               text NOT NULL DEFAULT 'ready' CHECK (status IN ('ready','warning','finished','error','timeout','general_error')),
      try_count            integer NOT NULL DEFAULT 0,
      reply_code           integer,
      reply_enhanced_code  text,
      reply_text           text,
      remote_mta           text,
      first_try            timestamptz,
      last_try             timestamptz,
      next_try             timestamptz,
      lease_owner          text,
      lease_until          timestamptz,
      created_at           timestamptz NOT NULL DEFAULT now(),
      modified_at          timestamptz NOT NULL DEFAULT now(),
      changed_xid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
      change_seq           bigint NOT NULL DEFAULT nextval('recipient_change_seq'),
      UNIQUE (account_id, tracking_id)
    );
    -- claimBatch: the ready (or due for retry) recipients of one send
    CREATE INDEX recipients_claim ON recipients (send_id, next_try NULLS FIRST, id) WHERE status IN ('ready','warning');
    -- totals per mailing and status (list_mailings, get_recipients_count)
    CREATE INDEX recipients_mailing_status ON recipients (mailing_id, status) WHERE NOT is_test;
    -- the status feed: (changed_xid, change_seq) order, per account
    CREATE INDEX recipients_feed ON recipients (account_id, changed_xid, change_seq);
    -- the sweeper: leases of dead workers (leases are cleared on every outcome, so this stays small)
    CREATE INDEX recipients_leased ON recipients (lease_owner) WHERE lease_owner IS NOT NULL;
    -- hourly statistics
    CREATE INDEX recipients_last_try ON recipients (account_id, last_try) WHERE last_try IS NOT NULL;

    CREATE TABLE bounces (
      id               bigint PRIMARY KEY,
      account_id       bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
      recipient_id     bigint REFERENCES recipients ON DELETE SET NULL,
      mailing_id       bigint REFERENCES mailings ON DELETE SET NULL,
      send_id          bigint REFERENCES sends ON DELETE SET NULL,
      list_id          bigint REFERENCES lists ON DELETE SET NULL,
      email            text NOT NULL,
      enhanced_status  text,
      text_status      text,
      remote_mta       text,
      kind             text NOT NULL CHECK (kind IN ('permanent','temporary')),
      source           text NOT NULL CHECK (source IN ('smtp','dsn','complaint')),
      created_at       timestamptz NOT NULL DEFAULT now()
    );
    CREATE SEQUENCE bounce_id_seq OWNED BY bounces.id;
    CREATE INDEX bounces_account_id ON bounces (account_id, id);
    CREATE INDEX bounces_mailing_id ON bounces (mailing_id, send_id, id);

    CREATE TABLE suppressions (
      account_id  bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
      email_key   text NOT NULL,
      email       text NOT NULL,
      reason      text NOT NULL CHECK (reason IN ('hard_bounce','unsubscribe','complaint','manual')),
      detail      text,
      created_at  timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (account_id, email_key)
    );

    CREATE TABLE events (
      id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      account_id    bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
      mailing_id    bigint REFERENCES mailings ON DELETE CASCADE,
      recipient_id  bigint REFERENCES recipients ON DELETE CASCADE,
      subscriber_id bigint REFERENCES subscribers ON DELETE SET NULL,
      kind          text NOT NULL CHECK (kind IN ('open','click','unsubscribe','confirm','complaint')),
      link          text,
      ip            inet,
      user_agent    text,
      created_at    timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX events_mailing_kind ON events (mailing_id, kind);

    CREATE TABLE tasks (
      id          uuid PRIMARY KEY,
      account_id  bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
      kind        text NOT NULL,
      status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','started','success','failure')),
      params      jsonb NOT NULL DEFAULT '{}',
      result      jsonb,
      created_at  timestamptz NOT NULL DEFAULT now(),
      updated_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX tasks_account ON tasks (account_id, created_at);

    -- Workers announce themselves and heartbeat; the sweeper reclaims the work of the silent ones.
    -- queue_pool_id: graphile-worker locks jobs with its own pool id (random, learnt from its pool:create
    -- event); the sweeper needs it to unlock a dead worker's jobs at once instead of after the 4-hour expiry.
    CREATE TABLE workers (
      id          text PRIMARY KEY,
      queue_pool_id text,
      started_at  timestamptz NOT NULL DEFAULT now(),
      seen_at     timestamptz NOT NULL DEFAULT now()
    );

    -- The built-in SMTP capture (no SMTP_URL): every message kept, viewable, never lost.
    CREATE TABLE captured_messages (
      id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      -- the account of the mailing named in X-Mailgate-Mailing (null for mail from elsewhere)
      account_id     bigint REFERENCES accounts ON DELETE CASCADE,
      envelope_from  text,
      envelope_to    text[] NOT NULL,
      message_id     text,
      subject        text,
      raw            bytea NOT NULL,
      received_at    timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX captured_messages_message_id ON captured_messages (message_id);
    CREATE INDEX captured_messages_account ON captured_messages (account_id, id);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE IF EXISTS captured_messages, workers, tasks, events, suppressions, bounces, recipients,
      sends, variants, mailings, subscribers, lists, settings, api_keys, accounts CASCADE;
    DROP SEQUENCE IF EXISTS recipient_change_seq;
  `);
}

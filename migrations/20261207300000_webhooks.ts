/**
 * Webhooks: an account's endpoints, the outbox of messages to them, and the log of every delivery attempt.
 *
 * The outbox is written by statement-level AFTER triggers on the tables whose changes it reports (recipients'
 * statuses, the event log), from their transition tables: a message exists exactly when its change committed
 * (same transaction, by construction), whatever code path made the change, one INSERT ... SELECT per
 * statement. An installation or account without an endpoint wanting the kind writes nothing: the triggers
 * return after one probe of webhook_endpoints (the transition tables are still collected by Postgres).
 *
 * Why the rows look the way they do:
 * - webhook_messages keeps a snapshot of what the payload says (address, ids, the reply) as it was at the
 *   change: a recipient's reply is overwritten by its next try, and a mailing may be deleted before the
 *   message goes out. It has no foreign key to mailings or recipients on purpose (a deletion must not take
 *   an undelivered message with it); the endpoint's removal does take its messages.
 * - One message per change and endpoint; `msg_id` is its Standard Webhooks `webhook-id`, the same on every
 *   attempt and replay of that message.
 * - Messages keep queueing for a disabled endpoint: `enable` delivers what happened meanwhile. Settled ones
 *   (delivered, failed) are purged with their attempts after WEBHOOK_RETENTION_DAYS.
 * - Each trigger wakes the endpoints it wrote for with one graphile-worker job per endpoint and transaction
 *   (webhooks_wake): the job key carries the transaction id, so concurrent writers never wait for one
 *   another on a job row (they hold the event and bounce logs' advisory locks); the endpoint's named queue
 *   runs its jobs one at a time (see src/worker/webhooks.ts). This is the one graphile_worker.add_job
 *   outside src/db/jobs.ts: a trigger cannot call TypeScript, and jobs.ts names the task and queue it uses.
 */
import type { Knex } from 'knex';

/** The kinds an endpoint may ask for (src/core/webhooks/kinds.ts holds the same list). */
const KINDS = `ARRAY['delivered','deferred','bounced','complained','unsubscribed','opened','clicked']`;

/** The snapshot columns a trigger fills (both triggers list them in this order). */
const SNAPSHOT = `endpoint_id, account_id, kind, occurred_at, dialect, mailing_id, send_id, recipient_id, subscriber_id, email,
  tracking_id, status, reply_code, enhanced_code, reply_text, remote_mta, verdict, verdict_reason, link, link_index`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE webhook_endpoints (
      id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      account_id       bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
      url              text NOT NULL CHECK (url ~ '^https{0,1}://'),
      kinds            text[] NOT NULL CHECK (cardinality(kinds) > 0 AND kinds <@ ${KINDS}),
      -- whsec_<base64>: read back to sign each message (unlike an API key, it cannot be kept as a hash)
      secret           text NOT NULL,
      description      text,
      created_at       timestamptz NOT NULL DEFAULT now(),
      disabled_at      timestamptz,
      disabled_reason  text,
      -- the circuit: consecutive failed attempts, since when, and when the next attempt may be made
      failures         integer NOT NULL DEFAULT 0,
      failing_since    timestamptz,
      retry_at         timestamptz,
      CHECK ((disabled_at IS NULL) = (disabled_reason IS NULL))
    );
    CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id);

    CREATE TABLE webhook_messages (
      id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      msg_id           text NOT NULL UNIQUE DEFAULT 'msg_' || replace(gen_random_uuid()::text, '-', ''),
      endpoint_id      bigint NOT NULL REFERENCES webhook_endpoints ON DELETE CASCADE,
      account_id       bigint NOT NULL,
      kind             text NOT NULL,
      occurred_at      timestamptz NOT NULL,
      dialect          text,
      mailing_id       bigint,
      send_id          bigint,
      recipient_id     bigint,
      subscriber_id    bigint,
      email            text,
      tracking_id      text,
      status           text,
      reply_code       integer,
      enhanced_code    text,
      reply_text       text,
      remote_mta       text,
      verdict          text,
      verdict_reason   text,
      link             text,
      link_index       integer,
      created_at       timestamptz NOT NULL DEFAULT now(),
      state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
      attempts         integer NOT NULL DEFAULT 0,
      next_attempt_at  timestamptz NOT NULL DEFAULT now(),
      lease_until      timestamptz,
      delivered_at     timestamptz
    );
    -- a job's claim (the endpoint's due messages), its backlog counts, and the endpoint's removal (cascade)
    CREATE INDEX webhook_messages_endpoint ON webhook_messages (endpoint_id, state, next_attempt_at, id);
    -- the purge of settled messages past WEBHOOK_RETENTION_DAYS
    CREATE INDEX webhook_messages_settled ON webhook_messages (created_at) WHERE state <> 'pending';

    CREATE TABLE webhook_attempts (
      id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      message_id   bigint NOT NULL REFERENCES webhook_messages ON DELETE CASCADE,
      endpoint_id  bigint NOT NULL REFERENCES webhook_endpoints ON DELETE CASCADE,
      attempted_at timestamptz NOT NULL DEFAULT now(),
      duration_ms  integer NOT NULL,
      -- the HTTP status; NULL when no answer came (refused, timed out)
      status_code  integer,
      ok           boolean NOT NULL,
      error        text,
      -- the start of the answer's body
      response     text
    );
    CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
    CREATE INDEX webhook_attempts_message ON webhook_attempts (message_id);

    -- One job per endpoint and transaction (see above); a disabled endpoint's job would do nothing.
    CREATE FUNCTION webhooks_wake(endpoint_ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM graphile_worker.add_job('webhooks', json_build_object('endpointId', e.id),
                queue_name => 'webhooks:' || e.id, run_at => greatest(now(), e.retry_at),
                job_key => 'webhooks:' || e.id || ':' || pg_current_xact_id()::text, max_attempts => 5)
         FROM webhook_endpoints e WHERE e.id = ANY (endpoint_ids) AND e.disabled_at IS NULL;
    END $$;

    -- A stamped status change (recipients.ts STAMP_CHANGE) to a final or deferred status: delivered,
    -- deferred (every deferral: warning again after another try is stamped again), bounced (error, and the
    -- timeout or general_error a message ends with when it is given up). Test recipients are not reported.
    CREATE FUNCTION webhooks_recipients_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE woken bigint[];
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM webhook_endpoints) THEN RETURN NULL; END IF;
      WITH m AS (
        INSERT INTO webhook_messages (${SNAPSHOT})
        SELECT e.id, n.account_id, k.kind, n.modified_at, mg.dialect, n.mailing_id, n.send_id, n.id, n.subscriber_id, n.email,
               n.tracking_id, n.status, n.reply_code, n.reply_enhanced_code, n.reply_text, n.remote_mta, NULL, NULL, NULL, NULL
          FROM new_rows n
          JOIN old_rows o ON o.id = n.id
          CROSS JOIN LATERAL (SELECT CASE n.status WHEN 'finished' THEN 'delivered' WHEN 'warning' THEN 'deferred' ELSE 'bounced' END AS kind) k
          JOIN webhook_endpoints e ON e.account_id = n.account_id AND k.kind = ANY (e.kinds)
          LEFT JOIN mailings mg ON mg.id = n.mailing_id
         WHERE n.change_seq <> o.change_seq AND NOT n.is_test
           AND n.status IN ('finished', 'warning', 'error', 'timeout', 'general_error')
        RETURNING endpoint_id)
      SELECT array_agg(DISTINCT endpoint_id) INTO woken FROM m;
      IF woken IS NOT NULL THEN PERFORM webhooks_wake(woken); END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER webhooks_recipients AFTER UPDATE ON recipients
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION webhooks_recipients_changed();

    -- Events a person made (src/db/events.ts): opened and clicked with their verdict, unsubscribed, complained.
    CREATE FUNCTION webhooks_events_added() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE woken bigint[];
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM webhook_endpoints) THEN RETURN NULL; END IF;
      WITH m AS (
        INSERT INTO webhook_messages (${SNAPSHOT})
        SELECT e.id, v.account_id, k.kind, v.created_at, mg.dialect, v.mailing_id, r.send_id, v.recipient_id,
               coalesce(r.subscriber_id, v.subscriber_id), coalesce(r.email, s.email, v.email), r.tracking_id, NULL, NULL, NULL, NULL, NULL,
               v.verdict, v.verdict_reason, v.link, v.link_index
          FROM new_rows v
          CROSS JOIN LATERAL (SELECT CASE v.kind WHEN 'open' THEN 'opened' WHEN 'click' THEN 'clicked'
                                                 WHEN 'unsubscribe' THEN 'unsubscribed' WHEN 'complaint' THEN 'complained' END AS kind) k
          JOIN webhook_endpoints e ON e.account_id = v.account_id AND k.kind = ANY (e.kinds)
          LEFT JOIN recipients r ON r.id = v.recipient_id
          LEFT JOIN subscribers s ON s.id = v.subscriber_id
          LEFT JOIN mailings mg ON mg.id = v.mailing_id
         WHERE NOT coalesce(r.is_test, false)
        RETURNING endpoint_id)
      SELECT array_agg(DISTINCT endpoint_id) INTO woken FROM m;
      IF woken IS NOT NULL THEN PERFORM webhooks_wake(woken); END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER webhooks_events AFTER INSERT ON events
      REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION webhooks_events_added();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER IF EXISTS webhooks_events ON events;
    DROP TRIGGER IF EXISTS webhooks_recipients ON recipients;
    DROP FUNCTION IF EXISTS webhooks_events_added(), webhooks_recipients_changed(), webhooks_wake(bigint[]);
    DROP TABLE IF EXISTS webhook_attempts, webhook_messages, webhook_endpoints;
  `);
}

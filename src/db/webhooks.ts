/**
 * Webhooks: endpoints, the outbox of messages to them, and the attempt log (migration
 * 20261207300000_webhooks.ts). The outbox rows are written by that migration's triggers, in the transaction
 * of the change they report; everything else that writes these tables is here: the endpoints' management, a
 * delivery job's claims and results, replays.
 *
 * A message is claimed with a committed lease (as a send's recipients are): no transaction is held across an
 * HTTP request, and a worker killed mid-request leaves a lease that expires, after which the message is sent
 * again under the same webhook-id (delivery is at least once; receivers deduplicate by that id).
 */
import { wakeWebhooks } from './jobs.js';
import { withTransaction, type Pool } from './pool.js';

export interface EndpointRow {
  id: number;
  account_id: number;
  url: string;
  kinds: string[];
  secret: string;
  description: string | null;
  created_at: Date;
  disabled_at: Date | null;
  disabled_reason: string | null;
  failures: number;
  failing_since: Date | null;
  retry_at: Date | null;
}

/** An outbox message as a delivery job renders it (the snapshot, and the mailing's name when it still exists). */
export interface MessageRow {
  id: number;
  msg_id: string;
  kind: string;
  occurred_at: Date;
  dialect: string | null;
  mailing_id: number | null;
  mailing_name: string | null;
  send_id: number | null;
  recipient_id: number | null;
  subscriber_id: number | null;
  email: string | null;
  tracking_id: string | null;
  status: string | null;
  reply_code: number | null;
  enhanced_code: string | null;
  reply_text: string | null;
  remote_mta: string | null;
  verdict: string | null;
  verdict_reason: string | null;
  link: string | null;
  link_index: number | null;
  attempts: number;
}

export interface AttemptRow {
  id: number;
  endpoint_id: number;
  msg_id: string;
  kind: string;
  attempted_at: Date;
  duration_ms: number;
  status_code: number | null;
  ok: boolean;
  error: string | null;
  response: string | null;
  /** The message's state now (pending, delivered, failed). */
  state: string;
}

/** An endpoint as the admin pages list it: its account, its backlog, its last success and failure. */
export interface EndpointOverviewRow extends EndpointRow {
  account: string;
  pending: number;
  last_success_at: Date | null;
  last_failure_at: Date | null;
  /** The last failed attempt in a few words (see describeFailure). */
  last_failure: string | null;
}

/** One line of an endpoint's attempt log: the attempt, its message, and its place among that message's attempts. */
export interface LogRow extends AttemptRow {
  message_id: number;
  /** 1 for a message's first attempt; replays continue the count. */
  attempt: number;
}

/** One attempt with its message's snapshot (what the payload is rendered from) and where it went. */
export interface AttemptDetailRow {
  attempt: LogRow;
  message: MessageRow & { state: string; created_at: Date; next_attempt_at: Date; delivered_at: Date | null };
  account_id: number;
}

/** One attempt's result, as a delivery job records it. */
export interface AttemptResult {
  messageId: number;
  ok: boolean;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  response: string | null;
}

/** The retry rules (src/core/webhooks/retry.ts states them) as recordAttempts applies them. */
export interface WebhookRetryPolicy {
  /** Delay before retry n (1-based) of one message; the message fails for good once they are used up. */
  scheduleSeconds: readonly number[];
  /** An endpoint failing without a success for this long is disabled. */
  disableAfterSeconds: number;
}

const ENDPOINT_COLUMNS = `id, account_id, url, kinds, secret, description, created_at, disabled_at, disabled_reason, failures, failing_since, retry_at`;

export function webhooksRepo(db: Pool) {
  return {
    /** A new endpoint, and its (empty) job run: its queue exists before any trigger adds to it. */
    async createEndpoint(e: { accountId: number; url: string; kinds: readonly string[]; secret: string; description: string | null }): Promise<EndpointRow> {
      return await withTransaction(db, async (tx) => {
        const { rows } = await tx.query<EndpointRow>(
          `INSERT INTO webhook_endpoints (account_id, url, kinds, secret, description) VALUES ($1, $2, $3, $4, $5) RETURNING ${ENDPOINT_COLUMNS}`,
          [e.accountId, e.url, e.kinds, e.secret, e.description],
        );
        await wakeWebhooks(tx, [rows[0]!.id]);
        return rows[0]!;
      });
    },

    async endpoints(accountId: number | null): Promise<EndpointRow[]> {
      const { rows } = await db.query<EndpointRow>(
        `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE $1::bigint IS NULL OR account_id = $1 ORDER BY id`,
        [accountId],
      );
      return rows;
    },

    async endpoint(id: number): Promise<EndpointRow | undefined> {
      const { rows } = await db.query<EndpointRow>(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1`, [id]);
      return rows[0];
    },

    /** Counts of the endpoint's messages by state. */
    async backlog(id: number): Promise<{ pending: number; delivered: number; failed: number }> {
      const { rows } = await db.query<{ pending: number; delivered: number; failed: number }>(
        `SELECT count(*) FILTER (WHERE state = 'pending')::int AS pending, count(*) FILTER (WHERE state = 'delivered')::int AS delivered,
                count(*) FILTER (WHERE state = 'failed')::int AS failed
           FROM webhook_messages WHERE endpoint_id = $1`,
        [id],
      );
      return rows[0]!;
    },

    /** Remove the endpoint with its messages and attempts; false when the account has no such endpoint. */
    async removeEndpoint(accountId: number, id: number): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM webhook_endpoints WHERE account_id = $1 AND id = $2', [accountId, id]);
      return (rowCount ?? 0) > 0;
    },

    /** Disable (messages keep queueing); undefined when the account has no such endpoint. */
    async disableEndpoint(accountId: number, id: number, reason: string): Promise<EndpointRow | undefined> {
      const { rows } = await db.query<EndpointRow>(
        `UPDATE webhook_endpoints SET disabled_at = coalesce(disabled_at, now()), disabled_reason = $3
          WHERE account_id = $1 AND id = $2 RETURNING ${ENDPOINT_COLUMNS}`,
        [accountId, id, reason],
      );
      return rows[0];
    },

    /** Enable with a clean circuit, and wake its job: what queued meanwhile goes out now. */
    async enableEndpoint(accountId: number, id: number): Promise<EndpointRow | undefined> {
      return await withTransaction(db, async (tx) => {
        const { rows } = await tx.query<EndpointRow>(
          `UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL, failures = 0, failing_since = NULL, retry_at = NULL
            WHERE account_id = $1 AND id = $2 RETURNING ${ENDPOINT_COLUMNS}`,
          [accountId, id],
        );
        if (rows[0]) await wakeWebhooks(tx, [id]);
        return rows[0];
      });
    },

    /** The newest attempts of the account (of one endpoint, only failed ones), newest first. */
    async attempts(accountId: number, f: { endpointId?: number | null; failedOnly?: boolean; limit: number }): Promise<AttemptRow[]> {
      const { rows } = await db.query<AttemptRow>(
        `SELECT a.id, a.endpoint_id, m.msg_id, m.kind, a.attempted_at, a.duration_ms, a.status_code, a.ok, a.error, a.response, m.state
           FROM webhook_attempts a
           JOIN webhook_endpoints e ON e.id = a.endpoint_id
           JOIN webhook_messages m ON m.id = a.message_id
          WHERE e.account_id = $1 AND ($2::bigint IS NULL OR a.endpoint_id = $2) AND (NOT $3 OR NOT a.ok)
          ORDER BY a.id DESC LIMIT $4`,
        [accountId, f.endpointId ?? null, f.failedOnly ?? false, f.limit],
      );
      return rows;
    },

    /**
     * Send the message of attempt `attemptId` again, now, under its webhook-id (whatever its state: delivered,
     * failed or still pending), with a fresh retry schedule. Undefined when the account has no such attempt.
     */
    async replay(accountId: number, attemptId: number): Promise<{ msg_id: string; endpoint_id: number } | undefined> {
      return await withTransaction(db, async (tx) => {
        const { rows } = await tx.query<{ msg_id: string; endpoint_id: number }>(
          `UPDATE webhook_messages m SET state = 'pending', attempts = 0, next_attempt_at = now(), lease_until = NULL, delivered_at = NULL
             FROM webhook_attempts a JOIN webhook_endpoints e ON e.id = a.endpoint_id
            WHERE a.id = $2 AND e.account_id = $1 AND m.id = a.message_id
            RETURNING m.msg_id, m.endpoint_id`,
          [accountId, attemptId],
        );
        if (rows[0]) await wakeWebhooks(tx, [rows[0].endpoint_id]);
        return rows[0];
      });
    },

    /**
     * Lease up to `limit` due messages of the endpoint (committed at once; SKIP LOCKED lets a concurrent claim
     * pass), oldest due first.
     */
    async claim(endpointId: number, limit: number, leaseSeconds: number): Promise<MessageRow[]> {
      const { rows } = await db.query<MessageRow>(
        `WITH c AS (
           UPDATE webhook_messages m SET lease_until = now() + make_interval(secs => $3)
            WHERE m.id IN (SELECT id FROM webhook_messages
                            WHERE endpoint_id = $1 AND state = 'pending' AND next_attempt_at <= now()
                              AND (lease_until IS NULL OR lease_until < now())
                            ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
           RETURNING m.*)
         SELECT c.id, c.msg_id, c.kind, c.occurred_at, c.dialect, c.mailing_id, mg.name AS mailing_name, c.send_id, c.recipient_id,
                c.subscriber_id, c.email, c.tracking_id, c.status, c.reply_code, c.enhanced_code, c.reply_text, c.remote_mta, c.verdict,
                c.verdict_reason, c.link, c.link_index, c.attempts
           FROM c LEFT JOIN mailings mg ON mg.id = c.mailing_id
          ORDER BY c.id`,
        [endpointId, limit, leaseSeconds],
      );
      return rows;
    },

    /** When the endpoint's next pending message is due (its lease's end when it is leased); null: none pending. */
    async nextDue(endpointId: number): Promise<Date | null> {
      const { rows } = await db.query<{ at: Date | null }>(
        `SELECT min(greatest(next_attempt_at, lease_until)) AS at FROM webhook_messages WHERE endpoint_id = $1 AND state = 'pending'`,
        [endpointId],
      );
      return rows[0]?.at ?? null;
    },

    /**
     * One round's results in one transaction: each attempt logged; each message delivered, due again after
     * its next delay, or failed for good once its schedule is used up; the endpoint's circuit closed by a
     * round with a success, or opened further by a round of failures only (retry_at after the delay of its
     * failed rounds in a row), and the endpoint disabled once it has failed without a success for
     * disableAfterSeconds. Returns the endpoint as it is now; undefined (nothing recorded) when it was removed.
     *
     * The endpoint's row is locked (FOR KEY SHARE, as the attempts' foreign key would) before any message row:
     * removing an endpoint locks its row, then deletes its messages. Taken after the messages (the foreign
     * key's check runs at the end of the statement that updated them), a removal in between deadlocked with
     * this (found by the bench: the job failed, or the operator's removal would have).
     */
    async recordAttempts(endpointId: number, results: readonly AttemptResult[], policy: WebhookRetryPolicy): Promise<EndpointRow | undefined> {
      return await withTransaction(db, async (tx) => {
        const { rows: present } = await tx.query('SELECT 1 FROM webhook_endpoints WHERE id = $1 FOR KEY SHARE', [endpointId]);
        if (!present.length) return undefined;
        const schedule = policy.scheduleSeconds.length ? [...policy.scheduleSeconds] : [0];
        await tx.query(
          `WITH r AS (
             SELECT * FROM unnest($2::bigint[], $3::boolean[], $4::int[], $5::int[], $6::text[], $7::text[])
               AS r(message_id, ok, duration_ms, status_code, error, response)),
           a AS (
             INSERT INTO webhook_attempts (message_id, endpoint_id, duration_ms, status_code, ok, error, response)
             SELECT message_id, $1, duration_ms, status_code, ok, error, response FROM r)
           UPDATE webhook_messages m
              SET attempts = m.attempts + 1, lease_until = NULL,
                  state = CASE WHEN r.ok THEN 'delivered' WHEN m.attempts + 1 > cardinality($8::float8[]) THEN 'failed' ELSE 'pending' END,
                  delivered_at = CASE WHEN r.ok THEN now() END,
                  next_attempt_at = CASE WHEN r.ok OR m.attempts + 1 > cardinality($8::float8[]) THEN m.next_attempt_at
                                         ELSE now() + make_interval(secs => ($8::float8[])[m.attempts + 1]) END
             FROM r WHERE m.id = r.message_id AND m.endpoint_id = $1`,
          [
            endpointId,
            results.map((r) => r.messageId),
            results.map((r) => r.ok),
            results.map((r) => r.durationMs),
            results.map((r) => r.statusCode),
            results.map((r) => r.error),
            results.map((r) => r.response),
            schedule,
          ],
        );
        // The circuit looks at the round: one answer 2xx means the endpoint is up (a message it keeps refusing
        // follows its own schedule); a round of failures only is one failure of the endpoint.
        const down = results.length > 0 && results.every((r) => !r.ok);
        const last = results.at(-1);
        const { rows } = await tx.query<EndpointRow>(
          !down
            ? `UPDATE webhook_endpoints SET failures = 0, failing_since = NULL, retry_at = NULL WHERE id = $1 RETURNING ${ENDPOINT_COLUMNS}`
            : `UPDATE webhook_endpoints e
                  SET failures = e.failures + 1, failing_since = coalesce(e.failing_since, now()),
                      retry_at = now() + make_interval(secs => ($2::float8[])[least(e.failures + 1, cardinality($2::float8[]))]),
                      disabled_at = CASE WHEN e.disabled_at IS NULL AND coalesce(e.failing_since, now()) <= now() - make_interval(secs => $3)
                                         THEN now() ELSE e.disabled_at END,
                      disabled_reason = CASE WHEN e.disabled_at IS NULL AND coalesce(e.failing_since, now()) <= now() - make_interval(secs => $3)
                                             THEN format('failing since %s (%s tries in a row); last: %s',
                                                         to_char(coalesce(e.failing_since, now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                                                         e.failures + 1, $4::text)
                                             ELSE e.disabled_reason END
                WHERE id = $1 RETURNING ${ENDPOINT_COLUMNS}`,
          !down ? [endpointId] : [endpointId, schedule, policy.disableAfterSeconds, last ? describeFailure(last) : ''],
        );
        return rows[0];
      });
    },

    /** Delivered and failed messages older than `retentionDays`, with their attempts: how many went. */
    async purge(retentionDays: number): Promise<number> {
      const { rowCount } = await db.query(`DELETE FROM webhook_messages WHERE state <> 'pending' AND created_at < now() - make_interval(days => $1)`, [
        retentionDays,
      ]);
      return rowCount ?? 0;
    },

    /** Run the endpoint's job at `runAt` (null: now); see wakeWebhooks. */
    wake: (endpointId: number, runAt: Date | null) => wakeWebhooks(db, [endpointId], runAt),

    /**
     * The endpoints of every account (accountId null) or one, or the one endpoint `id`, with their account's
     * slug, their backlog (the pending messages' partial index) and their last success and failure.
     */
    async overview(f: { accountId?: number | null; id?: number | null }): Promise<EndpointOverviewRow[]> {
      const { rows } = await db.query<EndpointOverviewRow>(
        `SELECT ${ENDPOINT_COLUMNS.split(', ')
          .map((c) => `e.${c}`)
          .join(', ')}, a.slug AS account,
                (SELECT count(*)::int FROM webhook_messages m WHERE m.endpoint_id = e.id AND m.state = 'pending') AS pending,
                (SELECT t.attempted_at FROM webhook_attempts t WHERE t.endpoint_id = e.id AND t.ok ORDER BY t.id DESC LIMIT 1) AS last_success_at,
                f.attempted_at AS last_failure_at,
                CASE WHEN f.attempted_at IS NOT NULL THEN coalesce('HTTP ' || f.status_code, f.error, 'no answer') END AS last_failure
           FROM webhook_endpoints e
           JOIN accounts a ON a.id = e.account_id
           LEFT JOIN LATERAL (SELECT t.attempted_at, t.status_code, t.error FROM webhook_attempts t
                               WHERE t.endpoint_id = e.id AND NOT t.ok ORDER BY t.id DESC LIMIT 1) f ON true
          WHERE ($1::bigint IS NULL OR e.account_id = $1) AND ($2::bigint IS NULL OR e.id = $2)
          ORDER BY e.id`,
        [f.accountId ?? null, f.id ?? null],
      );
      return rows;
    },

    /** The account an attempt's endpoint belongs to; undefined when there is no such attempt. */
    async attemptAccount(attemptId: number): Promise<number | undefined> {
      const { rows } = await db.query<{ account_id: number }>(
        'SELECT e.account_id FROM webhook_attempts a JOIN webhook_endpoints e ON e.id = a.endpoint_id WHERE a.id = $1',
        [attemptId],
      );
      return rows[0]?.account_id;
    },

    /** An endpoint's attempt log, newest first, a page of `limit` older than `beforeId` (keyset). */
    async log(accountId: number, endpointId: number, f: { failedOnly: boolean; beforeId: number | null; limit: number }): Promise<LogRow[]> {
      const { rows } = await db.query<LogRow>(
        `SELECT a.id, a.endpoint_id, a.message_id, m.msg_id, m.kind, a.attempted_at, a.duration_ms, a.status_code, a.ok, a.error, a.response, m.state,
                (SELECT count(*)::int FROM webhook_attempts b WHERE b.message_id = a.message_id AND b.id <= a.id) AS attempt
           FROM webhook_attempts a
           JOIN webhook_endpoints e ON e.id = a.endpoint_id
           JOIN webhook_messages m ON m.id = a.message_id
          WHERE e.account_id = $1 AND a.endpoint_id = $2 AND (NOT $3 OR NOT a.ok) AND ($4::bigint IS NULL OR a.id < $4)
          ORDER BY a.id DESC LIMIT $5`,
        [accountId, endpointId, f.failedOnly, f.beforeId, f.limit],
      );
      return rows;
    },

    /** One attempt of the account's, with its message; undefined when the account has no such attempt. */
    async attemptDetail(accountId: number, attemptId: number): Promise<AttemptDetailRow | undefined> {
      const { rows } = await db.query<LogRow & { message: AttemptDetailRow['message']; account_id: number }>(
        `SELECT a.id, a.endpoint_id, a.message_id, m.msg_id, m.kind, a.attempted_at, a.duration_ms, a.status_code, a.ok, a.error, a.response, m.state,
                (SELECT count(*)::int FROM webhook_attempts b WHERE b.message_id = a.message_id AND b.id <= a.id) AS attempt, e.account_id,
                json_build_object('id', m.id, 'msg_id', m.msg_id, 'kind', m.kind, 'occurred_at', m.occurred_at, 'dialect', m.dialect,
                  'mailing_id', m.mailing_id, 'mailing_name', mg.name, 'send_id', m.send_id, 'recipient_id', m.recipient_id,
                  'subscriber_id', m.subscriber_id, 'email', m.email, 'tracking_id', m.tracking_id, 'status', m.status,
                  'reply_code', m.reply_code, 'enhanced_code', m.enhanced_code, 'reply_text', m.reply_text, 'remote_mta', m.remote_mta,
                  'verdict', m.verdict, 'verdict_reason', m.verdict_reason, 'link', m.link, 'link_index', m.link_index,
                  'attempts', m.attempts, 'state', m.state, 'created_at', m.created_at, 'next_attempt_at', m.next_attempt_at,
                  'delivered_at', m.delivered_at) AS message
           FROM webhook_attempts a
           JOIN webhook_endpoints e ON e.id = a.endpoint_id
           JOIN webhook_messages m ON m.id = a.message_id
           LEFT JOIN mailings mg ON mg.id = m.mailing_id
          WHERE e.account_id = $1 AND a.id = $2`,
        [accountId, attemptId],
      );
      const r = rows[0];
      if (!r) return undefined;
      const { message: j, account_id, ...attempt } = r;
      // json_build_object gives timestamps as text: back to Dates, as the rest of the store returns them.
      const at = (v: unknown) => (v === null ? null : new Date(v as string));
      const message = {
        ...j,
        occurred_at: at(j.occurred_at)!,
        created_at: at(j.created_at)!,
        next_attempt_at: at(j.next_attempt_at)!,
        delivered_at: at(j.delivered_at),
      };
      return { attempt, message, account_id };
    },

    /** Every attempt of one message, newest first. */
    async messageAttempts(messageId: number): Promise<LogRow[]> {
      const { rows } = await db.query<LogRow>(
        `SELECT a.id, a.endpoint_id, a.message_id, m.msg_id, m.kind, a.attempted_at, a.duration_ms, a.status_code, a.ok, a.error, a.response, m.state,
                row_number() OVER (ORDER BY a.id)::int AS attempt
           FROM webhook_attempts a JOIN webhook_messages m ON m.id = a.message_id
          WHERE a.message_id = $1 ORDER BY a.id DESC`,
        [messageId],
      );
      return rows;
    },

    /** A new signing secret in place of the old one (which stops at once); undefined when the account has no such endpoint. */
    async rotateSecret(accountId: number, id: number, secret: string): Promise<EndpointRow | undefined> {
      const { rows } = await db.query<EndpointRow>(`UPDATE webhook_endpoints SET secret = $3 WHERE account_id = $1 AND id = $2 RETURNING ${ENDPOINT_COLUMNS}`, [
        accountId,
        id,
        secret,
      ]);
      return rows[0];
    },

    /**
     * Send again, now and with a fresh retry schedule, every message of the endpoint that is not delivered
     * (failed for good, or pending after a failure) and had a failed attempt at or after `since`; each under
     * its own webhook-id, through the endpoint's job. A message on the wire now (leased) is left to its
     * attempt. Returns how many were queued; undefined when the account has no such endpoint.
     */
    async replayFailedSince(accountId: number, endpointId: number, since: Date): Promise<number | undefined> {
      return await withTransaction(db, async (tx) => {
        const owned = await tx.query('SELECT 1 FROM webhook_endpoints WHERE account_id = $1 AND id = $2', [accountId, endpointId]);
        if (!owned.rowCount) return undefined;
        const { rowCount } = await tx.query(
          `UPDATE webhook_messages m SET state = 'pending', attempts = 0, next_attempt_at = now(), lease_until = NULL, delivered_at = NULL
            WHERE m.endpoint_id = $1 AND m.state <> 'delivered' AND (m.lease_until IS NULL OR m.lease_until < now())
              AND EXISTS (SELECT 1 FROM webhook_attempts a WHERE a.message_id = m.id AND NOT a.ok AND a.attempted_at >= $2)`,
          [endpointId, since],
        );
        if (rowCount) await wakeWebhooks(tx, [endpointId]);
        return rowCount ?? 0;
      });
    },
  };
}
export type WebhooksRepo = ReturnType<typeof webhooksRepo>;

/** An attempt's failure in a few words (the disable reason quotes the last one). */
export const describeFailure = (r: Pick<AttemptResult, 'statusCode' | 'error'>) => (r.statusCode !== null ? `HTTP ${r.statusCode}` : (r.error ?? 'no answer'));

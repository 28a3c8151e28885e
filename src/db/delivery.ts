/**
 * Delivery: the SQL of the send pipeline (claims, leases, outcomes, pacing counts, mailing completion) and of
 * the worker registry (heartbeat, sweeper). Every write of `workers`, of hourly_stats and of a kept message
 * (customized_messages; recipients.ts and manager.ts read and purge them) is here. An outcome's suppression
 * is written by suppress() (suppressions.ts), its bounce rows by insertBounces (bounces.ts), a send's jobs by
 * jobs.ts.
 *
 * Ground rules every query here keeps:
 * - No transaction is ever held across an SMTP conversation. A claim is a committed lease
 *   (lease_owner, lease_until); an expired lease makes the recipient claimable again.
 * - A claim is not a status change: it does not stamp the status feed. Every status change does
 *   (STAMP_CHANGE), and one batch's outcomes are one UPDATE.
 */
import { CLAIMABLE, STAMP_CHANGE, type RecipientContent } from './recipients.js';
import { enqueueSend, requeueSend } from './jobs.js';
import { insertBounces, type NewBounce } from './bounces.js';
import { withTransaction, type Pool, type Queryable } from './pool.js';
import { closeAtDeadline, finishSend, takeSnapshots, timeoutLeft } from './manager.js';
import { suppress } from './suppressions.js';
import type { MailingStatus, RecipientStatus } from './statuses.js';
import type { DkimSettings, SendSchedule, VariantContent } from './mailings.js';

/** The retry rules' values (src/core/delivery/retry.ts states them), as recordOutcomes applies them in SQL. */
export interface RetryPolicy {
  /** The first retry's delay (RETRY_BASE_SECONDS). */
  baseSeconds: number;
  growth: number;
  capSeconds: number;
  /** Give up this long after the first try (RETRY_MAX_HOURS). */
  maxHours: number;
  /** Retries are never planned after this (the send's deadline). */
  notAfter: Date | null;
}

/** One send with its mailing and variant: everything a batch needs, loaded once per job (and again on a change). */
export interface SendContext extends VariantContent, Omit<SendSchedule, 'finished_at'> {
  account_id: number;
  mailing_id: number;
  /** The dialect that made the mailing (how its templates escape html). */
  dialect: string;
  list_id: number | null;
  type: 'regular' | 'opened';
  dkim: DkimSettings | null;
  testing: boolean;
  backup_customized_emails: boolean;
  /** 'optout': the notice that an address was unsubscribed, sent although the address is suppressed. */
  system_role: 'confirm' | 'optout' | null;
  /** The mailing's property revision: a claim that sees another one makes the job reload. */
  rev: number;
  /** Tracking properties (CloudMailing's names; every dialect's mailing has them). */
  tracking_url: string | null;
  read_tracking: boolean;
  click_tracking: boolean;
  url_encoding: string | null;
  /** For List-Id and Feedback-ID: the mailing's name, its list's name and slug, the account's slug. */
  name: string | null;
  list_name: string | null;
  list_slug: string | null;
  account_slug: string;
  raw_message: Buffer | null;
  /** When the send must end (send_deadline, see src/core/mailings/lifecycle.ts); null: never. */
  deadline: Date | null;
}

/** A send's status and the times that depend on its start. */
export interface SendState {
  status: MailingStatus;
  started_at: Date | null;
  deadline: Date | null;
}

export interface ClaimedRecipient {
  id: number;
  /** The recipient's id as its client knows it (CloudMailing's caller-hosted tracking URLs carry it). */
  tracking_id: string;
  email: string;
  fields: Record<string, unknown>;
  attachments: unknown;
  /** The recipient's own subject / html / text (transactional sends), else null. */
  content: RecipientContent | null;
  try_count: number;
  /** Past it, the message is not sent: TIMEOUT. */
  expires_at: Date | null;
}

/** One recipient's result, as recordOutcomes writes it. */
export interface Outcome {
  id: number;
  email: string;
  status: Extract<RecipientStatus, 'finished' | 'error' | 'warning' | 'general_error' | 'timeout'>;
  /** Did it reach an SMTP conversation (counts as a try)? Suppressed and unbuildable ones did not. */
  tried: boolean;
  replyCode: number | null;
  enhancedCode: string | null;
  replyText: string | null;
  remoteMta: string | null;
  /** Suppress the address for the account (hard bounce: the mailbox does not exist). */
  suppress: boolean;
  /** The message as sent, kept when the mailing asks for it (backup_customized_emails). */
  customized?: Buffer | undefined;
}

export function deliveryRepo(db: Pool) {
  return {
    async loadSend(sendId: number): Promise<SendContext | undefined> {
      const { rows } = await db.query<SendContext>(
        `SELECT s.id AS send_id, m.account_id, m.id AS mailing_id, m.dialect, m.list_id, s.status, m.type, s.scheduled_start,
                s.scheduled_end, s.max_duration_minutes, s.spread_minutes, s.dont_close_if_empty, s.started_at, m.dkim,
                m.testing, m.backup_customized_emails, m.system_role, m.rev,
                m.tracking_url, m.read_tracking, m.click_tracking, m.url_encoding, m.name,
                l.name AS list_name, l.slug AS list_slug, a.slug AS account_slug,
                v.from_email, v.from_name, v.replyto_email, v.subject, v.html, v.text, v.charset, v.raw_message,
                send_deadline(s) AS deadline
           FROM sends s
           JOIN mailings m ON m.id = s.mailing_id
           JOIN accounts a ON a.id = m.account_id
           LEFT JOIN lists l ON l.id = m.list_id
           JOIN LATERAL (SELECT * FROM variants v WHERE v.mailing_id = m.id
                          ORDER BY (v.id = s.variant_id) DESC, v.position LIMIT 1) v ON true
          WHERE s.id = $1`,
        [sendId],
      );
      return rows[0];
    },

    async sendStatus(sendId: number): Promise<SendState | undefined> {
      const { rows } = await db.query<SendState>('SELECT status, started_at, send_deadline(s) AS deadline FROM sends s WHERE id = $1', [sendId]);
      return rows[0];
    },

    /**
     * READY -> RUNNING once its scheduled start is reached, with the snapshot of its recipients when it is a
     * list's delivery (same transaction); returns the running send's state when this call started it.
     */
    async startIfDue(sendId: number): Promise<SendState | null> {
      return await withTransaction(db, async (tx) => {
        const { rows } = await tx.query<SendState>(
          `UPDATE sends s SET status = 'running', started_at = coalesce(started_at, now())
            WHERE id = $1 AND status = 'ready' AND (scheduled_start IS NULL OR scheduled_start <= now())
            RETURNING status, started_at, send_deadline(s) AS deadline`,
          [sendId],
        );
        if (rows[0]) await takeSnapshots(tx, [sendId]);
        return rows[0] ?? null;
      });
    },

    /**
     * Lease up to `limit` due recipients to this worker, committed at once. SKIP LOCKED lets concurrent
     * claimers pass each other; the lease (not a row lock) is what keeps the rows ours during SMTP.
     * A non-test claim takes nothing unless the mailing is running (a pause stops the next claim).
     */
    async claimBatch(p: {
      sendId: number;
      mailingId: number;
      workerId: string;
      limit: number;
      leaseSeconds: number;
      testOnly: boolean;
    }): Promise<{ recipients: ClaimedRecipient[]; rev: number | null }> {
      // The mailing's rev comes back with the claim (one round trip): a job working from stale properties
      // or content reloads before it sends the batch.
      const { rows } = await db.query<ClaimedRecipient & { rev: number }>(
        `WITH c AS (
           UPDATE recipients r SET lease_owner = $3, lease_until = now() + make_interval(secs => $4)
            WHERE r.id IN (
              SELECT id FROM recipients
               WHERE send_id = $1 AND ${CLAIMABLE} AND is_test = $6
                 AND (next_try IS NULL OR next_try <= now())
                 AND (lease_until IS NULL OR lease_until < now())
                 AND ($6 OR (SELECT status FROM sends WHERE id = $1) = 'running')
               ORDER BY next_try NULLS FIRST, id
               LIMIT $5
               FOR UPDATE SKIP LOCKED)
            RETURNING r.id, r.tracking_id, r.email, r.fields, r.attachments, r.content, r.try_count, r.expires_at)
         SELECT c.*, (SELECT rev FROM mailings WHERE id = $2) AS rev FROM c`,
        [p.sendId, p.mailingId, p.workerId, p.leaseSeconds, p.limit, p.testOnly],
      );
      return { recipients: rows.sort((a, b) => a.id - b.id), rev: rows[0]?.rev ?? null };
    },

    /** Keep the leases of a batch that is still being sent (a slow relay must not let another worker take it). */
    async extendLeases(workerId: string, ids: number[], leaseSeconds: number): Promise<void> {
      if (!ids.length) return;
      await db.query(
        `UPDATE recipients SET lease_until = now() + make_interval(secs => $3)
          WHERE id = ANY($2::bigint[]) AND lease_owner = $1`,
        [workerId, ids, leaseSeconds],
      );
    },

    /** Give leases back untouched (no try counted, no status change, so no stamp). */
    async releaseLeases(workerId: string, ids: number[]): Promise<void> {
      if (!ids.length) return;
      await db.query(`UPDATE recipients SET lease_owner = NULL, lease_until = NULL WHERE id = ANY($2::bigint[]) AND lease_owner = $1`, [workerId, ids]);
    },

    /**
     * Why each of `emailKeys` must not be mailed by this mailing: the account's suppression reason, else
     * `unsubscribe_list:<slug>` for an address in an unsubscribe list the mailing honours.
     */
    async suppressedAmong(accountId: number, mailingId: number, emailKeys: string[]): Promise<Map<string, string>> {
      if (!emailKeys.length) return new Map();
      const { rows } = await db.query<{ email_key: string; reason: string }>(
        `SELECT email_key, reason FROM suppressions WHERE account_id = $1 AND email_key = ANY($3::text[])
         UNION ALL
         SELECT e.email_key, 'unsubscribe_list:' || l.slug
           FROM mailing_unsubscribe_lists ml
           JOIN unsubscribe_lists l ON l.id = ml.unsubscribe_list_id
           JOIN unsubscribe_list_entries e ON e.unsubscribe_list_id = ml.unsubscribe_list_id
          WHERE ml.mailing_id = $2 AND e.email_key = ANY($3::text[])`,
        [accountId, mailingId, emailKeys],
      );
      // A suppression comes first and wins.
      const out = new Map<string, string>();
      for (const r of rows) if (!out.has(r.email_key)) out.set(r.email_key, r.reason);
      return out;
    },

    /**
     * One batch's outcomes in one short transaction: the outcome UPDATE (stamped, leases cleared; only rows
     * still leased to this worker), leases released untried, suppressions, and the bounce rows last (their
     * ids are drawn under the bounce log's advisory lock, held until COMMIT).
     *
     * A temporary failure is retried as `retry` says (src/core/delivery/retry.ts): after
     * baseSeconds * growth^(tries - 1), at most capSeconds; it ends `timeout` instead when its first try is
     * older than maxHours or the retry would fall after notAfter. Hard bounces are suppressed (suppress).
     */
    async recordOutcomes(p: {
      workerId: string;
      ctx: Pick<SendContext, 'account_id' | 'mailing_id' | 'send_id' | 'list_id'>;
      outcomes: Outcome[];
      release: number[];
      retry: RetryPolicy;
      emailKey: (email: string) => string;
    }): Promise<Map<number, RecipientStatus>> {
      const { outcomes, ctx } = p;
      return await withTransaction(db, async (tx) => {
        if (p.release.length) {
          await tx.query(`UPDATE recipients SET lease_owner = NULL, lease_until = NULL WHERE id = ANY($2::bigint[]) AND lease_owner = $1`, [
            p.workerId,
            p.release,
          ]);
        }
        const written = new Map<number, RecipientStatus>();
        if (!outcomes.length) return written;
        const { rows } = await tx.query<{ id: number; status: RecipientStatus }>(
          `WITH o AS (
             SELECT * FROM unnest($2::bigint[], $3::text[], $4::boolean[], $5::int[], $6::text[], $7::text[], $8::text[])
               AS o(id, status, tried, reply_code, enhanced, reply_text, remote_mta)),
           c AS (
             SELECT o.*, x.retry_at,
                    CASE WHEN o.status = 'warning'
                              AND (coalesce(r.first_try, now()) < now() - make_interval(secs => $10::float8 * 3600)
                                   OR x.retry_at > $11::timestamptz)
                         THEN 'timeout' ELSE o.status END AS final
               FROM o JOIN recipients r ON r.id = o.id
               CROSS JOIN LATERAL (
                 SELECT now() + make_interval(secs => least($9::float8 * power($12::float8, r.try_count), $13::float8)) AS retry_at) x)
           UPDATE recipients r
              SET status = c.final,
                  next_try = CASE WHEN c.final = 'warning' THEN c.retry_at END,
                  try_count = r.try_count + c.tried::int,
                  first_try = CASE WHEN c.tried THEN coalesce(r.first_try, now()) ELSE r.first_try END,
                  last_try = CASE WHEN c.tried THEN now() ELSE r.last_try END,
                  reply_code = c.reply_code, reply_enhanced_code = c.enhanced, reply_text = c.reply_text,
                  remote_mta = c.remote_mta,
                  sent_by = CASE WHEN c.tried THEN $1 ELSE r.sent_by END,
                  lease_owner = NULL, lease_until = NULL,
                  ${STAMP_CHANGE}
             FROM c
            WHERE r.id = c.id AND r.lease_owner = $1
            RETURNING r.id, r.status`,
          [
            p.workerId,
            outcomes.map((o) => o.id),
            outcomes.map((o) => o.status),
            outcomes.map((o) => o.tried),
            outcomes.map((o) => o.replyCode),
            outcomes.map((o) => o.enhancedCode),
            outcomes.map((o) => o.replyText),
            outcomes.map((o) => o.remoteMta),
            p.retry.baseSeconds,
            p.retry.maxHours,
            p.retry.notAfter,
            p.retry.growth,
            p.retry.capSeconds,
          ],
        );
        for (const r of rows) written.set(r.id, r.status);
        // A row whose lease was lost (swept, taken by another worker) is not ours to report on.
        const mine = outcomes.filter((o) => written.has(o.id));
        await suppress(
          tx,
          ctx.account_id,
          mine.filter((o) => o.suppress).map((o) => ({ emailKey: p.emailKey(o.email), email: o.email, reason: 'hard_bounce', detail: o.replyText })),
        );
        const kept = mine.filter((o) => o.customized);
        if (kept.length) {
          await tx.query(
            `INSERT INTO customized_messages (recipient_id, account_id, raw)
             SELECT id, $1, raw FROM unnest($2::bigint[], $3::bytea[]) AS k(id, raw)
             ON CONFLICT (recipient_id) DO UPDATE SET raw = excluded.raw, created_at = now()`,
            [ctx.account_id, kept.map((o) => o.id), kept.map((o) => o.customized!)],
          );
        }
        // get_hourly_statistics: the tries of the hour (outcomes that reached a relay), and how they ended.
        const tried = mine.filter((o) => o.tried);
        if (tried.length) {
          await tx.query(
            `INSERT INTO hourly_stats AS h (account_id, hour, sent, failed, tries)
             VALUES ($1, date_trunc('hour', now(), 'UTC'), $2, $3, $4)
             ON CONFLICT (account_id, hour) DO UPDATE
               SET sent = h.sent + excluded.sent, failed = h.failed + excluded.failed, tries = h.tries + excluded.tries`,
            [
              ctx.account_id,
              tried.filter((o) => written.get(o.id) === 'finished').length,
              tried.filter((o) => ['error', 'timeout'].includes(written.get(o.id)!)).length,
              tried.length,
            ],
          );
        }
        const bounces: NewBounce[] = mine
          .filter((o) => o.tried && (o.status === 'error' || o.status === 'warning'))
          .map((o) => ({
            accountId: ctx.account_id,
            recipientId: o.id,
            mailingId: ctx.mailing_id,
            sendId: ctx.send_id,
            listId: ctx.list_id,
            email: o.email,
            enhancedStatus: o.enhancedCode,
            // As a DSN writes them (Mailkit's TEXT_STATUS and REMOTE_MTA): `smtp; 550 5.1.1 ...`, `dns; host`.
            textStatus: `smtp; ${[o.replyCode, o.enhancedCode, o.replyText].filter((x) => x !== null && x !== '').join(' ')}`,
            remoteMta: o.remoteMta ? `dns; ${o.remoteMta.replace(/:\d+$/, '')}` : null,
            kind: o.status === 'error' ? 'permanent' : 'temporary',
            source: 'smtp',
          }));
        await insertBounces(tx, bounces); // last statement: see src/db/bounces.ts
        return written;
      });
    },

    /**
     * The relay answers again after an outage: this send's recipients deferred because a conversation was lost
     * without an answer (no reply code, or 421 "closing channel": what an outage does to the messages in
     * flight) are due now instead of at their back-off. Their try stays counted (the relay still took a new
     * connection when it was lost); nothing else changes, so nothing is stamped. Returns how many.
     */
    async dueAgain(sendId: number, testOnly: boolean): Promise<number> {
      const { rowCount } = await db.query(
        `UPDATE recipients SET next_try = now()
          WHERE send_id = $1 AND ${CLAIMABLE} AND status = 'warning' AND is_test = $2 AND next_try > now()
            AND (reply_code IS NULL OR reply_code = 421) AND (lease_until IS NULL OR lease_until < now())`,
        [sendId, testOnly],
      );
      return rowCount ?? 0;
    },

    timeoutRemaining: (sendId: number) => timeoutLeft(db, sendId),
    finishSend: (sendId: number) => finishSend(db, sendId),
    closeAtDeadline: (sendId: number) => closeAtDeadline(db, sendId),

    /** Why nothing was claimable: anything left, the earliest planned retry, the earliest lease expiry. */
    async pendingSummary(sendId: number, testOnly: boolean): Promise<{ pending: boolean; nextRetry: Date | null; leaseEnd: Date | null }> {
      const { rows } = await db.query<{ pending: boolean; next_retry: Date | null; lease_end: Date | null }>(
        `SELECT EXISTS (SELECT 1 FROM recipients WHERE send_id = $1 AND ${CLAIMABLE} AND is_test = $2) AS pending,
                (SELECT min(next_try) FROM recipients
                  WHERE send_id = $1 AND ${CLAIMABLE} AND is_test = $2 AND next_try > now()) AS next_retry,
                (SELECT min(lease_until) FROM recipients
                  WHERE send_id = $1 AND ${CLAIMABLE} AND is_test = $2 AND lease_until > now()) AS lease_end`,
        [sendId, testOnly],
      );
      const r = rows[0]!;
      return { pending: r.pending, nextRetry: r.next_retry, leaseEnd: r.lease_end };
    },

    /**
     * Pacing counts: recipients of the send (tests apart), and those tried or in flight. The tried ones from
     * recipient_counts; those in flight on a first try (ready, try_count 0, leased) from recipients_leased,
     * which holds only leased rows: a lease is set and cleared with its owner, so lease_until > now()
     * implies lease_owner IS NOT NULL.
     */
    async paceCounts(sendId: number): Promise<{ total: number; tried: number }> {
      const { rows } = await db.query<{ total: number; tried: number }>(
        `SELECT coalesce(sum(c.n), 0)::int AS total,
                (coalesce(sum(c.n) FILTER (WHERE c.status <> 'ready' OR c.tried), 0)
                 + (SELECT count(*) FROM recipients
                     WHERE lease_owner IS NOT NULL AND send_id = $1 AND NOT is_test
                       AND status = 'ready' AND try_count = 0 AND lease_until > now()))::int AS tried
           FROM recipient_counts c
          WHERE c.mailing_id = (SELECT mailing_id FROM sends WHERE id = $1) AND c.send_id = $1 AND NOT c.is_test`,
        [sendId],
      );
      return rows[0]!;
    },

    /** Run this send's job again at `runAt`, keeping its job key (see requeueSend in jobs.ts). */
    requeueSend: (jobKey: string | null, sendId: number, testOnly: boolean, runAt: Date | null) => requeueSend(db, jobKey, sendId, testOnly, runAt),
  };
}
export type DeliveryRepo = ReturnType<typeof deliveryRepo>;

export interface WorkerRow {
  number: number;
  id: string;
  version: string | null;
  started_at: Date;
  seen_at: Date;
}

/** What a release of workers' work freed: leases given back, graphile-worker pools whose jobs were unlocked. */
export interface Released {
  leases: number;
  pools: string[];
}

/**
 * In `tx`: give back the leases of `owners` (and, with `orphans`, of every owner with no `workers` row: a
 * worker that was removed without its work being released), unlock the graphile-worker jobs locked by
 * `pools` (graphile-worker's public force_unlock_workers), and return the sends whose leases were freed.
 * Only for owners and pools known to run nothing any more: a lease freed under a live batch is sent twice.
 */
async function releaseWork(
  tx: Queryable,
  owners: string[],
  pools: string[],
  orphans: boolean,
  keep: number[] = [],
): Promise<{ leases: number; sendIds: number[] }> {
  const { rows } = await tx.query<{ send_id: number | null; n: number }>(
    `WITH f AS (
       UPDATE recipients SET lease_owner = NULL, lease_until = NULL
        WHERE (lease_owner = ANY($1::text[])
               OR ($2 AND lease_owner IS NOT NULL AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = recipients.lease_owner)))
          AND NOT (id = ANY($3::bigint[]))
       RETURNING send_id)
     SELECT send_id, count(*)::int AS n FROM f GROUP BY send_id`,
    [owners, orphans, keep],
  );
  // force_unlock_workers takes the ids jobs are locked by: graphile-worker's pool ids (and, as before pools
  // were recorded, our worker ids).
  if (pools.length || owners.length) await tx.query('SELECT graphile_worker.force_unlock_workers($1::text[])', [[...pools, ...owners]]);
  return { leases: rows.reduce((n, r) => n + r.n, 0), sendIds: rows.map((r) => r.send_id).filter((id): id is number => id !== null) };
}

/** Enqueue the sends of `sendIds` that a job must look at again (after their leases were freed). */
async function resumeSends(db: Pool, sendIds: number[]): Promise<void> {
  if (!sendIds.length) return;
  const { rows } = await db.query<{ id: number }>(
    // A finished mailing too: when it ended (scheduled_end) while the dead worker held a batch, the job
    // gives those recipients their final status (TIMEOUT) instead of leaving them READY for good.
    `SELECT s.id FROM sends s WHERE s.id = ANY($1::bigint[]) AND s.status IN ('running', 'finished')`,
    [sendIds],
  );
  for (const r of rows) await enqueueSend(db, r.id, null);
}

/** The worker registry: heartbeat and the sweeper that reclaims the work of silent workers. */
export function workersRepo(db: Pool) {
  return {
    /**
     * Register or refresh (a worker swept by mistake, e.g. after a long pause, comes back). Returns when the
     * database server started: a change means it restarted under the worker (its connections were lost).
     * `relayUp`: whether a relay of this worker answers (/healthz reads it; null keeps what was reported).
     */
    async heartbeat(workerId: string, queuePoolId: string | null, version: string | null = null, relayUp: boolean | null = null): Promise<string> {
      const { rows } = await db.query<{ db_started: string }>(
        `INSERT INTO workers (id, queue_pool_id, version, relay_up) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET seen_at = now(), queue_pool_id = coalesce(excluded.queue_pool_id, workers.queue_pool_id),
                                        version = coalesce(excluded.version, workers.version),
                                        relay_up = coalesce(excluded.relay_up, workers.relay_up)
         RETURNING pg_postmaster_start_time()::text AS db_started`,
        [workerId, queuePoolId, version, relayUp],
      );
      return rows[0]!.db_started;
    },

    /** Workers heard from within `staleSeconds` (CloudMailing's satellites). */
    async alive(staleSeconds: number): Promise<WorkerRow[]> {
      const { rows } = await db.query<WorkerRow>(
        `SELECT number, id, version, started_at, seen_at FROM workers
          WHERE seen_at >= now() - make_interval(secs => $1) ORDER BY number`,
        [staleSeconds],
      );
      return rows;
    },

    /**
     * The work of a live worker whose job runner lost its database and was replaced (nothing of the old one
     * runs any more): its leases but those of `keep` (batches still on the wire) and the jobs of its earlier
     * pools `pools`, freed; its row kept.
     */
    async release(workerId: string, pools: string[], keep: number[] = []): Promise<Released> {
      const { leases, sendIds } = await withTransaction(db, (tx) => releaseWork(tx, [workerId], pools, false, keep));
      await resumeSends(db, sendIds);
      return { leases, pools };
    },

    /**
     * A stopped worker leaves: its row, and with it whatever it still holds (leases of a batch that failed,
     * jobs its pools `pools` could not give back while the database was away), so no sweep has to find it.
     */
    async deregister(workerId: string, pools: string[] = []): Promise<void> {
      const { sendIds } = await withTransaction(db, async (tx) => {
        await tx.query('DELETE FROM workers WHERE id = $1', [workerId]);
        return await releaseWork(tx, [workerId], pools, false);
      });
      await resumeSends(db, sendIds);
    },

    /**
     * Workers silent for more than `staleSeconds`: remove them, return their leased recipients to the queue,
     * unlock their graphile-worker jobs (which would otherwise stay locked for graphile-worker's 4 hours), and
     * enqueue the sends they were working on. Jobs locked for longer than that by a pool that is no live
     * worker's (a runner replaced after losing its database, a worker removed without its work released) are
     * unlocked too. With `orphans` (a worker starting, or its database back), leases of owners that have no
     * row at all are returned as well. Returns the swept worker ids.
     */
    async sweep(staleSeconds: number, opts: { orphans?: boolean } = {}): Promise<string[]> {
      const { dead, sendIds } = await withTransaction(db, async (tx) => {
        const { rows: dead } = await tx.query<{ id: string; queue_pool_id: string | null }>(
          `DELETE FROM workers WHERE seen_at < now() - make_interval(secs => $1) RETURNING id, queue_pool_id`,
          [staleSeconds],
        );
        // graphile_worker.jobs is its public view (read only here).
        const { rows: stray } = await tx.query<{ locked_by: string }>(
          `SELECT DISTINCT locked_by FROM graphile_worker.jobs j
            WHERE locked_by IS NOT NULL AND locked_at < now() - make_interval(secs => $1)
              AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.queue_pool_id = j.locked_by OR w.id = j.locked_by)`,
          [staleSeconds],
        );
        const pools = [...new Set([...dead.map((d) => d.queue_pool_id).filter((p): p is string => !!p), ...stray.map((s) => s.locked_by)])];
        if (!dead.length && !pools.length && !opts.orphans) return { dead, sendIds: [] as number[] };
        const { sendIds } = await releaseWork(
          tx,
          dead.map((d) => d.id),
          pools,
          !!opts.orphans,
        );
        return { dead, sendIds };
      });
      await resumeSends(db, sendIds);
      return dead.map((d) => d.id);
    },
  };
}
export type WorkersRepo = ReturnType<typeof workersRepo>;

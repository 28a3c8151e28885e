/**
 * The mailing manager's SQL: the periodic checks that move sends along when no send job is looking at them
 * (the original CloudMailing server's MailingManager): deadlines of running, waiting and paused sends, due
 * starts, and regular sends left with nothing to send. The worker runs them every minute (a graphile-worker
 * cron task); CloudMailing's `mailing_manager_force_check` runs them at once for the caller's account.
 */
import { enqueueSend, wakeStrandedSends } from './jobs.js';
import { withTransaction, type Pool, type Queryable } from './pool.js';
import { CLAIMABLE, STAMP_CHANGE } from './recipients.js';
import { segmentMatch } from './segments.js';

/**
 * RUNNING -> FINISHED when no recipient is left to send: checked after locking the mailing row, so a
 * concurrent add_recipients (which holds that row FOR SHARE) is either seen or waits.
 */
export async function finishSend(db: Pool, sendId: number): Promise<boolean> {
  return await withTransaction(db, async (tx) => {
    const { rows } = await tx.query<{ status: string }>(
      `SELECT s.status FROM sends s JOIN mailings m ON m.id = s.mailing_id WHERE s.id = $1 FOR UPDATE OF m, s`,
      [sendId],
    );
    if (rows[0]?.status !== 'running') return false;
    const pending = await tx.query(`SELECT 1 FROM recipients WHERE send_id = $1 AND ${CLAIMABLE} LIMIT 1`, [sendId]);
    if (pending.rowCount) return false;
    await tx.query(`UPDATE sends SET status = 'finished', finished_at = now() WHERE id = $1`, [sendId]);
    return true;
  });
}

/**
 * The send's deadline has passed. In one transaction (under the mailing row's lock, so no recipient is added
 * meanwhile): every ready/warning recipient not in flight ends TIMEOUT, and the send is FINISHED unless a
 * batch is still in flight — then it stays as it is until that batch's outcomes are recorded (a later call
 * closes it), so a FINISHED mailing never has a recipient pending.
 */
export async function closeAtDeadline(db: Pool, sendId: number): Promise<{ closed: boolean; timedOut: number }> {
  return await withTransaction(db, async (tx) => {
    const { rows } = await tx.query<{ status: string }>(
      `SELECT s.status FROM sends s JOIN mailings m ON m.id = s.mailing_id WHERE s.id = $1 FOR UPDATE OF m, s`,
      [sendId],
    );
    const status = rows[0]?.status;
    if (!status || status === 'finished' || status === 'filling') return { closed: false, timedOut: 0 };
    const timedOut = await timeoutLeft(tx, sendId);
    const inFlight = await tx.query(`SELECT 1 FROM recipients WHERE send_id = $1 AND ${CLAIMABLE} LIMIT 1`, [sendId]);
    if (inFlight.rowCount) return { closed: false, timedOut };
    await tx.query(`UPDATE sends SET status = 'finished', finished_at = now() WHERE id = $1`, [sendId]);
    return { closed: true, timedOut };
  });
}

export interface ManagerReport {
  started: number;
  expired: number;
  finished: number;
}

export function managerRepo(db: Pool) {
  const scope = (accountId: number | null) => [accountId];

  /** The deadline has passed: what is left ends TIMEOUT (its last reply cleared), the send FINISHED. */
  async function closeExpired(accountId: number | null): Promise<number> {
    const { rows } = await db.query<{ id: number }>(
      `SELECT s.id FROM sends s
        WHERE s.status IN ('ready', 'running', 'paused') AND ($1::bigint IS NULL OR s.account_id = $1) AND send_deadline(s) <= now()`,
      scope(accountId),
    );
    let n = 0;
    for (const { id } of rows) if ((await closeAtDeadline(db, id)).closed) n++;
    return n;
  }

  /**
   * READY sends whose start is due become RUNNING, their recipients snapshotted from their list when they
   * come from one and their job enqueued, all in the same transaction.
   */
  async function startDue(accountId: number | null): Promise<number> {
    return await withTransaction(db, async (tx) => {
      const { rows } = await tx.query<{ id: number }>(
        `UPDATE sends s SET status = 'running', started_at = coalesce(started_at, now())
          WHERE s.status = 'ready' AND (s.scheduled_start IS NULL OR s.scheduled_start <= now())
            AND ($1::bigint IS NULL OR s.account_id = $1)
          RETURNING s.id`,
        scope(accountId),
      );
      await takeSnapshots(
        tx,
        rows.map((r) => r.id),
      );
      for (const r of rows) await enqueueSend(tx, r.id, null);
      return rows.length;
    });
  }

  /** Regular running sends with nothing left to send (and not held open by dont_close_if_empty). */
  async function finishEmpty(accountId: number | null): Promise<number> {
    const { rows } = await db.query<{ id: number }>(
      `SELECT s.id FROM sends s JOIN mailings m ON m.id = s.mailing_id
        WHERE s.status = 'running' AND m.type = 'regular' AND NOT s.dont_close_if_empty
          AND ($1::bigint IS NULL OR s.account_id = $1)
          AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.send_id = s.id AND r.${CLAIMABLE})`,
      scope(accountId),
    );
    let n = 0;
    for (const { id } of rows) if (await finishSend(db, id)) n++;
    return n;
  }

  return {
    /** Running transactional sends with a recipient and maybe no job get one (see wakeStrandedSends). */
    wakeStranded: () => wakeStrandedSends(db),

    /** An operator's cancel: the send closes now as at its deadline (what is left ends TIMEOUT). */
    closeNow: (sendId: number) => closeAtDeadline(db, sendId),

    /** Kept messages (backup_customized_emails) older than the retention are deleted. */
    async purgeCustomized(retentionDays: number): Promise<number> {
      const { rowCount } = await db.query(`DELETE FROM customized_messages WHERE created_at < now() - make_interval(days => $1)`, [retentionDays]);
      return rowCount ?? 0;
    },

    /** Every check, for one account or (null) for all. */
    async check(accountId: number | null): Promise<ManagerReport> {
      const expired = await closeExpired(accountId);
      const started = await startDue(accountId);
      const finished = await finishEmpty(accountId);
      return { started, expired, finished };
    },
  };
}
export type ManagerRepo = ReturnType<typeof managerRepo>;

/**
 * The recipients of list sends (deliveries) starting now, in one statement per call, once per send: the
 * active, enabled, not suppressed subscribers of the mailing's list, in any of the mailing's segments (all
 * of the list without segments), in none of the send's exclusions (segment ids), of the send variant's
 * language — a subscriber's language is its `language` param, else the list's default language; a variant
 * without a language takes those whose language no other variant of the mailing has — by subscriber id,
 * at most the send's limit. Their fields are the subscriber's params. Call it in the transaction that makes
 * the sends RUNNING.
 */
export async function takeSnapshots(db: Queryable, sendIds: number[]): Promise<number> {
  if (!sendIds.length) return 0;
  const { rows } = await db.query<{ n: number }>(
    `WITH s AS (
       UPDATE sends x SET snapshot_at = now()
         FROM mailings m, variants v, lists l
        WHERE x.id = ANY($1::bigint[]) AND x.from_list AND x.snapshot_at IS NULL
          AND m.id = x.mailing_id AND v.id = x.variant_id AND l.id = m.list_id
       RETURNING x.id, x.account_id, x.mailing_id, x."limit", x.exclusions, m.list_id, m.segments, v.language, l.language AS default_language,
                 (SELECT coalesce(array_agg(o.language), '{}') FROM variants o WHERE o.mailing_id = m.id AND o.language IS NOT NULL) AS languages
     ), ins AS (
       INSERT INTO recipients (account_id, mailing_id, send_id, subscriber_id, tracking_id, email, fields)
       SELECT s.account_id, s.mailing_id, s.id, p.id, 'd' || s.id || '.' || p.id, p.email, p.params
         FROM s CROSS JOIN LATERAL (
           SELECT b.id, b.email, b.params FROM subscribers b
            WHERE b.list_id = s.list_id AND b.enabled AND b.status = 'active'
              AND NOT EXISTS (SELECT 1 FROM suppressions q WHERE q.account_id = s.account_id AND q.email_key = b.email_key)
              AND (jsonb_array_length(s.segments) = 0 OR EXISTS (
                    SELECT 1 FROM segments g WHERE g.list_id = s.list_id AND ${segmentMatch('b', 'g')}
                       AND g.id IN (SELECT jsonb_array_elements_text(s.segments)::bigint)))
              AND NOT EXISTS (
                    SELECT 1 FROM segments g WHERE g.list_id = s.list_id AND ${segmentMatch('b', 'g')}
                       AND g.id IN (SELECT jsonb_array_elements_text(s.exclusions)::bigint))
              AND CASE WHEN s.language IS NOT NULL
                       THEN coalesce(nullif(b.params->>'language', ''), s.default_language) = s.language
                       ELSE coalesce(nullif(b.params->>'language', ''), s.default_language, '') <> ALL (s.languages) END
            ORDER BY b.id
            LIMIT s."limit") p
       ON CONFLICT (account_id, tracking_id) DO NOTHING
       RETURNING 1
     )
     SELECT count(*)::int AS n FROM ins`,
    [sendIds],
  );
  return rows[0]!.n;
}

/**
 * The send's deadline has passed: every unleased ready/warning recipient ends `timeout`, its last reply
 * cleared (as the original server does); test recipients too, the deadline is the mailing's.
 */
export async function timeoutLeft(db: Queryable, sendId: number): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE recipients SET status = 'timeout', next_try = NULL, lease_owner = NULL, lease_until = NULL,
            reply_code = NULL, reply_enhanced_code = NULL, reply_text = NULL, ${STAMP_CHANGE}
      WHERE send_id = $1 AND ${CLAIMABLE} AND (lease_until IS NULL OR lease_until < now())`,
    [sendId],
  );
  return rowCount ?? 0;
}

/**
 * Suppressions: the addresses an account never mails again, and what a suppression does to the list members
 * of its address. Every write of the `suppressions` table is here (suppress, lift), and every change a
 * suppression makes to a member's status (lists.ts inserts a new member with the status MEMBER_STATUS_OF
 * gives it). Other repos read the table inside their own statements: a send skips a suppressed address, a
 * snapshot leaves it out, a member of a suppressed address is not made active.
 */
import { recordEvents } from './events.js';
import { inTransaction, type Pool, type Queryable } from './pool.js';
import type { SubscriberStatus } from './statuses.js';

export type SuppressionReason = 'hard_bounce' | 'unsubscribe' | 'complaint' | 'manual';

export interface SuppressionRow {
  email: string;
  reason: SuppressionReason;
  detail: string | null;
  created_at: Date;
}

export interface AddressLists {
  list_id: number;
  status: string;
  enabled: boolean;
}

/** The status a suppression gives each list member of its address (disabled), and a new member too. */
export const MEMBER_STATUS_OF: Readonly<Record<SuppressionReason, SubscriberStatus>> = {
  unsubscribe: 'unsubscribed',
  hard_bounce: 'bounced',
  complaint: 'complained',
  manual: 'disabled',
};

/** SQL: MEMBER_STATUS_OF the reason `reason` (an SQL expression); NULL for NULL. */
const memberStatusOf = (reason: string) =>
  `(CASE ${reason} ${Object.entries(MEMBER_STATUS_OF)
    .map(([r, s]) => `WHEN '${r}' THEN '${s}'`)
    .join(' ')} END)`;

/**
 * SQL, a LATERAL subquery ($1 = the account id): `status` and `unsuppressed_status` of a new member of the
 * address `key` who asks to be `wanted` — what suppress() gives a member, had it been one already.
 */
export const newMemberStatus = (key: string, wanted: string) =>
  `SELECT coalesce(${memberStatusOf('q.reason')}, ${wanted}) AS status,
          CASE WHEN q.reason <> 'unsubscribe' THEN ${wanted} END AS unsuppressed_status
     FROM (SELECT) AS one LEFT JOIN suppressions q ON q.account_id = $1 AND q.email_key = ${key}`;

export interface Suppress {
  emailKey: string;
  email: string;
  reason: SuppressionReason;
  detail: string | null;
}

/**
 * Suppress addresses for the account: the one way every path does it (a batch's hard bounces at RCPT, a late
 * DSN, a complaint, an operator, an unsubscribe by API or by link), in the caller's transaction, in two
 * statements whatever the size of the batch. Returns the suppressions it made or changed, one per address
 * (not those that already stood as they are).
 *
 * The rule, where the paths used to differ:
 * - One suppression per address. An unsubscribe replaces one for another reason: it is the person's own
 *   word, which must outlive an operator lifting a bounce, and which Sender's `unsubscribe/global` reports;
 *   it is dated when it was made (the unsubscribe lists and Mailkit's `mailinglist.unsubscribed` read that
 *   date). Any other reason leaves a standing suppression as it is (the first reason stays).
 * - Every list member of the address gets the status of the standing reason (MEMBER_STATUS_OF), disabled,
 *   also when the suppression stood already (a replayed batch changes nothing more), except a member that
 *   unsubscribed: its own word about its list stays. The status it had is kept (unsuppressed_status) for
 *   lift(). An unsubscribe's change is final: lifting it re-subscribes no member (each list's own
 *   subscription does).
 */
export async function suppress(tx: Queryable, accountId: number, entries: readonly Suppress[]): Promise<Suppress[]> {
  if (!entries.length) return [];
  const keys = entries.map((e) => e.emailKey);
  // One row per address (an ON CONFLICT DO UPDATE may not touch a row twice); an unsubscribe wins.
  const { rows } = await tx.query<Suppress>(
    `INSERT INTO suppressions AS q (account_id, email_key, email, reason, detail)
     SELECT DISTINCT ON (k) $1, k, e, r, d FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS x(k, e, r, d)
      ORDER BY k, r = 'unsubscribe' DESC
     ON CONFLICT (account_id, email_key) DO UPDATE SET reason = EXCLUDED.reason, detail = EXCLUDED.detail, created_at = now()
        WHERE EXCLUDED.reason = 'unsubscribe' AND q.reason <> 'unsubscribe'
     RETURNING q.email_key AS "emailKey", q.email, q.reason, q.detail`,
    [accountId, keys, entries.map((e) => e.email), entries.map((e) => e.reason), entries.map((e) => e.detail)],
  );
  // Through the account's lists: (list_id, email_key) is the index that finds a member by address.
  await tx.query(
    `UPDATE subscribers s
        SET status = ${memberStatusOf('q.reason')}, enabled = false, modified_at = now(),
            unsuppressed_status = CASE WHEN q.reason = 'unsubscribe' THEN NULL ELSE coalesce(s.unsuppressed_status, s.status) END
       FROM lists l, suppressions q
      WHERE l.account_id = $1 AND s.list_id = l.id AND s.email_key = ANY($2::text[])
        AND q.account_id = $1 AND q.email_key = ANY($2::text[]) AND q.email_key = s.email_key
        AND s.status NOT IN ('unsubscribed', ${memberStatusOf('q.reason')})`,
    [accountId, keys],
  );
  return rows;
}

/**
 * Lift the address's suppression (only one for `reason`, when given), undoing what suppress() did: each
 * member it changed gets back the status it had (a member that was active is active and enabled again),
 * unless a call has set that member's status since. Members an unsubscribe changed stay unsubscribed.
 */
export async function lift(tx: Queryable, accountId: number, emailKey: string, reason: SuppressionReason | null): Promise<SuppressionRow | undefined> {
  const { rows } = await tx.query<SuppressionRow>(
    `DELETE FROM suppressions WHERE account_id = $1 AND email_key = $2 AND ($3::text IS NULL OR reason = $3)
     RETURNING email, reason, detail, created_at`,
    [accountId, emailKey, reason],
  );
  if (rows[0]) {
    await tx.query(
      `UPDATE subscribers s SET status = s.unsuppressed_status, enabled = s.unsuppressed_status = 'active', unsuppressed_status = NULL, modified_at = now()
         FROM lists l
        WHERE l.account_id = $1 AND s.list_id = l.id AND s.email_key = $2 AND s.unsuppressed_status IS NOT NULL`,
      [accountId, emailKey],
    );
  }
  return rows[0];
}

export function suppressionsRepo(db: Pool) {
  return {
    /** Ordered by address, after `after` (exclusive), at most `limit`. */
    async list(accountId: number, after: string, limit: number, reason: SuppressionReason | null): Promise<SuppressionRow[]> {
      const { rows } = await db.query<SuppressionRow>(
        `SELECT email, reason, detail, created_at FROM suppressions
          WHERE account_id = $1 AND email_key > $2 AND ($4::text IS NULL OR reason = $4)
          ORDER BY email_key LIMIT $3`,
        [accountId, after, limit, reason],
      );
      return rows;
    },

    async get(accountId: number, emailKey: string): Promise<SuppressionRow | undefined> {
      const { rows } = await db.query<SuppressionRow>('SELECT email, reason, detail, created_at FROM suppressions WHERE account_id = $1 AND email_key = $2', [
        accountId,
        emailKey,
      ]);
      return rows[0];
    },

    /** Suppress one address (see suppress); true when that made or changed its suppression. */
    async add(accountId: number, emailKey: string, email: string, reason: SuppressionReason, detail: string | null): Promise<boolean> {
      return await inTransaction(db, async (tx) => (await suppress(tx, accountId, [{ emailKey, email, reason, detail }])).length > 0);
    },

    lift: (accountId: number, emailKey: string, reason: SuppressionReason | null = null) => inTransaction(db, (tx) => lift(tx, accountId, emailKey, reason)),

    /**
     * Unsubscribe an address from the whole account (see suppress), and an event (once). False when it
     * already was unsubscribed.
     */
    async unsubscribe(
      accountId: number,
      emailKey: string,
      email: string,
      detail: string,
      recipient: { id: number; mailing_id: number } | null,
    ): Promise<boolean> {
      return await inTransaction(db, async (tx) => {
        const made = await suppress(tx, accountId, [{ emailKey, email, reason: 'unsubscribe', detail }]);
        if (!made.length) return false;
        await recordEvents(tx, [{ accountId, kind: 'unsubscribe', mailingId: recipient?.mailing_id ?? null, recipientId: recipient?.id ?? null, email }]);
        return true;
      });
    },

    /** The address an id names: a subscriber's, else a recipient's (a message's). */
    async addressOfId(accountId: number, id: number): Promise<{ email: string; recipient: { id: number; mailing_id: number } | null } | undefined> {
      const { rows } = await db.query<{ email: string; rid: number | null; mailing_id: number | null }>(
        `(SELECT email, NULL::bigint AS rid, NULL::bigint AS mailing_id FROM subscribers WHERE account_id = $1 AND id = $2)
         UNION ALL
         (SELECT email, id, mailing_id FROM recipients WHERE account_id = $1 AND id = $2)
         LIMIT 1`,
        [accountId, id],
      );
      const r = rows[0];
      return r ? { email: r.email, recipient: r.rid !== null ? { id: r.rid, mailing_id: r.mailing_id! } : null } : undefined;
    },

    /** The address's membership in each of the account's lists. */
    async lists(accountId: number, emailKey: string): Promise<AddressLists[]> {
      const { rows } = await db.query<AddressLists>(
        'SELECT list_id, status, enabled FROM subscribers WHERE account_id = $1 AND email_key = $2 ORDER BY list_id',
        [accountId, emailKey],
      );
      return rows;
    },
  };
}

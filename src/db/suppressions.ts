/** Suppressions: the addresses an account never mails again. The only place that names the table. */
import { recordEvents } from './events.js';
import { withTransaction, type Pool } from './pool.js';

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

    async add(accountId: number, emailKey: string, email: string, reason: SuppressionReason, detail: string | null): Promise<boolean> {
      const { rowCount } = await db.query(
        `INSERT INTO suppressions (account_id, email_key, email, reason, detail) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (account_id, email_key) DO NOTHING`,
        [accountId, emailKey, email, reason, detail],
      );
      return (rowCount ?? 0) > 0;
    },

    /**
     * Lift (only a suppression for `reason`, when given): the address may be mailed again. Subscribers the suppression had marked bounced or complained are
     * active again; an unsubscribed subscriber stays unsubscribed (only its own subscription undoes that).
     */
    async lift(accountId: number, emailKey: string, reason: SuppressionReason | null = null): Promise<SuppressionRow | undefined> {
      return await withTransaction(db, async (tx) => {
        const { rows } = await tx.query<SuppressionRow>(
          `DELETE FROM suppressions WHERE account_id = $1 AND email_key = $2 AND ($3::text IS NULL OR reason = $3)
           RETURNING email, reason, detail, created_at`,
          [accountId, emailKey, reason],
        );
        if (rows[0]) {
          await tx.query(
            `UPDATE subscribers SET status = 'active', enabled = true, modified_at = now()
              WHERE account_id = $1 AND email_key = $2 AND status IN ('bounced', 'complained')`,
            [accountId, emailKey],
          );
        }
        return rows[0];
      });
    },

    /**
     * Unsubscribe an address from the whole account: the suppression, the subscribers unsubscribed, and an
     * event (once). False when it already was unsubscribed.
     */
    async unsubscribe(accountId: number, emailKey: string, email: string, detail: string, recipient: { id: number; mailing_id: number } | null): Promise<boolean> {
      return await withTransaction(db, async (tx) => {
        const ins = await tx.query(
          `INSERT INTO suppressions (account_id, email_key, email, reason, detail) VALUES ($1, $2, $3, 'unsubscribe', $4)
           ON CONFLICT (account_id, email_key) DO UPDATE SET reason = 'unsubscribe', detail = EXCLUDED.detail
             WHERE suppressions.reason <> 'unsubscribe'`,
          [accountId, emailKey, email, detail],
        );
        await tx.query(
          `UPDATE subscribers SET enabled = false, status = 'unsubscribed', modified_at = now()
            WHERE account_id = $1 AND email_key = $2 AND status <> 'unsubscribed'`,
          [accountId, emailKey],
        );
        if (!ins.rowCount) return false;
        await recordEvents(tx, [{ accountId, kind: 'unsubscribe', mailingId: recipient?.mailing_id ?? null, recipientId: recipient?.id ?? null }]);
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

/** Unsubscribes: the suppression, the event and the list membership, written together. */
import { withTransaction, type Pool } from './pool.js';

export function unsubscribesRepo(db: Pool) {
  return {
    /** The recipient a token names (any account: the token itself is the credential). */
    async recipient(id: number): Promise<{ id: number; account_id: number; mailing_id: number; email: string } | undefined> {
      const { rows } = await db.query<{ id: number; account_id: number; mailing_id: number; email: string }>(
        'SELECT id, account_id, mailing_id, email FROM recipients WHERE id = $1',
        [id],
      );
      return rows[0];
    },

    /** Idempotent: a second unsubscribe of the same address changes nothing and records no second event. */
    async record(r: { id: number; account_id: number; mailing_id: number; email: string }, emailKey: string, detail: string): Promise<boolean> {
      return await withTransaction(db, async (tx) => {
        const ins = await tx.query(
          `INSERT INTO suppressions (account_id, email_key, email, reason, detail) VALUES ($1, $2, $3, 'unsubscribe', $4)
           ON CONFLICT (account_id, email_key) DO NOTHING`,
          [r.account_id, emailKey, r.email, detail],
        );
        if (!ins.rowCount) return false;
        await tx.query(`INSERT INTO events (account_id, mailing_id, recipient_id, kind) VALUES ($1, $2, $3, 'unsubscribe')`, [r.account_id, r.mailing_id, r.id]);
        await tx.query(
          `UPDATE subscribers SET enabled = false, status = 'unsubscribed', modified_at = now()
            WHERE account_id = $1 AND email_key = $2 AND status <> 'unsubscribed'`,
          [r.account_id, emailKey],
        );
        return true;
      });
    },
  };
}

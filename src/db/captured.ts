/** The built-in SMTP capture's store. */
import type { Queryable } from './pool.js';

export function capturedRepo(db: Queryable) {
  return {
    async insert(m: {
      from: string | null;
      to: string[];
      messageId: string | null;
      subject: string | null;
      mailingId: number | null;
      raw: Buffer;
    }): Promise<number> {
      const { rows } = await db.query<{ id: number }>(
        `INSERT INTO captured_messages (account_id, envelope_from, envelope_to, message_id, subject, raw)
         VALUES ((SELECT account_id FROM mailings WHERE id = $6), $1, $2, $3, $4, $5) RETURNING id`,
        [m.from, m.to, m.messageId, m.subject, m.raw, m.mailingId],
      );
      return rows[0]!.id;
    },
    /** Deletes the messages received more than `days` days ago, or every message when `days` is null. */
    async purge(days: number | null): Promise<number> {
      const { rowCount } = await db.query('DELETE FROM captured_messages WHERE $1::int IS NULL OR received_at < now() - make_interval(days => $1::int)', [
        days,
      ]);
      return rowCount ?? 0;
    },
  };
}

/** The built-in SMTP capture's store. */
import type { Queryable } from './pool.js';

export interface CapturedRow {
  id: number;
  envelope_from: string | null;
  envelope_to: string[];
  message_id: string | null;
  subject: string | null;
  received_at: Date;
}

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
    async list(accountId: number, limit: number, beforeId?: number): Promise<CapturedRow[]> {
      const { rows } = await db.query<CapturedRow>(
        `SELECT id, envelope_from, envelope_to, message_id, subject, received_at FROM captured_messages
          WHERE account_id = $1 AND ($3::bigint IS NULL OR id < $3) ORDER BY id DESC LIMIT $2`,
        [accountId, limit, beforeId ?? null],
      );
      return rows;
    },
    async raw(accountId: number, id: number): Promise<Buffer | undefined> {
      const { rows } = await db.query<{ raw: Buffer }>('SELECT raw FROM captured_messages WHERE account_id = $1 AND id = $2', [accountId, id]);
      return rows[0]?.raw;
    },
    async count(accountId: number): Promise<number> {
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM captured_messages WHERE account_id = $1', [accountId]);
      return rows[0]!.n;
    },
  };
}

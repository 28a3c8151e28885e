/**
 * The bounce log. Ids are handed out in commit order, because readers (Mailkit's raw bounce loop) resume from
 * "the last id + 1": a plain serial would let a transaction that drew id 10 commit after one that drew id 11,
 * and a reader that already moved past 11 would never see 10.
 *
 * insertBounces must be the LAST statement of its transaction: it takes a transaction-level advisory lock
 * (held until COMMIT) before drawing ids, so writers are serialized from the moment they draw ids to their
 * commit. Anything slow after it would stall every other bounce writer.
 */
import type { Queryable } from './pool.js';

/** The advisory lock key of the bounce log (any constant; 'bnce' in ASCII). */
export const BOUNCE_LOG_LOCK = 0x626e6365;

export interface NewBounce {
  accountId: number;
  recipientId: number | null;
  mailingId: number | null;
  sendId: number | null;
  listId: number | null;
  email: string;
  enhancedStatus: string | null;
  textStatus: string | null;
  remoteMta: string | null;
  kind: 'permanent' | 'temporary';
  source: 'smtp' | 'dsn' | 'complaint';
}

/** Insert bounce rows with commit-ordered ids. Call inside a transaction, as its last statement. */
export async function insertBounces(client: Queryable, rows: NewBounce[]): Promise<void> {
  if (!rows.length) return;
  await client.query('SELECT pg_advisory_xact_lock($1)', [BOUNCE_LOG_LOCK]);
  await client.query(
    `INSERT INTO bounces (id, account_id, recipient_id, mailing_id, send_id, list_id, email, enhanced_status, text_status,
                          remote_mta, kind, source)
     SELECT nextval('bounce_id_seq'), b.account_id, b.recipient_id, b.mailing_id, b.send_id, b.list_id, b.email,
            b.enhanced_status, b.text_status, b.remote_mta, b.kind, b.source
       FROM jsonb_to_recordset($1::jsonb)
         AS b(account_id bigint, recipient_id bigint, mailing_id bigint, send_id bigint, list_id bigint, email text,
              enhanced_status text, text_status text, remote_mta text, kind text, source text)`,
    [
      JSON.stringify(
        rows.map((r) => ({
          account_id: r.accountId,
          recipient_id: r.recipientId,
          mailing_id: r.mailingId,
          send_id: r.sendId,
          list_id: r.listId,
          email: r.email,
          enhanced_status: r.enhancedStatus,
          text_status: r.textStatus,
          remote_mta: r.remoteMta,
          kind: r.kind,
          source: r.source,
        })),
      ),
    ],
  );
}

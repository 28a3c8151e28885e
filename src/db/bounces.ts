/**
 * The bounce log. Ids are handed out in commit order, because readers (Mailkit's raw bounce loop) resume from
 * "the last id + 1": a plain serial would let a transaction that drew id 10 commit after one that drew id 11,
 * and a reader that already moved past 11 would never see 10.
 *
 * insertBounces must be the LAST statement of its transaction: it takes a transaction-level advisory lock
 * (held until COMMIT) before drawing ids, so writers are serialized from the moment they draw ids to their
 * commit. Anything slow after it would stall every other bounce writer.
 */
import { recordEvents } from './events.js';
import { withTransaction, type Pool, type Queryable } from './pool.js';
import { STAMP_CHANGE } from './recipients.js';
import { suppress } from './suppressions.js';

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

/** A bounce or complaint received after sending, for one recipient. */
export interface LateBounce {
  recipientId: number;
  source: 'dsn' | 'complaint';
  kind: 'permanent' | 'temporary';
  enhancedStatus: string | null;
  replyCode: number | null;
  /** As reported: `smtp; 550 5.1.1 ...` (a DSN's Diagnostic-Code), or the complaint's feedback type. */
  textStatus: string | null;
  remoteMta: string | null;
  /** The recipient ends ERROR (a permanent failure reported after the relay had accepted it). */
  failRecipient: boolean;
  /** Never mail the address again, and why. */
  suppress: 'hard_bounce' | 'complaint' | null;
  /** The address's key (the core's rule, src/core/email.ts), for the suppression. */
  emailKey: (email: string) => string;
}

export interface LateBounceResult {
  accountId: number;
  email: string;
  recorded: boolean;
}

/**
 * One late report in one transaction: the recipient's final status (stamped for the status feed), the
 * suppression with the lists' view of the address (suppress), the complaint event, and the bounce row last
 * (see above).
 * Unknown recipient (deleted since): nothing is recorded.
 */
export async function recordLateBounce(pool: Pool, b: LateBounce): Promise<LateBounceResult | undefined> {
  return await withTransaction(pool, async (tx) => {
    const { rows } = await tx.query<{ account_id: number; mailing_id: number; send_id: number | null; list_id: number | null; email: string }>(
      `SELECT r.account_id, r.mailing_id, r.send_id, m.list_id, r.email
         FROM recipients r JOIN mailings m ON m.id = r.mailing_id WHERE r.id = $1 FOR UPDATE OF r`,
      [b.recipientId],
    );
    const r = rows[0];
    if (!r) return undefined;
    if (b.failRecipient) {
      await tx.query(
        `UPDATE recipients SET status = 'error', next_try = NULL, reply_code = $2, reply_enhanced_code = $3, reply_text = $4,
                remote_mta = $5, ${STAMP_CHANGE}
          WHERE id = $1 AND status IN ('ready', 'warning', 'finished')`,
        [b.recipientId, b.replyCode, b.enhancedStatus, b.textStatus, b.remoteMta],
      );
    }
    if (b.suppress) await suppress(tx, r.account_id, [{ emailKey: b.emailKey(r.email), email: r.email, reason: b.suppress, detail: b.textStatus }]);
    if (b.source === 'complaint') await recordEvents(tx, [{ accountId: r.account_id, kind: 'complaint', mailingId: r.mailing_id, recipientId: b.recipientId }]);
    await insertBounces(tx, [
      {
        accountId: r.account_id,
        recipientId: b.recipientId,
        mailingId: r.mailing_id,
        sendId: r.send_id,
        listId: r.list_id,
        email: r.email,
        enhancedStatus: b.enhancedStatus,
        textStatus: b.textStatus,
        remoteMta: b.remoteMta,
        kind: b.kind,
        source: b.source,
      },
    ]);
    return { accountId: r.account_id, email: r.email, recorded: true };
  });
}

export interface BounceRow {
  id: number;
  mailing_id: number | null;
  send_id: number | null;
  recipient_id: number | null;
  /** The subscriber the recipient came from, else the recipient itself (Mailkit's ID_EMAIL). */
  email_id: number | null;
  list_id: number | null;
  email: string;
  enhanced_status: string | null;
  text_status: string | null;
  remote_mta: string | null;
  kind: 'permanent' | 'temporary';
  source: 'smtp' | 'dsn' | 'complaint';
  created_at: Date;
}

export interface BounceFilter {
  mailingId?: number | null | undefined;
  sendId?: number | null | undefined;
}

export function bouncesRepo(db: Queryable) {
  return {
    /**
     * The log from `fromId` on (inclusive), ascending, at most `limit`. Ids appear in commit order (see
     * insertBounces), so a reader resuming after the last id it saw never misses one.
     */
    async log(accountId: number, f: BounceFilter, fromId: number, limit: number): Promise<BounceRow[]> {
      const { rows } = await db.query<BounceRow>(
        `SELECT b.id, b.mailing_id, b.send_id, b.recipient_id, coalesce(r.subscriber_id, b.recipient_id) AS email_id, b.list_id,
                b.email, b.enhanced_status, b.text_status, b.remote_mta, b.kind, b.source, b.created_at
           FROM bounces b LEFT JOIN recipients r ON r.id = b.recipient_id
          WHERE b.account_id = $1 AND b.id >= $2
            AND ($3::bigint IS NULL OR b.mailing_id = $3) AND ($4::bigint IS NULL OR b.send_id = $4)
          ORDER BY b.id LIMIT $5`,
        [accountId, fromId, f.mailingId ?? null, f.sendId ?? null, limit],
      );
      return rows;
    },
  };
}

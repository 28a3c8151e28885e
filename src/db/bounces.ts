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
  /** The inbound report this bounce came from (see LateBounce.reportKey); none for the relay's replies. */
  reportKey?: string | null;
}

/**
 * Insert bounce rows with commit-ordered ids. Call inside a transaction, as its last statement. A row whose
 * report (recipient and report key) is in the log already is not inserted: returns how many were.
 */
export async function insertBounces(client: Queryable, rows: NewBounce[]): Promise<number> {
  if (!rows.length) return 0;
  await client.query('SELECT pg_advisory_xact_lock($1)', [BOUNCE_LOG_LOCK]);
  const { rowCount } = await client.query(
    `INSERT INTO bounces (id, account_id, recipient_id, mailing_id, send_id, list_id, email, enhanced_status, text_status,
                          remote_mta, kind, source, report_key)
     SELECT nextval('bounce_id_seq'), b.account_id, b.recipient_id, b.mailing_id, b.send_id, b.list_id, b.email,
            b.enhanced_status, b.text_status, b.remote_mta, b.kind, b.source, b.report_key
       FROM jsonb_to_recordset($1::jsonb)
         AS b(account_id bigint, recipient_id bigint, mailing_id bigint, send_id bigint, list_id bigint, email text,
              enhanced_status text, text_status text, remote_mta text, kind text, source text, report_key text)
     ON CONFLICT (recipient_id, report_key) WHERE report_key IS NOT NULL DO NOTHING`,
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
          report_key: r.reportKey ?? null,
        })),
      ),
    ],
  );
  return rowCount ?? 0;
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
  /**
   * What identifies the report across its deliveries (its Message-ID, else a digest of its bytes): a report
   * already recorded for this recipient under this key is a retry, and records nothing.
   */
  reportKey: string;
}

export interface LateBounceResult {
  accountId: number;
  email: string;
  /** False: the report was recorded before (a retry); nothing changed. */
  recorded: boolean;
}

/** Thrown inside the transaction to roll back a report found recorded only at its insert. */
class AlreadyRecorded extends Error {
  constructor(readonly result: LateBounceResult) {
    super('the report is recorded already');
  }
}

/**
 * One late report in one transaction: the recipient's final status (stamped for the status feed), the
 * suppression with the lists' view of the address (suppress), the complaint event, and the bounce row last
 * (see above).
 * Unknown recipient (deleted since): nothing is recorded. A report recorded already (recipient and report key):
 * nothing is recorded either, none of the side effects included.
 */
export async function recordLateBounce(pool: Pool, b: LateBounce): Promise<LateBounceResult | undefined> {
  try {
    return await withTransaction(pool, (tx) => recordLateIn(tx, b));
  } catch (e) {
    if (e instanceof AlreadyRecorded) return e.result;
    throw e;
  }
}

async function recordLateIn(tx: Queryable, b: LateBounce): Promise<LateBounceResult | undefined> {
  const { rows } = await tx.query<{ account_id: number; mailing_id: number; send_id: number | null; list_id: number | null; email: string }>(
    `SELECT r.account_id, r.mailing_id, r.send_id, m.list_id, r.email
       FROM recipients r JOIN mailings m ON m.id = r.mailing_id WHERE r.id = $1 FOR UPDATE OF r`,
    [b.recipientId],
  );
  const r = rows[0];
  if (!r) return undefined;
  // Every late report about a recipient holds its row lock (above) until its commit, so a copy of this report
  // that came first has committed by now and this statement (read committed: it reads what committed before
  // it) sees its row. The unique index behind the insert's ON CONFLICT is the invariant; this check is what
  // keeps the side effects below from running for a retry.
  const seen = await tx.query('SELECT 1 FROM bounces WHERE recipient_id = $1 AND report_key = $2', [b.recipientId, b.reportKey]);
  if (seen.rowCount) return { accountId: r.account_id, email: r.email, recorded: false };
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
  const inserted = await insertBounces(tx, [
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
      reportKey: b.reportKey,
    },
  ]);
  if (!inserted) throw new AlreadyRecorded({ accountId: r.account_id, email: r.email, recorded: false });
  return { accountId: r.account_id, email: r.email, recorded: true };
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

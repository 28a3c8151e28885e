/**
 * Recipients: insertion, status reads, the exact status feed, resets.
 *
 * Every status change goes through STAMP_CHANGE, which the status feed depends on: the writing transaction's
 * xid plus a sequence value. See statusFeed below for why a plain timestamp or sequence is not enough.
 */
import { copyFrom, copyJson, copyText, inTransaction, preparedQuery, type Queryable } from './pool.js';
import type { RecipientStatus } from './statuses.js';
import { CURRENT_SEND, type SendOfRow } from './mailings.js';

/** SET-list fragment every status change must include. */
export const STAMP_CHANGE = `changed_xid = pg_current_xact_id(), change_seq = nextval('recipient_change_seq'), modified_at = now()`;

/** SQL: the recipient still has a message to send (a claim may take it, unless leased or not due yet). */
export const CLAIMABLE = `status IN ('ready', 'warning')`;

export interface RecipientRow {
  id: number;
  mailing_id: number;
  send_id: number;
  tracking_id: string;
  email: string;
  fields: Record<string, unknown>;
  status: RecipientStatus;
  try_count: number;
  reply_code: number | null;
  reply_enhanced_code: string | null;
  reply_text: string | null;
  remote_mta: string | null;
  modified_at: Date;
  first_try: Date | null;
  last_try: Date | null;
  next_try: Date | null;
  /** The worker that tried it last. */
  sent_by: string | null;
  in_progress: boolean;
}

export interface NewRecipient {
  tracking_id: string;
  email: string;
  fields: Record<string, unknown>;
  attachments: unknown[] | null;
  /** The list subscriber this message is for (a transactional send to a list's address). */
  subscriber_id?: number | null;
  /** The recipient's own subject / html / text, replacing the mailing's for this message only. */
  content?: RecipientContent | null;
  /** Not sent before (Sender's countdown). */
  next_try?: Date | null;
  /** Not sent after: then it ends TIMEOUT (Sender's expires). */
  expires_at?: Date | null;
}

export interface RecipientContent {
  subject?: string;
  html?: string;
  text?: string;
  /** A From of its own (Sender's from_email / from_name). */
  from?: { email: string; name?: string | null };
  /** The visible To and Cc of a message to several addresses (each address gets its own copy). */
  to?: { email: string; name?: string | null }[];
  cc?: { email: string; name?: string | null }[];
  /** Extra headers (Sender's `headers`), applied over the mailing's. */
  headers?: [string, string][];
  /** The Message-ID every copy of one multi-address message shares (its first recipient's). */
  messageId?: string;
}

export interface RecipientFilter {
  statuses?: RecipientStatus[] | undefined;
  /** Only these mailings' recipients (an empty list matches none). */
  mailingIds?: number[] | undefined;
}

const COLUMNS = `r.id, r.mailing_id, r.send_id, r.tracking_id, r.email, r.fields, r.status, r.try_count, r.reply_code,
  r.reply_enhanced_code, r.reply_text, r.remote_mta, r.modified_at, r.first_try, r.last_try, r.next_try, r.sent_by,
  (r.lease_until IS NOT NULL AND r.lease_until > now()) AS in_progress`;

export interface FeedPosition {
  xid: string;
  seq: number;
}

/** INSERT ... ON CONFLICT DO NOTHING: the inserted rows' ids by tracking id. */
async function insertReturning(
  db: Queryable,
  accountId: number,
  mailingId: number,
  sendId: number,
  isTest: boolean,
  items: NewRecipient[],
): Promise<Map<string, number>> {
  if (!items.length) return new Map();
  const { rows } = await db.query<{ tracking_id: string; id: number }>(
    `INSERT INTO recipients (account_id, mailing_id, send_id, is_test, tracking_id, email, fields, attachments, subscriber_id, content, next_try, expires_at)
     SELECT $1, $2, $3, $4, t.tracking_id, t.email, t.fields, t.attachments, t.subscriber_id, t.content, t.next_try, t.expires_at
       FROM jsonb_to_recordset($5::jsonb)
         AS t(tracking_id text, email text, fields jsonb, attachments jsonb, subscriber_id bigint, content jsonb, next_try timestamptz, expires_at timestamptz)
     ON CONFLICT (account_id, tracking_id) DO NOTHING
     RETURNING tracking_id, id`,
    [accountId, mailingId, sendId, isTest, JSON.stringify(items)],
  );
  return new Map(rows.map((r) => [r.tracking_id, r.id]));
}

/** The recipients' columns as insertMany's INSERT takes them, from a jsonb array of NewRecipient. */
const NEW_ROWS = `jsonb_to_recordset($3::jsonb)
  AS t(tracking_id text, email text, fields jsonb, attachments jsonb, subscriber_id bigint, content jsonb, next_try timestamptz, expires_at timestamptz)`;

/**
 * insertMessage's statement, prepared: every transactional message runs it, and planning it cost about as
 * much Postgres CPU as running it.
 */
const INSERT_MESSAGE = preparedQuery(
  'recipients.insertMessage',
  `WITH m AS (
     SELECT s.id AS send_id, s.status, m.transactional, s.dont_close_if_empty FROM mailings m
       JOIN LATERAL (SELECT id, status, dont_close_if_empty FROM sends WHERE mailing_id = m.id ${CURRENT_SEND}) s ON true
      WHERE m.account_id = $1 AND m.id = $2 FOR SHARE OF m),
   ins AS (
     INSERT INTO recipients (account_id, mailing_id, send_id, is_test, tracking_id, email, fields, attachments, subscriber_id, content, next_try, expires_at)
     SELECT $1, $2, m.send_id, false, t.tracking_id, t.email, t.fields, t.attachments, t.subscriber_id, t.content, t.next_try, t.expires_at
       FROM m, ${NEW_ROWS}
      WHERE m.transactional AND m.status <> 'finished'
     ON CONFLICT (account_id, tracking_id) DO NOTHING
     RETURNING tracking_id, id)
   SELECT m.*, (SELECT coalesce(json_agg(json_build_array(ins.tracking_id, ins.id)), '[]') FROM ins) AS ids FROM m`,
);

export function recipientsRepo(db: Queryable) {
  return {
    /**
     * Insert; returns the tracking ids actually inserted (a taken tracking id is skipped, not an error here),
     * or 'all' when every row went in. When every tracking id is one we just made (random UUIDs: none can be
     * taken), the rows go in by COPY, the fastest way into the table, all of them or none (it throws); else by
     * INSERT ... ON CONFLICT. Inside a transaction only (COPY needs the transaction's client).
     */
    async insertMany(
      accountId: number,
      mailingId: number,
      sendId: number,
      isTest: boolean,
      items: NewRecipient[],
      freshIds = false,
    ): Promise<Set<string> | 'all'> {
      if (!items.length) return new Set();
      if (freshIds) {
        const columns = `${accountId}\t${mailingId}\t${sendId}\t${isTest ? 't' : 'f'}\t`;
        let text = '';
        // A fresh tracking id is lower-case hex and dashes: nothing in it for COPY to escape.
        for (const r of items) {
          text += `${columns}${r.tracking_id}\t${copyText(r.email)}\t${copyJson(r.fields)}\t${r.attachments ? copyJson(r.attachments) : '\\N'}\n`;
        }
        await copyFrom(db, 'COPY recipients (account_id, mailing_id, send_id, is_test, tracking_id, email, fields, attachments) FROM STDIN', text);
        return 'all';
      }
      return new Set((await insertReturning(db, accountId, mailingId, sendId, isTest, items)).keys());
    },

    /**
     * A transactional message's rows in one statement, outside any transaction of the caller's: the mailing's
     * send read with its row locked FOR SHARE (as sendOf), and the rows inserted (as insertReturningIds) only
     * when the mailing is marked transactional and not finished, the one case where nothing else is written
     * with them (its send's job is woken after the commit). Answers the mailing as read (undefined: none)
     * and the new rows' ids, none when the mailing was not such a one. Concurrent messages of one campaign
     * share the row's lock through a multixact: measured under 16 concurrent senders, its functions took
     * under 0.3 % of Postgres's CPU and no backend was seen waiting on it (commit's WAL flush dominates).
     */
    async insertMessage(accountId: number, mailingId: number, items: NewRecipient[]): Promise<{ mailing: SendOfRow | undefined; ids: Map<string, number> }> {
      const { rows } = await INSERT_MESSAGE<SendOfRow & { ids: [string, number][] }>(db, [accountId, mailingId, JSON.stringify(items)]);
      const r = rows[0];
      if (!r) return { mailing: undefined, ids: new Map() };
      const { ids, ...mailing } = r;
      return { mailing, ids: new Map(ids) };
    },

    /** As insertMany by INSERT, with the new rows' ids by tracking id (a taken tracking id has none). */
    insertReturningIds: (accountId: number, mailingId: number, sendId: number, isTest: boolean, items: NewRecipient[]) =>
      insertReturning(db, accountId, mailingId, sendId, isTest, items),

    async emailOf(recipientId: number): Promise<string | undefined> {
      const { rows } = await db.query<{ email: string }>('SELECT email FROM recipients WHERE id = $1', [recipientId]);
      return rows[0]?.email;
    },

    async byId(accountId: number, id: number): Promise<RecipientRow | undefined> {
      const { rows } = await db.query<RecipientRow>(`SELECT ${COLUMNS} FROM recipients r WHERE r.account_id = $1 AND r.id = $2`, [accountId, id]);
      return rows[0];
    },

    async byTrackingIds(accountId: number, trackingIds: string[]): Promise<RecipientRow[]> {
      const { rows } = await db.query<RecipientRow>(`SELECT ${COLUMNS} FROM recipients r WHERE r.account_id = $1 AND r.tracking_id = ANY($2::text[])`, [
        accountId,
        trackingIds,
      ]);
      return rows;
    },

    /** From recipient_counts: a recipient's account_id is its mailing's (insertMany copies it). */
    async count(accountId: number, f: RecipientFilter): Promise<number> {
      const { rows } = await db.query<{ n: number }>(
        `SELECT coalesce(sum(c.n), 0)::int AS n FROM recipient_counts c JOIN mailings m ON m.id = c.mailing_id
          WHERE m.account_id = $1
            AND ($2::text[] IS NULL OR c.status = ANY($2))
            AND ($3::bigint[] IS NULL OR c.mailing_id = ANY($3))`,
        [accountId, f.statuses ?? null, f.mailingIds ?? null],
      );
      return rows[0]!.n;
    },

    /**
     * The status feed: rows whose last change lies after `after`, oldest change first.
     *
     * Only changes of transactions below the snapshot's xmin are passed: such a transaction has ended, so
     * nothing it wrote can still appear behind the returned cursor, and any transaction that commits later
     * has an xid >= xmin, which sorts after every position handed out. Rows of transactions still in flight
     * simply wait for a later poll. A long-running transaction anywhere holds the horizon (the feed lags; it
     * never skips).
     *
     * Changes are read in order, `max` at a time, and filtered here; at most `scanLimit` are read per call,
     * matching or not, so a feed full of non-matching rows (a million freshly inserted READY rows) still
     * answers quickly and its cursor moves forward. Each chunk may see a later horizon than the one before;
     * that is safe, since every row behind the cursor has an xid below the earlier horizon.
     *
     * The only good plan is the feed index in order, stopping at LIMIT. Right after a bulk load (a mailing of
     * a million recipients sent before autovacuum has analyzed the table) the statistics make a bitmap scan of
     * every changed row plus a sort look cheaper: 50 ms a page instead of 2. So the chunks run in a
     * transaction that rules those plans out.
     */
    async statusFeed(
      accountId: number,
      after: FeedPosition,
      statuses: RecipientStatus[],
      mailingIds: number[] | null,
      max: number,
      scanLimit: number,
    ): Promise<{ rows: RecipientRow[]; next: FeedPosition }> {
      const wanted = new Set<string>(statuses);
      const mailings = mailingIds ? new Set(mailingIds) : null;
      const out: RecipientRow[] = [];
      let next = after;
      await inTransaction(db, async (tx) => {
        await tx.query('SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off');
        for (let scanned = 0; scanned < scanLimit && out.length < max;) {
          const { rows } = await tx.query<RecipientRow & { changed_xid: string; change_seq: number }>(
            `SELECT ${COLUMNS}, r.changed_xid::text AS changed_xid, r.change_seq
               FROM recipients r
              WHERE r.account_id = $1
                AND (r.changed_xid, r.change_seq) > ($2::xid8, $3::bigint)
                AND r.changed_xid < pg_snapshot_xmin(pg_current_snapshot())
              ORDER BY r.changed_xid, r.change_seq
              LIMIT $4`,
            [accountId, next.xid, next.seq, max],
          );
          for (const r of rows) {
            if (wanted.has(r.status) && (!mailings || mailings.has(r.mailing_id))) {
              out.push(r);
              if (out.length === max) {
                next = { xid: r.changed_xid, seq: r.change_seq };
                break;
              }
            }
            next = { xid: r.changed_xid, seq: r.change_seq };
          }
          scanned += rows.length;
          if (rows.length < max) break;
        }
      });
      return { rows: out, next };
    },

    /** The rendered messages kept for these recipients (backup_customized_emails); `remove` deletes them once read. */
    async customizedMessages(accountId: number, recipientIds: number[], remove: boolean): Promise<Map<number, Buffer>> {
      if (!recipientIds.length) return new Map();
      const { rows } = await db.query<{ recipient_id: number; raw: Buffer }>(
        remove
          ? 'DELETE FROM customized_messages WHERE account_id = $1 AND recipient_id = ANY($2::bigint[]) RETURNING recipient_id, raw'
          : 'SELECT recipient_id, raw FROM customized_messages WHERE account_id = $1 AND recipient_id = ANY($2::bigint[])',
        [accountId, recipientIds],
      );
      return new Map(rows.map((r) => [r.recipient_id, r.raw]));
    },

    /** Back to READY, to be sent again; returns the affected send ids. */
    async reset(accountId: number, trackingIds: string[]): Promise<{ sendIds: number[]; mailingIds: number[]; count: number }> {
      const { rows } = await db.query<{ send_id: number; mailing_id: number }>(
        `UPDATE recipients SET status = 'ready', try_count = 0, next_try = NULL, first_try = NULL, last_try = NULL,
                reply_code = NULL, reply_enhanced_code = NULL, reply_text = NULL, remote_mta = NULL,
                lease_owner = NULL, lease_until = NULL, ${STAMP_CHANGE}
          WHERE account_id = $1 AND tracking_id = ANY($2::text[])
          RETURNING send_id, mailing_id`,
        [accountId, trackingIds],
      );
      return {
        sendIds: [...new Set(rows.map((r) => r.send_id))],
        mailingIds: [...new Set(rows.map((r) => r.mailing_id))],
        count: rows.length,
      };
    },
  };
}

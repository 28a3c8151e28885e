/**
 * The operator's reads across accounts (/admin): the same tables the aggregates' repos own, read without an
 * account scope and with the account's slug beside every row. Reads only: every change an operator makes goes
 * through the owning repo, in the account of the object (the core builds that call context).
 *
 * Pages are keyset-paged on id (newest first), so a page costs the same however deep it is; searches are
 * substring matches (ILIKE with the pattern's own wildcards escaped).
 */
import type { MailingStatus, RecipientStatus } from './statuses.js';
import type { Queryable } from './pool.js';

/** `%text%` for ILIKE with `%`, `_` and `\` of the text matched literally; null for no search. */
export const containing = (text: string | undefined): string | null => (text ? `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null);

export interface Page {
  limit: number;
  /** Rows older (smaller id) than this one. */
  beforeId?: number | undefined;
  search?: string | undefined;
}

export interface MailingSummaryRow {
  id: number;
  account_id: number;
  account: string;
  dialect: string;
  name: string | null;
  subject: string;
  status: MailingStatus;
  submit_time: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface RecipientSummaryRow {
  id: number;
  tracking_id: string;
  email: string;
  status: RecipientStatus;
  try_count: number;
  reply_code: number | null;
  reply_text: string | null;
  modified_at: Date;
}

export interface BounceSummaryRow {
  id: number;
  account: string;
  mailing_id: number | null;
  email: string;
  kind: 'permanent' | 'temporary';
  source: string;
  enhanced_status: string | null;
  text_status: string | null;
  remote_mta: string | null;
  created_at: Date;
}

export interface SuppressionSummaryRow {
  account_id: number;
  account: string;
  email: string;
  reason: string;
  detail: string | null;
  created_at: Date;
}

/** One minute of a mailing's send rate (migration 20261207810000): outcomes stamped in that minute. */
export interface SendRateRow {
  /** The minute's start. */
  minute: Date;
  delivered: number;
  deferred: number;
  failed: number;
}

export interface CapturedSummaryRow {
  id: number;
  account: string | null;
  envelope_from: string | null;
  envelope_to: string[];
  subject: string | null;
  received_at: Date;
  size: number;
}

export function overviewRepo(db: Queryable) {
  return {
    /** Mailings of every account, newest first; search in name and subject. */
    async mailings(p: Page): Promise<MailingSummaryRow[]> {
      const { rows } = await db.query<MailingSummaryRow>(
        `SELECT m.id, m.account_id, a.slug AS account, m.dialect, m.name, v.subject, s.status, m.submit_time, s.started_at, s.finished_at
           FROM mailings m JOIN accounts a ON a.id = m.account_id
           JOIN variants v ON v.mailing_id = m.id AND v.position = 0
           JOIN LATERAL (SELECT status, started_at, finished_at FROM sends WHERE mailing_id = m.id ORDER BY status = 'finished', id LIMIT 1) s ON true
          WHERE ($2::bigint IS NULL OR m.id < $2) AND ($3::text IS NULL OR m.name ILIKE $3 OR v.subject ILIKE $3)
          ORDER BY m.id DESC LIMIT $1`,
        [p.limit, p.beforeId ?? null, containing(p.search)],
      );
      return rows;
    },

    /** The account a mailing belongs to (the call context of an operator's action on it). */
    async mailingAccount(id: number): Promise<{ account_id: number; account: string } | undefined> {
      const { rows } = await db.query<{ account_id: number; account: string }>(
        'SELECT m.account_id, a.slug AS account FROM mailings m JOIN accounts a ON a.id = m.account_id WHERE m.id = $1',
        [id],
      );
      return rows[0];
    },

    /** One mailing's recipients, newest first, of these statuses (null: all), the address containing `search`. */
    async recipients(mailingId: number, statuses: RecipientStatus[] | null, p: Page): Promise<RecipientSummaryRow[]> {
      const { rows } = await db.query<RecipientSummaryRow>(
        `SELECT id, tracking_id, email, status, try_count, reply_code, reply_text, modified_at FROM recipients
          WHERE mailing_id = $1 AND ($2::text[] IS NULL OR status = ANY($2)) AND ($4::bigint IS NULL OR id < $4)
            AND ($5::text IS NULL OR email ILIKE $5)
          ORDER BY id DESC LIMIT $3`,
        [mailingId, statuses, p.limit, p.beforeId ?? null, containing(p.search)],
      );
      return rows;
    },

    /** The tracking ids of a mailing's recipients in these statuses (what a reset takes). */
    async trackingIds(mailingId: number, statuses: RecipientStatus[]): Promise<string[]> {
      const { rows } = await db.query<{ tracking_id: string }>(
        'SELECT tracking_id FROM recipients WHERE mailing_id = $1 AND status = ANY($2::text[]) ORDER BY id',
        [mailingId, statuses],
      );
      return rows.map((r) => r.tracking_id);
    },

    /** The bounce log of every account, newest first; search in the address and the reply. */
    async bounces(p: Page): Promise<BounceSummaryRow[]> {
      const { rows } = await db.query<BounceSummaryRow>(
        `SELECT b.id, a.slug AS account, b.mailing_id, b.email, b.kind, b.source, b.enhanced_status, b.text_status, b.remote_mta, b.created_at
           FROM bounces b JOIN accounts a ON a.id = b.account_id
          WHERE ($2::bigint IS NULL OR b.id < $2) AND ($3::text IS NULL OR b.email ILIKE $3 OR b.text_status ILIKE $3)
          ORDER BY b.id DESC LIMIT $1`,
        [p.limit, p.beforeId ?? null, containing(p.search)],
      );
      return rows;
    },

    /** Suppressions of every account, newest first (`beforeId` unused: the table has no id); search in the address. */
    async suppressions(p: Page): Promise<SuppressionSummaryRow[]> {
      const { rows } = await db.query<SuppressionSummaryRow>(
        `SELECT q.account_id, a.slug AS account, q.email, q.reason, q.detail, q.created_at
           FROM suppressions q JOIN accounts a ON a.id = q.account_id
          WHERE ($2::text IS NULL OR q.email ILIKE $2)
          ORDER BY q.created_at DESC, q.email_key LIMIT $1`,
        [p.limit, containing(p.search)],
      );
      return rows;
    },

    /**
     * A mailing's send rate, oldest minute first: its sends' rollup rows summed by minute (minutes without an
     * outcome have no row). Reads one row per send and minute, never the recipients.
     */
    async sendRate(mailingId: number): Promise<SendRateRow[]> {
      const { rows } = await db.query<SendRateRow>(
        `SELECT c.minute, sum(c.delivered)::int AS delivered, sum(c.deferred)::int AS deferred, sum(c.failed)::int AS failed
           FROM sends s JOIN send_minute_counts c ON c.send_id = s.id
          WHERE s.mailing_id = $1
          GROUP BY c.minute ORDER BY c.minute`,
        [mailingId],
      );
      return rows;
    },

    /**
     * The send-rate rollup's rows of the last day's minutes at least two minutes past (older ones are folded
     * already, but for a rare late writer's, which only adds a row to sum), several for one send and minute, folded
     * into one: deleted and their sums inserted in one statement, so every minute's sum stays what it was (a
     * row a writer adds meanwhile is not seen by this statement and is folded by a later one). Returns how
     * many rows went.
     */
    async foldSendRate(): Promise<number> {
      const { rows } = await db.query<{ n: number }>(
        `WITH gone AS (
           DELETE FROM send_minute_counts c
            WHERE c.minute < date_trunc('minute', now()) - interval '2 minutes' AND c.minute >= now() - interval '1 day'
              AND (c.send_id, c.minute) IN (SELECT send_id, minute FROM send_minute_counts
                                             WHERE minute < date_trunc('minute', now()) - interval '2 minutes'
                                               AND minute >= now() - interval '1 day'
                                             GROUP BY 1, 2 HAVING count(*) > 1)
           RETURNING c.*),
         folded AS (
           INSERT INTO send_minute_counts (send_id, minute, delivered, deferred, failed)
           SELECT send_id, minute, sum(delivered), sum(deferred), sum(failed) FROM gone GROUP BY 1, 2)
         SELECT count(*)::int AS n FROM gone`,
      );
      return rows[0]!.n;
    },

    /** Captured messages, newest first, of one account or (null) of all; search in addresses and subject. */
    async captured(accountId: number | null, p: Page): Promise<CapturedSummaryRow[]> {
      const { rows } = await db.query<CapturedSummaryRow>(
        `SELECT c.id, a.slug AS account, c.envelope_from, c.envelope_to, c.subject, c.received_at, octet_length(c.raw) AS size
           FROM captured_messages c LEFT JOIN accounts a ON a.id = c.account_id
          WHERE ($1::bigint IS NULL OR c.account_id = $1) AND ($3::bigint IS NULL OR c.id < $3)
            AND ($4::text IS NULL OR c.subject ILIKE $4 OR c.envelope_from ILIKE $4 OR array_to_string(c.envelope_to, ' ') ILIKE $4)
          ORDER BY c.id DESC LIMIT $2`,
        [accountId, p.limit, p.beforeId ?? null, containing(p.search)],
      );
      return rows;
    },

    async capturedCount(accountId: number | null): Promise<number> {
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM captured_messages WHERE ($1::bigint IS NULL OR account_id = $1)', [
        accountId,
      ]);
      return rows[0]!.n;
    },

    async capturedMessage(accountId: number | null, id: number): Promise<(CapturedSummaryRow & { raw: Buffer }) | undefined> {
      const { rows } = await db.query<CapturedSummaryRow & { raw: Buffer }>(
        `SELECT c.id, a.slug AS account, c.envelope_from, c.envelope_to, c.subject, c.received_at, octet_length(c.raw) AS size, c.raw
           FROM captured_messages c LEFT JOIN accounts a ON a.id = c.account_id
          WHERE c.id = $2 AND ($1::bigint IS NULL OR c.account_id = $1)`,
        [accountId, id],
      );
      return rows[0];
    },
  };
}

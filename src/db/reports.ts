/**
 * Reports: per-send and per-mailing counts, a send's bounces, and the raw log of messages. Counts are read
 * from the recipients (one row per message), the bounce log and the events (opens, clicks, unsubscribes,
 * complaints); they are exact at the time of the call.
 */
import type { Queryable } from './pool.js';
import type { RecipientStatus } from './statuses.js';

export interface SendCounts {
  /** Messages of the send (every recipient but test sends). */
  total: number;
  /** Tried at least once. */
  sent: number;
  /** Accepted by the receiving server. */
  delivered: number;
  /** Failed for good (error, timeout). */
  failed: number;
  bounced: number;
  unsubscribed: number;
  complained: number;
  opens: number;
  opens_unique: number;
  clicks: number;
  clicks_unique: number;
}

export interface SendReportRow extends SendCounts {
  send_id: number;
  mailing_id: number;
  name: string | null;
  subject: string;
  from_email: string;
  from_name: string | null;
  list_id: number | null;
  status: string;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface MessageLogRow {
  id: number;
  mailing_id: number;
  send_id: number | null;
  email_id: number;
  email: string;
  list_id: number | null;
  status: RecipientStatus;
  try_count: number;
  first_try: Date | null;
  last_try: Date | null;
  reply_code: number | null;
  reply_enhanced_code: string | null;
  reply_text: string | null;
  fields: Record<string, unknown>;
}

export interface SendBounceRow {
  recipient_id: number;
  email_id: number;
  email: string;
  list_id: number | null;
  created_at: Date;
  enhanced_status: string | null;
  kind: 'permanent' | 'temporary';
}

export interface ReportRange {
  mailingId?: number | null;
  sendId?: number | null;
  /** Sends started (or created, when not started yet) in [from, to). */
  from?: Date | null;
  to?: Date | null;
}

const COUNTS = `
  count(*) FILTER (WHERE NOT r.is_test)::int AS total,
  count(*) FILTER (WHERE NOT r.is_test AND r.try_count > 0)::int AS sent,
  count(*) FILTER (WHERE NOT r.is_test AND r.status = 'finished')::int AS delivered,
  count(*) FILTER (WHERE NOT r.is_test AND r.status IN ('error', 'timeout', 'general_error'))::int AS failed`;

export function reportsRepo(db: Queryable) {
  return {
    /** One row per send of the account's mailings (narrowed by mailing, send, range), oldest first. */
    async sends(accountId: number, q: ReportRange): Promise<SendReportRow[]> {
      const { rows } = await db.query<SendReportRow>(
        `WITH s AS (
           SELECT s.id AS send_id, s.mailing_id, m.name, v.subject, v.from_email, v.from_name, m.list_id, s.status,
                  s.started_at, s.finished_at
             FROM sends s JOIN mailings m ON m.id = s.mailing_id
             JOIN variants v ON v.mailing_id = m.id AND v.position = 0
            WHERE s.account_id = $1 AND ($2::bigint IS NULL OR s.mailing_id = $2) AND ($3::bigint IS NULL OR s.id = $3)
              AND ($4::timestamptz IS NULL OR coalesce(s.started_at, m.submit_time) >= $4)
              AND ($5::timestamptz IS NULL OR coalesce(s.started_at, m.submit_time) < $5)
         )
         SELECT s.*, c.*, b.bounced, e.*
           FROM s
           CROSS JOIN LATERAL (SELECT ${COUNTS} FROM recipients r WHERE r.mailing_id = s.mailing_id AND r.send_id = s.send_id) c
           CROSS JOIN LATERAL (SELECT count(DISTINCT recipient_id)::int AS bounced FROM bounces WHERE mailing_id = s.mailing_id AND send_id = s.send_id AND kind = 'permanent' AND source <> 'complaint') b
           CROSS JOIN LATERAL (
             SELECT count(*) FILTER (WHERE ev.kind = 'unsubscribe')::int AS unsubscribed,
                    count(*) FILTER (WHERE ev.kind = 'complaint')::int AS complained,
                    count(*) FILTER (WHERE ev.kind = 'open')::int AS opens,
                    count(DISTINCT ev.recipient_id) FILTER (WHERE ev.kind = 'open')::int AS opens_unique,
                    count(*) FILTER (WHERE ev.kind = 'click')::int AS clicks,
                    count(DISTINCT ev.recipient_id) FILTER (WHERE ev.kind = 'click')::int AS clicks_unique
               FROM events ev JOIN recipients r ON r.id = ev.recipient_id
              WHERE ev.mailing_id = s.mailing_id AND r.send_id = s.send_id) e
          ORDER BY s.send_id`,
        [accountId, q.mailingId ?? null, q.sendId ?? null, q.from ?? null, q.to ?? null],
      );
      return rows;
    },

    /** The latest bounce of each bounced message of a send. */
    async sendBounces(accountId: number, sendId: number): Promise<SendBounceRow[]> {
      const { rows } = await db.query<SendBounceRow>(
        `SELECT DISTINCT ON (b.recipient_id) b.recipient_id, coalesce(r.subscriber_id, r.id) AS email_id, b.email, b.list_id,
                b.created_at, b.enhanced_status, b.kind
           FROM bounces b JOIN recipients r ON r.id = b.recipient_id
          WHERE b.account_id = $1 AND b.send_id = $2 AND b.source <> 'complaint'
          ORDER BY b.recipient_id, b.id DESC`,
        [accountId, sendId],
      );
      return rows;
    },

    /** The messages of the account (narrowed by mailing and send) from recipient id `fromId`, ascending. */
    async messages(accountId: number, q: { mailingId: number | null; sendId: number | null }, fromId: number, limit: number): Promise<MessageLogRow[]> {
      const { rows } = await db.query<MessageLogRow>(
        `SELECT r.id, r.mailing_id, r.send_id, coalesce(r.subscriber_id, r.id) AS email_id, r.email,
                coalesce((SELECT list_id FROM subscribers WHERE id = r.subscriber_id), m.list_id) AS list_id, r.status,
                r.try_count, r.first_try, r.last_try, r.reply_code, r.reply_enhanced_code, r.reply_text, r.fields
           FROM recipients r JOIN mailings m ON m.id = r.mailing_id
          WHERE r.account_id = $1 AND r.id >= $2 AND NOT r.is_test
            AND ($3::bigint IS NULL OR r.mailing_id = $3) AND ($4::bigint IS NULL OR r.send_id = $4)
          ORDER BY r.id LIMIT $5`,
        [accountId, fromId, q.mailingId, q.sendId, limit],
      );
      return rows;
    },
  };
}

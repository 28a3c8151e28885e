/**
 * Reports: per-send and per-mailing counts, a send's bounces, and the raw log of messages. Counts are read
 * from the recipients (one row per message), the bounce log and the events (opens, clicks, unsubscribes,
 * complaints); they are exact at the time of the call. Also what is read from the events alone (a send's
 * clicked links, the log of responses to messages, each subscriber's engagement), the account's unsubscribed
 * addresses, and the addresses the account sends from.
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

/** One link of a send, as its click events name it. */
export interface LinkRow {
  url: string;
  clicks: number;
  /** Messages whose recipient clicked it (unique clicks). */
  visits: number;
}

/** What a person did about a message: an event tied to a recipient. */
export type ResponseKind = 'open' | 'click' | 'unsubscribe' | 'complaint';

/** One response to a message, with its message's ids. */
export interface ResponseRow {
  id: number;
  kind: ResponseKind;
  created_at: Date;
  link: string | null;
  ip: string | null;
  user_agent: string | null;
  recipient_id: number;
  mailing_id: number;
  send_id: number | null;
  email_id: number;
  email: string;
  list_id: number | null;
}

/** An address unsubscribed from the whole account, and since when. */
export interface UnsubscribedRow {
  email: string;
  created_at: Date;
}

/** One subscriber's messages and what it did with them. */
export interface EngagementRow {
  id: number;
  email: string;
  sent: number;
  delivered: number;
  opens: number;
  /** Messages opened. */
  opens_unique: number;
  clicks: number;
  /** Messages clicked. */
  clicks_unique: number;
  last_open: Date | null;
  last_click: Date | null;
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

    /** The mailing of one of the account's sends; undefined when the account has no such send. */
    async sendMailing(accountId: number, sendId: number): Promise<number | undefined> {
      const { rows } = await db.query<{ mailing_id: number }>('SELECT mailing_id FROM sends WHERE account_id = $1 AND id = $2', [accountId, sendId]);
      return rows[0]?.mailing_id;
    },

    /**
     * The links clicked in one send (of mailing `mailingId`), in the order they were first clicked. Through the
     * mailing's events (events_mailing_kind), narrowed to the send by the recipients.
     */
    async links(mailingId: number, sendId: number): Promise<LinkRow[]> {
      const { rows } = await db.query<LinkRow>(
        `SELECT ev.link AS url, count(*)::int AS clicks, count(DISTINCT ev.recipient_id)::int AS visits
           FROM events ev JOIN recipients r ON r.id = ev.recipient_id
          WHERE ev.mailing_id = $1 AND ev.kind = 'click' AND ev.link IS NOT NULL AND r.send_id = $2
          GROUP BY ev.link ORDER BY min(ev.id)`,
        [mailingId, sendId],
      );
      return rows;
    },

    /**
     * The responses to the account's messages (narrowed by mailing, send and message) from event id `fromId`,
     * ascending. Event ids are drawn in commit order (events.ts), so a reader resuming from the last id it saw
     * misses none. Confirmations are not responses to a message (they name a subscriber only).
     */
    async responses(
      accountId: number,
      q: { mailingId: number | null; sendId: number | null; messageId: number | null },
      fromId: number,
      limit: number,
    ): Promise<ResponseRow[]> {
      const { rows } = await db.query<ResponseRow>(
        `SELECT ev.id, ev.kind, ev.created_at, ev.link, host(ev.ip) AS ip, ev.user_agent, r.id AS recipient_id, r.mailing_id, r.send_id,
                coalesce(r.subscriber_id, r.id) AS email_id, r.email,
                coalesce((SELECT list_id FROM subscribers WHERE id = r.subscriber_id), m.list_id) AS list_id
           FROM events ev JOIN recipients r ON r.id = ev.recipient_id JOIN mailings m ON m.id = r.mailing_id
          WHERE ev.account_id = $1 AND ev.id >= $2 AND ev.kind IN ('open', 'click', 'unsubscribe', 'complaint')
            AND ($3::bigint IS NULL OR ev.mailing_id = $3) AND ($4::bigint IS NULL OR r.send_id = $4) AND ($5::bigint IS NULL OR r.id = $5)
          ORDER BY ev.id LIMIT $6`,
        [accountId, fromId, q.mailingId, q.sendId, q.messageId, limit],
      );
      return rows;
    },

    /**
     * The addresses unsubscribed from the whole account (an unsubscribe suppression), since `from` when given,
     * oldest first. A lifted unsubscribe (a revalidation) is no longer one.
     */
    async unsubscribed(accountId: number, from: Date | null): Promise<UnsubscribedRow[]> {
      const { rows } = await db.query<UnsubscribedRow>(
        `SELECT email, created_at FROM suppressions
          WHERE account_id = $1 AND reason = 'unsubscribe' AND ($2::timestamptz IS NULL OR created_at >= $2)
          ORDER BY created_at, email_key`,
        [accountId, from],
      );
      return rows;
    },

    /**
     * The subscribers of one list from subscriber id `fromId`, ascending, each with the messages it was sent
     * (test sends apart) and its opens and clicks of them. The page is taken first, so the counts are computed
     * for `limit` subscribers only (recipients_subscriber, events_recipient).
     */
    async engagement(accountId: number, listId: number, fromId: number, limit: number): Promise<EngagementRow[]> {
      const { rows } = await db.query<EngagementRow>(
        `WITH page AS (
           SELECT id, email FROM subscribers WHERE account_id = $1 AND list_id = $2 AND id >= $3 ORDER BY id LIMIT $4
         )
         SELECT p.id, p.email, c.sent, c.delivered, e.opens, e.opens_unique, e.clicks, e.clicks_unique, e.last_open, e.last_click
           FROM page p
           CROSS JOIN LATERAL (
             SELECT count(*) FILTER (WHERE r.try_count > 0)::int AS sent, count(*) FILTER (WHERE r.status = 'finished')::int AS delivered
               FROM recipients r WHERE r.subscriber_id = p.id AND NOT r.is_test
           ) c
           CROSS JOIN LATERAL (
             SELECT count(*) FILTER (WHERE ev.kind = 'open')::int AS opens,
                    count(DISTINCT ev.recipient_id) FILTER (WHERE ev.kind = 'open')::int AS opens_unique,
                    count(*) FILTER (WHERE ev.kind = 'click')::int AS clicks,
                    count(DISTINCT ev.recipient_id) FILTER (WHERE ev.kind = 'click')::int AS clicks_unique,
                    max(ev.created_at) FILTER (WHERE ev.kind = 'open') AS last_open,
                    max(ev.created_at) FILTER (WHERE ev.kind = 'click') AS last_click
               FROM recipients r JOIN events ev ON ev.recipient_id = r.id
              WHERE r.subscriber_id = p.id AND NOT r.is_test AND ev.kind IN ('open', 'click')
           ) e
          ORDER BY p.id`,
        [accountId, listId, fromId, limit],
      );
      return rows;
    },

    /**
     * The From addresses the account's mailings use (by their first mailing), then its lists' default ones
     * (by list); repeats included, the caller keeps the first of each address.
     */
    async senderAddresses(accountId: number): Promise<string[]> {
      const { rows } = await db.query<{ email: string }>(
        `SELECT email FROM (
           SELECT v.from_email AS email, 0 AS part, min(m.id) AS ord
             FROM mailings m JOIN variants v ON v.mailing_id = m.id WHERE m.account_id = $1 GROUP BY v.from_email
           UNION ALL
           SELECT default_from_email, 1, id FROM lists WHERE account_id = $1 AND default_from_email IS NOT NULL
         ) a ORDER BY part, ord`,
        [accountId],
      );
      return rows.map((r) => r.email);
    },
  };
}

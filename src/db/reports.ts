/**
 * Reports: per-send and per-mailing counts, a send's bounces, and the raw log of messages. Counts are read
 * from the recipients (one row per message), the bounce log and the event rollups (opens, clicks, unsubscribes,
 * complaints: per send, per link of a send and per recipient, kept with the events by triggers, migration
 * 20261207200000); they are exact at the time of the call, and a report over millions of events reads a few
 * rollup rows. Opens and clicks are counted apart by verdict: the plain fields count human ones (and those
 * never judged), `machine_*` the machine ones. Also the log of responses to messages (read from the events),
 * the account's unsubscribed addresses, and the addresses the account sends from.
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
  machine_opens: number;
  machine_opens_unique: number;
  machine_clicks: number;
  machine_clicks_unique: number;
}

/** Which opens and clicks a report counts or lists: human ones (the default), machine ones, or both. */
export type VerdictFilter = 'human' | 'machine' | 'all';

/** A mailing's opens and clicks over all its sends (CloudMailing's mailing struct). */
export type MailingEngagement = Pick<
  SendCounts,
  'opens' | 'opens_unique' | 'clicks' | 'clicks_unique' | 'machine_opens' | 'machine_opens_unique' | 'machine_clicks' | 'machine_clicks_unique'
>;

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
  verdict: 'human' | 'machine' | null;
  verdict_reason: string | null;
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
  machine_opens: number;
  machine_opens_unique: number;
  machine_clicks: number;
  machine_clicks_unique: number;
}

export interface ReportRange {
  mailingId?: number | null;
  sendId?: number | null;
  /** Sends started (or created, when not started yet) in [from, to). */
  from?: Date | null;
  to?: Date | null;
}

/** A send's recipients (test ones apart) from its recipient_counts rows `r` (migration 20261208400000). */
const COUNTS = `
  coalesce(sum(r.n) FILTER (WHERE NOT r.is_test), 0)::int AS total,
  coalesce(sum(r.n) FILTER (WHERE NOT r.is_test AND r.tried), 0)::int AS sent,
  coalesce(sum(r.n) FILTER (WHERE NOT r.is_test AND r.status = 'finished'), 0)::int AS delivered,
  coalesce(sum(r.n) FILTER (WHERE NOT r.is_test AND r.status IN ('error', 'timeout', 'general_error')), 0)::int AS failed`;

/** Opens and clicks by verdict from rollup rows `c` (kind, machine, events, recipients). */
export const ENGAGEMENT = `
  coalesce(sum(c.events) FILTER (WHERE c.kind = 'open' AND NOT c.machine), 0)::int AS opens,
  coalesce(sum(c.recipients) FILTER (WHERE c.kind = 'open' AND NOT c.machine), 0)::int AS opens_unique,
  coalesce(sum(c.events) FILTER (WHERE c.kind = 'click' AND NOT c.machine), 0)::int AS clicks,
  coalesce(sum(c.recipients) FILTER (WHERE c.kind = 'click' AND NOT c.machine), 0)::int AS clicks_unique,
  coalesce(sum(c.events) FILTER (WHERE c.kind = 'open' AND c.machine), 0)::int AS machine_opens,
  coalesce(sum(c.recipients) FILTER (WHERE c.kind = 'open' AND c.machine), 0)::int AS machine_opens_unique,
  coalesce(sum(c.events) FILTER (WHERE c.kind = 'click' AND c.machine), 0)::int AS machine_clicks,
  coalesce(sum(c.recipients) FILTER (WHERE c.kind = 'click' AND c.machine), 0)::int AS machine_clicks_unique`;

/** SQL: whether rollup rows' `machine` (alias `c`) passes the filter $n. */
const verdictIn = (param: string, alias = 'c') => `(${param}::text = 'all' OR ${alias}.machine = (${param}::text = 'machine'))`;

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
           CROSS JOIN LATERAL (SELECT ${COUNTS} FROM recipient_counts r WHERE r.mailing_id = s.mailing_id AND r.send_id = s.send_id) c
           CROSS JOIN LATERAL (SELECT count(DISTINCT recipient_id)::int AS bounced FROM bounces WHERE mailing_id = s.mailing_id AND send_id = s.send_id AND kind = 'permanent' AND source <> 'complaint') b
           CROSS JOIN LATERAL (
             SELECT coalesce(sum(c.events) FILTER (WHERE c.kind = 'unsubscribe'), 0)::int AS unsubscribed,
                    coalesce(sum(c.events) FILTER (WHERE c.kind = 'complaint'), 0)::int AS complained, ${ENGAGEMENT}
               FROM send_event_counts c WHERE c.send_id = s.send_id) e
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
     * The links clicked in one send by the clicks `verdict` selects, in the order they were first clicked (by
     * any click), each with those clicks and the messages whose recipient made one (per link and verdict, a
     * recipient clicked it as a person and as a machine: both counts have it).
     */
    async links(sendId: number, verdict: VerdictFilter = 'human'): Promise<LinkRow[]> {
      const { rows } = await db.query<LinkRow>(
        `SELECT min(c.link) AS url, coalesce(sum(c.clicks) FILTER (WHERE ${verdictIn('$2')}), 0)::int AS clicks,
                coalesce(sum(c.visits) FILTER (WHERE ${verdictIn('$2')}), 0)::int AS visits
           FROM send_link_counts c WHERE c.send_id = $1
          GROUP BY c.link_key HAVING coalesce(sum(c.clicks) FILTER (WHERE ${verdictIn('$2')}), 0) > 0 ORDER BY min(c.first_event_id)`,
        [sendId, verdict],
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
      q: { mailingId: number | null; sendId: number | null; messageId: number | null; verdict?: VerdictFilter },
      fromId: number,
      limit: number,
    ): Promise<ResponseRow[]> {
      const { rows } = await db.query<ResponseRow>(
        `SELECT ev.id, ev.kind, ev.created_at, ev.link, host(ev.ip) AS ip, ev.user_agent, ev.verdict, ev.verdict_reason,
                r.id AS recipient_id, r.mailing_id, r.send_id,
                coalesce(r.subscriber_id, r.id) AS email_id, r.email,
                coalesce((SELECT list_id FROM subscribers WHERE id = r.subscriber_id), m.list_id) AS list_id
           FROM events ev JOIN recipients r ON r.id = ev.recipient_id JOIN mailings m ON m.id = r.mailing_id
          WHERE ev.account_id = $1 AND ev.id >= $2 AND ev.kind IN ('open', 'click', 'unsubscribe', 'complaint')
            AND ($3::bigint IS NULL OR ev.mailing_id = $3) AND ($4::bigint IS NULL OR r.send_id = $4) AND ($5::bigint IS NULL OR r.id = $5)
            AND (ev.kind NOT IN ('open', 'click') OR $7::text = 'all' OR (ev.verdict IS NOT DISTINCT FROM 'machine') = ($7::text = 'machine'))
          ORDER BY ev.id LIMIT $6`,
        [accountId, fromId, q.mailingId, q.sendId, q.messageId, limit, q.verdict ?? 'human'],
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
     * (test sends apart) and its opens and clicks of them (human and machine apart; the last open and click are
     * human ones). The page is taken first, so the counts are computed for `limit` subscribers only
     * (recipients_subscriber, then each recipient's rollup rows).
     */
    async engagement(accountId: number, listId: number, fromId: number, limit: number): Promise<EngagementRow[]> {
      const { rows } = await db.query<EngagementRow>(
        `WITH page AS (
           SELECT id, email FROM subscribers WHERE account_id = $1 AND list_id = $2 AND id >= $3 ORDER BY id LIMIT $4
         )
         SELECT p.id, p.email, c.sent, c.delivered, e.opens, e.opens_unique, e.clicks, e.clicks_unique, e.last_open, e.last_click,
                e.machine_opens, e.machine_opens_unique, e.machine_clicks, e.machine_clicks_unique
           FROM page p
           CROSS JOIN LATERAL (
             SELECT count(*) FILTER (WHERE r.try_count > 0)::int AS sent, count(*) FILTER (WHERE r.status = 'finished')::int AS delivered
               FROM recipients r WHERE r.subscriber_id = p.id AND NOT r.is_test
           ) c
           CROSS JOIN LATERAL (
             SELECT ${ENGAGEMENT},
                    max(c.last_at) FILTER (WHERE c.kind = 'open' AND NOT c.machine) AS last_open,
                    max(c.last_at) FILTER (WHERE c.kind = 'click' AND NOT c.machine) AS last_click
               FROM recipients r
               JOIN (SELECT recipient_id, kind, machine, events, last_at, (events > 0)::int AS recipients FROM recipient_event_counts) c ON c.recipient_id = r.id
              WHERE r.subscriber_id = p.id AND NOT r.is_test AND c.kind IN ('open', 'click')
           ) e
          ORDER BY p.id`,
        [accountId, listId, fromId, limit],
      );
      return rows;
    },

    /** The opens and clicks of each of these mailings, over all its sends. */
    async mailingEngagement(mailingIds: readonly number[]): Promise<Map<number, MailingEngagement>> {
      if (!mailingIds.length) return new Map();
      const { rows } = await db.query<MailingEngagement & { mailing_id: number }>(
        `SELECT s.mailing_id::int, ${ENGAGEMENT}
           FROM sends s JOIN send_event_counts c ON c.send_id = s.id
          WHERE s.mailing_id = ANY($1::bigint[]) AND c.kind IN ('open', 'click')
          GROUP BY s.mailing_id`,
        [mailingIds],
      );
      return new Map(rows.map(({ mailing_id, ...e }) => [mailing_id, e]));
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

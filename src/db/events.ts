/**
 * The event log: what a person did about a message or a subscription (an open, a click, an unsubscribe, a
 * complaint, a confirmation). Every write of the table is here; reports.ts reads it.
 *
 * Event ids are handed out in commit order, as the bounce log's are (see bounces.ts): Mailkit's raw response
 * log (`mailkit.report.raw.responses`) is paged by "the last id seen", and a plain identity would let a
 * transaction that drew id 10 commit after one that drew id 11, behind a reader that already moved past 11.
 * Every insert takes a transaction-level advisory lock before it draws ids, so an insert of events must be
 * among the LAST statements of its transaction (only the bounce log's insert may follow it, which locks the
 * same way): the lock is held until COMMIT and stalls every other event writer meanwhile.
 */
import type { Queryable } from './pool.js';

export type EventKind = 'open' | 'click' | 'unsubscribe' | 'complaint' | 'confirm';

export interface NewEvent {
  accountId: number;
  kind: EventKind;
  mailingId?: number | null;
  recipientId?: number | null;
  subscriberId?: number | null;
  /** The link a click followed. */
  link?: string | null;
  /** Where an open or a click came from. */
  ip?: string | null;
  userAgent?: string | null;
  /** Opens and clicks: `human`, or `machine` with its reason (migration 20261207000000_event_verdicts.ts). */
  verdict?: 'human' | 'machine' | null;
  verdictReason?: string | null;
  /** A click's link position in its message's html part. */
  linkIndex?: number | null;
}

/** The advisory lock key of the event log (any constant; 'evnt' in ASCII). */
export const EVENT_LOG_LOCK = 0x65766e74;

/**
 * SQL: events from the rows of `source` (aliased `x`, with the named columns), their ids drawn under the lock.
 * The lock is taken before the first id is drawn: ids are drawn while projecting the join's rows, which exist
 * only once the lock's row does (a subquery with a volatile target list is never folded into the projection).
 */
const insertFrom = (source: string, columns: readonly string[]) =>
  `INSERT INTO events (id, ${columns.join(', ')}) OVERRIDING SYSTEM VALUE
   SELECT nextval(pg_get_serial_sequence('events', 'id')), ${columns.map((c) => `x.${c}`).join(', ')}
     FROM (${source}) AS x(${columns.join(', ')})
     CROSS JOIN (SELECT pg_advisory_xact_lock(${EVENT_LOG_LOCK})) AS event_log_lock`;

/**
 * SQL: insert the rows of `select` (columns in this order: account_id, mailing_id, recipient_id,
 * subscriber_id, kind) as events. For a statement that must record its events with its own change, as a CTE
 * (a confirmation that happened, and only then, in one statement).
 */
export const insertEventsFrom = (select: string) => insertFrom(select, ['account_id', 'mailing_id', 'recipient_id', 'subscriber_id', 'kind']);

/** Record events, in one statement (inside the caller's transaction when it has one, as one of its last). */
export async function recordEvents(db: Queryable, events: readonly NewEvent[]): Promise<void> {
  if (!events.length) return;
  await db.query(
    insertFrom(
      'SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::inet[], $8::text[], $9::text[], $10::text[], $11::int[])',
      ['account_id', 'mailing_id', 'recipient_id', 'subscriber_id', 'kind', 'link', 'ip', 'user_agent', 'verdict', 'verdict_reason', 'link_index'],
    ),
    [
      events.map((e) => e.accountId),
      events.map((e) => e.mailingId ?? null),
      events.map((e) => e.recipientId ?? null),
      events.map((e) => e.subscriberId ?? null),
      events.map((e) => e.kind),
      events.map((e) => e.link ?? null),
      events.map((e) => e.ip ?? null),
      events.map((e) => e.userAgent ?? null),
      events.map((e) => e.verdict ?? null),
      events.map((e) => e.verdictReason ?? null),
      events.map((e) => e.linkIndex ?? null),
    ],
  );
}

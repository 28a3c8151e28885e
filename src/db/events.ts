/**
 * The event log: what a person did about a message or a subscription (an open, a click, an unsubscribe, a
 * complaint, a confirmation). Every write of the table is here; reports.ts reads it.
 *
 * Event ids are handed out in commit order, as the bounce log's are (see bounces.ts): Mailkit's raw response
 * log (`mailkit.report.raw.responses`) is paged by "the last id seen", and a plain identity would let a
 * transaction that drew id 10 commit after one that drew id 11, behind a reader that already moved past 11.
 * Every insert takes a transaction-level advisory lock before it draws ids, so an insert of events must be
 * among the LAST statements of its transaction (only the bounce log's insert may follow it, which locks the
 * same way, and the re-judging of a burst of clicks, hitsRepo): the lock is held until COMMIT and stalls every
 * other event writer meanwhile. The rollups (migration 20261207200000) are kept by triggers on this table, under
 * that lock.
 */
import { withTransaction, type Pool, type Queryable } from './pool.js';

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
  /** An open's or a click's verdict; null for the other kinds (the rollups count a missing one as human). */
  verdict?: 'human' | 'machine' | null;
  /** Why a machine event is one (set iff verdict is machine). */
  verdictReason?: string | null;
  /** A hosted click's link: its position in the html part. */
  linkIndex?: number | null;
  /** When it happened (default: now). */
  at?: Date | null;
  /** The address, for an event that names no recipient or subscriber (an unsubscribe by address through an API). */
  email?: string | null;
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
      `SELECT a, m, r, s, k, l, ip, ua, v, vr, li, coalesce(at, now()), em
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::inet[], $8::text[], $9::text[], $10::text[],
                     $11::int[], $12::timestamptz[], $13::text[]) AS u(a, m, r, s, k, l, ip, ua, v, vr, li, at, em)`,
      [
        'account_id',
        'mailing_id',
        'recipient_id',
        'subscriber_id',
        'kind',
        'link',
        'ip',
        'user_agent',
        'verdict',
        'verdict_reason',
        'link_index',
        'created_at',
        'email',
      ],
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
      events.map((e) => e.at ?? null),
      events.map((e) => e.email ?? null),
    ],
  );
}

/** What the verdict of a hosted open or click is judged from, beside the request itself. */
export interface HitRecipient {
  accountId: number;
  mailingId: number;
  /** When the receiving server accepted the message; null while that is not recorded. */
  deliveredAt: Date | null;
}

export interface Hit {
  recipientId: number;
  kind: 'open' | 'click';
  link?: string | null;
  linkIndex?: number | null;
  ip: string | null;
  userAgent: string | null;
  at: Date;
}

export interface HitVerdict {
  verdict: 'human' | 'machine';
  reason: string | null;
  /** The recipient's earlier clicks of the burst window become machine ones ('all-links'). */
  burst: boolean;
}

/** Judges a hit: the recipient, and (clicks) the recipient's clicks of the burst window before it. */
export type HitJudge = (recipient: HitRecipient, recentClicks: { linkIndex: number | null; at: Date }[]) => HitVerdict;

/** The advisory lock class of one recipient's clicks (two-key form: apart from the event log's one-key lock). */
const RECIPIENT_CLICKS_LOCK = 0x636c6b73;

const RECIPIENT = `SELECT account_id AS "accountId", mailing_id AS "mailingId",
                          CASE WHEN status = 'finished' THEN last_try END AS "deliveredAt"
                     FROM recipients WHERE id = $1`;

/**
 * Hosted tracking's writes: an open or a click of a recipient, judged by `judge` and recorded as an event.
 * false when the recipient no longer exists (its mailing was deleted): nothing is recorded.
 *
 * A click is judged under a lock of its recipient (so two clicks of a burst arriving together see each other),
 * taken BEFORE the event log's lock (and no writer takes them in the other order): the event log's lock is
 * still held only by the insert and the re-judging of the burst that follows it, up to COMMIT.
 */
export function hitsRepo(pool: Pool) {
  return {
    async record(hit: Hit, burstMs: number, judge: HitJudge): Promise<HitVerdict | null> {
      const event = (r: HitRecipient, v: HitVerdict): NewEvent => ({
        accountId: r.accountId,
        kind: hit.kind,
        mailingId: r.mailingId,
        recipientId: hit.recipientId,
        link: hit.link ?? null,
        linkIndex: hit.linkIndex ?? null,
        ip: hit.ip,
        userAgent: hit.userAgent,
        verdict: v.verdict,
        verdictReason: v.reason,
        at: hit.at,
      });
      if (hit.kind === 'open') {
        const r = (await pool.query<HitRecipient>(RECIPIENT, [hit.recipientId])).rows[0];
        if (!r) return null;
        const v = judge(r, []);
        await recordEvents(pool, [event(r, v)]);
        return v;
      }
      return await withTransaction(pool, async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1, ($2::bigint % 2147483647)::int)', [RECIPIENT_CLICKS_LOCK, hit.recipientId]);
        const r = (await tx.query<HitRecipient>(RECIPIENT, [hit.recipientId])).rows[0];
        if (!r) return null;
        const { rows: recent } = await tx.query<{ linkIndex: number | null; at: Date }>(
          `SELECT link_index AS "linkIndex", created_at AS at FROM events
            WHERE recipient_id = $1 AND kind = 'click' AND created_at BETWEEN $2::timestamptz - make_interval(secs => $3 / 1000.0) AND $2
            ORDER BY id`,
          [hit.recipientId, hit.at, burstMs],
        );
        const v = judge(r, recent);
        await recordEvents(tx, [event(r, v)]);
        // Under the event log's lock (taken by the insert): the rollups' update trigger moves these clicks.
        if (v.burst)
          await tx.query(
            `UPDATE events SET verdict = 'machine', verdict_reason = 'all-links'
              WHERE recipient_id = $1 AND kind = 'click' AND verdict IS DISTINCT FROM 'machine'
                AND created_at BETWEEN $2::timestamptz - make_interval(secs => $3 / 1000.0) AND $2`,
            [hit.recipientId, hit.at, burstMs],
          );
        return v;
      });
    },
  };
}

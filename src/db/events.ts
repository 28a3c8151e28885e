/**
 * The event log: what a person did about a message or a subscription (an unsubscribe, a complaint, a
 * confirmation). Every write of the table is here; reports.ts reads it.
 */
import type { Queryable } from './pool.js';

export type EventKind = 'unsubscribe' | 'complaint' | 'confirm';

export interface NewEvent {
  accountId: number;
  kind: EventKind;
  mailingId?: number | null;
  recipientId?: number | null;
  subscriberId?: number | null;
}

/**
 * SQL: insert the rows of `select` (columns in this order: account_id, mailing_id, recipient_id,
 * subscriber_id, kind) as events. For a statement that must record its events with its own change, as a CTE
 * (a confirmation that happened, and only then, in one statement).
 */
export const insertEventsFrom = (select: string) => `INSERT INTO events (account_id, mailing_id, recipient_id, subscriber_id, kind) ${select}`;

/** Record events, in one statement (inside the caller's transaction when it has one). */
export async function recordEvents(db: Queryable, events: readonly NewEvent[]): Promise<void> {
  if (!events.length) return;
  await db.query(insertEventsFrom('SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[])'), [
    events.map((e) => e.accountId),
    events.map((e) => e.mailingId ?? null),
    events.map((e) => e.recipientId ?? null),
    events.map((e) => e.subscriberId ?? null),
    events.map((e) => e.kind),
  ]);
}

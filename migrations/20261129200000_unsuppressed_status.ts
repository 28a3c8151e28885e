/**
 * subscribers.unsuppressed_status: the status a list member returns to when the suppression of its address
 * is lifted; NULL when no suppression changed its status (or the change is final: an unsubscribe). Written
 * by suppress() and lift() in src/db/suppressions.ts, and by the insert of a subscriber whose address is
 * suppressed; a call that sets the member's status itself decides it (cleared by setStatus, 'disabled' by
 * Sender's disable and disable_others in src/db/lists.ts). It lets lift() undo exactly what
 * suppress() did: a member disabled or unconfirmed before a hard bounce is disabled or unconfirmed again
 * afterwards, and a manual suppression (members `disabled`) is told apart from a deleted member.
 *
 * Members bounced or complained before this column existed were always made active again by a lift: they
 * keep that. The partial index finds the few members a suppression holds in a list (disable_others).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE subscribers ADD COLUMN unsuppressed_status text
      CHECK (unsuppressed_status IN ('active','unconfirmed','unsubscribed','bounced','complained','disabled'));
    UPDATE subscribers SET unsuppressed_status = 'active' WHERE status IN ('bounced', 'complained');
    CREATE INDEX subscribers_unsuppressed ON subscribers (list_id) WHERE unsuppressed_status IS NOT NULL;`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE subscribers DROP COLUMN unsuppressed_status');
}

/**
 * Opens and clicks carry a verdict: `human`, or `machine` with its reason (`apple-mpp`, `gmail-proxy`,
 * `scanner-ua`, `scanner-network`, `head`, `too-soon`, `all-links`, ...). Every event is kept; reports count
 * human ones by default and machine ones apart. NULL for the kinds that have no verdict (unsubscribe, confirm,
 * complaint) and for events recorded before this column. `link_index` is the position of a clicked link in
 * its message's html part (0-based, as the hosted click token carries it), NULL for the other kinds and for
 * clicks of caller-hosted tracking that Mailgate never sees. `email` is the address of an event that names
 * no recipient or subscriber (an unsubscribe by address through an API), so that what reports it (a webhook)
 * can say whose it was; NULL otherwise (the recipient's or subscriber's row has it).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE events
      ADD COLUMN verdict text CHECK (verdict IN ('human', 'machine')),
      ADD COLUMN verdict_reason text,
      ADD COLUMN link_index integer,
      ADD COLUMN email text,
      ADD CONSTRAINT events_verdict_reason CHECK ((verdict = 'machine') = (verdict_reason IS NOT NULL));`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(
    'ALTER TABLE events DROP CONSTRAINT events_verdict_reason, DROP COLUMN email, DROP COLUMN link_index, DROP COLUMN verdict_reason, DROP COLUMN verdict',
  );
}

/**
 * bounces.report_key: what identifies the inbound report a late bounce came from, so that a report delivered
 * again is recorded once. A sending MTA that gets no 250 after DATA (lost, or later than its timeout) delivers
 * the same message again; a retry keeps its Message-ID and its bytes. The key is the report's own Message-ID
 * (`<...>`, the reporting MTA's), or `sha256:<hex>` of the message bytes when it has none; unique per
 * recipient, since one report may be about several of ours (one VERP address each). NULL for the bounces
 * recorded during sending (the relay's replies: each try is its own bounce) and for those before this column.
 * Written by recordLateBounce in src/db/bounces.ts.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE bounces ADD COLUMN report_key text;
    CREATE UNIQUE INDEX bounces_report ON bounces (recipient_id, report_key) WHERE report_key IS NOT NULL;`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE bounces DROP COLUMN report_key');
}

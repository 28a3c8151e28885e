/**
 * An index behind every foreign key that lacked one. Deleting a referenced row makes Postgres look up its
 * referencing rows; without an index that is a scan of the whole referencing table per deleted row: a mailing
 * of 200,000 recipients deleted beside a bounce log of 1,000,000 rows (bounces.recipient_id, ON DELETE SET
 * NULL) ran for hours, holding the recipient rows its running send wanted to write. Partial where the column
 * is nullable: the lookups are by value, never for NULL. test/db/schema.test.ts keeps every key covered.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE INDEX IF NOT EXISTS bounces_recipient ON bounces (recipient_id) WHERE recipient_id IS NOT NULL;
    CREATE INDEX IF NOT EXISTS bounces_send ON bounces (send_id) WHERE send_id IS NOT NULL;
    CREATE INDEX IF NOT EXISTS bounces_list ON bounces (list_id) WHERE list_id IS NOT NULL;
    CREATE INDEX IF NOT EXISTS events_recipient ON events (recipient_id) WHERE recipient_id IS NOT NULL;
    CREATE INDEX IF NOT EXISTS events_account ON events (account_id);
    CREATE INDEX IF NOT EXISTS accounts_confirm_mailing ON accounts (confirm_mailing_id) WHERE confirm_mailing_id IS NOT NULL;
    CREATE INDEX IF NOT EXISTS lists_confirm_mailing ON lists (confirm_mailing_id) WHERE confirm_mailing_id IS NOT NULL;
    CREATE INDEX IF NOT EXISTS imports_account ON imports (account_id);`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX IF EXISTS bounces_recipient, bounces_send, bounces_list, events_recipient, events_account,
      accounts_confirm_mailing, lists_confirm_mailing, imports_account;`);
}

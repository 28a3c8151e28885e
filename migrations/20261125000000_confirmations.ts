/**
 * Double opt-in and notices.
 * - lists.confirm_mailing_id / accounts.confirm_mailing_id: the mailing whose message asks a new subscriber to
 *   confirm (Sender: "chosen in the account's settings or the list's"); the list's wins. Neither: a built-in one.
 * - mailings.system_role: the account's built-in mailings ('confirm': the default confirmation message,
 *   'optout': the notice that an address was unsubscribed). An optout notice goes to an address that is
 *   suppressed by definition: the send skips the suppression check for that mailing only.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE mailings ADD COLUMN system_role text CHECK (system_role IN ('confirm', 'optout'));
    CREATE UNIQUE INDEX mailings_account_system_role ON mailings (account_id, system_role) WHERE system_role IS NOT NULL;
    ALTER TABLE accounts ADD COLUMN confirm_mailing_id bigint REFERENCES mailings ON DELETE SET NULL;
    UPDATE lists SET confirm_mailing_id = NULL WHERE confirm_mailing_id NOT IN (SELECT id FROM mailings);
    ALTER TABLE lists ADD CONSTRAINT lists_confirm_mailing_fk FOREIGN KEY (confirm_mailing_id) REFERENCES mailings ON DELETE SET NULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE lists DROP CONSTRAINT lists_confirm_mailing_fk;
    ALTER TABLE accounts DROP COLUMN confirm_mailing_id;
    DROP INDEX mailings_account_system_role;
    ALTER TABLE mailings DROP COLUMN system_role;
  `);
}

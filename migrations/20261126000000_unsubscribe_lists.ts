/**
 * Unsubscribe lists (Sender's `unsubscribe/list/<slug>`): named sets of addresses of an account. A mailing
 * names the unsubscribe lists it honours (mailing_unsubscribe_lists): its sends skip their addresses, and an
 * unsubscribe link in its messages adds the address to them instead of suppressing it for the whole account.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE unsubscribe_lists (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      slug text NOT NULL,
      name text NOT NULL DEFAULT '',
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (account_id, slug)
    );
    CREATE TABLE unsubscribe_list_entries (
      unsubscribe_list_id bigint NOT NULL REFERENCES unsubscribe_lists(id) ON DELETE CASCADE,
      email_key text NOT NULL,
      email text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (unsubscribe_list_id, email_key)
    );
    CREATE INDEX unsubscribe_list_entries_created ON unsubscribe_list_entries (unsubscribe_list_id, created_at, email_key);
    CREATE TABLE mailing_unsubscribe_lists (
      mailing_id bigint NOT NULL REFERENCES mailings(id) ON DELETE CASCADE,
      unsubscribe_list_id bigint NOT NULL REFERENCES unsubscribe_lists(id) ON DELETE CASCADE,
      PRIMARY KEY (mailing_id, unsubscribe_list_id)
    );
    CREATE INDEX mailing_unsubscribe_lists_list ON mailing_unsubscribe_lists (unsubscribe_list_id);`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE mailing_unsubscribe_lists, unsubscribe_list_entries, unsubscribe_lists');
}

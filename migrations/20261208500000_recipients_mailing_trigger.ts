/**
 * Recipients without a foreign-key check per row. The key recipients.mailing_id -> mailings ran a trigger for
 * every inserted recipient that locked its mailing's row (FOR KEY SHARE): 12-17 of the ~38 µs Postgres spends
 * per row of an add_recipients COPY, and, with many transactional messages of one campaign at once, a
 * multixact on that one row rebuilt by every insert. The key is replaced by what it guaranteed:
 * - every statement that inserts recipients holds its mailing still while it runs: insertMany under the
 *   mailing row's share lock (src/core/recipients), takeSnapshots under the send row's update lock (a
 *   mailing's deletion deletes its sends first and waits for that lock);
 * - deleting a mailing deletes its recipients: the mailing's deletion deletes its sends (their key's cascade),
 *   and a row trigger on sends deletes the send's recipients. On sends, not on mailings: it then runs after
 *   the sends' own key actions (the bounce log's send_id cleared, triggers fire in name order and those come
 *   first), so the references the recipients' deletion clears in turn (bounces.recipient_id) meet no send
 *   that is gone; a trigger on mailings ran before them and failed on that key.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE recipients DROP CONSTRAINT IF EXISTS recipients_mailing_id_fkey;
    CREATE FUNCTION sends_delete_recipients() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        DELETE FROM recipients WHERE mailing_id = OLD.mailing_id AND (send_id = OLD.id OR send_id IS NULL);
        RETURN OLD;
      END $$;
    CREATE TRIGGER sends_delete_recipients AFTER DELETE ON sends FOR EACH ROW EXECUTE FUNCTION sends_delete_recipients();`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER sends_delete_recipients ON sends;
    DROP FUNCTION sends_delete_recipients();
    DELETE FROM recipients r WHERE NOT EXISTS (SELECT 1 FROM mailings m WHERE m.id = r.mailing_id);
    ALTER TABLE recipients ADD CONSTRAINT recipients_mailing_id_fkey FOREIGN KEY (mailing_id) REFERENCES mailings ON DELETE CASCADE;`);
}

/**
 * Bulk writes of subscribers without a foreign-key check per row. The key subscribers.list_id -> lists cost a
 * trigger call for every inserted row (a fifth of an import's time); instead, the one statement that inserts
 * subscribers locks its list (FOR KEY SHARE) and inserts nothing when the list is gone, and deleting a list
 * deletes its subscribers (a row trigger on lists, which are few). Deleting subscribers clears the references
 * of recipients and events: indexed now, so a big list is deleted without a scan of them per subscriber.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE subscribers DROP CONSTRAINT IF EXISTS subscribers_list_id_fkey;
    CREATE FUNCTION lists_delete_subscribers() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        DELETE FROM subscribers WHERE list_id = OLD.id;
        RETURN OLD;
      END $$;
    CREATE TRIGGER lists_delete_subscribers AFTER DELETE ON lists FOR EACH ROW EXECUTE FUNCTION lists_delete_subscribers();
    CREATE INDEX IF NOT EXISTS recipients_subscriber ON recipients (subscriber_id) WHERE subscriber_id IS NOT NULL;
    CREATE INDEX IF NOT EXISTS events_subscriber ON events (subscriber_id) WHERE subscriber_id IS NOT NULL;`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX IF EXISTS recipients_subscriber, events_subscriber;
    DROP TRIGGER lists_delete_subscribers ON lists;
    DROP FUNCTION lists_delete_subscribers();
    DELETE FROM subscribers s WHERE NOT EXISTS (SELECT 1 FROM lists l WHERE l.id = s.list_id);
    ALTER TABLE subscribers ADD CONSTRAINT subscribers_list_id_fkey FOREIGN KEY (list_id) REFERENCES lists ON DELETE CASCADE;`);
}

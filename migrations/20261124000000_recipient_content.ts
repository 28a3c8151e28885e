/**
 * A recipient's own content: a transactional message (Mailkit's sendmail) may bring its own subject and
 * body for that one message. Null for every other recipient: the mailing's message is theirs.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE recipients ADD COLUMN content jsonb`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE recipients DROP COLUMN content`);
}

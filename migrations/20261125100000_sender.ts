/**
 * Sender's transactional sends: a message may wait (`countdown`: its recipient's next_try) and expire
 * (`expires`: recipients.expires_at; a recipient claimed after it ends TIMEOUT unsent).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE recipients ADD COLUMN expires_at timestamptz`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE recipients DROP COLUMN expires_at`);
}

/**
 * Sender's transactional sends: a message may wait (`countdown`: its recipient's next_try) and expire
 * (`expires`: recipients.expires_at; a recipient claimed after it ends TIMEOUT unsent). A transactional
 * mailing's send jobs go first in the worker queue (mailings.transactional: graphile-worker priority).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE recipients ADD COLUMN expires_at timestamptz;
    ALTER TABLE mailings ADD COLUMN transactional boolean NOT NULL DEFAULT false;`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE recipients DROP COLUMN expires_at;
    ALTER TABLE mailings DROP COLUMN transactional;`);
}

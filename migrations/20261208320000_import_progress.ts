/**
 * An import's progress as the admin pages show it, from any process: the first rejected records (line and
 * reason) and, when the file stopped it part way (a broken quote), why. The import row stays `running` then:
 * importing the same file again resumes after its last committed batch, and clears the error.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE imports ADD COLUMN rejects jsonb NOT NULL DEFAULT '[]'::jsonb;
    ALTER TABLE imports ADD COLUMN error text;`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE imports DROP COLUMN rejects, DROP COLUMN error');
}

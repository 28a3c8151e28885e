/**
 * CSV imports (`mailgate import`): one row per import of a file (by its SHA-256) into a list, with the
 * revision its subscribers get and how far it got. Each batch commits with its checkpoint, so an interrupted
 * import resumes after the last committed batch when it is run again on the same file.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE imports (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
      list_id bigint NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
      file_sha256 text NOT NULL,
      file_name text NOT NULL,
      rev bigint NOT NULL,
      disable_others boolean NOT NULL,
      records_done bigint NOT NULL DEFAULT 0,
      inserted bigint NOT NULL DEFAULT 0,
      updated bigint NOT NULL DEFAULT 0,
      rejected bigint NOT NULL DEFAULT 0,
      disabled_others bigint NOT NULL DEFAULT 0,
      status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done')),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX imports_running ON imports (list_id, file_sha256) WHERE status = 'running';`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE imports');
}

/**
 * Tasks name their queue (`list:<id>` for a list's bulk calls) and carry an insertion order, so that the job
 * running one task can go on with the next pending tasks of its queue, in order, while it holds the queue.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE tasks ADD COLUMN queue text, ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
    UPDATE tasks SET queue = 'list:' || (params->>'listId') WHERE params->>'listId' IS NOT NULL;
    CREATE INDEX tasks_unfinished ON tasks (queue, seq) WHERE status IN ('pending', 'started');`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE tasks DROP COLUMN queue, DROP COLUMN seq');
}

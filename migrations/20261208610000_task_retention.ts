/**
 * Finished tasks are purged after TASK_RETENTION_DAYS (the worker's minute sweep, src/db/tasks.ts purge): the
 * partial index finds them without reading the unfinished ones. A task's items (a bulk PUT's thousand
 * subscribers, a bulk DELETE's addresses) are dropped when it finishes, since nothing reads them after; this
 * migration drops those of the tasks already finished.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE INDEX tasks_finished ON tasks (updated_at) WHERE status IN ('success', 'failure');
    UPDATE tasks SET params = params - 'items' - 'emailKeys'
     WHERE status IN ('success', 'failure') AND (params->'items' IS NOT NULL OR params->'emailKeys' IS NOT NULL);`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX tasks_finished');
}

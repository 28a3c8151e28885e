/**
 * A bulk PUT task's list revision is a column of its own, written by the last statement of the call's
 * transaction together with the task's place in its queue (see placePut in src/db/tasks.ts): the task's
 * params are written before, without the list's row locked. Unfinished tasks made before keep the revision
 * their params carried.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE tasks ADD COLUMN rev bigint;
    UPDATE tasks SET rev = (params->>'rev')::bigint
     WHERE kind = 'subscribers.put' AND status IN ('pending', 'started') AND params->>'rev' IS NOT NULL;`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE tasks DROP COLUMN rev');
}

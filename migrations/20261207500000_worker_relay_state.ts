/**
 * Each worker heartbeats whether its relays answer (`relay_up`: true when at least one relay of SMTP_URL, or
 * the capture without one, is not marked down in that worker), so an HTTP-only node's /healthz can say
 * whether mail can leave. NULL: not reported (a worker of an earlier version).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE workers ADD COLUMN relay_up boolean');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE workers DROP COLUMN relay_up');
}

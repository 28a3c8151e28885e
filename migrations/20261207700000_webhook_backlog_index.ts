/**
 * The webhook backlog (the `mailgate_webhook_deliveries_pending` gauge of /metrics, read at scrape time) counts
 * the messages still to deliver; delivered and failed ones are kept for WEBHOOK_RETENTION_DAYS, so the count
 * reads an index of the pending ones only.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX webhook_messages_pending ON webhook_messages (endpoint_id) WHERE state = 'pending'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX webhook_messages_pending');
}

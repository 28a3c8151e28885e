/**
 * Click tracking is on by default for Mailkit, Emailicious and Yandex Sender mailings (their services track
 * opens and clicks without being asked; see trackingDefaults in src/core/delivery/links.ts): mailings made
 * before get the same default. CloudMailing keeps the original's (opens on, clicks off); Mailgate's own
 * messages never track, whatever their flags say.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`UPDATE mailings SET click_tracking = true WHERE dialect IN ('mailkit', 'emailicious', 'sender') AND NOT click_tracking`);
}

export async function down(): Promise<void> {
  // Nothing to undo: which mailings had the old default is not known any more, and both values are valid.
}

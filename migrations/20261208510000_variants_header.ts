/**
 * variants.header: the stored message's header block, blank line included (the whole message when it has
 * none; null without a message), which every mailing read answers (src/db/mailings.ts). It was cut from
 * raw_message at each read: a listing decompressed up to 64 KiB of every listed mailing's message per call,
 * most of its statement's cost. A stored generated column: Postgres keeps it in step with raw_message on every
 * write that sets raw_message, whichever statement writes it, and adding it computes it for the existing rows.
 *
 * The cut is the one the reads made: the first CRLF CRLF looked for in the first 64 KiB, and in the whole
 * message only when not found there (a match in the prefix is the message's first, so this is the first
 * match), so that computing it for a stored row being rewritten decompresses only that prefix.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE variants ADD COLUMN header bytea GENERATED ALWAYS AS (
      substring(raw_message FROM 1 FOR coalesce(
        nullif(position('\\x0d0a0d0a'::bytea IN substring(raw_message FROM 1 FOR 65536)), 0) + 3,
        nullif(position('\\x0d0a0d0a'::bytea IN raw_message), 0) + 3,
        octet_length(raw_message)))) STORED`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE variants DROP COLUMN header');
}

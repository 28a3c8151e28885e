/**
 * Emailicious: mailings with several variants and deliveries, sent to a list's subscribers.
 *
 * - lists.languages: the languages a list offers (its default is lists.language).
 * - sends.from_list: a delivery whose recipients are the mailing's list, snapshotted when it starts
 *   (sends.snapshot_at; once), narrowed by the mailing's segments and its variant's language, minus the
 *   send's exclusions (segment ids), at most its limit.
 * - segments: a named part of a list: the subscribers whose params contain `conditions` (jsonb @>).
 * - variants.layout_key: the unguessable part of the URLs a layout's images are served under;
 *   layout_images holds those images (from the layout's zip).
 * - sends.variant_id is required to be one of its mailing's variants (already so by construction).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE lists ADD COLUMN languages text[] NOT NULL DEFAULT '{}';
    ALTER TABLE sends
      ADD COLUMN from_list    boolean NOT NULL DEFAULT false,
      ADD COLUMN snapshot_at  timestamptz;
    ALTER TABLE variants ADD COLUMN layout_key text UNIQUE;
    CREATE INDEX sends_variant ON sends (variant_id);
    CREATE INDEX mailings_list ON mailings (list_id, id) WHERE list_id IS NOT NULL;

    CREATE TABLE layout_images (
      variant_id    bigint NOT NULL REFERENCES variants ON DELETE CASCADE,
      path          text NOT NULL,
      content_type  text NOT NULL,
      data          bytea NOT NULL,
      PRIMARY KEY (variant_id, path)
    );

    CREATE TABLE segments (
      id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      account_id  bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
      list_id     bigint NOT NULL REFERENCES lists ON DELETE CASCADE,
      name        text NOT NULL,
      conditions  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(conditions) = 'object'),
      created_at  timestamptz NOT NULL DEFAULT now(),
      UNIQUE (list_id, name)
    );
    CREATE INDEX segments_account ON segments (account_id, list_id);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE IF EXISTS segments, layout_images;
    DROP INDEX IF EXISTS sends_variant;
    DROP INDEX IF EXISTS mailings_list;
    ALTER TABLE variants DROP COLUMN IF EXISTS layout_key;
    ALTER TABLE sends DROP COLUMN IF EXISTS from_list, DROP COLUMN IF EXISTS snapshot_at;
    ALTER TABLE lists DROP COLUMN IF EXISTS languages;
  `);
}

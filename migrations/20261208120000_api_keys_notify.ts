/**
 * API keys are cached in every API process (src/core/accounts/service.ts), each listening on the channel
 * `mailgate_api_keys`: any statement that can end a key's validity or change whose it is (a revoke, a key or
 * an account deleted or renamed, by any path: the CLI, the admin pages, a cascade) notifies it, in its own
 * transaction, so the caches drop what they hold once it commits. `last_used_at` (written by authentication
 * itself) notifies nothing.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION api_keys_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM pg_notify('mailgate_api_keys', '');
      RETURN NULL;
    END $fn$;
    CREATE TRIGGER api_keys_changed AFTER UPDATE OF revoked_at, secret_hash, account_id OR DELETE OR TRUNCATE ON api_keys
      FOR EACH STATEMENT EXECUTE FUNCTION api_keys_changed();
    CREATE TRIGGER accounts_changed AFTER UPDATE OF slug OR DELETE OR TRUNCATE ON accounts
      FOR EACH STATEMENT EXECUTE FUNCTION api_keys_changed();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER accounts_changed ON accounts;
    DROP TRIGGER api_keys_changed ON api_keys;
    DROP FUNCTION api_keys_changed();
  `);
}

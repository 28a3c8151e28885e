/**
 * Operators (the people who sign in to /admin) and their sessions.
 *
 * - operators.password_hash is `scrypt$N$r$p$<salt b64>$<hash b64>` (src/core/operators/password.ts): the
 *   parameters travel with the hash, so raising them later leaves old hashes verifiable.
 * - A session id is 256 random bits held only by the browser; the table keeps its SHA-256, so a read of the
 *   table (a backup, a replica) yields no usable cookie. The CSRF token is the session's own (synchronizer
 *   token), stored as it is: it is no credential without the cookie.
 * - A session ends at expires_at (absolute) or when unused for the idle limit (last_seen_at); both are checked
 *   in the lookup's WHERE, so an expired row is never a session even before it is swept.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE operators (
      id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      login          text NOT NULL CHECK (login ~ '^[A-Za-z0-9._@+-]{1,100}$'),
      password_hash  text NOT NULL,
      created_at     timestamptz NOT NULL DEFAULT now(),
      password_changed_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX operators_login ON operators (lower(login));

    CREATE TABLE operator_sessions (
      id_hash       bytea PRIMARY KEY,
      operator_id   bigint NOT NULL REFERENCES operators ON DELETE CASCADE,
      csrf_token    text NOT NULL,
      created_at    timestamptz NOT NULL DEFAULT now(),
      last_seen_at  timestamptz NOT NULL DEFAULT now(),
      expires_at    timestamptz NOT NULL
    );
    CREATE INDEX operator_sessions_operator ON operator_sessions (operator_id);
    CREATE INDEX operator_sessions_expires ON operator_sessions (expires_at);
    CREATE INDEX captured_messages_received ON captured_messages (received_at);`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE operator_sessions; DROP TABLE operators; DROP INDEX captured_messages_received;');
}

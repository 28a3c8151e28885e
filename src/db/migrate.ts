/**
 * Schema migrations: ours (knex, migrations/) and then graphile-worker's own schema.
 */
import knexFactory from 'knex';
import { runMigrations } from 'graphile-worker';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

export async function migrate(databaseUrl: string): Promise<void> {
  const knex = knexFactory({
    client: 'pg',
    connection: databaseUrl,
    pool: { min: 0, max: 1 },
    migrations: { directory: MIGRATIONS_DIR, loadExtensions: ['.ts'], tableName: 'knex_migrations' },
  });
  try {
    await knex.migrate.latest();
  } finally {
    await knex.destroy();
  }
  await runMigrations({ connectionString: databaseUrl, logger: silentGraphileLogger });
}

/** Create the database when missing (the embedded cluster starts with only `postgres`). */
export async function ensureDatabase(maintenanceUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: maintenanceUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

import { Logger as GraphileLogger } from 'graphile-worker';
export const silentGraphileLogger = new GraphileLogger(() => () => undefined);

/**
 * Schema migrations: ours (knex, migrations/) and then graphile-worker's own schema.
 *
 * Every installation's knex_migrations holds each migration under its TypeScript file name
 * (`20261122000000_core_schema.ts`: knex once loaded migrations/*.ts itself). Those names are the migrations'
 * identities for good: the list is always read from migrations/*.ts, and built code (dist/) runs the compiled
 * module of the same name (dist/migrations/*.js), so a database migrated from the sources is current for the
 * build and the other way round.
 */
import { readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import type { Knex } from 'knex';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Running as built JavaScript (dist/db/migrate.js) rather than through a TypeScript loader (src/db/migrate.ts). */
const built = import.meta.url.endsWith('.js');

/** The migration sources. dist/ mirrors src/ at the same depth, so this holds for both. */
export const MIGRATIONS_DIR = path.resolve(here, '../../migrations');
/** Where the build puts the compiled migrations (see tsconfig.build.json). */
const COMPILED_DIR = path.resolve(here, '../migrations');

/** The names knex records, in the order it runs them (its own loader sorted file names the same way). */
export async function migrationNames(): Promise<string[]> {
  return (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).sort();
}

const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: () => migrationNames(),
  getMigrationName: (name) => name,
  async getMigration(name) {
    if (!built) return (await import(pathToFileURL(path.join(MIGRATIONS_DIR, name)).href)) as Knex.Migration;
    const compiled = path.join(COMPILED_DIR, name.replace(/\.ts$/, '.js'));
    try {
      return (await import(pathToFileURL(compiled).href)) as Knex.Migration;
    } catch (e) {
      // A migration added since the last build: run `npm run build` (npm install does).
      if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes(compiled)) {
        throw new Error(`migration ${name} is not built (no ${path.relative(process.cwd(), compiled)}): run npm run build`, { cause: e });
      }
      throw e;
    }
  },
};

/** Our migrations, then graphile-worker's (both loaded here only: one-shot commands rarely need them). */
export async function migrate(databaseUrl: string): Promise<void> {
  const { default: knexFactory } = await import('knex');
  const knex = knexFactory({
    client: 'pg',
    connection: databaseUrl,
    pool: { min: 0, max: 1 },
    migrations: { migrationSource, tableName: 'knex_migrations' },
  });
  try {
    await knex.migrate.latest();
  } finally {
    await knex.destroy();
  }
  const { Logger, runMigrations } = await import('graphile-worker');
  await runMigrations({ connectionString: databaseUrl, logger: new Logger(() => () => undefined) });
}

/**
 * migrate(), unless the schema is current: exactly our migrations recorded and graphile-worker's newest one.
 * One query instead of loading knex and graphile-worker, for commands that run often (`mailgate keys list`).
 * Anything unusual (a table missing, a name we do not know, an unreadable graphile-worker package) takes the
 * full path, which says what is wrong.
 */
export async function migrateIfBehind(databaseUrl: string): Promise<void> {
  if (!(await schemaIsCurrent(databaseUrl))) await migrate(databaseUrl);
}

/** graphile-worker's newest migration, by file name (000019.sql: 19), as its own migrate() numbers them. Throws when unreadable. */
export function newestWorkerMigration(): number {
  const { migrations } = createRequire(import.meta.url)('graphile-worker/dist/generated/sql.js') as { migrations: Record<string, string> };
  return Math.max(...Object.keys(migrations).map((f) => parseInt(f.slice(0, 6), 10)));
}

export async function schemaIsCurrent(databaseUrl: string): Promise<boolean> {
  let newestWorker: number;
  try {
    newestWorker = newestWorkerMigration();
  } catch {
    return false;
  }
  if (!Number.isFinite(newestWorker)) return false;
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ names: string[] | null; worker: number | null }>(
      `SELECT (SELECT array_agg(name) FROM knex_migrations) AS names,
              (SELECT max(id) FROM graphile_worker.migrations) AS worker`,
    );
    const names = await migrationNames();
    const recorded = (rows[0]?.names ?? []).sort();
    return rows[0]?.worker === newestWorker && recorded.length === names.length && names.every((n, i) => recorded[i] === n);
  } catch {
    // No knex_migrations or graphile_worker schema yet (a new database), or no connection: migrate() says which.
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
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

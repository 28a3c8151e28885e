/**
 * Migrations from the built CLI. knex records each migration under the name it was run by; every existing
 * installation recorded migrations/*.ts file names (knex once loaded the TypeScript itself). The build runs the
 * compiled modules under those same names: a database migrated by earlier versions, or from the sources (the
 * tests' template, migrated by test/support/run.ts), is current for the build, and one the build migrates
 * looks the same.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import knexFactory from 'knex';
import { Logger, runMigrations } from 'graphile-worker';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { runProcess } from '../support/process.js';

const root = path.resolve(import.meta.dirname, '../..');
const mailgate = (databaseUrl: string, ...args: string[]) =>
  runProcess(process.execPath, [path.join(root, 'bin/mailgate.js'), ...args], { env: { DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' } });

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

const knexMigrations = (url: string) =>
  query<{ id: number; name: string; batch: number; migration_time: Date }>(url, 'SELECT id, name, batch, migration_time FROM knex_migrations ORDER BY id');
const workerMigrations = (url: string) => query<{ id: number }>(url, 'SELECT id FROM graphile_worker.migrations ORDER BY id');

const dropped: (() => Promise<void>)[] = [];
after(async () => {
  for (const drop of dropped) await drop();
});

async function clone(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  dropped.push(() => db.drop());
  return db;
}

/** A database with nothing in it (not the migrated template). */
async function emptyDatabase(): Promise<string> {
  const admin = process.env.MAILGATE_TEST_ADMIN_URL;
  assert.ok(admin, 'run through npm test');
  const name = `t_empty_${randomBytes(5).toString('hex')}`;
  await query(admin, `CREATE DATABASE ${name}`);
  dropped.push(async () => void (await query(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)));
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

describe('cli: migrations of the built CLI keep the names the sources recorded', () => {
  it('a database migrated from the TypeScript sources: `mailgate migrate` runs nothing again', async () => {
    const db = await clone();
    const before = await knexMigrations(db.url);
    const files = (await readdir(path.join(root, 'migrations'))).filter((f) => f.endsWith('.ts')).sort();
    assert.deepEqual(
      before.map((m) => m.name),
      files,
      'the template recorded every migrations/*.ts by its file name',
    );
    const workers = await workerMigrations(db.url);

    const r = await mailgate(db.url, 'migrate');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'schema up to date');
    assert.deepEqual(await knexMigrations(db.url), before, 'knex_migrations unchanged');
    assert.deepEqual(await workerMigrations(db.url), workers);
  });

  it('a database migrated as earlier versions did (knex loading migrations/*.ts itself): `mailgate migrate` runs nothing again', async () => {
    const url = await emptyDatabase();
    // The configuration of src/db/migrate.ts before the build existed; this test process runs TypeScript (tsx).
    const knex = knexFactory({
      client: 'pg',
      connection: url,
      pool: { min: 0, max: 1 },
      migrations: { directory: path.join(root, 'migrations'), loadExtensions: ['.ts'], tableName: 'knex_migrations' },
    });
    try {
      await knex.migrate.latest();
    } finally {
      await knex.destroy();
    }
    await runMigrations({ connectionString: url, logger: new Logger(() => () => undefined) });
    const before = await knexMigrations(url);
    assert.ok(before.length > 0);

    const r = await mailgate(url, 'migrate');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await knexMigrations(url), before, 'knex_migrations unchanged');
    const listed = await mailgate(url, 'accounts', 'list', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(await knexMigrations(url), before);
  });

  it('a new database: a one-shot command migrates it, recording the names the sources record; `migrate` then runs nothing', async () => {
    const url = await emptyDatabase();
    const listed = await mailgate(url, 'accounts', 'list', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout), []);
    const template = await knexMigrations((await clone()).url);
    const built = await knexMigrations(url);
    assert.deepEqual(
      built.map((m) => m.name),
      template.map((m) => m.name),
    );
    assert.deepEqual(await workerMigrations(url), await workerMigrations((await clone()).url));

    assert.equal((await mailgate(url, 'migrate')).code, 0);
    assert.deepEqual(await knexMigrations(url), built);
  });

  it('on a current schema, one-shot commands do not run the migrations; `mailgate migrate` always does', async () => {
    const db = await clone();
    // knex refuses to migrate while its lock is taken: only a command that skips the migrations can succeed.
    await query(db.url, 'UPDATE knex_migrations_lock SET is_locked = 1');
    const listed = await mailgate(db.url, 'keys', 'list', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout), []);

    const migrated = await mailgate(db.url, 'migrate');
    assert.equal(migrated.code, 1);
    assert.equal(migrated.stderr.trim().split('\n').length, 1, migrated.stderr);
    assert.match(migrated.stderr, /^error: .*locked/);
  });
});

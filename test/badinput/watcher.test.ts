/**
 * The corpus skips a case's snapshot when writeWatcher (test/support/snapshot.ts) says nothing can have been
 * stored: that must never be said of a write, committed before the reading or after it, nor of a transaction
 * still open. Real Postgres, two connections of their own (the pool, and one that writes). Transaction ids are
 * the cluster's, given out to other test files too: a quiet answer is never asserted here, only the answers that
 * must not be quiet.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { writeWatcher } from '../support/snapshot.js';

let db: TestDatabase;
let pool: pg.Pool;
let writer: pg.Client;

before(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  writer = new pg.Client({ connectionString: db.url });
  await writer.connect();
  await writer.query('CREATE TABLE w (n int PRIMARY KEY)');
});
after(async () => {
  await writer?.end();
  await pool?.end();
  await db?.drop();
});

describe('writeWatcher', () => {
  it('is not quiet after a write, a rolled-back one, a row lock', async () => {
    const w = await writeWatcher(pool);
    await writer.query('INSERT INTO w VALUES (1)');
    assert.equal(await w.changed(), true);
    await writer.query('BEGIN');
    await writer.query('INSERT INTO w VALUES (2)');
    await writer.query('ROLLBACK');
    assert.equal(await w.changed(), true, 'maybe: the caller compares snapshots');
    await writer.query('SELECT * FROM w FOR UPDATE');
    assert.equal(await w.changed(), true);
  });

  it('is never quiet while a writing transaction is open, nor at the reading after it ends', async () => {
    const w = await writeWatcher(pool);
    await writer.query('BEGIN');
    await writer.query('INSERT INTO w VALUES (3)');
    // Its id was given out before these readings: without `settled` the second would look quiet.
    assert.equal(await w.changed(), true);
    assert.equal(await w.changed(), true);
    await writer.query('COMMIT');
    assert.equal(await w.changed(), true, 'the commit since the last reading');
  });
});

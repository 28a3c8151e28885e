/**
 * The migrated schema: every foreign key has an index that starts with its columns. Without one, deleting
 * (or re-keying) a referenced row makes Postgres scan the whole referencing table once per row: deleting a
 * mailing of 200,000 recipients with a bounce log of 1,000,000 rows (bounces.recipient_id, ON DELETE SET
 * NULL) ran for hours and held the rows its send was writing (found by `npm run bench`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
let client: pg.Client;
before(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});
after(async () => {
  await client.end();
  await db.drop();
});

describe('schema', () => {
  it('every foreign key of our tables is backed by an index leading with its columns', async () => {
    const { rows: keys } = await client.query<{ fk: string; tbl: string; cols: number[] }>(
      `SELECT c.conname AS fk, c.conrelid::regclass::text AS tbl, c.conkey::int[] AS cols
         FROM pg_constraint c
        WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace`,
    );
    assert.ok(keys.length > 20, `the schema's foreign keys were read (${keys.length})`);
    const { rows: indexes } = await client.query<{ tbl: string; cols: number[]; name: string }>(
      `SELECT i.indrelid::regclass::text AS tbl, string_to_array(i.indkey::text, ' ')::int[] AS cols, i.indexrelid::regclass::text AS name
         FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
        WHERE t.relnamespace = 'public'::regnamespace`,
    );
    const backed = (k: { tbl: string; cols: number[] }) =>
      indexes.some((i) => i.tbl === k.tbl && [...i.cols.slice(0, k.cols.length)].sort().join() === [...k.cols].sort().join());
    const missing = keys.filter((k) => !backed(k)).map((k) => `${k.tbl}.${k.fk}`);
    assert.deepEqual(missing, [], 'foreign keys without an index');
  });
});

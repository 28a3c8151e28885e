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
  it('send_deadline: max_duration_minutes after the actual start, or scheduled_end, whichever comes first', async () => {
    const deadline = async (s: { scheduled_end: string | null; max_duration_minutes: number; started_at: string | null }) => {
      const { rows } = await client.query<{ d: Date | null }>('SELECT send_deadline(jsonb_populate_record(NULL::sends, $1::jsonb)) AS d', [JSON.stringify(s)]);
      return rows[0]!.d;
    };
    const started = '2026-01-01T10:00:00Z';
    const at = (iso: string) => new Date(iso);
    assert.deepEqual(await deadline({ scheduled_end: null, max_duration_minutes: 1, started_at: started }), at('2026-01-01T10:01:00Z'));
    assert.deepEqual(await deadline({ scheduled_end: null, max_duration_minutes: 1440, started_at: started }), at('2026-01-02T10:00:00Z'));
    assert.equal(await deadline({ scheduled_end: null, max_duration_minutes: 1, started_at: null }), null, 'not started: no deadline yet');
    assert.equal(await deadline({ scheduled_end: null, max_duration_minutes: 0, started_at: started }), null, '0: no limit');
    assert.deepEqual(await deadline({ scheduled_end: '2026-01-01T10:00:30Z', max_duration_minutes: 1, started_at: started }), at('2026-01-01T10:00:30Z'));
    assert.deepEqual(await deadline({ scheduled_end: '2026-01-01T11:00:00Z', max_duration_minutes: 1, started_at: started }), at('2026-01-01T10:01:00Z'));
    assert.deepEqual(await deadline({ scheduled_end: '2026-01-01T11:00:00Z', max_duration_minutes: 0, started_at: null }), at('2026-01-01T11:00:00Z'));
  });
});

/**
 * What is stored, as a value to compare: per base table, its row count and an md5 of its rows (as text,
 * sorted), read in one statement. Taken before and after a request, it tells whether the request stored
 * anything, and where.
 *
 * Left out, because they change without anything being stored by a call: `api_keys.last_used_at`, stamped by a
 * successful authentication (at most once a minute). The auth failure limiter lives in memory, not in a table.
 */
import { createHash } from 'node:crypto';
import type { Pool } from '../../src/db/pool.js';

export interface TableState {
  rows: number;
  md5: string;
}
export type Snapshot = Record<string, TableState>;

const VOLATILE: Record<string, string[]> = { 'public.api_keys': ['last_used_at'] };

const q = (id: string) => `"${id.replace(/"/g, '""')}"`;

/**
 * A reader of every base table of `schemas`. With `where`, each table is read through the condition it
 * returns (an account's rows: `account_id = 7`), whole when it returns undefined, not at all when null.
 */
export async function snapshotReader(
  pool: Pool,
  o: { schemas?: string[]; where?: (table: string, columns: string[]) => string | null | undefined } = {},
): Promise<() => Promise<Snapshot>> {
  const schemas = o.schemas ?? ['public', 'graphile_worker'];
  const { rows } = await pool.query<{ schema: string; name: string; columns: string[] }>(
    `SELECT c.table_schema AS schema, c.table_name AS name, array_agg(c.column_name::text ORDER BY c.ordinal_position) AS columns
       FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
      WHERE c.table_schema = ANY($1)
      GROUP BY 1, 2 ORDER BY 1, 2`,
    [schemas],
  );
  const sql = rows
    .flatMap(({ schema, name, columns }) => {
      const kept = columns.filter((c) => !VOLATILE[`${schema}.${name}`]?.includes(c)).map(q);
      const condition = o.where?.(`${schema}.${name}`, columns);
      if (condition === null) return [];
      const filter = condition === undefined ? '' : ` WHERE ${condition}`;
      return `SELECT '${schema}.${name}' AS t, count(*)::int AS n, md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) AS d FROM (SELECT ${kept.join(', ')} FROM ${q(schema)}.${q(name)}${filter}) r`;
    })
    .join('\nUNION ALL\n');
  // A named statement: its plan (a branch per table) is made once per connection, not at every reading.
  const name = `snapshot_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`;
  return async () =>
    Object.fromEntries((await pool.query<{ t: string; n: number; d: string }>({ name, text: sql })).rows.map((r) => [r.t, { rows: r.n, md5: r.d }]));
}

/** The tables whose rows differ between two snapshots, with their row counts before and after. */
export function changedTables(before: Snapshot, after: Snapshot): string[] {
  return Object.keys({ ...before, ...after })
    .filter((t) => before[t]?.md5 !== after[t]?.md5 || before[t]?.rows !== after[t]?.rows)
    .map((t) => `${t} (${before[t]?.rows ?? 0} -> ${after[t]?.rows ?? 0} rows)`);
}

/**
 * A cheap proof that nothing was stored since the last reading, to spare a snapshot: no row of any table
 * changes without a transaction id, and none is given out but to a transaction that writes or locks rows (or
 * asks for one, as each reading does). A reading is settled when every transaction id given out before it has
 * ended (its statement's snapshot has none in progress, and the next id is its own): what it sees is then the
 * work of all of them. Two settled readings one id apart, with no id given out between them, see the same
 * rows in every table — a snapshot (above) taken between them reads the same. Anything else (a rolled-back
 * insert, a row lock, a key's usage stamp, a transaction still open) says only that something may have been
 * stored: `changed` answers true and the caller compares snapshots. Sequences change without an id, and
 * snapshots leave them out too.
 */
export async function writeWatcher(pool: Pool): Promise<{ changed(): Promise<boolean> }> {
  const read = async () => {
    const { rows } = await pool.query<{ x: string; settled: boolean }>(
      `SELECT x::text AS x, pg_snapshot_xmax(s) = x AND NOT EXISTS (SELECT 1 FROM pg_snapshot_xip(s)) AS settled
         FROM (SELECT pg_current_snapshot() AS s, pg_current_xact_id() AS x) q`,
    );
    return { x: BigInt(rows[0]!.x), settled: rows[0]!.settled };
  };
  let last = await read();
  return {
    async changed() {
      const now = await read();
      const quiet = last.settled && now.settled && now.x === last.x + 1n;
      last = now;
      return !quiet;
    },
  };
}

/**
 * What is stored, as a value to compare: per base table, its row count and an md5 of its rows (as text,
 * sorted), read in one statement. Taken before and after a request, it tells whether the request stored
 * anything, and where.
 *
 * Left out, because they change without anything being stored by a call: `api_keys.last_used_at`, stamped by a
 * successful authentication (at most once a minute). The auth failure limiter lives in memory, not in a table.
 */
import type { Pool } from '../../src/db/pool.js';

export interface TableState {
  rows: number;
  md5: string;
}
export type Snapshot = Record<string, TableState>;

const VOLATILE: Record<string, string[]> = { 'public.api_keys': ['last_used_at'] };

const q = (id: string) => `"${id.replace(/"/g, '""')}"`;

/**
 * A reader of every base table of `schemas`. With `where`, each table that has the column it names is read
 * through that condition only (an account's rows: `{ column: 'account_id', value: 7 }`); the others whole.
 */
export async function snapshotReader(pool: Pool, o: { schemas?: string[]; where?: { column: string; value: number } } = {}): Promise<() => Promise<Snapshot>> {
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
    .map(({ schema, name, columns }) => {
      const kept = columns.filter((c) => !VOLATILE[`${schema}.${name}`]?.includes(c)).map(q);
      const filter = o.where && columns.includes(o.where.column) ? ` WHERE ${q(o.where.column)} = ${Number(o.where.value)}` : '';
      return `SELECT '${schema}.${name}' AS t, count(*)::int AS n, md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) AS d FROM (SELECT ${kept.join(', ')} FROM ${q(schema)}.${q(name)}${filter}) r`;
    })
    .join('\nUNION ALL\n');
  return async () => Object.fromEntries((await pool.query<{ t: string; n: number; d: string }>(sql)).rows.map((r) => [r.t, { rows: r.n, md5: r.d }]));
}

/** The tables whose rows differ between two snapshots, with their row counts before and after. */
export function changedTables(before: Snapshot, after: Snapshot): string[] {
  return Object.keys({ ...before, ...after })
    .filter((t) => before[t]?.md5 !== after[t]?.md5 || before[t]?.rows !== after[t]?.rows)
    .map((t) => `${t} (${before[t]?.rows ?? 0} -> ${after[t]?.rows ?? 0} rows)`);
}

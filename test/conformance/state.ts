/**
 * The two checks every cell of the matrix makes beside its answer:
 * - nothing stored changed: a digest of every table of the database (ours and graphile-worker's job queue),
 *   read in one statement, compared with the one taken before the call;
 * - the answer names nothing internal: no SQL, no stack, no path of our sources, no table name, no column
 *   name that no dialect uses on the wire, no core field name (the core's camelCase: `fromEmail`).
 */
import type { Pool } from '../../src/db/pool.js';

/**
 * Columns that change on their own and say nothing about what a call stored: a key's last use is stamped
 * (asynchronously, at most once a minute) by every successful authentication.
 */
const VOLATILE: Record<string, string[]> = { 'public.api_keys': ['last_used_at'] };

/** One statement that digests every base table: `{ "schema.table": md5 }`. */
export async function stateReader(pool: Pool): Promise<() => Promise<Record<string, string>>> {
  const { rows } = await pool.query<{ schema: string; name: string; columns: string[] }>(
    `SELECT c.table_schema AS schema, c.table_name AS name, array_agg(c.column_name::text ORDER BY c.ordinal_position) AS columns
       FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
      WHERE c.table_schema IN ('public', 'graphile_worker')
      GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  const q = (id: string) => `"${id.replace(/"/g, '""')}"`;
  const sql = rows
    .map(({ schema, name, columns }) => {
      const kept = columns.filter((c) => !VOLATILE[`${schema}.${name}`]?.includes(c)).map(q);
      return `SELECT ${`'${schema}.${name}'`} AS t, md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) AS d FROM (SELECT ${kept.join(', ')} FROM ${q(schema)}.${q(name)}) r`;
    })
    .join('\nUNION ALL\n');
  return async () => Object.fromEntries((await pool.query<{ t: string; d: string }>(sql)).rows.map((r) => [r.t, r.d]));
}

/** Names the dialects themselves put on the wire, though a column has the same name. */
const WIRE_NAMES = new Set([
  'tracking_id',
  'reply_code',
  'reply_enhanced_code',
  'reply_text',
  'try_count',
  'first_try',
  'next_try',
  'owner_guid',
  'domain_name',
  'tracking_url',
  'read_tracking',
  'click_tracking',
  'backup_customized_emails',
  'url_encoding',
  'satellite_group',
  'scheduled_start',
  'scheduled_end',
  'spread_minutes',
  'dont_close_if_empty',
  'from_name',
  'from_email',
  'replyto_email',
  'default_from_name',
  'default_from_email',
  'default_replyto_email',
  'default_language',
  'message_id',
  'task_id',
  'created_at',
  'campaign_id',
  'mailing_id',
]);
/** camelCase words of the protocols themselves (XML-RPC's envelope, its type names). */
const WIRE_CAMEL = new Set(['faultCode', 'faultString', 'methodResponse', 'methodCall', 'methodName', 'dateTime']);

const SQL =
  /\b(?:select\b[^"]*\bfrom|insert\s+into|update\s+\w+\s+set|delete\s+from|relation\s+"|violates|constraint|duplicate\s+key|syntax\s+error\s+at|invalid\s+input\s+syntax|invalid\s+byte\s+sequence|unsupported\s+unicode\s+escape|value\s+too\s+long\s+for\s+type|out\s+of\s+range\s+for\s+type|sqlstate|pg_\w+|knex|postgres|graphile)\b/i;
const STACK = /\bat\s+\S+\s+\(|\bat\s+(?:async\s+)?\/|\.[cm]?[jt]s:\d+|node_modules|\/src\/|\/work\/|\b(?:Type|Reference|Range|Syntax)Error\b/;
const CAMEL = /\b[a-z]+(?:[A-Z][a-z0-9]*)+\b/g;

/** A checker of answers against the schema as it is: the internal names an answer mentions, if any. */
export async function internalNamesChecker(pool: Pool): Promise<(text: string) => string[]> {
  const { rows } = await pool.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema IN ('public', 'graphile_worker')`,
  );
  const tables = [...new Set(rows.map((r) => r.table_name))];
  const columns = [...new Set(rows.map((r) => r.column_name))].filter((c) => c.includes('_') && !WIRE_NAMES.has(c));
  const word = (names: string[]) => new RegExp(`(?<![\\w.])(?:${names.join('|')})(?![\\w])`, 'g');
  // A table whose name is an English word ("recipients") counts only where SQL would put it.
  const tableWords = word([...tables.filter((t) => t.includes('_')), ...columns]);
  const sqlTables = new RegExp(`\\b(?:from|into|update|join|table|relation)\\s+"?(?:${tables.join('|')})\\b|\\b(?:${tables.join('|')})\\.\\w+`, 'gi');
  return (text: string) => {
    const found = [...(text.match(tableWords) ?? []), ...(text.match(sqlTables) ?? []), ...(text.match(CAMEL) ?? []).filter((w) => !WIRE_CAMEL.has(w))];
    const sql = SQL.exec(text)?.[0];
    const stack = STACK.exec(text)?.[0];
    return [...found, ...(sql ? [sql] : []), ...(stack ? [stack] : [])];
  };
}

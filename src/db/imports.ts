/** CSV imports: the row that says how far an import of one file into one list got. */
import type { Queryable } from './pool.js';

export interface ImportRow {
  id: number;
  list_id: number;
  file_sha256: string;
  rev: number;
  disable_others: boolean;
  records_done: number;
  inserted: number;
  updated: number;
  rejected: number;
  disabled_others: number;
  status: 'running' | 'done';
}

export interface ImportReject {
  line: number;
  reason: string;
}

/** An import as the admin pages show it. */
export interface ImportView extends ImportRow {
  file_name: string;
  rejects: ImportReject[];
  error: string | null;
  created_at: Date;
  updated_at: Date;
  account: string;
  list_name: string;
  list_slug: string;
}

/** How many rejected records an import keeps with their reason. */
export const MAX_REJECTS_KEPT = 20;

const COLUMNS =
  'id, list_id, file_sha256, rev::int, disable_others, records_done::int, inserted::int, updated::int, rejected::int, disabled_others::int, status';

export function importsRepo(db: Queryable) {
  return {
    /** The unfinished import of this file into this list, if any. */
    async running(listId: number, sha256: string): Promise<ImportRow | undefined> {
      const { rows } = await db.query<ImportRow>(`SELECT ${COLUMNS} FROM imports WHERE list_id = $1 AND file_sha256 = $2 AND status = 'running'`, [
        listId,
        sha256,
      ]);
      return rows[0];
    },

    async create(accountId: number, listId: number, file: { sha256: string; name: string }, rev: number, disableOthers: boolean): Promise<ImportRow> {
      const { rows } = await db.query<ImportRow>(
        `INSERT INTO imports (account_id, list_id, file_sha256, file_name, rev, disable_others) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
        [accountId, listId, file.sha256, file.name, rev, disableOthers],
      );
      return rows[0]!;
    },

    /** A batch committed: how many records are done in all, and what this batch did. */
    async advance(
      id: number,
      recordsDone: number,
      d: { inserted: number; updated: number; rejected: number; rejects?: readonly ImportReject[] },
    ): Promise<void> {
      // The first MAX_REJECTS_KEPT reasons are kept; a resumed run's clears the error that stopped the last one.
      await db.query(
        `UPDATE imports SET records_done = $2, inserted = inserted + $3, updated = updated + $4, rejected = rejected + $5, error = NULL,
                rejects = CASE WHEN jsonb_array_length(rejects) >= $7 THEN rejects
                               ELSE (SELECT coalesce(jsonb_agg(r ORDER BY n), '[]'::jsonb) FROM jsonb_array_elements(rejects || $6::jsonb) WITH ORDINALITY AS x(r, n) WHERE n <= $7) END,
                updated_at = now()
          WHERE id = $1`,
        [id, recordsDone, d.inserted, d.updated, d.rejected, JSON.stringify(d.rejects ?? []), MAX_REJECTS_KEPT],
      );
    },

    /** The file stopped the import part way (the batches before committed): why, for the progress page. */
    async fail(id: number, error: string): Promise<void> {
      await db.query('UPDATE imports SET error = $2, updated_at = now() WHERE id = $1', [id, error.slice(0, 2000)]);
    },

    /** One import with its list and account (what the admin progress page shows). */
    async view(id: number): Promise<ImportView | undefined> {
      const { rows } = await db.query<ImportView>(
        `SELECT i.id, i.list_id, i.file_sha256, i.rev::int, i.disable_others, i.records_done::int, i.inserted::int, i.updated::int, i.rejected::int,
                i.disabled_others::int, i.status, i.file_name, i.rejects, i.error, i.created_at, i.updated_at,
                a.slug AS account, l.name AS list_name, l.slug AS list_slug
           FROM imports i JOIN accounts a ON a.id = i.account_id JOIN lists l ON l.id = i.list_id WHERE i.id = $1`,
        [id],
      );
      return rows[0];
    },

    async finish(id: number, disabledOthers: number): Promise<ImportRow> {
      const { rows } = await db.query<ImportRow>(
        `UPDATE imports SET status = 'done', disabled_others = $2, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
        [id, disabledOthers],
      );
      return rows[0]!;
    },
  };
}

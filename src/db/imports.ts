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
    async advance(id: number, recordsDone: number, d: { inserted: number; updated: number; rejected: number }): Promise<void> {
      await db.query(
        `UPDATE imports SET records_done = $2, inserted = inserted + $3, updated = updated + $4, rejected = rejected + $5, updated_at = now() WHERE id = $1`,
        [id, recordsDone, d.inserted, d.updated, d.rejected],
      );
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

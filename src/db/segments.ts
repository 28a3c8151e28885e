/**
 * Segments: named parts of a list, the subscribers whose params contain the segment's conditions (jsonb
 * `@>`: every condition field equal). A mailing goes to the union of its segments (the whole list without
 * any); a delivery's exclusions are segments whose subscribers it leaves out. Every write of the table is
 * here; a delivery's snapshot (takeSnapshots in manager.ts) reads it.
 */
import { SQLSTATE, sqlState, type Queryable } from './pool.js';

export interface SegmentRow {
  id: number;
  list_id: number;
  name: string;
  conditions: Record<string, unknown>;
  created_at: Date;
}

export function segmentsRepo(db: Queryable) {
  return {
    /** A new segment of a list of the account; undefined when the list is not the account's or has one of that name. */
    async create(accountId: number, listId: number, name: string, conditions: Record<string, unknown>): Promise<number | undefined> {
      try {
        const { rows } = await db.query<{ id: number }>(
          `INSERT INTO segments (account_id, list_id, name, conditions)
           SELECT $1, id, $3, $4 FROM lists WHERE account_id = $1 AND id = $2 RETURNING id`,
          [accountId, listId, name, JSON.stringify(conditions)],
        );
        return rows[0]?.id;
      } catch (e) {
        if (sqlState(e) === SQLSTATE.uniqueViolation) return undefined;
        throw e;
      }
    },

    async list(accountId: number, listId: number | null): Promise<SegmentRow[]> {
      const { rows } = await db.query<SegmentRow>(
        'SELECT id, list_id, name, conditions, created_at FROM segments WHERE account_id = $1 AND ($2::bigint IS NULL OR list_id = $2) ORDER BY id',
        [accountId, listId],
      );
      return rows;
    },

    async delete(accountId: number, id: number): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM segments WHERE account_id = $1 AND id = $2', [accountId, id]);
      return (rowCount ?? 0) > 0;
    },

    /** Which of these ids are segments of the list. */
    async ofList(accountId: number, listId: number, ids: number[]): Promise<Set<number>> {
      if (!ids.length) return new Set();
      const { rows } = await db.query<{ id: number }>('SELECT id FROM segments WHERE account_id = $1 AND list_id = $2 AND id = ANY($3::bigint[])', [
        accountId,
        listId,
        ids,
      ]);
      return new Set(rows.map((r) => Number(r.id)));
    },
  };
}

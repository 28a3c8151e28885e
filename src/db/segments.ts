/**
 * Segments: named parts of a list, the subscribers whose params contain the segment's conditions (jsonb
 * `@>`: every condition field equal). A mailing goes to the union of its segments (the whole list without
 * any); a delivery's exclusions are segments whose subscribers it leaves out. Every write of the table is
 * here; a delivery's snapshot (takeSnapshots in manager.ts) reads it.
 */
import { SQLSTATE, sqlState, type Queryable } from './pool.js';

/**
 * Whether subscriber row `b` is in segment row `g`: the one definition of a segment's membership, used by a
 * delivery's snapshot (manager.ts) and by the counts and pages of the operator's view (below).
 */
export const segmentMatch = (b: string, g: string) => `${b}.params @> ${g}.conditions`;

export interface SegmentRow {
  id: number;
  list_id: number;
  name: string;
  conditions: Record<string, unknown>;
  created_at: Date;
}

/** A segment as the operator sees it: its account and list named, and how many subscribers it matches now. */
export interface SegmentOverviewRow extends SegmentRow {
  account_id: number;
  account: string;
  list_name: string;
  /** Subscribers of the list (any status) whose params contain the conditions. */
  matching: number;
}

/** A list a segment may be made of, with its account (the operator's create form). */
export interface SegmentListChoice {
  id: number;
  account_id: number;
  account: string;
  name: string;
}

export interface SegmentMemberRow {
  id: number;
  email: string;
  status: string;
  enabled: boolean;
  params: Record<string, unknown>;
}

const OVERVIEW_COLUMNS = `g.id, g.account_id, a.slug AS account, g.list_id, l.name AS list_name, g.name, g.conditions, g.created_at,
  (SELECT count(*)::int FROM subscribers b WHERE b.list_id = g.list_id AND ${segmentMatch('b', 'g')}) AS matching`;

export function segmentsRepo(db: Queryable) {
  return {
    ...segmentsOwnRepo(db),

    /** Every segment of the accounts in scope (null: all), oldest first. */
    async overview(scope: number | null): Promise<SegmentOverviewRow[]> {
      const { rows } = await db.query<SegmentOverviewRow>(
        `SELECT ${OVERVIEW_COLUMNS} FROM segments g JOIN accounts a ON a.id = g.account_id JOIN lists l ON l.id = g.list_id
          WHERE $1::bigint IS NULL OR g.account_id = $1 ORDER BY g.id`,
        [scope],
      );
      return rows;
    },

    async overviewOne(scope: number | null, id: number): Promise<SegmentOverviewRow | undefined> {
      const { rows } = await db.query<SegmentOverviewRow>(
        `SELECT ${OVERVIEW_COLUMNS} FROM segments g JOIN accounts a ON a.id = g.account_id JOIN lists l ON l.id = g.list_id
          WHERE ($1::bigint IS NULL OR g.account_id = $1) AND g.id = $2`,
        [scope, id],
      );
      return rows[0];
    },

    /** The lists of the accounts in scope, by account and name. */
    async listChoices(scope: number | null): Promise<SegmentListChoice[]> {
      const { rows } = await db.query<SegmentListChoice>(
        `SELECT l.id, l.account_id, a.slug AS account, l.name FROM lists l JOIN accounts a ON a.id = l.account_id
          WHERE $1::bigint IS NULL OR l.account_id = $1 ORDER BY a.slug, l.name, l.id`,
        [scope],
      );
      return rows;
    },

    /** The subscribers segment `id` matches now, newest first, older than subscriber `beforeId` (keyset). */
    async members(id: number, page: { beforeId?: number | undefined; limit: number }): Promise<SegmentMemberRow[]> {
      const { rows } = await db.query<SegmentMemberRow>(
        `SELECT b.id, b.email, b.status, b.enabled, b.params FROM segments g JOIN subscribers b ON b.list_id = g.list_id AND ${segmentMatch('b', 'g')}
          WHERE g.id = $1 AND ($2::bigint IS NULL OR b.id < $2) ORDER BY b.id DESC LIMIT $3`,
        [id, page.beforeId ?? null, page.limit],
      );
      return rows;
    },
  };
}

function segmentsOwnRepo(db: Queryable) {
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

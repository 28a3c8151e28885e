/**
 * Unsubscribes by a message's link: into the mailing's unsubscribe lists, else the account's suppression
 * (suppress() in suppressions.ts), with its event; and the unsubscribe lists themselves (Sender's
 * `unsubscribe/list/<slug>`): every write of unsubscribe_lists, unsubscribe_list_entries and
 * mailing_unsubscribe_lists is here (a send reads them to skip their addresses).
 */
import { recordEvents } from './events.js';
import { withTransaction, type Pool } from './pool.js';
import { suppress } from './suppressions.js';

export interface UnsubscribeListRow {
  id: number;
  slug: string;
  name: string;
  created_at: Date;
  /** How many addresses it holds. */
  entries: number;
}

export interface UnsubscribeEntryRow {
  email: string;
  created_at: Date;
}

/** A page of addresses of `table` (`scope` with $1 = `id`) added after `after`, oldest first, and their count. */
async function pageOf(
  db: Pool,
  table: 'unsubscribe_list_entries' | 'suppressions',
  scope: string,
  id: number,
  p: { after: Date | null; offset: number; limit: number },
): Promise<{ count: number; rows: UnsubscribeEntryRow[] }> {
  const where = `${scope} AND ($2::timestamptz IS NULL OR created_at > $2)`;
  const [count, page] = await Promise.all([
    db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, [id, p.after]),
    db.query<UnsubscribeEntryRow>(`SELECT email, created_at FROM ${table} WHERE ${where} ORDER BY created_at, email_key OFFSET $3 LIMIT $4`, [
      id,
      p.after,
      p.offset,
      p.limit,
    ]),
  ]);
  return { count: count.rows[0]!.n, rows: page.rows };
}

/** An unsubscribe list as the operator sees it, its account named. */
export interface UnsubscribeListOverviewRow extends UnsubscribeListRow {
  account_id: number;
  account: string;
}

const LIST_COLUMNS = `l.id, l.slug, l.name, l.created_at,
  (SELECT count(*)::int FROM unsubscribe_list_entries e WHERE e.unsubscribe_list_id = l.id) AS entries`;

export function unsubscribesRepo(db: Pool) {
  return {
    /** The recipient a token names (any account: the token itself is the credential). */
    async recipient(id: number): Promise<{ id: number; account_id: number; mailing_id: number; email: string } | undefined> {
      const { rows } = await db.query<{ id: number; account_id: number; mailing_id: number; email: string }>(
        'SELECT id, account_id, mailing_id, email FROM recipients WHERE id = $1',
        [id],
      );
      return rows[0];
    },

    /**
     * Idempotent: a second unsubscribe of the same address changes nothing and records no second event. When
     * the recipient's mailing names unsubscribe lists, the address goes into them (and nowhere else);
     * otherwise it is suppressed for the account and unsubscribed from its lists, as suppress() does it.
     */
    async record(r: { id: number; account_id: number; mailing_id: number; email: string }, emailKey: string, detail: string): Promise<boolean> {
      return await withTransaction(db, async (tx) => {
        const named = await tx.query<{ added: boolean }>(
          `WITH l AS (SELECT unsubscribe_list_id AS id FROM mailing_unsubscribe_lists WHERE mailing_id = $1),
                ins AS (INSERT INTO unsubscribe_list_entries (unsubscribe_list_id, email_key, email)
                        SELECT id, $2, $3 FROM l ON CONFLICT DO NOTHING RETURNING 1)
           SELECT EXISTS (SELECT 1 FROM ins) AS added FROM l LIMIT 1`,
          [r.mailing_id, emailKey, r.email],
        );
        const changed = named.rows[0]
          ? named.rows[0].added
          : (await suppress(tx, r.account_id, [{ emailKey, email: r.email, reason: 'unsubscribe', detail }])).length > 0;
        if (changed) await recordEvents(tx, [{ accountId: r.account_id, kind: 'unsubscribe', mailingId: r.mailing_id, recipientId: r.id }]);
        return changed;
      });
    },

    // --- unsubscribe lists ---------------------------------------------------------------------------------

    async createList(accountId: number, slug: string, name: string): Promise<UnsubscribeListRow | undefined> {
      const { rows } = await db.query<UnsubscribeListRow>(
        `WITH l AS (INSERT INTO unsubscribe_lists (account_id, slug, name) VALUES ($1, $2, $3) ON CONFLICT (account_id, slug) DO NOTHING
                    RETURNING id, slug, name, created_at)
         SELECT l.*, 0 AS entries FROM l`,
        [accountId, slug, name],
      );
      return rows[0];
    },

    async listBySlug(accountId: number, slug: string): Promise<UnsubscribeListRow | undefined> {
      const { rows } = await db.query<UnsubscribeListRow>(`SELECT ${LIST_COLUMNS} FROM unsubscribe_lists l WHERE l.account_id = $1 AND l.slug = $2`, [
        accountId,
        slug,
      ]);
      return rows[0];
    },

    async lists(accountId: number): Promise<UnsubscribeListRow[]> {
      const { rows } = await db.query<UnsubscribeListRow>(`SELECT ${LIST_COLUMNS} FROM unsubscribe_lists l WHERE l.account_id = $1 ORDER BY l.slug`, [
        accountId,
      ]);
      return rows;
    },

    async deleteList(accountId: number, id: number): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM unsubscribe_lists WHERE account_id = $1 AND id = $2', [accountId, id]);
      return (rowCount ?? 0) > 0;
    },

    /** True when the address was not in the list. */
    async addEntry(listId: number, emailKey: string, email: string): Promise<boolean> {
      const { rowCount } = await db.query(
        'INSERT INTO unsubscribe_list_entries (unsubscribe_list_id, email_key, email) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
        [listId, emailKey, email],
      );
      return (rowCount ?? 0) > 0;
    },

    /** True when the address was in the list. */
    async removeEntry(listId: number, emailKey: string): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM unsubscribe_list_entries WHERE unsubscribe_list_id = $1 AND email_key = $2', [listId, emailKey]);
      return (rowCount ?? 0) > 0;
    },

    async entry(listId: number, emailKey: string): Promise<UnsubscribeEntryRow | undefined> {
      const { rows } = await db.query<UnsubscribeEntryRow>(
        'SELECT email, created_at FROM unsubscribe_list_entries WHERE unsubscribe_list_id = $1 AND email_key = $2',
        [listId, emailKey],
      );
      return rows[0];
    },

    /** Entries added after `after`, oldest first. */
    entries: (listId: number, after: Date | null, offset: number, limit: number) =>
      pageOf(db, 'unsubscribe_list_entries', 'unsubscribe_list_id = $1', listId, { after, offset, limit }),

    /** The account's unsubscribe lists, each with whether the address is in it. */
    async listsOf(accountId: number, emailKey: string): Promise<(UnsubscribeListRow & { member: boolean })[]> {
      const { rows } = await db.query<UnsubscribeListRow & { member: boolean }>(
        `SELECT ${LIST_COLUMNS},
                EXISTS (SELECT 1 FROM unsubscribe_list_entries e WHERE e.unsubscribe_list_id = l.id AND e.email_key = $2) AS member
           FROM unsubscribe_lists l WHERE l.account_id = $1 ORDER BY l.slug`,
        [accountId, emailKey],
      );
      return rows;
    },

    /** Addresses unsubscribed from the whole account (suppressed by an unsubscribe), added after `after`. */
    globalEntries: (accountId: number, after: Date | null, offset: number, limit: number) =>
      pageOf(db, 'suppressions', `account_id = $1 AND reason = 'unsubscribe'`, accountId, { after, offset, limit }),

    /** The mailing honours exactly these unsubscribe lists (ids of the account's lists). */
    async setMailingLists(accountId: number, mailingId: number, listIds: readonly number[]): Promise<void> {
      await withTransaction(db, async (tx) => {
        await tx.query('DELETE FROM mailing_unsubscribe_lists WHERE mailing_id = $1', [mailingId]);
        await tx.query(
          `INSERT INTO mailing_unsubscribe_lists (mailing_id, unsubscribe_list_id)
           SELECT $2, l.id FROM unsubscribe_lists l JOIN mailings m ON m.account_id = l.account_id
            WHERE l.account_id = $1 AND m.id = $2 AND l.id = ANY($3::bigint[])`,
          [accountId, mailingId, listIds],
        );
      });
    },

    // --- the operator's view: every account in scope (null: all) --------------------------------------------

    async overview(scope: number | null): Promise<UnsubscribeListOverviewRow[]> {
      const { rows } = await db.query<UnsubscribeListOverviewRow>(
        `SELECT ${LIST_COLUMNS}, l.account_id, a.slug AS account FROM unsubscribe_lists l JOIN accounts a ON a.id = l.account_id
          WHERE $1::bigint IS NULL OR l.account_id = $1 ORDER BY a.slug, l.slug`,
        [scope],
      );
      return rows;
    },

    async overviewOne(scope: number | null, id: number): Promise<UnsubscribeListOverviewRow | undefined> {
      const { rows } = await db.query<UnsubscribeListOverviewRow>(
        `SELECT ${LIST_COLUMNS}, l.account_id, a.slug AS account FROM unsubscribe_lists l JOIN accounts a ON a.id = l.account_id
          WHERE ($1::bigint IS NULL OR l.account_id = $1) AND l.id = $2`,
        [scope, id],
      );
      return rows[0];
    },

    /** A page of a list's addresses by address (`search`: containing it), after the address `afterKey` (keyset). */
    async addresses(
      listId: number,
      page: { search?: string | undefined; afterKey?: string | undefined; limit: number },
    ): Promise<(UnsubscribeEntryRow & { email_key: string })[]> {
      const { rows } = await db.query<UnsubscribeEntryRow & { email_key: string }>(
        `SELECT email, email_key, created_at FROM unsubscribe_list_entries
          WHERE unsubscribe_list_id = $1 AND ($2::text IS NULL OR strpos(lower(email), lower($2)) > 0) AND ($3::text IS NULL OR email_key > $3)
          ORDER BY email_key LIMIT $4`,
        [listId, page.search ?? null, page.afterKey ?? null, page.limit],
      );
      return rows;
    },

    async mailingLists(mailingId: number): Promise<string[]> {
      const { rows } = await db.query<{ slug: string }>(
        `SELECT l.slug FROM mailing_unsubscribe_lists ml JOIN unsubscribe_lists l ON l.id = ml.unsubscribe_list_id WHERE ml.mailing_id = $1 ORDER BY l.slug`,
        [mailingId],
      );
      return rows.map((r) => r.slug);
    },
  };
}

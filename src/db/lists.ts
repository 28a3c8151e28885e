/**
 * Lists and their subscribers. Every write of these tables is here but one: the status a suppression gives
 * the members of its address, and takes back, is written by suppress() and lift() in suppressions.ts (with
 * the account's confirmation mailing, lists.ts also writes accounts.confirm_mailing_id). Other repos read
 * subscribers inside their own statements: a send's snapshot (manager.ts), reports, the address an id names.
 *
 * A subscriber added while its address is suppressed for the account is stored with the status the
 * suppression gives it (MEMBER_STATUS_OF in suppressions.ts) and disabled: the membership is kept, the
 * address is still never mailed.
 */
import type { SubscriberStatus } from './statuses.js';
export type { SubscriberStatus };
import { insertEventsFrom } from './events.js';
import { SQLSTATE, copyFrom, copyJson, copyText, inTransaction, preparedQuery, sqlState, type Queryable } from './pool.js';
import { newMemberStatus } from './suppressions.js';
import { containing } from './overview.js';

export interface ListRow {
  id: number;
  slug: string;
  name: string;
  description: string;
  created_at: Date;
  subscribers: number;
}

/** A list as the admin pages show it: its account, and its subscribers by status. */
export interface ListSummaryRow {
  id: number;
  account_id: number;
  account: string;
  slug: string;
  name: string;
  created_at: Date;
  counts: Partial<Record<SubscriberStatus, number>>;
}

/** A list as Sender names it, without the count of its subscribers. */
export interface ListRef extends Omit<ListRow, 'subscribers'> {
  slug: string;
  current_rev: number;
}

export interface SubscriberRow {
  id: number;
  list_id: number;
  email: string;
  params: Record<string, unknown>;
  enabled: boolean;
  status: SubscriberStatus;
  created_at: Date;
  modified_at: Date;
}

/** A list with its sending defaults and languages (Emailicious' list object). */
export interface ListDetails {
  id: number;
  name: string;
  language: string | null;
  languages: string[];
  default_from_name: string | null;
  default_from_email: string | null;
  default_replyto_email: string | null;
  created_at: Date;
  updated_at: Date;
}

export const LIST_DETAIL_COLUMNS = ['name', 'language', 'languages', 'default_from_name', 'default_from_email', 'default_replyto_email'] as const;
export type ListDetailColumn = (typeof LIST_DETAIL_COLUMNS)[number];

export interface SubscriberQuery {
  statuses?: SubscriberStatus[] | null;
  emailKey?: string | null;
}

export interface NewSubscriber {
  email: string;
  emailKey: string;
  params: Record<string, unknown>;
  /** 'unconfirmed' for a double opt-in waiting for its confirmation. */
  status: 'active' | 'unconfirmed';
  /** Its own revision (upsertMany of several bulk calls at once), else the call's. */
  rev?: number;
}

export interface ConfirmSettings {
  name: string;
  default_from_email: string | null;
  default_from_name: string | null;
  /** The list's confirmation mailing, else the account's, else null (the built-in one). */
  mailing_id: number | null;
}

export interface ConfirmOutcome {
  email: string;
  list_name: string;
  /** This call made the subscriber active. */
  confirmed: boolean;
  /** The status before the call. */
  previous: SubscriberStatus;
}

export interface UpsertOptions {
  onlyExisting?: boolean;
  reenable?: boolean;
  rev?: number | null;
}

export interface UpsertResult {
  id: number;
  inserted: boolean;
  status: SubscriberStatus;
}

/**
 * The upsert of subscribers from `source` (rows of email, email_key, params, status, ord, rev; the last row of
 * an address wins) into list $2 of account $1: existing ones updated (params merged, the row's `rev`, else $4,
 * when given ($4 must be then too), made
 * active again when $5 asks and no suppression stands), new ones inserted with the status a suppression gives
 * them, unless $3 (only existing: a plain UPDATE). Inserting is one INSERT ... ON CONFLICT DO UPDATE, so
 * every address is found through the unique index whatever the table's statistics say (a list growing by
 * thousands a second would otherwise get a plan for the small table it was at the last ANALYZE) and a
 * concurrent insert of the same address is waited for, not lost. Defines the CTEs `updated` and
 * `inserted` (id, inserted, status, email_key).
 */
function upsertSql(source: string, onlyExisting: boolean): string {
  const x = `x AS (SELECT DISTINCT ON (email_key) email, email_key, params, status, ord, rev FROM ${source} ORDER BY email_key, ord DESC)`;
  const suppressed = (key: string) => `EXISTS (SELECT 1 FROM suppressions p WHERE p.account_id = $1 AND p.email_key = ${key})`;
  const reactivate = (row: string, key: string) => `($5::boolean AND ${row}.status IN ('disabled', 'unconfirmed') AND NOT ${suppressed(key)})`;
  if (onlyExisting) {
    return `WITH ${x},
      updated AS (
        UPDATE subscribers s SET email = x.email, params = s.params || x.params, modified_at = now(), rev = coalesce(x.rev, $4, s.rev),
               status = CASE WHEN ${reactivate('s', 'x.email_key')} THEN 'active' ELSE s.status END,
               enabled = s.enabled OR ${reactivate('s', 'x.email_key')}
          FROM x WHERE s.list_id = $2 AND s.account_id = $1 AND s.email_key = x.email_key AND $3::boolean
        RETURNING s.id, false AS inserted, s.status, s.email_key
      ),
      inserted AS (SELECT NULL::bigint AS id, true AS inserted, NULL::text AS status, NULL::text AS email_key WHERE false)`;
  }
  // The list's row, locked against its deletion until this transaction ends (subscribers have no foreign key
  // on it: see migrations/20261126400000_subscribers_list_trigger.ts); nothing is inserted when it is gone.
  return `WITH ${x},
    list AS (SELECT id FROM lists WHERE id = $2 AND account_id = $1 FOR KEY SHARE),
    written AS (
      INSERT INTO subscribers AS s (account_id, list_id, email, email_key, params, status, enabled, rev, unsuppressed_status)
      SELECT $1, list.id, x.email, x.email_key, x.params, st.status, st.status = 'active', coalesce(x.rev, $4, 0), st.unsuppressed_status
        FROM list, x CROSS JOIN LATERAL (${newMemberStatus('x.email_key', 'x.status')}) st WHERE NOT $3::boolean
      ON CONFLICT (list_id, email_key) DO UPDATE
         SET email = EXCLUDED.email, params = s.params || EXCLUDED.params, modified_at = now(),
             rev = CASE WHEN $4::bigint IS NULL THEN s.rev ELSE EXCLUDED.rev END,
             status = CASE WHEN ${reactivate('s', 'EXCLUDED.email_key')} THEN 'active' ELSE s.status END,
             enabled = s.enabled OR ${reactivate('s', 'EXCLUDED.email_key')}
      RETURNING s.id, (s.xmax = 0) AS inserted, s.status, s.email_key
    ),
    updated AS (SELECT * FROM written WHERE NOT inserted),
    inserted AS (SELECT * FROM written WHERE inserted)`;
}

const upsertParams = (accountId: number, listId: number, o: UpsertOptions) => [accountId, listId, o.onlyExisting ?? false, o.rev ?? null, o.reenable ?? false];

/**
 * A bulk PUT task's stored item (tasks.params.items): the address, its key only when it differs from the
 * address, and its params; the status is 'active'. Tasks stored before this shape carry every NewSubscriber
 * field, and read the same (taskItems).
 */
export interface StoredItem {
  email: string;
  emailKey?: string;
  params: Record<string, unknown>;
}

/** The CTE `task_items`: the stored items of bulk PUT task `id` (a parameter) as upsertSql's source rows (see upsertFromTask). */
const taskItems = (id: string) => `task_items AS (
  SELECT i.email, coalesce(i.email_key, i.email) AS email_key, i.params, coalesce(i.status, 'active') AS status, i.ord, NULL::bigint AS rev FROM tasks t,
         ROWS FROM (jsonb_to_recordset(t.params->'items') AS (email text, "emailKey" text, params jsonb, status text))
         WITH ORDINALITY AS i(email, email_key, params, status, ord)
   WHERE t.id = ${id})`;

/**
 * upsertSql's insert without its ON CONFLICT, for rows expected to be new ($1 the account, $2 the list, $3 the
 * revision): the CTE `inserted`. An address given twice is written once, its last row winning, and rows are
 * inserted in the same order (so with ids in the same order) as upsertSql's. A row of an address already
 * there fails the statement (unique violation); as rows go in address order, a bulk of known addresses
 * fails at its first.
 *
 * An account without any suppression (the usual case) skips the lookup of each row's address: the two arms
 * are gated by one uncorrelated EXISTS, evaluated once in the statement's own snapshot, so exactly one arm
 * runs and a suppression committed concurrently is seen or missed as by the per-row lookup. With no
 * suppression, the lookup gives every row its wanted status and no unsuppressed_status.
 */
function newMembersSql(source: string): string {
  const anySuppression = 'EXISTS (SELECT 1 FROM suppressions p WHERE p.account_id = $1)';
  return `x AS (SELECT DISTINCT ON (email_key) email, email_key, params, status, ord, rev FROM ${source} ORDER BY email_key, ord DESC),
    list AS (SELECT id FROM lists WHERE id = $2 AND account_id = $1 FOR KEY SHARE),
    inserted AS (
      INSERT INTO subscribers (account_id, list_id, email, email_key, params, status, enabled, rev, unsuppressed_status)
      SELECT $1, list.id, x.email, x.email_key, x.params, x.status, x.status = 'active', coalesce(x.rev, $3, 0), NULL
        FROM list, x WHERE NOT ${anySuppression}
      UNION ALL
      SELECT $1, list.id, x.email, x.email_key, x.params, st.status, st.status = 'active', coalesce(x.rev, $3, 0), st.unsuppressed_status
        FROM list, x CROSS JOIN LATERAL (${newMemberStatus('x.email_key', 'x.status')}) st WHERE ${anySuppression}
      RETURNING 1
    )`;
}

/**
 * upsert's statement: the upsert of the items given as arrays ($6 to $9), each written row (id, inserted,
 * status, email_key) beside `listed`, whether the account has the list: one row with a null id when nothing was
 * written, so that the caller learns of a missing list in the same round trip. With `onlyExisting` nothing
 * locks the list: its deletion deletes its subscribers, and an UPDATE finds none of a deleted list.
 */
function upsertStatement(onlyExisting: boolean): string {
  const source = `(SELECT i.*, NULL::bigint AS rev FROM unnest($6::text[], $7::text[], $8::jsonb[], $9::text[]) WITH ORDINALITY AS i(email, email_key, params, status, ord)) i`;
  const listed = onlyExisting ? 'EXISTS (SELECT 1 FROM lists WHERE id = $2 AND account_id = $1)' : 'EXISTS (SELECT 1 FROM list)';
  return `${upsertSql(source, onlyExisting)}
    SELECT w.id, w.inserted, w.status, w.email_key, l.listed
      FROM (SELECT ${listed} AS listed) l LEFT JOIN (SELECT * FROM updated UNION ALL SELECT * FROM inserted) w ON true`;
}
const UPSERT = [upsertStatement(false), upsertStatement(true)] as const;
/**
 * The upsert of one subscriber (Sender's PUT subscription, a transactional send to a list) prepared, per
 * shape: planning the statement cost about twice what running it does. A call of many items runs unprepared,
 * planned for its own size (a generic plan would be made for a few rows).
 */
const UPSERT_ONE = UPSERT.map((text, onlyExisting) => preparedQuery(`lists.upsert.one.${onlyExisting}`, text));

/** bySlug's read: every Sender call on a maillist starts with it. */
const BY_SLUG = preparedQuery(
  'lists.bySlug',
  'SELECT l.id, l.slug, l.name, l.description, l.created_at, l.current_rev FROM lists l WHERE l.account_id = $1 AND l.slug = $2',
);

/**
 * upsertFromTask's two statements, prepared once per connection (see preparedQuery): planning the CTEs cost
 * about a tenth of applying a thousand rows. Every plan finds its rows through a unique index or the task's
 * items, whatever the parameters, so a generic plan is as good as a custom one.
 */
const newMembersFromTask = preparedQuery(
  'lists.newMembersFromTask',
  `WITH ${taskItems('$4')}, ${newMembersSql('task_items')}
   SELECT (SELECT count(*)::int FROM task_items) AS items, (SELECT count(*)::int FROM inserted) AS inserted`,
);
const upsertTaskItems = preparedQuery(
  'lists.upsertFromTask',
  `${upsertSql(`(WITH ${taskItems('$6')} SELECT * FROM task_items) i`, false)}
   SELECT (SELECT jsonb_array_length(params->'items') FROM tasks WHERE id = $6) AS items, (SELECT count(*)::int FROM inserted) AS inserted, (SELECT count(*)::int FROM updated) AS updated`,
);

const SUBSCRIBER_COLUMNS = 'id, list_id, email, params, enabled, status, created_at, modified_at';
const LIST_DETAILS = 'l.id, l.name, l.language, l.languages, l.default_from_name, l.default_from_email, l.default_replyto_email, l.created_at, l.updated_at';

export function listsRepo(db: Queryable) {
  async function findSubscriber(accountId: number, listId: number | null, by: { id: number } | { emailKey: string }): Promise<SubscriberRow[]> {
    const { rows } = await db.query<SubscriberRow>(
      `SELECT ${SUBSCRIBER_COLUMNS} FROM subscribers
        WHERE account_id = $1 AND ($2::bigint IS NULL OR list_id = $2) AND ${'id' in by ? 'id = $3' : 'email_key = $3'}
        ORDER BY list_id`,
      [accountId, listId, 'id' in by ? by.id : by.emailKey],
    );
    return rows;
  }

  async function exists(accountId: number, id: number): Promise<boolean> {
    const { rows } = await db.query('SELECT 1 FROM lists WHERE account_id = $1 AND id = $2', [accountId, id]);
    return rows.length > 0;
  }

  return {
    /** A new list, or undefined when the account has one of that slug already. */
    async create(accountId: number, slug: string, name: string, description: string): Promise<number | undefined> {
      const { rows } = await db.query<{ id: number }>(
        `INSERT INTO lists (account_id, slug, name, description) VALUES ($1, $2, $3, $4)
         ON CONFLICT (account_id, slug) DO NOTHING RETURNING id`,
        [accountId, slug, name, description],
      );
      return rows[0]?.id;
    },

    async list(accountId: number, id: number | null = null): Promise<ListRow[]> {
      const { rows } = await db.query<ListRow>(
        `SELECT l.id, l.slug, l.name, l.description, l.created_at,
                (SELECT count(*)::int FROM subscribers s WHERE s.list_id = l.id) AS subscribers
           FROM lists l WHERE l.account_id = $1 AND ($2::bigint IS NULL OR l.id = $2) ORDER BY l.id`,
        [accountId, id],
      );
      return rows;
    },

    /** A page of the account's lists with their defaults (one list when `id` is given), by id; and how many. */
    async details(accountId: number, id: number | null, offset = 0, limit = 1): Promise<{ count: number; rows: ListDetails[] }> {
      const [count, page] = await Promise.all([
        db.query<{ n: number }>('SELECT count(*)::int AS n FROM lists WHERE account_id = $1 AND ($2::bigint IS NULL OR id = $2)', [accountId, id]),
        db.query<ListDetails>(
          `SELECT ${LIST_DETAILS} FROM lists l WHERE l.account_id = $1 AND ($2::bigint IS NULL OR l.id = $2) ORDER BY l.id OFFSET $3 LIMIT $4`,
          [accountId, id, offset, limit],
        ),
      ]);
      return { count: count.rows[0]!.n, rows: page.rows };
    },

    /** Writes a list's name, defaults and languages; undefined when the account has no such list. */
    async setDetails(accountId: number, id: number, changes: Partial<Record<ListDetailColumn, unknown>>): Promise<ListDetails | undefined> {
      const cols = Object.keys(changes) as ListDetailColumn[];
      for (const c of cols) if (!LIST_DETAIL_COLUMNS.includes(c)) throw new Error(`not a writable list column: ${c}`);
      const { rows } = await db.query<ListDetails>(
        `UPDATE lists l SET ${cols.map((c, i) => `${c} = $${i + 3}`).join(', ')}${cols.length ? ', ' : ''}updated_at = now()
          WHERE l.account_id = $1 AND l.id = $2 RETURNING ${LIST_DETAILS}`,
        [accountId, id, ...cols.map((c) => changes[c])],
      );
      return rows[0];
    },

    /** Subscribers of one list by id, narrowed by status and address, and how many match. */
    async subscriberPage(listId: number, q: SubscriberQuery, offset: number, limit: number): Promise<{ count: number; rows: SubscriberRow[] }> {
      const where = `list_id = $1 AND ($2::text[] IS NULL OR status = ANY($2)) AND ($3::text IS NULL OR email_key = $3)`;
      const params = [listId, q.statuses ?? null, q.emailKey ?? null];
      const [count, page] = await Promise.all([
        db.query<{ n: number }>(`SELECT count(*)::int AS n FROM subscribers WHERE ${where}`, params),
        db.query<SubscriberRow>(`SELECT ${SUBSCRIBER_COLUMNS} FROM subscribers WHERE ${where} ORDER BY id OFFSET $4 LIMIT $5`, [...params, offset, limit]),
      ]);
      return { count: count.rows[0]!.n, rows: page.rows };
    },

    /**
     * Adds one subscriber unless the list has the address already (whatever its status): the new row, or
     * `{ conflict }` with the existing one. Stored with the status a suppression gives the address.
     */
    async insertOne(
      accountId: number,
      listId: number,
      s: { email: string; emailKey: string; params: Record<string, unknown> },
    ): Promise<{ row: SubscriberRow } | { conflict: SubscriberRow } | undefined> {
      const { rows } = await db.query<SubscriberRow>(
        `WITH list AS (SELECT id FROM lists WHERE id = $2 AND account_id = $1 FOR KEY SHARE),
              x AS (SELECT $3::text AS email, $4::text AS email_key, $5::jsonb AS params, 'active'::text AS status)
         INSERT INTO subscribers (account_id, list_id, email, email_key, params, status, enabled, unsuppressed_status)
         SELECT $1, list.id, x.email, x.email_key, x.params, st.status, st.status = 'active', st.unsuppressed_status
           FROM list, x CROSS JOIN LATERAL (${newMemberStatus('x.email_key', 'x.status')}) st
         ON CONFLICT (list_id, email_key) DO NOTHING
         RETURNING ${SUBSCRIBER_COLUMNS}`,
        [accountId, listId, s.email, s.emailKey, JSON.stringify(s.params)],
      );
      if (rows[0]) return { row: rows[0] };
      const [existing] = await findSubscriber(accountId, listId, { emailKey: s.emailKey });
      return existing ? { conflict: existing } : undefined;
    },

    /**
     * Rewrites one subscriber's address and params (`merge`: the given params over the stored ones, else
     * instead of them). `{ conflict }` when another subscriber of the list has the new address.
     */
    async rewrite(
      accountId: number,
      listId: number,
      id: number,
      s: { email?: { email: string; emailKey: string } | undefined; params: Record<string, unknown>; merge: boolean },
    ): Promise<{ row: SubscriberRow } | { conflict: SubscriberRow } | undefined> {
      if (s.email) {
        const [other] = await findSubscriber(accountId, listId, { emailKey: s.email.emailKey });
        if (other && other.id !== id) return { conflict: other };
      }
      try {
        const { rows } = await db.query<SubscriberRow>(
          `UPDATE subscribers SET email = coalesce($4, email), email_key = coalesce($5, email_key),
                  params = CASE WHEN $7::boolean THEN params || $6::jsonb ELSE $6::jsonb END, modified_at = now()
            WHERE account_id = $1 AND list_id = $2 AND id = $3 RETURNING ${SUBSCRIBER_COLUMNS}`,
          [accountId, listId, id, s.email?.email ?? null, s.email?.emailKey ?? null, JSON.stringify(s.params), s.merge],
        );
        return rows[0] ? { row: rows[0] } : undefined;
      } catch (e) {
        // The same address written by a concurrent call in between.
        if (sqlState(e) === SQLSTATE.uniqueViolation && s.email) {
          const [other] = await findSubscriber(accountId, listId, { emailKey: s.email.emailKey });
          if (other) return { conflict: other };
        }
        throw e;
      }
    },

    /**
     * Sets one subscriber's status (enabled only when active); undefined when there is no such subscriber.
     * The call's status stands: lifting a suppression of the address does not change it back.
     */
    async setStatus(accountId: number, listId: number, id: number, status: SubscriberStatus): Promise<SubscriberRow | undefined> {
      const { rows } = await db.query<SubscriberRow>(
        `UPDATE subscribers SET status = $4, enabled = $4 = 'active', unsuppressed_status = NULL, modified_at = now()
          WHERE account_id = $1 AND list_id = $2 AND id = $3 RETURNING ${SUBSCRIBER_COLUMNS}`,
        [accountId, listId, id, status],
      );
      return rows[0];
    },

    async byName(accountId: number, name: string): Promise<number | undefined> {
      const { rows } = await db.query<{ id: number }>('SELECT id FROM lists WHERE account_id = $1 AND name = $2 LIMIT 1', [accountId, name]);
      return rows[0]?.id;
    },

    /**
     * Deletes every subscriber of the list and keeps the list (Mailkit's delete with keep_list); how many, or
     * undefined when the account has no such list. The list's row is locked first, in a statement of its
     * own: a subscribe in progress (it holds the row FOR KEY SHARE) commits before the delete's snapshot is
     * taken, so its subscribers are deleted too, and one that starts later waits for the list to be empty.
     * Recipients and events keep their history, without the subscriber. On a transaction's client it runs in
     * that transaction; on the pool, in one of its own.
     */
    async empty(accountId: number, id: number): Promise<number | undefined> {
      const inTx = typeof (db as { release?: unknown }).release === 'function';
      const run = <T>(fn: (tx: Queryable) => Promise<T>) => (inTx ? fn(db) : inTransaction(db, fn));
      return await run(async (tx) => {
        const { rows } = await tx.query('SELECT id FROM lists WHERE account_id = $1 AND id = $2 FOR UPDATE', [accountId, id]);
        if (!rows.length) return undefined;
        const { rowCount } = await tx.query('DELETE FROM subscribers WHERE account_id = $1 AND list_id = $2', [accountId, id]);
        return rowCount ?? 0;
      });
    },

    /** Deletes the list with its subscribers (mailings and bounces keep their history, without the list). */
    async delete(accountId: number, id: number): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM lists WHERE account_id = $1 AND id = $2', [accountId, id]);
      return (rowCount ?? 0) > 0;
    },

    /**
     * Insert or update subscribers of one list in one statement. An update merges the given params into the
     * stored ones; `onlyExisting` updates and inserts nothing; `reenable` makes a disabled or unconfirmed
     * subscriber active again (unless the address is suppressed); `rev` stamps the list revision (Sender's
     * bulk). Results in input order; an address given twice is written once (its last params win) and
     * answered twice. Undefined when the account has no such list (nothing is written then).
     */
    async upsert(accountId: number, listId: number, items: readonly NewSubscriber[], o: UpsertOptions = {}): Promise<(UpsertResult | null)[] | undefined> {
      if (!items.length) return (await exists(accountId, listId)) ? [] : undefined;
      const onlyExisting = Number(o.onlyExisting ?? false);
      const values = [
        ...upsertParams(accountId, listId, o),
        items.map((i) => i.email),
        items.map((i) => i.emailKey),
        items.map((i) => JSON.stringify(i.params)),
        items.map((i) => i.status),
      ];
      type Row = { id: number | null; inserted: boolean; status: SubscriberStatus; email_key: string; listed: boolean };
      const { rows } = items.length === 1 ? await UPSERT_ONE[onlyExisting]!<Row>(db, values) : await db.query<Row>(UPSERT[onlyExisting]!, values);
      if (!rows[0]!.listed) return undefined;
      const byKey = new Map(rows.flatMap((r) => (r.id === null ? [] : [[r.email_key, { id: r.id, inserted: r.inserted, status: r.status }] as const])));
      return items.map((i) => byKey.get(i.emailKey) ?? null);
    },

    /**
     * The same upsert for many rows at once (imports): COPY into a temporary staging table, then one
     * statement. Needs a transaction's client. Counts.
     */
    async upsertMany(
      accountId: number,
      listId: number,
      items: readonly NewSubscriber[],
      o: UpsertOptions = {},
    ): Promise<{ inserted: number; updated: number }> {
      if (!items.length) return { inserted: 0, updated: 0 };
      await db.query(
        `CREATE TEMP TABLE IF NOT EXISTS subscriber_stage (email text, email_key text, params jsonb, status text, ord bigint, rev bigint) ON COMMIT DELETE ROWS`,
      );
      let text = '';
      items.forEach((i, n) => (text += `${copyText(i.email)}\t${copyText(i.emailKey)}\t${copyJson(i.params)}\t${i.status}\t${n}\t${i.rev ?? '\\N'}\n`));
      await copyFrom(db, 'COPY subscriber_stage (email, email_key, params, status, ord, rev) FROM STDIN', text);
      const { rows } = await db.query<{ inserted: number; updated: number }>(
        `${upsertSql('subscriber_stage', o.onlyExisting ?? false)}
         SELECT (SELECT count(*)::int FROM inserted) AS inserted, (SELECT count(*)::int FROM updated) AS updated`,
        upsertParams(accountId, listId, o),
      );
      return rows[0]!;
    },

    /**
     * The same upsert of the items a bulk PUT task stored (tasks.params.items, StoredItem objects as
     * written by the call), read where they lie: the items make no round trip through the gateway and no
     * staging table. `rev` is the task's. Counts, and how many items the task has. Call it in a transaction
     * (it takes a savepoint; the list's row is locked until the end, see upsertSql).
     *
     * A bulk of new addresses (a list's first upload) is first tried as a plain INSERT: ON CONFLICT's
     * speculative insertion costs about as much again per row as the insert itself. An address already in
     * the list fails the try (a unique violation, at once when it is the first in address order): it is
     * undone to a savepoint and the upsert runs, as it would have. The savepoint is not released: it ends
     * with the transaction, and a later call's savepoint of the same name nests inside it (ROLLBACK TO
     * finds the latest, this call's). A RELEASE would cost a round trip per task, a run applying up to
     * DRAIN_BATCH tasks in one transaction (src/core/tasks/service.ts), and the rows written keep their
     * subtransaction's id until the commit either way.
     */
    async upsertFromTask(
      accountId: number,
      listId: number,
      taskId: string,
      o: { rev: number; reenable?: boolean },
    ): Promise<{ items: number; inserted: number; updated: number }> {
      await db.query('SAVEPOINT new_addresses');
      try {
        const { rows } = await newMembersFromTask<{ items: number; inserted: number }>(db, [accountId, listId, o.rev, taskId]);
        return { ...rows[0]!, updated: 0 };
      } catch (e) {
        if (sqlState(e) !== SQLSTATE.uniqueViolation) throw e;
        await db.query('ROLLBACK TO SAVEPOINT new_addresses');
      }
      const { rows } = await upsertTaskItems<{ items: number; inserted: number; updated: number }>(db, [
        ...upsertParams(accountId, listId, { rev: o.rev, reenable: o.reenable ?? false }),
        taskId,
      ]);
      return rows[0]!;
    },

    /** A list by its slug (Sender's maillist slug); no subscriber count (see count). */
    async bySlug(accountId: number, slug: string): Promise<ListRef | undefined> {
      const { rows } = await BY_SLUG<ListRef>(db, [accountId, slug]);
      return rows[0];
    },

    /** Does the account have this list? (Cheap: no count of its subscribers.) */
    exists,

    /** How many subscribers the list has (every status). */
    async count(listId: number): Promise<number> {
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM subscribers WHERE list_id = $1', [listId]);
      return rows[0]!.n;
    },

    /** A new revision of the list (Sender's bulk `rev`), greater than every one before. */
    async nextRev(accountId: number, listId: number): Promise<number | undefined> {
      const { rows } = await db.query<{ rev: number }>(
        'UPDATE lists SET current_rev = current_rev + 1 WHERE account_id = $1 AND id = $2 RETURNING current_rev AS rev',
        [accountId, listId],
      );
      return rows[0]?.rev;
    },

    /** Keeps the list's revision at least `rev` (a client that names its own). */
    async seeRev(listId: number, rev: number): Promise<void> {
      await db.query('UPDATE lists SET current_rev = $2 WHERE id = $1 AND current_rev < $2', [listId, rev]);
    },

    /**
     * Disables subscribers by address: per address, 'disabled' (it was enabled), 'already' (it was not) or
     * 'absent'. A disabled subscriber keeps a suppression's status; an active or unconfirmed one becomes
     * 'disabled'. One a suppression holds is 'already' disabled, and stays disabled when it is lifted (its
     * unsuppressed_status becomes 'disabled'; the subscriber is not otherwise changed).
     */
    async disable(accountId: number, listId: number, emailKeys: readonly string[]): Promise<('disabled' | 'already' | 'absent')[]> {
      if (!emailKeys.length) return [];
      const { rows } = await db.query<{ email_key: string; was_enabled: boolean }>(
        `WITH old AS (
           SELECT id, email_key, enabled OR status = 'unconfirmed' AS was_enabled FROM subscribers
            WHERE account_id = $1 AND list_id = $2 AND email_key = ANY($3::text[]) FOR UPDATE
         ), u AS (
           UPDATE subscribers s SET enabled = false, modified_at = CASE WHEN old.was_enabled THEN now() ELSE s.modified_at END,
                  status = CASE WHEN old.was_enabled AND s.status IN ('active', 'unconfirmed') THEN 'disabled' ELSE s.status END,
                  unsuppressed_status = CASE WHEN s.unsuppressed_status IN ('active', 'unconfirmed') THEN 'disabled' ELSE s.unsuppressed_status END
             FROM old WHERE s.id = old.id AND (old.was_enabled OR s.unsuppressed_status IN ('active', 'unconfirmed'))
         )
         SELECT email_key, was_enabled FROM old`,
        [accountId, listId, emailKeys],
      );
      const byKey = new Map(rows.map((r) => [r.email_key, r.was_enabled]));
      return emailKeys.map((k) => (byKey.has(k) ? (byKey.get(k) ? 'disabled' : 'already') : 'absent'));
    },

    /**
     * Disables every enabled subscriber of an earlier revision than `rev` (Sender's `disable_others`), and
     * counts them. One a suppression holds is not counted, and stays disabled when it is lifted (see
     * disable). Call it in a transaction.
     */
    async disableOthers(listId: number, rev: number): Promise<number> {
      const { rowCount } = await db.query(
        `UPDATE subscribers SET enabled = false, modified_at = now(),
                status = CASE WHEN status IN ('active', 'unconfirmed') THEN 'disabled' ELSE status END
          WHERE list_id = $1 AND rev < $2 AND (enabled OR status = 'unconfirmed')`,
        [listId, rev],
      );
      // Few rows: those a suppression holds (the partial index subscribers_unsuppressed).
      await db.query(
        `UPDATE subscribers SET unsuppressed_status = 'disabled'
          WHERE list_id = $1 AND rev < $2 AND unsuppressed_status IN ('active', 'unconfirmed')`,
        [listId, rev],
      );
      return rowCount ?? 0;
    },

    /** A page of the list's subscribers changed after `after`, oldest change first, and how many there are. */
    async content(listId: number, after: Date | null, offset: number, limit: number): Promise<{ count: number; rows: SubscriberRow[] }> {
      const [count, page] = await Promise.all([
        db.query<{ n: number }>('SELECT count(*)::int AS n FROM subscribers WHERE list_id = $1 AND ($2::timestamptz IS NULL OR modified_at > $2)', [
          listId,
          after,
        ]),
        db.query<SubscriberRow>(
          `SELECT ${SUBSCRIBER_COLUMNS} FROM subscribers WHERE list_id = $1 AND ($2::timestamptz IS NULL OR modified_at > $2)
            ORDER BY modified_at, id OFFSET $3 LIMIT $4`,
          [listId, after, offset, limit],
        ),
      ]);
      return { count: count.rows[0]!.n, rows: page.rows };
    },

    /** What a double opt-in needs of a list: its name, its sender, and the confirmation mailing chosen. */
    async confirmSettings(accountId: number, listId: number): Promise<ConfirmSettings | undefined> {
      const { rows } = await db.query<ConfirmSettings>(
        `SELECT l.name, l.default_from_email, l.default_from_name, coalesce(l.confirm_mailing_id, a.confirm_mailing_id) AS mailing_id
           FROM lists l JOIN accounts a ON a.id = l.account_id WHERE l.account_id = $1 AND l.id = $2`,
        [accountId, listId],
      );
      return rows[0];
    },

    /** Chooses the confirmation mailing of one list, or of the account when `listId` is null. */
    async setConfirmMailing(accountId: number, listId: number | null, mailingId: number | null): Promise<boolean> {
      const { rowCount } =
        listId === null
          ? await db.query('UPDATE accounts SET confirm_mailing_id = $2 WHERE id = $1', [accountId, mailingId])
          : await db.query('UPDATE lists SET confirm_mailing_id = $3, updated_at = now() WHERE account_id = $1 AND id = $2', [accountId, listId, mailingId]);
      return (rowCount ?? 0) > 0;
    },

    /** A disabled (not suppressed) subscriber asked again: waiting for its confirmation once more. */
    async reopenUnconfirmed(accountId: number, id: number): Promise<SubscriberStatus | undefined> {
      const { rows } = await db.query<{ status: SubscriberStatus }>(
        `UPDATE subscribers SET status = CASE WHEN status = 'disabled' THEN 'unconfirmed' ELSE status END,
                modified_at = CASE WHEN status = 'disabled' THEN now() ELSE modified_at END
          WHERE account_id = $1 AND id = $2
            AND NOT EXISTS (SELECT 1 FROM suppressions p WHERE p.account_id = $1 AND p.email_key = subscribers.email_key)
          RETURNING status`,
        [accountId, id],
      );
      return rows[0]?.status;
    },

    /**
     * Confirms a double opt-in: an unconfirmed subscriber whose address is not suppressed becomes active and
     * enabled, once (an event 'confirm' records it). Undefined when the subscriber no longer exists.
     */
    async confirm(subscriberId: number): Promise<ConfirmOutcome | undefined> {
      const { rows } = await db.query<ConfirmOutcome>(
        `WITH s AS (
           SELECT s.id, s.account_id, s.email, s.status, l.name AS list_name
             FROM subscribers s JOIN lists l ON l.id = s.list_id WHERE s.id = $1 FOR UPDATE OF s
         ), u AS (
           UPDATE subscribers x SET status = 'active', enabled = true, modified_at = now()
             FROM s WHERE x.id = s.id AND s.status = 'unconfirmed'
              AND NOT EXISTS (SELECT 1 FROM suppressions p WHERE p.account_id = s.account_id AND p.email_key = x.email_key)
           RETURNING x.id
         ), e AS (
           ${insertEventsFrom(`SELECT s.account_id, NULL::bigint, NULL::bigint, u.id, 'confirm' FROM u JOIN s ON s.id = u.id`)}
         )
         SELECT s.email, s.list_name, EXISTS (SELECT 1 FROM u) AS confirmed, s.status AS previous FROM s`,
        [subscriberId],
      );
      return rows[0];
    },

    subscriber: findSubscriber,

    // --- the operator's reads (/admin): every account's lists, keyset-paged on id (newest first)

    /** Lists of every account with their account and subscribers by status; search in name and slug. */
    async overview(p: { limit: number; beforeId?: number | undefined; search?: string | undefined }): Promise<ListSummaryRow[]> {
      const { rows } = await db.query<ListSummaryRow>(
        `SELECT l.id, l.account_id, a.slug AS account, l.slug, l.name, l.created_at,
                coalesce((SELECT jsonb_object_agg(status, n) FROM (SELECT s.status, count(*)::int AS n FROM subscribers s WHERE s.list_id = l.id GROUP BY s.status) c), '{}'::jsonb) AS counts
           FROM lists l JOIN accounts a ON a.id = l.account_id
          WHERE ($2::bigint IS NULL OR l.id < $2) AND ($3::text IS NULL OR l.name ILIKE $3 OR l.slug ILIKE $3)
          ORDER BY l.id DESC LIMIT $1`,
        [p.limit, p.beforeId ?? null, containing(p.search)],
      );
      return rows;
    },

    /** The account a list belongs to (the call context of an operator's action on it). */
    async owner(id: number): Promise<{ account_id: number; account: string } | undefined> {
      const { rows } = await db.query<{ account_id: number; account: string }>(
        'SELECT l.account_id, a.slug AS account FROM lists l JOIN accounts a ON a.id = l.account_id WHERE l.id = $1',
        [id],
      );
      return rows[0];
    },

    /** A list's subscribers, newest first, narrowed by status and by a substring of the address. */
    async subscriberSearch(
      listId: number,
      p: { limit: number; beforeId?: number | undefined; search?: string | undefined; statuses?: readonly SubscriberStatus[] | null },
    ): Promise<SubscriberRow[]> {
      const { rows } = await db.query<SubscriberRow>(
        `SELECT ${SUBSCRIBER_COLUMNS} FROM subscribers
          WHERE list_id = $1 AND ($3::bigint IS NULL OR id < $3) AND ($4::text IS NULL OR email ILIKE $4) AND ($5::text[] IS NULL OR status = ANY($5))
          ORDER BY id DESC LIMIT $2`,
        [listId, p.limit, p.beforeId ?? null, containing(p.search), p.statuses ?? null],
      );
      return rows;
    },
  };
}

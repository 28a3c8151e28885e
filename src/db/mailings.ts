/**
 * Mailings, their variants and sends. Tenant isolation lives here: every function that takes a caller's
 * mailing id finds it by account_id too. Those that take mailing or send ids alone (variants, sends, totals,
 * update's variant and send, setSendStatus) are for ids the core read that way first; layoutImage finds an
 * image by its unguessable key.
 *
 * A mailing's status and schedule are its send's: MailingRow joins the mailing's current send (CURRENT_SEND:
 * a CloudMailing mailing has exactly one, created with it).
 */
import { preparedQuery, SQLSTATE, sqlState, type Queryable } from './pool.js';
import type { MailingStatus } from './statuses.js';
import { containing } from './overview.js';
import { ENGAGEMENT, type MailingEngagement } from './reports.js';

/** A transactional campaign as the admin pages list it. */
export interface CampaignSummaryRow {
  id: number;
  account: string;
  dialect: string;
  name: string | null;
  subject: string;
  from_email: string;
  from_name: string | null;
  submit_time: Date;
}

/** A variant's content columns, as every reader of a mailing's message sees them. */
export interface VariantContent {
  from_email: string;
  from_name: string | null;
  replyto_email: string | null;
  subject: string;
  html: string | null;
  text: string | null;
  charset: string;
}

export interface DkimSettings {
  enabled: boolean;
  selector: string;
  domain: string;
  privkey: string;
  identity?: string;
  canonicalize?: string;
  signature_algorithm?: string;
  include_headers?: string[];
  length?: number;
}

/** The send-owned part: status and schedule. */
export interface SendSchedule {
  send_id: number;
  status: MailingStatus;
  scheduled_start: Date | null;
  scheduled_end: Date | null;
  max_duration_minutes: number;
  spread_minutes: number;
  dont_close_if_empty: boolean;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface MailingRow extends VariantContent, SendSchedule {
  id: number;
  account_id: number;
  dialect: string;
  name: string | null;
  campaign_id: number | null;
  list_id: number | null;
  type: 'regular' | 'opened';
  owner_guid: string | null;
  satellite_group: string | null;
  domain_name: string;
  tracking_url: string | null;
  read_tracking: boolean;
  click_tracking: boolean;
  backup_customized_emails: boolean;
  testing: boolean;
  url_encoding: string | null;
  dkim: DkimSettings | null;
  submit_time: Date;
  updated_at: Date;
  /** Its sends' jobs go first; once set, its transactional sends wake their job after commit (src/db/jobs.ts). */
  transactional: boolean;
  /**
   * The stored message's header block, blank line included (the whole message when it has none; null without
   * a stored message): variants.header, which Postgres computes from raw_message whenever it is written (a
   * generated column, migrations/20261208510000_variants_header.ts), so that no read touches the message.
   */
  header: Buffer | null;
}

export interface MailingTotals {
  ready: number;
  warning: number;
  finished: number;
  error: number;
  timeout: number;
  general_error: number;
}

/** What a mailing's listing shows (`list`): no message, whether it has HTML, its counts, its opens and clicks. */
export interface ListedMailingRow
  extends
    Pick<
      MailingRow,
      | 'id'
      | 'name'
      | 'list_id'
      | 'type'
      | 'domain_name'
      | 'tracking_url'
      | 'owner_guid'
      | 'satellite_group'
      | 'submit_time'
      | 'read_tracking'
      | 'click_tracking'
      | 'backup_customized_emails'
      | 'testing'
      | 'url_encoding'
      | 'dkim'
      | 'from_email'
      | 'from_name'
      | 'subject'
      | 'header'
      | 'status'
      | 'scheduled_start'
      | 'scheduled_end'
      | 'max_duration_minutes'
      | 'spread_minutes'
      | 'dont_close_if_empty'
      | 'started_at'
      | 'finished_at'
    >,
    MailingTotals,
    MailingEngagement {
  has_html: boolean;
}

/** One mailing as `mailings.progress` reads it. */
export interface MailingProgressRow extends MailingTotals {
  id: number;
  dialect: string;
  name: string | null;
  subject: string | null;
  status: MailingStatus | null;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface MailingFilter {
  ids?: number[] | undefined;
  statuses?: MailingStatus[] | undefined;
  domains?: string[] | undefined;
  ownerGuids?: string[] | undefined;
  satelliteGroups?: string[] | undefined;
}

/** A new mailing's tracking flags (the core's per-dialect defaults). */
export interface NewTracking {
  readTracking: boolean;
  clickTracking: boolean;
}

export interface NewMailing extends NewTracking {
  dialect: string;
  name: string | null;
  domainName: string;
  fromEmail: string;
  fromName: string | null;
  replytoEmail: string | null;
  subject: string;
  html: string | null;
  text: string | null;
  charset: string;
  rawMessage: Buffer | null;
}

/** One variant of a list mailing, with its layout and deliveries. */
export interface NewVariant {
  language: string | null;
  fromEmail: string;
  fromName: string | null;
  replytoEmail: string | null;
  subject: string;
  html: string | null;
  text: string | null;
  rawMessage: Buffer;
  /** The layout's page as imported (null without a zip layout). */
  layoutSource: string | null;
  layoutKey: string | null;
  images: { path: string; contentType: string; data: Buffer }[];
  deliveries: { scheduledStart: Date | null; limit: number | null; exclusions: number[] }[];
}

export interface NewListMailing extends NewTracking {
  dialect: string;
  name: string | null;
  campaignId: number | null;
  listId: number;
  segments: number[];
  domainName: string;
  variants: NewVariant[];
}

export interface VariantRow {
  id: number;
  mailing_id: number;
  position: number;
  language: string | null;
  from_name: string | null;
  from_email: string;
  replyto_email: string | null;
  subject: string;
  text: string | null;
  layout_source: string | null;
}

export interface SendRow {
  id: number;
  mailing_id: number;
  variant_id: number | null;
  status: MailingStatus;
  scheduled_start: Date | null;
  limit: number | null;
  exclusions: number[];
  started_at: Date | null;
  finished_at: Date | null;
  snapshot_at: Date | null;
}

export interface MailingSummaryRow {
  id: number;
  name: string | null;
  campaign_id: number | null;
  list_id: number | null;
  segments: number[];
}

/** Columns the core may write, by table (core name = column name). */
export const MAILING_COLUMNS = [
  'type',
  'tracking_url',
  'owner_guid',
  'satellite_group',
  'read_tracking',
  'click_tracking',
  'backup_customized_emails',
  'testing',
  'url_encoding',
  'dkim',
  'domain_name',
] as const;
export const VARIANT_COLUMNS = ['from_email', 'from_name', 'replyto_email', 'subject', 'html', 'text', 'charset', 'raw_message'] as const;
export const SEND_COLUMNS = ['scheduled_start', 'scheduled_end', 'max_duration_minutes', 'spread_minutes', 'dont_close_if_empty'] as const;
export type MailingColumn = (typeof MAILING_COLUMNS)[number];
export type VariantColumn = (typeof VARIANT_COLUMNS)[number];
export type SendColumn = (typeof SEND_COLUMNS)[number];

/** A mailing's current send, as sendOf reads it. */
export interface SendOfRow {
  send_id: number;
  status: MailingStatus;
  transactional: boolean;
  dont_close_if_empty: boolean;
}

/** The advisory lock class of making a mailing a standing send (two-key form; 'stnd' in ASCII). */
const STANDING_LOCK = 0x73746e64;

/**
 * The send a mailing's status and schedule are read from: its first one not finished, else its first (a
 * CloudMailing mailing has one; an Emailicious mailing is finished when every delivery is).
 */
export const CURRENT_SEND = `ORDER BY status = 'finished', id LIMIT 1`;

const SELECT_MAILING = `
  SELECT m.*, v.from_email, v.from_name, v.replyto_email, v.subject, v.html, v.text, v.charset,
         v.header,
         s.id AS send_id, s.status, s.scheduled_start, s.scheduled_end, s.max_duration_minutes, s.spread_minutes,
         s.dont_close_if_empty, s.started_at, s.finished_at
    FROM mailings m
    JOIN variants v ON v.mailing_id = m.id AND v.position = 0
    JOIN LATERAL (SELECT * FROM sends WHERE mailing_id = m.id ${CURRENT_SEND}) s ON true`;

const FILTER = `
  m.account_id = $1
  AND ($2::bigint[] IS NULL OR m.id = ANY($2))
  AND ($3::text[] IS NULL OR s.status = ANY($3))
  AND ($4::text[] IS NULL OR m.domain_name = ANY($4))
  AND ($5::text[] IS NULL OR m.owner_guid = ANY($5))
  AND ($6::text[] IS NULL OR m.satellite_group = ANY($6))`;

const filterParams = (accountId: number, f: MailingFilter) => [
  accountId,
  f.ids ?? null,
  f.statuses ?? null,
  f.domains?.map((d) => d.toLowerCase()) ?? null,
  f.ownerGuids ?? null,
  f.satelliteGroups ?? null,
];

function setList<C extends string>(cols: readonly C[], allowed: readonly C[], first: number): string {
  // Column names come from the closed lists above, never from the caller.
  for (const c of cols) if (!allowed.includes(c)) throw new Error(`not a writable column: ${c}`);
  return cols.map((c, i) => `${c} = $${i + first}`).join(', ');
}

/**
 * `summaries`, one prepared statement per filter shape (see preparedQuery), SUMMARIES[list given][ids given],
 * taking the account, the list when given, the ids when given, the offset and the limit. One statement (one round
 * trip, one snapshot for the count and the page): its count row always comes, joined to the page's rows or, past
 * the last page, to none (one row, its page columns null).
 */
const SUMMARIES = [false, true].map((list) =>
  [false, true].map((ids) => {
    const filters = ['account_id = $1'];
    if (list) filters.push(`list_id = $${filters.length + 1}`);
    if (ids) filters.push(`id = ANY($${filters.length + 1}::bigint[])`);
    const where = `${filters.join(' AND ')} AND system_role IS NULL`;
    const n = filters.length;
    return preparedQuery(
      `mailings.summaries.${Number(list)}${Number(ids)}`,
      `SELECT t.count, p.id, p.name, p.campaign_id, p.list_id, p.segments
         FROM (SELECT count(*)::int AS count FROM mailings WHERE ${where}) t
         LEFT JOIN LATERAL (SELECT id, name, campaign_id, list_id, segments FROM mailings WHERE ${where} ORDER BY id OFFSET $${n + 1} LIMIT $${n + 2}) p ON true
        ORDER BY p.id`,
    );
  }),
);

/** A mailing's recipients by status from its recipient_counts rows (test recipients included). */
const TOTALS_BY_STATUS = `
  coalesce(sum(n) FILTER (WHERE status = 'ready'), 0)::int AS ready,
  coalesce(sum(n) FILTER (WHERE status = 'warning'), 0)::int AS warning,
  coalesce(sum(n) FILTER (WHERE status = 'finished'), 0)::int AS finished,
  coalesce(sum(n) FILTER (WHERE status = 'error'), 0)::int AS error,
  coalesce(sum(n) FILTER (WHERE status = 'timeout'), 0)::int AS timeout,
  coalesce(sum(n) FILTER (WHERE status = 'general_error'), 0)::int AS general_error`;

/**
 * A listing in one statement (one round trip; its counts and its rows from one snapshot): each mailing's
 * columns that its view shows (no html or text: whether it has HTML; no whole message: its header block), its
 * current send, its recipients by status and its sends' opens and clicks (zero without any).
 */
const LIST_MAILING = `
  SELECT m.id, m.name, m.list_id, m.type, m.domain_name, m.tracking_url, m.owner_guid, m.satellite_group, m.submit_time,
         m.read_tracking, m.click_tracking, m.backup_customized_emails, m.testing, m.url_encoding, m.dkim,
         v.from_email, v.from_name, v.subject, v.html IS NOT NULL AND v.html <> '' AS has_html, v.header,
         s.status, s.scheduled_start, s.scheduled_end, s.max_duration_minutes, s.spread_minutes, s.dont_close_if_empty,
         s.started_at, s.finished_at, t.*, e.*
    FROM mailings m
    JOIN variants v ON v.mailing_id = m.id AND v.position = 0
    JOIN LATERAL (SELECT * FROM sends WHERE mailing_id = m.id ${CURRENT_SEND}) s ON true
    CROSS JOIN LATERAL (SELECT ${TOTALS_BY_STATUS} FROM recipient_counts WHERE mailing_id = m.id) t
    CROSS JOIN LATERAL (
      SELECT ${ENGAGEMENT} FROM sends es JOIN send_event_counts c ON c.send_id = es.id
       WHERE es.mailing_id = m.id AND c.kind IN ('open', 'click')) e`;

/** `list`'s filters: the condition each adds when given, and its value. */
const LIST_FILTERS: [(n: number) => string, (f: MailingFilter) => unknown[] | undefined][] = [
  [(n) => `m.id = ANY($${n}::bigint[])`, (f) => f.ids],
  [(n) => `s.status = ANY($${n}::text[])`, (f) => f.statuses],
  [(n) => `m.domain_name = ANY($${n}::text[])`, (f) => f.domains?.map((d) => d.toLowerCase())],
  [(n) => `m.owner_guid = ANY($${n}::text[])`, (f) => f.ownerGuids],
  [(n) => `m.satellite_group = ANY($${n}::text[])`, (f) => f.satelliteGroups],
];
/**
 * `list`, one prepared statement per set of filters given (at most 32; see preparedQuery): its planning (five
 * tables and the current send) costs several times its run over an account's few mailings.
 */
const LISTS = new Map<number, ReturnType<typeof preparedQuery>>();
function listRead(accountId: number, f: MailingFilter) {
  const values: unknown[] = [accountId];
  const where = ['m.account_id = $1'];
  let shape = 0;
  LIST_FILTERS.forEach(([condition, value], i) => {
    const v = value(f);
    if (v === undefined || v === null) return;
    values.push(v);
    where.push(condition(values.length));
    shape |= 1 << i;
  });
  let read = LISTS.get(shape);
  if (!read) LISTS.set(shape, (read = preparedQuery(`mailings.list.${shape}`, `${LIST_MAILING} WHERE ${where.join(' AND ')} ORDER BY m.id`)));
  return { read, values };
}

/** idByName's read, prepared: every Sender transactional send names its campaign. */
const ID_BY_NAME = preparedQuery('mailings.idByName', 'SELECT id FROM mailings WHERE account_id = $1 AND name = $2');

/** Recipient counts per status of these mailings (`totals`). */
const TOTALS = preparedQuery(
  'mailings.totals',
  `SELECT mailing_id, status, sum(n)::int AS n FROM recipient_counts WHERE mailing_id = ANY($1::bigint[]) GROUP BY mailing_id, status`,
);

/** The advisory lock class of folding recipient_counts (two-key form, with 0; 'fold' in ASCII). */
export const FOLD_LOCK = 0x666f6c64;

/**
 * `foldRecipientCounts`. Its mailings are drawn first into an array (an InitPlan), so the rows go by the
 * (mailing_id, send_id) index whatever the statistics say (a semi-join planned while deltas abounded scanned the
 * whole table); with no delta, the statement reads one page of the empty partial index and writes nothing,
 * which is what the workers' frequent folds cost while nothing changes. The try-lock keeps two workers' folds
 * from queueing on each other's rows.
 */
const FOLD = preparedQuery(
  'mailings.fold',
  `WITH gone AS (
     DELETE FROM recipient_counts c
      WHERE c.mailing_id = ANY (ARRAY(
              SELECT DISTINCT mailing_id FROM recipient_counts
               WHERE NOT folded AND (SELECT pg_try_advisory_xact_lock(${FOLD_LOCK}, 0))))
     RETURNING c.*),
   folded AS (
     INSERT INTO recipient_counts (mailing_id, send_id, is_test, status, tried, n, folded)
     SELECT mailing_id, send_id, is_test, status, tried, sum(n), true FROM gone
      GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0)
   SELECT count(*)::int AS n FROM gone`,
);

export type SystemRole = 'confirm' | 'optout';

export function mailingsRepo(db: Queryable) {
  return {
    async insert(accountId: number, m: NewMailing): Promise<{ id: number; sendId: number }> {
      // One statement: mailing, its first variant and its implicit send.
      const { rows } = await db.query<{ id: number; send_id: number }>(
        `WITH m AS (
           INSERT INTO mailings (account_id, dialect, name, domain_name, read_tracking, click_tracking)
           VALUES ($1, $2, $3, $4, $13, $14) RETURNING id, account_id),
         v AS (
           INSERT INTO variants (mailing_id, from_email, from_name, replyto_email, subject, html, text, charset, raw_message)
           SELECT m.id, $5, $6, $7, $8, $9, $10, $11, $12 FROM m RETURNING id, mailing_id)
         INSERT INTO sends (account_id, mailing_id, variant_id)
         SELECT m.account_id, m.id, v.id FROM m, v RETURNING mailing_id AS id, id AS send_id`,
        [
          accountId,
          m.dialect,
          m.name,
          m.domainName,
          m.fromEmail,
          m.fromName,
          m.replytoEmail,
          m.subject,
          m.html,
          m.text,
          m.charset,
          m.rawMessage,
          m.readTracking,
          m.clickTracking,
        ],
      );
      return { id: rows[0]!.id, sendId: rows[0]!.send_id };
    },

    /**
     * A mailing of a list with its variants (their layouts' images) and each variant's deliveries: sends
     * that snapshot the list when they start, READY at their scheduled start. Several statements: run it in
     * a transaction. `undefined` when the account has a mailing of that name already.
     */
    async insertListMailing(accountId: number, m: NewListMailing): Promise<{ id: number; sends: { id: number; scheduledStart: Date | null }[] } | undefined> {
      let id: number;
      try {
        const { rows } = await db.query<{ id: number }>(
          `INSERT INTO mailings (account_id, dialect, name, campaign_id, list_id, segments, domain_name, read_tracking, click_tracking)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
          [accountId, m.dialect, m.name, m.campaignId, m.listId, JSON.stringify(m.segments), m.domainName, m.readTracking, m.clickTracking],
        );
        id = rows[0]!.id;
      } catch (e) {
        if (sqlState(e) === SQLSTATE.uniqueViolation) return undefined;
        throw e;
      }
      const sends: { id: number; scheduledStart: Date | null }[] = [];
      for (const [position, v] of m.variants.entries()) {
        const { rows } = await db.query<{ id: number }>(
          `INSERT INTO variants (mailing_id, position, language, from_email, from_name, replyto_email, subject, html, text, raw_message, layout_source, layout_key)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
          [id, position, v.language, v.fromEmail, v.fromName, v.replytoEmail, v.subject, v.html, v.text, v.rawMessage, v.layoutSource, v.layoutKey],
        );
        const variantId = rows[0]!.id;
        if (v.images.length)
          await db.query(
            `INSERT INTO layout_images (variant_id, path, content_type, data)
             SELECT $1, i.path, i.content_type, i.data FROM unnest($2::text[], $3::text[], $4::bytea[]) AS i(path, content_type, data)`,
            [variantId, v.images.map((i) => i.path), v.images.map((i) => i.contentType), v.images.map((i) => i.data)],
          );
        const made = await db.query<{ id: number; scheduled_start: Date | null }>(
          `INSERT INTO sends (account_id, mailing_id, variant_id, status, from_list, scheduled_start, "limit", exclusions)
           SELECT $1, $2, $3, 'ready', true, d.at, d.lim, d.excl
             FROM unnest($4::timestamptz[], $5::int[], $6::jsonb[]) WITH ORDINALITY AS d(at, lim, excl, ord)
            ORDER BY d.ord RETURNING id, scheduled_start`,
          [
            accountId,
            id,
            variantId,
            v.deliveries.map((d) => d.scheduledStart),
            v.deliveries.map((d) => d.limit),
            v.deliveries.map((d) => JSON.stringify(d.exclusions)),
          ],
        );
        for (const r of made.rows.sort((a, b) => a.id - b.id)) sends.push({ id: r.id, scheduledStart: r.scheduled_start });
      }
      return { id, sends };
    },

    /** A page of the account's mailings (of one list when given, of these ids when given), by id; and how many. */
    async summaries(
      accountId: number,
      q: { listId: number | null; ids?: number[] | null },
      offset: number,
      limit: number,
    ): Promise<{ count: number; rows: MailingSummaryRow[] }> {
      const ids = q.ids ?? null;
      const read = SUMMARIES[q.listId === null ? 0 : 1]![ids === null ? 0 : 1]!;
      const values = [accountId, ...(q.listId === null ? [] : [q.listId]), ...(ids === null ? [] : [ids]), offset, limit];
      const { rows } = await read<{ count: number } & { [K in keyof MailingSummaryRow]: MailingSummaryRow[K] | null }>(db, values);
      return { count: rows[0]!.count, rows: rows.filter((r): r is typeof r & MailingSummaryRow => r.id !== null) };
    },

    /** The variants of these mailings (without their whole messages), in order. */
    async variants(mailingIds: number[]): Promise<VariantRow[]> {
      const { rows } = await db.query<VariantRow>(
        `SELECT id, mailing_id, position, language, from_name, from_email, replyto_email, subject, text, layout_source
           FROM variants WHERE mailing_id = ANY($1::bigint[]) ORDER BY mailing_id, position`,
        [mailingIds],
      );
      return rows;
    },

    /** The sends of these mailings, oldest first. */
    async sends(mailingIds: number[]): Promise<SendRow[]> {
      const { rows } = await db.query<SendRow>(
        `SELECT id, mailing_id, variant_id, status, scheduled_start, "limit", exclusions, started_at, finished_at, snapshot_at
           FROM sends WHERE mailing_id = ANY($1::bigint[]) ORDER BY mailing_id, id`,
        [mailingIds],
      );
      return rows;
    },

    /** One image of a layout, by the layout's key and the image's path in its zip. */
    async layoutImage(layoutKey: string, path: string): Promise<{ content_type: string; data: Buffer } | undefined> {
      const { rows } = await db.query<{ content_type: string; data: Buffer }>(
        `SELECT i.content_type, i.data FROM layout_images i JOIN variants v ON v.id = i.variant_id WHERE v.layout_key = $1 AND i.path = $2`,
        [layoutKey, path],
      );
      return rows[0];
    },

    /**
     * Waits until no other transaction is making this mailing a standing send (makeStanding), and keeps the
     * others waiting until this one ends: an advisory lock, so they queue here and not on the mailing's row,
     * where the messages being added hold their share locks.
     */
    async lockStanding(id: number): Promise<void> {
      await db.query('SELECT pg_advisory_xact_lock($1, ($2::bigint % 2147483647)::int)', [STANDING_LOCK, id]);
    },

    /** Its sends go first in the worker queue (transactional messages). */
    async markTransactional(accountId: number, id: number): Promise<void> {
      await db.query('UPDATE mailings SET transactional = true WHERE account_id = $1 AND id = $2 AND NOT transactional', [accountId, id]);
    },

    /** A mailing by its name (Sender's campaign slug). */
    async idByName(accountId: number, name: string): Promise<number | undefined> {
      const { rows } = await ID_BY_NAME<{ id: number }>(db, [accountId, name]);
      return rows[0]?.id;
    },

    /** The account's built-in mailing of that role (the default confirmation message, the optout notice). */
    async systemMailing(accountId: number, role: SystemRole): Promise<number | undefined> {
      const { rows } = await db.query<{ id: number }>('SELECT id FROM mailings WHERE account_id = $1 AND system_role = $2', [accountId, role]);
      return rows[0]?.id;
    },

    /** Marks a mailing as the account's built-in one of that role; false when the account has one already. */
    async setSystemRole(accountId: number, id: number, role: SystemRole): Promise<boolean> {
      const { rowCount } = await db.query(
        `UPDATE mailings SET system_role = $3 WHERE account_id = $1 AND id = $2
            AND NOT EXISTS (SELECT 1 FROM mailings o WHERE o.account_id = $1 AND o.system_role = $3)`,
        [accountId, id, role],
      );
      return (rowCount ?? 0) > 0;
    },

    /** `lock` locks the mailing row (the send's status changes under it too). */
    async get(accountId: number, id: number, lock: '' | 'FOR UPDATE' | 'FOR SHARE' = ''): Promise<MailingRow | undefined> {
      const lockClause = lock ? `${lock} OF m` : '';
      const { rows } = await db.query<MailingRow>(`${SELECT_MAILING} WHERE m.account_id = $1 AND m.id = $2 ${lockClause}`, [accountId, id]);
      return rows[0];
    },

    /**
     * The mailing's send and its status, the mailing row locked as asked: all add_recipients needs, and what a
     * transactional message decides from (whether the mailing is a standing send marked transactional yet).
     */
    async sendOf(accountId: number, id: number, lock: 'FOR SHARE' | 'FOR UPDATE'): Promise<SendOfRow | undefined> {
      const { rows } = await db.query<SendOfRow>(
        `SELECT s.id AS send_id, s.status, m.transactional, s.dont_close_if_empty FROM mailings m
           JOIN LATERAL (SELECT id, status, dont_close_if_empty FROM sends WHERE mailing_id = m.id ${CURRENT_SEND}) s ON true
          WHERE m.account_id = $1 AND m.id = $2 ${lock} OF m`,
        [accountId, id],
      );
      return rows[0];
    },

    async rawMessage(accountId: number, id: number): Promise<Buffer | null> {
      const { rows } = await db.query<{ raw_message: Buffer | null }>(
        `SELECT v.raw_message FROM variants v JOIN mailings m ON m.id = v.mailing_id
          WHERE m.account_id = $1 AND m.id = $2 AND v.position = 0`,
        [accountId, id],
      );
      return rows[0]?.raw_message ?? null;
    },

    /** The account's mailings the filter keeps, by id, with their counts and engagement (one statement). */
    async list(accountId: number, f: MailingFilter): Promise<ListedMailingRow[]> {
      const { read, values } = listRead(accountId, f);
      const { rows } = await read<ListedMailingRow>(db, values);
      return rows;
    },

    async ids(accountId: number, f: MailingFilter): Promise<number[]> {
      const { rows } = await db.query<{ id: number }>(
        `SELECT m.id FROM mailings m JOIN LATERAL (SELECT status FROM sends WHERE mailing_id = m.id ${CURRENT_SEND}) s ON true
          WHERE ${FILTER}`,
        filterParams(accountId, f),
      );
      return rows.map((r) => r.id);
    },

    async count(accountId: number, f: MailingFilter): Promise<number> {
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM mailings m JOIN LATERAL (SELECT status FROM sends WHERE mailing_id = m.id ${CURRENT_SEND}) s ON true
          WHERE ${FILTER}`,
        filterParams(accountId, f),
      );
      return rows[0]!.n;
    },

    /**
     * The operator's view of the account's mailings (one when `id` is given), of every dialect: the current
     * send's status and the recipients' counts by status. Left joins: a list mailing without a delivery yet
     * has no send (status null) and still shows.
     */
    async progress(accountId: number, id: number | null): Promise<MailingProgressRow[]> {
      const { rows } = await db.query<MailingProgressRow>(
        `SELECT m.id, m.dialect, m.name, v.subject, s.status, s.started_at, s.finished_at, t.*
           FROM mailings m
           LEFT JOIN variants v ON v.mailing_id = m.id AND v.position = 0
           LEFT JOIN LATERAL (SELECT status, started_at, finished_at FROM sends WHERE mailing_id = m.id ${CURRENT_SEND}) s ON true
           CROSS JOIN LATERAL (SELECT ${TOTALS_BY_STATUS} FROM recipient_counts WHERE mailing_id = m.id) t
          WHERE m.account_id = $1 AND ($2::bigint IS NULL OR m.id = $2)
          ORDER BY m.id`,
        [accountId, id],
      );
      return rows;
    },

    /** Recipient counts per status for each mailing (test recipients included), summed from recipient_counts. */
    async totals(mailingIds: number[]): Promise<Map<number, MailingTotals>> {
      const out = new Map<number, MailingTotals>();
      if (!mailingIds.length) return out;
      const { rows } = await TOTALS<{ mailing_id: number; status: keyof MailingTotals; n: number }>(db, [mailingIds]);
      for (const id of mailingIds) out.set(id, { ready: 0, warning: 0, finished: 0, error: 0, timeout: 0, general_error: 0 });
      for (const r of rows) out.get(r.mailing_id)![r.status] = r.n;
      return out;
    },

    /**
     * The recipient_counts rows of every mailing a trigger wrote a delta for, folded into one row per key
     * (a key summing to 0 leaves none: a deleted mailing's rows go). Deleted and their sums inserted in one
     * statement, so a reader sees either the rows or their sums, never neither; writers only insert, so none
     * waits on this, and a delta committed meanwhile is not seen here and is folded by a later fold. One fold
     * at a time (FOLD): a fold that finds another one running folds nothing and returns 0. Returns how many
     * rows went.
     */
    async foldRecipientCounts(): Promise<number> {
      const { rows } = await FOLD<{ n: number }>(db, []);
      return rows[0]!.n;
    },

    /** Write mailing, variant and send columns; bumps the mailing's rev so a running send job reloads it. */
    async update(
      accountId: number,
      id: number,
      changes: {
        mailing: Partial<Record<MailingColumn, unknown>>;
        variant: Partial<Record<VariantColumn, unknown>>;
        send: Partial<Record<SendColumn, unknown>>;
      },
    ): Promise<void> {
      const mCols = Object.keys(changes.mailing) as MailingColumn[];
      const vCols = Object.keys(changes.variant) as VariantColumn[];
      const sCols = Object.keys(changes.send) as SendColumn[];
      const mSet = [setList(mCols, MAILING_COLUMNS, 3), 'rev = rev + 1', 'updated_at = now()'].filter(Boolean).join(', ');
      await db.query(`UPDATE mailings SET ${mSet} WHERE account_id = $1 AND id = $2`, [
        accountId,
        id,
        ...mCols.map((c) => (c === 'dkim' && changes.mailing[c] !== null ? JSON.stringify(changes.mailing[c]) : changes.mailing[c])),
      ]);
      if (vCols.length) {
        await db.query(`UPDATE variants SET ${setList(vCols, VARIANT_COLUMNS, 2)} WHERE mailing_id = $1 AND position = 0`, [
          id,
          ...vCols.map((c) => changes.variant[c]),
        ]);
      }
      if (sCols.length) {
        await db.query(`UPDATE sends SET ${setList(sCols, SEND_COLUMNS, 2)} WHERE id = (SELECT min(id) FROM sends WHERE mailing_id = $1)`, [
          id,
          ...sCols.map((c) => changes.send[c]),
        ]);
      }
    },

    /** The send's new status, with its start and end times. */
    async setSendStatus(sendId: number, status: MailingStatus): Promise<void> {
      await db.query(
        `UPDATE sends SET status = $2,
                started_at = CASE WHEN $2 = 'running' THEN coalesce(started_at, now()) ELSE started_at END,
                finished_at = CASE WHEN $2 = 'finished' THEN now() ELSE finished_at END
          WHERE id = $1`,
        [sendId, status],
      );
    },

    /** Deletes the mailings of a list (their sends and recipients go with them). */
    async deleteOfList(accountId: number, listId: number): Promise<number> {
      const { rowCount } = await db.query('DELETE FROM mailings WHERE account_id = $1 AND list_id = $2', [accountId, listId]);
      return rowCount ?? 0;
    },

    async delete(accountId: number, ids: number[]): Promise<number> {
      const { rowCount } = await db.query('DELETE FROM mailings WHERE account_id = $1 AND id = ANY($2::bigint[])', [accountId, ids]);
      return rowCount ?? 0;
    },

    /**
     * Tries per hour from `from` to `to` (both inclusive, hour-truncated), one row per hour, zero-filled,
     * at most `max` rows.
     */
    async hourlyStatistics(accountId: number, from: Date, to: Date, max: number) {
      const { rows } = await db.query<{ hour: Date; sent: number; failed: number; tries: number }>(
        `SELECT h.hour, coalesce(s.sent, 0)::int AS sent, coalesce(s.failed, 0)::int AS failed, coalesce(s.tries, 0)::int AS tries
           FROM generate_series(date_trunc('hour', $2::timestamptz, 'UTC'), date_trunc('hour', $3::timestamptz, 'UTC'), interval '1 hour') AS h(hour)
           LEFT JOIN hourly_stats s ON s.account_id = $1 AND s.hour = h.hour
          ORDER BY h.hour LIMIT $4`,
        [accountId, from, to, max],
      );
      return rows;
    },

    /**
     * Transactional campaigns of every account (/admin), newest first: mailings a transactional send has used,
     * and Sender campaigns (named sender-dialect mailings, made to be sent through) that none has yet.
     */
    async campaigns(p: { limit: number; beforeId?: number | undefined; search?: string | undefined }): Promise<CampaignSummaryRow[]> {
      const { rows } = await db.query<CampaignSummaryRow>(
        `SELECT m.id, a.slug AS account, m.dialect, m.name, v.subject, v.from_email, v.from_name, m.submit_time
           FROM mailings m JOIN accounts a ON a.id = m.account_id JOIN variants v ON v.mailing_id = m.id AND v.position = 0
          WHERE (m.transactional OR (m.dialect = 'sender' AND m.name IS NOT NULL))
            AND ($2::bigint IS NULL OR m.id < $2) AND ($3::text IS NULL OR m.name ILIKE $3 OR v.subject ILIKE $3)
          ORDER BY m.id DESC LIMIT $1`,
        [p.limit, p.beforeId ?? null, containing(p.search)],
      );
      return rows;
    },
  };
}

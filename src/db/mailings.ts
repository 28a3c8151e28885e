/**
 * Mailings, their variants and sends. Every query is scoped by account_id: tenant isolation lives here.
 */
import type { Queryable } from './pool.js';
import type { MailingStatus } from '../core/statuses.js';

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

export interface MailingRow extends VariantContent {
  id: number;
  account_id: number;
  dialect: string;
  name: string | null;
  campaign_id: number | null;
  list_id: number | null;
  status: MailingStatus;
  type: 'regular' | 'opened';
  owner_guid: string | null;
  domain_name: string;
  tracking_url: string | null;
  scheduled_start: Date | null;
  scheduled_end: Date | null;
  scheduled_duration: number;
  dont_close_if_empty: boolean;
  read_tracking: boolean;
  click_tracking: boolean;
  backup_customized_emails: boolean;
  url_encoding: string | null;
  dkim: Record<string, unknown> | null;
  headers: Record<string, string>;
  submit_time: Date;
  start_time: Date | null;
  end_time: Date | null;
  updated_at: Date;
  // from the first variant (and VariantContent)
  has_raw: boolean;
  // the implicit (first) send
  send_id: number;
}

export interface MailingTotals {
  ready: number;
  warning: number;
  finished: number;
  error: number;
  timeout: number;
  general_error: number;
}

export interface MailingFilter {
  ids?: number[];
  statuses?: MailingStatus[];
  domains?: string[];
  ownerGuids?: string[];
}

export interface NewMailing {
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

/** Columns of mailings that set_mailing_properties may write (core name = column name). */
export const MAILING_COLUMNS = [
  'type', 'tracking_url', 'owner_guid', 'scheduled_start', 'scheduled_end', 'scheduled_duration', 'dont_close_if_empty',
  'read_tracking', 'click_tracking', 'backup_customized_emails', 'url_encoding', 'dkim', 'headers', 'domain_name',
] as const;
export const VARIANT_COLUMNS = ['from_email', 'from_name', 'replyto_email', 'subject', 'html', 'text', 'charset'] as const;
export type MailingColumn = (typeof MAILING_COLUMNS)[number];
export type VariantColumn = (typeof VARIANT_COLUMNS)[number];

const SELECT_MAILING = `
  SELECT m.*, v.from_email, v.from_name, v.replyto_email, v.subject, v.html, v.text, v.charset,
         (v.raw_message IS NOT NULL) AS has_raw, s.id AS send_id
    FROM mailings m
    JOIN variants v ON v.mailing_id = m.id AND v.position = 0
    JOIN LATERAL (SELECT id FROM sends WHERE mailing_id = m.id ORDER BY id LIMIT 1) s ON true`;

const FILTER = `
  m.account_id = $1
  AND ($2::bigint[] IS NULL OR m.id = ANY($2))
  AND ($3::text[] IS NULL OR m.status = ANY($3))
  AND ($4::text[] IS NULL OR m.domain_name = ANY($4))
  AND ($5::text[] IS NULL OR m.owner_guid = ANY($5))`;

const filterParams = (accountId: number, f: MailingFilter) => [
  accountId,
  f.ids ?? null,
  f.statuses ?? null,
  f.domains?.map((d) => d.toLowerCase()) ?? null,
  f.ownerGuids ?? null,
];

export function mailingsRepo(db: Queryable) {
  return {
    async insert(accountId: number, m: NewMailing): Promise<{ id: number; sendId: number }> {
      // One statement: mailing, its first variant and its implicit send.
      const { rows } = await db.query<{ id: number; send_id: number }>(
        `WITH m AS (
           INSERT INTO mailings (account_id, dialect, name, domain_name) VALUES ($1, $2, $3, $4) RETURNING id, account_id),
         v AS (
           INSERT INTO variants (mailing_id, from_email, from_name, replyto_email, subject, html, text, charset, raw_message)
           SELECT m.id, $5, $6, $7, $8, $9, $10, $11, $12 FROM m RETURNING id, mailing_id)
         INSERT INTO sends (account_id, mailing_id, variant_id)
         SELECT m.account_id, m.id, v.id FROM m, v RETURNING mailing_id AS id, id AS send_id`,
        [accountId, m.dialect, m.name, m.domainName, m.fromEmail, m.fromName, m.replytoEmail, m.subject, m.html, m.text, m.charset, m.rawMessage],
      );
      return { id: rows[0]!.id, sendId: rows[0]!.send_id };
    },

    async get(accountId: number, id: number, lock: '' | 'FOR UPDATE' | 'FOR SHARE' = ''): Promise<MailingRow | undefined> {
      const lockClause = lock ? `${lock} OF m` : '';
      const { rows } = await db.query<MailingRow>(`${SELECT_MAILING} WHERE m.account_id = $1 AND m.id = $2 ${lockClause}`, [accountId, id]);
      return rows[0];
    },

    async list(accountId: number, f: MailingFilter): Promise<MailingRow[]> {
      const { rows } = await db.query<MailingRow>(`${SELECT_MAILING} WHERE ${FILTER} ORDER BY m.id`, filterParams(accountId, f));
      return rows;
    },

    async count(accountId: number, f: MailingFilter): Promise<number> {
      const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM mailings m WHERE ${FILTER}`, filterParams(accountId, f));
      return rows[0]!.n;
    },

    /** Recipient counts per status for each mailing (test sends excluded), from the (mailing_id, status) index. */
    async totals(mailingIds: number[]): Promise<Map<number, MailingTotals>> {
      const { rows } = await db.query<{ mailing_id: number; status: keyof MailingTotals; n: number }>(
        `SELECT mailing_id, status, count(*)::int AS n FROM recipients
          WHERE mailing_id = ANY($1::bigint[]) AND NOT is_test GROUP BY mailing_id, status`,
        [mailingIds],
      );
      const out = new Map<number, MailingTotals>();
      for (const id of mailingIds) out.set(id, { ready: 0, warning: 0, finished: 0, error: 0, timeout: 0, general_error: 0 });
      for (const r of rows) out.get(r.mailing_id)![r.status] = r.n;
      return out;
    },

    async update(
      accountId: number,
      id: number,
      mailing: Partial<Record<MailingColumn, unknown>>,
      variant: Partial<Record<VariantColumn, unknown>>,
    ): Promise<void> {
      const mCols = Object.keys(mailing) as MailingColumn[];
      const vCols = Object.keys(variant) as VariantColumn[];
      // Column names come from the closed lists above, never from the caller.
      for (const c of mCols) if (!MAILING_COLUMNS.includes(c)) throw new Error(`not a mailing column: ${c}`);
      for (const c of vCols) if (!VARIANT_COLUMNS.includes(c)) throw new Error(`not a variant column: ${c}`);
      const mSet = mCols.map((c, i) => `${c} = $${i + 3}`).concat('updated_at = now()').join(', ');
      await db.query(`UPDATE mailings SET ${mSet} WHERE account_id = $1 AND id = $2`, [
        accountId,
        id,
        ...mCols.map((c) => (c === 'dkim' || c === 'headers' ? JSON.stringify(mailing[c]) : mailing[c])),
      ]);
      if (vCols.length) {
        const vSet = vCols.map((c, i) => `${c} = $${i + 2}`).join(', ');
        await db.query(`UPDATE variants SET ${vSet} WHERE mailing_id = $1 AND position = 0`, [id, ...vCols.map((c) => variant[c])]);
      }
    },

    async setStatus(accountId: number, id: number, status: MailingStatus): Promise<void> {
      await db.query(
        `UPDATE mailings SET status = $3, updated_at = now(),
                start_time = CASE WHEN $3 = 'running' THEN coalesce(start_time, now()) ELSE start_time END,
                end_time = CASE WHEN $3 = 'finished' THEN now() ELSE end_time END
          WHERE account_id = $1 AND id = $2`,
        [accountId, id, status],
      );
    },

    async delete(accountId: number, ids: number[]): Promise<number> {
      const { rowCount } = await db.query('DELETE FROM mailings WHERE account_id = $1 AND id = ANY($2::bigint[])', [accountId, ids]);
      return rowCount ?? 0;
    },

    async idsForDomain(accountId: number, domain: string): Promise<number[]> {
      const { rows } = await db.query<{ id: number }>('SELECT id FROM mailings WHERE account_id = $1 AND domain_name = $2', [
        accountId,
        domain.toLowerCase(),
      ]);
      return rows.map((r) => r.id);
    },

    async hourlyStatistics(accountId: number, from: Date, to: Date | null) {
      const { rows } = await db.query<{ hour: Date; sent: number; failed: number; tries: number }>(
        `SELECT date_trunc('hour', last_try) AS hour,
                count(*) FILTER (WHERE status = 'finished')::int AS sent,
                count(*) FILTER (WHERE status IN ('error', 'timeout', 'general_error'))::int AS failed,
                coalesce(sum(try_count), 0)::int AS tries
           FROM recipients
          WHERE account_id = $1 AND last_try >= $2 AND ($3::timestamptz IS NULL OR last_try < $3)
          GROUP BY 1 ORDER BY 1`,
        [accountId, from, to],
      );
      return rows;
    },
  };
}

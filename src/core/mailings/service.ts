/**
 * Mailings: creation, properties, the start / pause / delete life cycle, listings with totals.
 */
import { convert as htmlToText } from 'html-to-text';
import { simpleParser } from 'mailparser';
import type { CallContext } from '../context.js';
import { badRequest, forbiddenState, invalid, notFound } from '../errors.js';
import {
  EDITABLE_MAILING_STATUSES,
  PAUSABLE_MAILING_STATUSES,
  STARTABLE_MAILING_STATUSES,
  type MailingStatus,
} from '../statuses.js';
import type { Store } from '../../db/store.js';
import type { MailingColumn, MailingFilter, MailingRow, MailingTotals, VariantColumn } from '../../db/mailings.js';

export type { MailingFilter, MailingTotals };

export interface MailingDeps {
  store: Store;
  /** Parallel job lanes per send. */
  sendLanes: number;
  now?: () => Date;
}

export interface NewMailingInput {
  dialect: string;
  name?: string | null;
  fromEmail: string;
  fromName?: string | null;
  replytoEmail?: string | null;
  subject: string;
  html?: string | null;
  text?: string | null;
  charset?: string | null;
}

/** Properties in core words; each dialect maps its own names onto these. */
export interface MailingPatch {
  type?: 'regular' | 'opened';
  fromEmail?: string;
  fromName?: string | null;
  replytoEmail?: string | null;
  trackingUrl?: string | null;
  ownerGuid?: string | null;
  scheduledStart?: Date | null;
  scheduledEnd?: Date | null;
  scheduledDuration?: number;
  dontCloseIfEmpty?: boolean;
  subject?: string;
  html?: string | null;
  text?: string | null;
  charset?: string;
  readTracking?: boolean;
  clickTracking?: boolean;
  backupCustomizedEmails?: boolean;
  urlEncoding?: string | null;
  dkim?: { enabled?: boolean; selector?: string; domain?: string; privkey?: string } | null;
  headers?: Record<string, string>;
}

export interface MailingView {
  id: number;
  name: string | null;
  status: MailingStatus;
  type: 'regular' | 'opened';
  domainName: string;
  fromEmail: string;
  fromName: string | null;
  subject: string;
  trackingUrl: string | null;
  ownerGuid: string | null;
  submitTime: Date;
  scheduledStart: Date | null;
  scheduledEnd: Date | null;
  scheduledDuration: number;
  startTime: Date | null;
  endTime: Date | null;
  readTracking: boolean;
  clickTracking: boolean;
  totals: { recipients: number; sent: number; pending: number; error: number; softbounce: number };
}

const LOOSE_ADDRESS = /^[^\s@<>()",;\\]+@[^\s@<>()",;\\]+$/;

/**
 * A sender address is checked loosely: the seed's own example is `my-mailing@%example.org`. It must be one
 * address without spaces or separators; the domain is what is after the last '@', lower-cased, '%' dropped.
 */
export function senderDomain(fromEmail: string): string {
  return fromEmail.slice(fromEmail.lastIndexOf('@') + 1).replace(/^%/, '').toLowerCase();
}
function checkSender(fromEmail: unknown, field: string): string {
  if (typeof fromEmail !== 'string' || fromEmail.length > 254 || !LOOSE_ADDRESS.test(fromEmail)) {
    throw invalid(`${field}: not an e-mail address: ${JSON.stringify(fromEmail)}`, field);
  }
  return fromEmail;
}

export function deriveText(html: string): string {
  return htmlToText(html, { wordwrap: 78, selectors: [{ selector: 'a', options: { hideLinkHrefIfSameAsText: true } }] });
}

function view(row: MailingRow, t: MailingTotals): MailingView {
  const pending = t.ready + t.warning;
  const error = t.error + t.timeout + t.general_error;
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    type: row.type,
    domainName: row.domain_name,
    fromEmail: row.from_email,
    fromName: row.from_name,
    subject: row.subject,
    trackingUrl: row.tracking_url,
    ownerGuid: row.owner_guid,
    submitTime: row.submit_time,
    scheduledStart: row.scheduled_start,
    scheduledEnd: row.scheduled_end,
    scheduledDuration: row.scheduled_duration,
    startTime: row.start_time,
    endTime: row.end_time,
    readTracking: row.read_tracking,
    clickTracking: row.click_tracking,
    totals: { recipients: pending + t.finished + error, sent: t.finished, pending, error, softbounce: t.warning },
  };
}

export function mailingsService(deps: MailingDeps) {
  const { store } = deps;
  const now = deps.now ?? (() => new Date());

  async function mustGet(ctx: CallContext, id: number, tx: Pick<Store, 'mailings'> = store, lock: '' | 'FOR UPDATE' = '') {
    const row = await tx.mailings.get(ctx.accountId, id, lock);
    if (!row) throw notFound('mailing', id);
    return row;
  }

  return {
    async create(ctx: CallContext, input: NewMailingInput): Promise<number> {
      const fromEmail = checkSender(input.fromEmail, 'mail_from');
      const html = input.html || null;
      const text = input.text || (html ? deriveText(html) : null);
      const { id } = await store.mailings.insert(ctx.accountId, {
        dialect: input.dialect,
        name: input.name ?? null,
        domainName: senderDomain(fromEmail),
        fromEmail,
        fromName: input.fromName ?? null,
        replytoEmail: input.replytoEmail ?? null,
        subject: input.subject,
        html,
        text,
        charset: input.charset || 'utf-8',
        rawMessage: null,
      });
      return id;
    },

    /** A mailing from a whole RFC 822 message (CloudMailing's create_mailing_ext). */
    async createFromMessage(ctx: CallContext, dialect: string, raw: Buffer): Promise<number> {
      if (!raw.length) throw invalid('the message is empty', 'message');
      const parsed = await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
      const from = parsed.from?.value[0];
      if (!from?.address) throw invalid('the message has no From address', 'message');
      const fromEmail = checkSender(from.address, 'From');
      const { id } = await store.mailings.insert(ctx.accountId, {
        dialect,
        name: null,
        domainName: senderDomain(fromEmail),
        fromEmail,
        fromName: from.name || null,
        replytoEmail: null,
        subject: parsed.subject ?? '',
        html: typeof parsed.html === 'string' ? parsed.html : null,
        text: parsed.text ?? null,
        charset: 'utf-8',
        rawMessage: raw,
      });
      return id;
    },

    async setProperties(ctx: CallContext, id: number, patch: MailingPatch): Promise<void> {
      await store.transaction(async (tx) => {
        const row = await mustGet(ctx, id, tx, 'FOR UPDATE');
        if (!EDITABLE_MAILING_STATUSES.includes(row.status)) {
          throw forbiddenState(`mailing ${id} is ${row.status}: properties can only change before start or while paused`);
        }
        const m: Partial<Record<MailingColumn, unknown>> = {};
        const v: Partial<Record<VariantColumn, unknown>> = {};
        if (patch.type !== undefined) m.type = patch.type;
        if (patch.trackingUrl !== undefined) m.tracking_url = patch.trackingUrl;
        if (patch.ownerGuid !== undefined) {
          if (patch.ownerGuid !== null && patch.ownerGuid.length > 50) throw invalid('owner_guid: at most 50 characters', 'owner_guid');
          m.owner_guid = patch.ownerGuid;
        }
        if (patch.scheduledStart !== undefined) m.scheduled_start = patch.scheduledStart;
        if (patch.scheduledEnd !== undefined) m.scheduled_end = patch.scheduledEnd;
        if (patch.scheduledDuration !== undefined) {
          if (!Number.isInteger(patch.scheduledDuration) || patch.scheduledDuration < 0 || patch.scheduledDuration > 525_600) {
            throw invalid('scheduled_duration: minutes, 0 to 525600', 'scheduled_duration');
          }
          m.scheduled_duration = patch.scheduledDuration;
        }
        if (patch.dontCloseIfEmpty !== undefined) m.dont_close_if_empty = patch.dontCloseIfEmpty;
        if (patch.readTracking !== undefined) m.read_tracking = patch.readTracking;
        if (patch.clickTracking !== undefined) m.click_tracking = patch.clickTracking;
        if (patch.backupCustomizedEmails !== undefined) m.backup_customized_emails = patch.backupCustomizedEmails;
        if (patch.urlEncoding !== undefined) m.url_encoding = patch.urlEncoding;
        if (patch.dkim !== undefined) m.dkim = patch.dkim;
        if (patch.headers !== undefined) m.headers = patch.headers;
        if (patch.fromEmail !== undefined) {
          v.from_email = checkSender(patch.fromEmail, 'mail_from');
          m.domain_name = senderDomain(patch.fromEmail);
        }
        if (patch.fromName !== undefined) v.from_name = patch.fromName;
        if (patch.replytoEmail !== undefined) v.replyto_email = patch.replytoEmail;
        if (patch.subject !== undefined) v.subject = patch.subject;
        if (patch.html !== undefined) v.html = patch.html;
        if (patch.text !== undefined) v.text = patch.text;
        if (patch.charset !== undefined) v.charset = patch.charset;
        if (patch.html && patch.text === undefined && !row.text) v.text = deriveText(patch.html);
        const start = patch.scheduledStart !== undefined ? patch.scheduledStart : row.scheduled_start;
        const end = patch.scheduledEnd !== undefined ? patch.scheduledEnd : row.scheduled_end;
        if (start && end && end <= start) throw invalid('scheduled_end must be after scheduled_start', 'scheduled_end');
        await tx.mailings.update(ctx.accountId, id, m, v);
      });
    },

    /** READY when its scheduled start is ahead, else RUNNING; the send job is committed with the status. */
    async start(ctx: CallContext, id: number): Promise<MailingStatus> {
      return await store.transaction(async (tx) => {
        const row = await mustGet(ctx, id, tx, 'FOR UPDATE');
        if (row.status === 'ready' || row.status === 'running') return row.status;
        if (!STARTABLE_MAILING_STATUSES.includes(row.status)) throw forbiddenState(`mailing ${id} is ${row.status}: it cannot be started`);
        const t = now();
        if (row.scheduled_end && row.scheduled_end <= t) throw forbiddenState(`mailing ${id}: its scheduled_end has passed`);
        const waiting = row.scheduled_start !== null && row.scheduled_start > t;
        const status: MailingStatus = waiting ? 'ready' : 'running';
        await tx.mailings.setStatus(ctx.accountId, id, status);
        await tx.jobs.enqueueSend(row.send_id, waiting ? row.scheduled_start : null, deps.sendLanes);
        return status;
      });
    },

    async pause(ctx: CallContext, id: number): Promise<MailingStatus> {
      return await store.transaction(async (tx) => {
        const row = await mustGet(ctx, id, tx, 'FOR UPDATE');
        if (!PAUSABLE_MAILING_STATUSES.includes(row.status)) throw forbiddenState(`mailing ${id} is ${row.status}: it cannot be paused`);
        await tx.mailings.setStatus(ctx.accountId, id, 'paused');
        return 'paused' as const;
      });
    },

    /** Deleting stops sending: the send jobs find no mailing and end; recipients go with it. */
    async delete(ctx: CallContext, id: number): Promise<void> {
      const n = await store.mailings.delete(ctx.accountId, [id]);
      if (!n) throw notFound('mailing', id);
    },

    async deleteAllForDomain(ctx: CallContext, domain: string): Promise<number> {
      if (!domain) throw invalid('domain is empty', 'domain');
      const ids = await store.mailings.idsForDomain(ctx.accountId, domain.replace(/^%/, ''));
      return ids.length ? await store.mailings.delete(ctx.accountId, ids) : 0;
    },

    async get(ctx: CallContext, id: number): Promise<MailingView> {
      const row = await mustGet(ctx, id);
      const totals = await store.mailings.totals([id]);
      return view(row, totals.get(id)!);
    },

    async list(ctx: CallContext, filter: MailingFilter): Promise<MailingView[]> {
      const rows = await store.mailings.list(ctx.accountId, filter);
      const totals = await store.mailings.totals(rows.map((r) => r.id));
      return rows.map((r) => view(r, totals.get(r.id)!));
    },

    count: (ctx: CallContext, filter: MailingFilter) => store.mailings.count(ctx.accountId, filter),

    async hourlyStatistics(ctx: CallContext, from: Date, to: Date | null) {
      if (to && to < from) throw badRequest('to_date is before from_date');
      return await store.mailings.hourlyStatistics(ctx.accountId, from, to);
    },
  };
}
export type MailingsService = ReturnType<typeof mailingsService>;

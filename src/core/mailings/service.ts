/**
 * Mailings: creation, properties, the start / pause / delete life cycle of their send, listings with totals,
 * and the mailing manager's checks.
 *
 * Every mailing keeps one whole message (see message.ts): composed once from the fields of `create`, or the
 * client's own (`createFromMessage`), then edited in place by properties. Errors carry neutral messages and
 * the core name of the field at fault; each dialect spells the field its own way.
 */
import type { CallContext } from '../context.js';
import { isValidEmail } from '../email.js';
import { forbiddenState, invalid, notFound } from '../errors.js';
import { convertKeepingTemplate, templateError } from '../delivery/template.js';
import { trackingDefaults } from '../delivery/links.js';
import type { MailingStatus } from '../statuses.js';
import type { Store } from '../../db/store.js';
import type { DkimSettings, ListedMailingRow, MailingColumn, MailingFilter, MailingRow, MailingTotals, SendColumn, VariantColumn } from '../../db/mailings.js';
import type { MailingEngagement } from '../../db/reports.js';
import { NO_ENGAGEMENT } from '../engagement.js';
import { PAUSABLE, canEdit, statusAfterStart } from './lifecycle.js';
import type { MessageCodec } from './message.js';

export type { DkimSettings, MailingFilter, MailingTotals };

export interface MailingDeps {
  store: Store;
  messages: MessageCodec;
  /** Parallel job lanes per send. */
  sendLanes: number;
  /** A worker silent this long is dead (the manager's sweep). */
  workerStaleSeconds: number;
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
  satelliteGroup?: string | null;
  scheduledStart?: Date | null;
  scheduledEnd?: Date | null;
  /** The deadline: minutes from the actual start; 0 removes it. */
  maxDurationMinutes?: number;
  /** Mailgate's own pacing: first tries spread evenly over these minutes; 0 = as fast as possible. */
  spreadMinutes?: number;
  dontCloseIfEmpty?: boolean;
  subject?: string;
  html?: string | null;
  text?: string | null;
  charset?: string;
  readTracking?: boolean;
  clickTracking?: boolean;
  backupCustomizedEmails?: boolean;
  /** Send to the built-in capture, never to a relay. */
  testing?: boolean;
  urlEncoding?: string | null;
  dkim?: DkimSettings | null;
  /** A whole header block replacing the message's headers. */
  headerBlock?: string | Buffer;
  /** A whole body replacing the message's body. */
  body?: string | Buffer;
}

export interface MailingView {
  id: number;
  name: string | null;
  /** The list a list-based mailing goes to. */
  listId: number | null;
  /** Which parts the message has. */
  hasHtml: boolean;
  status: MailingStatus;
  type: 'regular' | 'opened';
  domainName: string;
  fromEmail: string;
  fromName: string | null;
  subject: string;
  trackingUrl: string | null;
  ownerGuid: string | null;
  satelliteGroup: string | null;
  submitTime: Date;
  scheduledStart: Date | null;
  scheduledEnd: Date | null;
  maxDurationMinutes: number;
  spreadMinutes: number;
  dontCloseIfEmpty: boolean;
  startTime: Date | null;
  endTime: Date | null;
  readTracking: boolean;
  clickTracking: boolean;
  backupCustomizedEmails: boolean;
  testing: boolean;
  urlEncoding: string | null;
  /** DKIM settings without the private key (never echoed). */
  dkim: Omit<DkimSettings, 'privkey'> | null;
  /** The stored message's header block. */
  header: Buffer | null;
  totals: { recipients: number; sent: number; pending: number; error: number; softbounce: number };
  /** Hosted tracking's opens and clicks over the mailing's sends, people's and machines' apart. */
  engagement: MailingEngagement;
}

/** A mailing as the operator follows it (`mailgate mailings`): no content, the counts by outcome. */
export interface MailingProgress {
  id: number;
  dialect: string;
  name: string | null;
  subject: string | null;
  /** The current send's; null for a list mailing without a delivery yet. */
  status: MailingStatus | null;
  startTime: Date | null;
  endTime: Date | null;
  recipients: number;
  sent: number;
  pending: number;
  deferred: number;
  failed: number;
}
/** The domain of a sender address, lower-cased: what domain filters match. */
export function senderDomain(fromEmail: string): string {
  return fromEmail.slice(fromEmail.lastIndexOf('@') + 1).toLowerCase();
}

function checkSender(fromEmail: unknown, field: string): string {
  if (!isValidEmail(fromEmail)) throw invalid(`not an e-mail address: ${JSON.stringify(fromEmail)}`, field);
  return fromEmail;
}

// Loaded on first use: one-shot commands (`mailgate keys list`) build the core and never derive a text.
let htmlToText: Promise<typeof import('html-to-text')> | undefined;

/** The plain-text part a mailing without one gets from its HTML (its Jinja2 constructs kept as written). */
export async function deriveText(html: string): Promise<string> {
  const { convert } = await (htmlToText ??= import('html-to-text'));
  return await convertKeepingTemplate(html, (h) => convert(h, { wordwrap: 78, selectors: [{ selector: 'a', options: { hideLinkHrefIfSameAsText: true } }] }));
}

/**
 * Refuses a template that cannot compile, when it is set (nothing stored): INVALID_ARGUMENT on `field`, the
 * message naming the line. Each entry: the field the caller set, and the texts of it that are templates.
 */
export function checkTemplates(entries: [field: string, ...sources: (string | null | undefined)[]][]): void {
  for (const [field, ...sources] of entries)
    for (const source of sources) {
      const error = templateError(source);
      if (error) throw invalid(`not a valid template: ${error}`, field);
    }
}

/** Statistics answer at most this many hours per call. */
export const MAX_STAT_HOURS = 1000;

/** The columns a view shows, of a mailing read whole (`get`) or listed (`list`). */
type ShownRow = Omit<ListedMailingRow, keyof MailingTotals | keyof MailingEngagement | 'has_html'>;

function view(row: ShownRow, hasHtml: boolean, t: MailingTotals, engagement: MailingEngagement = NO_ENGAGEMENT): MailingView {
  const pending = t.ready + t.warning;
  const error = t.error + t.timeout + t.general_error;
  let dkim: MailingView['dkim'] = null;
  if (row.dkim) {
    // The private key never leaves the core.
    const shown: Omit<DkimSettings, 'privkey'> & { privkey?: string } = { ...row.dkim };
    delete shown.privkey;
    dkim = shown;
  }
  return {
    listId: row.list_id,
    hasHtml,
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
    satelliteGroup: row.satellite_group,
    submitTime: row.submit_time,
    scheduledStart: row.scheduled_start,
    scheduledEnd: row.scheduled_end,
    maxDurationMinutes: row.max_duration_minutes,
    spreadMinutes: row.spread_minutes,
    dontCloseIfEmpty: row.dont_close_if_empty,
    startTime: row.started_at,
    endTime: row.finished_at,
    readTracking: row.read_tracking,
    clickTracking: row.click_tracking,
    backupCustomizedEmails: row.backup_customized_emails,
    testing: row.testing,
    urlEncoding: row.url_encoding,
    dkim,
    header: row.header,
    totals: { recipients: pending + t.finished + error, sent: t.finished, pending, error, softbounce: t.warning },
    engagement,
  };
}

const MAX_MINUTES = 525_600;

export function mailingsService(deps: MailingDeps) {
  const { store, messages } = deps;

  /** start's change, on a row locked FOR UPDATE in `tx`; the send job is committed with the status. */
  async function startLocked(tx: Pick<Store, 'mailings' | 'jobs'>, row: MailingRow): Promise<MailingStatus> {
    const next = statusAfterStart(row);
    if (!next) throw forbiddenState(`mailing ${row.id} is ${row.status}: it cannot be started`);
    if (next === row.status) return row.status;
    await tx.mailings.setSendStatus(row.send_id, next);
    const due = next === 'ready' && row.scheduled_start && row.scheduled_start > new Date() ? row.scheduled_start : null;
    await tx.jobs.enqueueSend(row.send_id, due, deps.sendLanes);
    return next;
  }

  async function mustGet(ctx: CallContext, id: number, tx: Pick<Store, 'mailings'> = store, lock: '' | 'FOR UPDATE' = '') {
    const row = await tx.mailings.get(ctx.accountId, id, lock);
    if (!row) throw notFound('mailing', id);
    return row;
  }

  /** The stored message after the patch's content edits (null when the patch changes no content). */
  async function editedMessage(raw: Buffer | null, row: MailingRow, patch: MailingPatch): Promise<Buffer | null> {
    const touches = ['fromEmail', 'fromName', 'replytoEmail', 'subject', 'html', 'text', 'headerBlock', 'body'].some(
      (k) => patch[k as keyof MailingPatch] !== undefined,
    );
    if (!touches) return null;
    let m = raw ?? (await messages.compose({ fromEmail: row.from_email, fromName: row.from_name, subject: row.subject, html: row.html, text: row.text }));
    if (patch.headerBlock !== undefined) m = messages.replaceHeaderBlock(m, patch.headerBlock);
    if (patch.body !== undefined) m = messages.replaceBody(m, patch.body);
    if (patch.fromEmail !== undefined || patch.fromName !== undefined) {
      const name = patch.fromName !== undefined ? patch.fromName : row.from_name;
      const address = patch.fromEmail ?? row.from_email;
      m = messages.setFrom(m, name, address);
    }
    if (patch.replytoEmail !== undefined) m = messages.setHeader(m, 'Reply-To', patch.replytoEmail);
    if (patch.subject !== undefined) m = messages.setHeader(m, 'Subject', patch.subject);
    if (patch.html !== undefined || patch.text !== undefined) m = await messages.replaceTextBodies(m, { html: patch.html, text: patch.text });
    return m;
  }

  return {
    async create(ctx: CallContext, input: NewMailingInput): Promise<number> {
      const fromEmail = checkSender(input.fromEmail, 'fromEmail');
      const html = input.html || null;
      const text = input.text || (html ? await deriveText(html) : null);
      const fromName = input.fromName || null;
      // The text made from the html is checked as the html's (it keeps the html's constructs).
      checkTemplates([
        ['subject', input.subject],
        ['html', html, input.text ? null : text],
        ['text', input.text],
      ]);
      const raw = await messages.compose({ fromEmail, fromName, subject: input.subject, html, text });
      const { id } = await store.mailings.insert(ctx.accountId, {
        ...trackingDefaults(input.dialect),
        dialect: input.dialect,
        name: input.name ?? null,
        domainName: senderDomain(fromEmail),
        fromEmail,
        fromName,
        replytoEmail: input.replytoEmail ?? null,
        subject: input.subject,
        html,
        text,
        charset: input.charset || 'utf-8',
        rawMessage: raw,
      });
      return id;
    },

    /** A mailing from a whole RFC 822 message, kept as it is (line ends made CRLF). */
    async createFromMessage(ctx: CallContext, dialect: string, message: Buffer): Promise<number> {
      if (!message.length) throw invalid('the message is empty', 'message');
      const raw = messages.normalize(message);
      const summary = await messages.summarize(raw);
      if (!summary.fromEmail) throw invalid('the message has no From address', 'message');
      const fromEmail = checkSender(summary.fromEmail, 'message');
      checkTemplates([['message', summary.subject, summary.html, summary.text]]);
      const { id } = await store.mailings.insert(ctx.accountId, {
        ...trackingDefaults(dialect),
        dialect,
        name: null,
        domainName: senderDomain(fromEmail),
        fromEmail,
        fromName: summary.fromName,
        replytoEmail: null,
        subject: summary.subject,
        html: summary.html,
        text: summary.text,
        charset: 'utf-8',
        rawMessage: raw,
      });
      return id;
    },

    /**
     * Any time before the send is FINISHED. A running send's job sees the change at its next claim, so new
     * content reaches every recipient not sent yet.
     */
    async setProperties(ctx: CallContext, id: number, patch: MailingPatch): Promise<void> {
      await store.transaction(async (tx) => {
        const row = await mustGet(ctx, id, tx, 'FOR UPDATE');
        if (!canEdit(row.status)) throw forbiddenState(`mailing ${id} is finished: its properties can no longer change`);
        const m: Partial<Record<MailingColumn, unknown>> = {};
        const v: Partial<Record<VariantColumn, unknown>> = {};
        const s: Partial<Record<SendColumn, unknown>> = {};
        if (patch.type !== undefined) m.type = patch.type;
        if (patch.trackingUrl !== undefined) m.tracking_url = patch.trackingUrl;
        if (patch.ownerGuid !== undefined) {
          if (patch.ownerGuid !== null && patch.ownerGuid.length > 50) throw invalid('at most 50 characters', 'ownerGuid');
          m.owner_guid = patch.ownerGuid;
        }
        if (patch.satelliteGroup !== undefined) m.satellite_group = patch.satelliteGroup;
        if (patch.readTracking !== undefined) m.read_tracking = patch.readTracking;
        if (patch.clickTracking !== undefined) m.click_tracking = patch.clickTracking;
        if (patch.backupCustomizedEmails !== undefined) m.backup_customized_emails = patch.backupCustomizedEmails;
        if (patch.testing !== undefined) m.testing = patch.testing;
        if (patch.urlEncoding !== undefined) m.url_encoding = patch.urlEncoding;
        if (patch.dkim !== undefined) m.dkim = patch.dkim;
        if (patch.scheduledStart !== undefined) s.scheduled_start = patch.scheduledStart;
        if (patch.scheduledEnd !== undefined) s.scheduled_end = patch.scheduledEnd;
        for (const [key, column] of [
          ['maxDurationMinutes', 'max_duration_minutes'],
          ['spreadMinutes', 'spread_minutes'],
        ] as const) {
          const minutes = patch[key];
          if (minutes === undefined) continue;
          if (!Number.isInteger(minutes) || minutes < 0 || minutes > MAX_MINUTES) throw invalid(`minutes, 0 to ${MAX_MINUTES}`, key);
          s[column] = minutes;
        }
        if (patch.dontCloseIfEmpty !== undefined) s.dont_close_if_empty = patch.dontCloseIfEmpty;
        if (patch.fromEmail !== undefined) {
          v.from_email = checkSender(patch.fromEmail, 'fromEmail');
          m.domain_name = senderDomain(patch.fromEmail);
        }
        if (patch.fromName !== undefined) v.from_name = patch.fromName;
        if (patch.replytoEmail !== undefined) v.replyto_email = patch.replytoEmail === null ? null : checkSender(patch.replytoEmail, 'replytoEmail');
        if (patch.subject !== undefined) v.subject = patch.subject;
        if (patch.html !== undefined) v.html = patch.html;
        if (patch.text !== undefined) v.text = patch.text;
        if (patch.charset !== undefined) v.charset = patch.charset;
        const start = patch.scheduledStart !== undefined ? patch.scheduledStart : row.scheduled_start;
        const end = patch.scheduledEnd !== undefined ? patch.scheduledEnd : row.scheduled_end;
        if (start && end && end <= start) throw invalid('must be after the scheduled start', 'scheduledEnd');
        checkTemplates([
          ['subject', patch.subject],
          ['html', patch.html],
          ['text', patch.text],
        ]);
        const raw = await editedMessage(await tx.mailings.rawMessage(ctx.accountId, id), row, patch);
        if (raw) {
          v.raw_message = raw;
          if (patch.headerBlock !== undefined || patch.body !== undefined) {
            // What listings show follows the new message.
            const summary = await messages.summarize(raw);
            checkTemplates([[patch.body !== undefined ? 'body' : 'headerBlock', summary.subject, summary.html, summary.text]]);
            v.subject = summary.subject;
            v.html = summary.html;
            v.text = summary.text;
          }
        }
        await tx.mailings.update(ctx.accountId, id, { mailing: m, variant: v, send: s });
        // The running job picks the change up; a send held open by dont_close_if_empty may now finish.
        if (row.status === 'running') await tx.jobs.enqueueSend(row.send_id, null, deps.sendLanes);
      });
    },

    /**
     * FILLING -> READY (the send job makes it RUNNING when its scheduled start is reached); PAUSED -> RUNNING
     * when it had started, else READY. The send job is committed with the status.
     */
    async start(ctx: CallContext, id: number): Promise<MailingStatus> {
      return await store.transaction(async (tx) => startLocked(tx, await mustGet(ctx, id, tx, 'FOR UPDATE')));
    },

    /**
     * The mailing as a standing send of transactional messages: kept open when empty (dont_close_if_empty),
     * marked transactional, and started when still FILLING. The first messages of a campaign, which all found
     * it unprepared, prepare it once: the others wait for that one and change nothing (the later messages of
     * the campaign do not call this at all).
     */
    async makeStanding(ctx: CallContext, id: number): Promise<void> {
      await store.transaction(async (tx) => {
        // One at a time per mailing; the ones that waited find it done and leave without touching its row.
        await tx.mailings.lockStanding(id);
        const seen = await mustGet(ctx, id, tx);
        if (seen.dont_close_if_empty && seen.transactional && seen.status !== 'filling') return;
        const row = await mustGet(ctx, id, tx, 'FOR UPDATE');
        if (!canEdit(row.status)) throw forbiddenState(`mailing ${id} is finished: its properties can no longer change`);
        if (!row.dont_close_if_empty) {
          await tx.mailings.update(ctx.accountId, id, { mailing: {}, variant: {}, send: { dont_close_if_empty: true } });
          if (row.status === 'running') await tx.jobs.enqueueSend(row.send_id, null, deps.sendLanes);
        }
        if (!row.transactional) await tx.mailings.markTransactional(ctx.accountId, id);
        if (row.status === 'filling') await startLocked(tx, row);
      });
    },

    async pause(ctx: CallContext, id: number): Promise<MailingStatus> {
      return await store.transaction(async (tx) => {
        const row = await mustGet(ctx, id, tx, 'FOR UPDATE');
        if (!PAUSABLE.includes(row.status)) throw forbiddenState(`mailing ${id} is ${row.status}: it cannot be paused`);
        await tx.mailings.setSendStatus(row.send_id, 'paused');
        return 'paused' as const;
      });
    },

    /** Deleting stops sending: the send jobs find no send and end; recipients go with it. */
    async delete(ctx: CallContext, id: number): Promise<void> {
      const n = await store.mailings.delete(ctx.accountId, [id]);
      if (!n) throw notFound('mailing', id);
    },

    async deleteAllForDomain(ctx: CallContext, domain: string): Promise<number> {
      if (!domain) throw invalid('empty', 'domain');
      const ids = await store.mailings.ids(ctx.accountId, { domains: [domain] });
      return ids.length ? await store.mailings.delete(ctx.accountId, ids) : 0;
    },

    async get(ctx: CallContext, id: number): Promise<MailingView> {
      const row = await mustGet(ctx, id);
      const [totals, engagement] = await Promise.all([store.mailings.totals([id]), store.reports.mailingEngagement([id])]);
      return view(row, row.html !== null && row.html !== '', totals.get(id)!, engagement.get(id));
    },

    /** The rows, their counts and engagement in one statement (list_mailings is the hottest read of all). */
    async list(ctx: CallContext, filter: MailingFilter): Promise<MailingView[]> {
      const rows = await store.mailings.list(ctx.accountId, filter);
      return rows.map((r) =>
        view(
          r,
          r.has_html,
          { ready: r.ready, warning: r.warning, finished: r.finished, error: r.error, timeout: r.timeout, general_error: r.general_error },
          {
            opens: r.opens,
            opens_unique: r.opens_unique,
            clicks: r.clicks,
            clicks_unique: r.clicks_unique,
            machine_opens: r.machine_opens,
            machine_opens_unique: r.machine_opens_unique,
            machine_clicks: r.machine_clicks,
            machine_clicks_unique: r.machine_clicks_unique,
          },
        ),
      );
    },

    /**
     * The account's mailings of every dialect (one, NOT_FOUND when missing, with `id`) and their recipients by
     * outcome: sent, pending (never tried), deferred (a temporary failure, to be retried), failed (for good).
     */
    async progress(ctx: CallContext, id: number | null = null): Promise<MailingProgress[]> {
      const rows = await store.mailings.progress(ctx.accountId, id);
      if (id !== null && !rows.length) throw notFound('mailing', id);
      return rows.map((r) => {
        const counts = { sent: r.finished, pending: r.ready, deferred: r.warning, failed: r.error + r.timeout + r.general_error };
        return {
          id: r.id,
          dialect: r.dialect,
          name: r.name,
          subject: r.subject,
          status: r.status,
          startTime: r.started_at,
          endTime: r.finished_at,
          recipients: counts.sent + counts.pending + counts.deferred + counts.failed,
          ...counts,
        };
      });
    },

    count: (ctx: CallContext, filter: MailingFilter) => store.mailings.count(ctx.accountId, filter),

    ids: (ctx: CallContext, filter: MailingFilter) => store.mailings.ids(ctx.accountId, filter),
    /** A mailing by its name (Sender's campaign slug). */
    idByName: (ctx: CallContext, name: string) => store.mailings.idByName(ctx.accountId, name),
    /** Whether the account has this mailing: its row only, no count over its recipients (a per-call lookup). */
    exists: async (ctx: CallContext, id: number) => (await store.mailings.get(ctx.accountId, id)) !== undefined,

    /**
     * One entry per hour from `from` to `to` (inclusive; default from + 999 hours), never past the current
     * hour, zero-filled, at most MAX_STAT_HOURS.
     */
    async hourlyStatistics(ctx: CallContext, from: Date, to: Date | null) {
      const last = new Date(Math.min((to ?? new Date(from.getTime() + (MAX_STAT_HOURS - 1) * 3_600_000)).getTime(), Date.now()));
      if (last < from) return [];
      return await store.mailings.hourlyStatistics(ctx.accountId, from, last, MAX_STAT_HOURS);
    },

    /**
     * The mailing manager's checks, now, for the caller's account: deadlines passed, due starts, regular
     * sends with nothing left; and the work of dead workers returned to the queue.
     */
    async forceCheck(ctx: CallContext) {
      await store.workers.sweep(deps.workerStaleSeconds);
      return await store.manager.check(ctx.accountId);
    },
  };
}
export type MailingsService = ReturnType<typeof mailingsService>;

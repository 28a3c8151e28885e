/**
 * Transactional sends: one personalized message of an existing mailing, sent now through the pipeline
 * (Mailkit's sendmail). The mailing becomes a standing send: the first such message starts it with
 * `dont_close_if_empty`, so it stays open for the next ones; each message is one more recipient of that send,
 * with its own fields, attachments, and optionally its own subject and body.
 *
 * When a list is named, the address is also added to (or updated in) that list, and the message is that
 * subscriber's. A suppressed address is recorded but not sent (its recipient ends ERROR, as in any send).
 */
import type { CallContext } from '../context.js';
import { emailKey } from '../email.js';
import { DomainError, isDomainError, notFound } from '../errors.js';
import { failpoint } from '../../config.js';
import type { SendWaker } from './wake.js';
import type { Store } from '../../db/store.js';
import type { MailingsService } from '../mailings/service.js';
import type { ListsService } from '../lists/service.js';
import type { RecipientsService, Attachment } from '../recipients/service.js';
import type { RecipientContent } from '../../db/recipients.js';
import type { CampaignSummaryRow, MailingTotals } from '../../db/mailings.js';

/** A transactional campaign with its messages so far, by recipient status. */
export type CampaignSummary = CampaignSummaryRow & { totals: MailingTotals };
import { messageIdOf, recipientOfMessageId } from '../delivery/tokens.js';

export interface TransactionalInput {
  mailingId: number;
  listId: number | null;
  /** Without a list: the subscriber the message is about (a confirmation request), for the bounce log. */
  subscriberId?: number | null;
  email: string;
  fields: Record<string, unknown>;
  subject?: string | undefined;
  html?: string | undefined;
  attachments?: { filename: string; data: string; contentType?: string; charset?: string }[];
  /** Not sent before / after (Sender's countdown and expires). */
  notBefore?: Date | null;
  expiresAt?: Date | null;
  /** The message's own From, visible To / Cc, extra headers, shared Message-ID. */
  extra?: Pick<RecipientContent, 'from' | 'to' | 'cc' | 'headers' | 'messageId'>;
  /** The recipient's id in the status feed (default: a new uuid). */
  trackingId?: string;
}

export interface Address {
  email: string;
  name?: string | null;
}

/**
 * The addresses of one message (to, cc and bcc together), as many as a bulk call's items: each is a stored
 * copy carrying the visible To and Cc, so a message to n addresses stores on the order of n² bytes.
 */
export const MAX_MESSAGE_RECIPIENTS = 1000;

/** One message to several addresses (Sender's to / cc / bcc): a copy per address, one Message-ID. */
export interface MessageInput {
  mailingId: number;
  to: Address[];
  cc: Address[];
  bcc: Address[];
  fields: Record<string, unknown>;
  attachments?: { filename: string; data: string; contentType?: string; charset?: string }[];
  from?: Address;
  headers?: [string, string][];
  notBefore?: Date | null;
  expiresAt?: Date | null;
  /** The first copy's tracking id (Sender's task_id). */
  trackingId?: string;
}

export interface TransactionalResult {
  /** The subscriber's id when a list was named, else the message's. */
  emailId: number;
  sendId: number;
  messageId: number;
  /** The list's subscriber was new. */
  inserted: boolean;
  /** False when the address is suppressed: the message is recorded, not sent. */
  sent: boolean;
}

export function transactionalService(deps: {
  store: Store;
  mailings: MailingsService;
  lists: ListsService;
  recipients: RecipientsService;
  bounceDomain: string;
  /** Wakes a running send's job once its recipient is committed (see ./wake.ts). */
  waker: SendWaker;
}) {
  const { store } = deps;
  /**
   * One message: its recipient committed, its send woken. Without a list the mailing is read once, locked, in the transaction
   * that adds the recipient; with one, it is read first, so that no subscriber is added for a mailing that
   * cannot send.
   */
  async function deliver(ctx: CallContext, input: TransactionalInput): Promise<Omit<TransactionalResult, 'sent'>> {
    const refuse = (m: { status: string } | undefined) => {
      if (!m) throw new DomainError('NOT_FOUND', notFound('mailing', input.mailingId).message, 'mailingId');
      if (m.status === 'finished') throw new DomainError('NOT_FOUND', `mailing ${input.mailingId} is finished`, 'mailingId');
    };
    let subscriberId: number | null = input.subscriberId ?? null;
    let inserted = false;
    if (input.listId !== null) {
      // The mailing's row alone: no count over its recipients, which grow with every send.
      refuse(await store.mailings.get(ctx.accountId, input.mailingId));
      const [r] = await deps.lists.subscribe(ctx, input.listId, [{ email: input.email, params: input.fields }]).catch((e: unknown) => {
        throw isDomainError(e) && e.code === 'NOT_FOUND' ? new DomainError('NOT_FOUND', e.message, 'listId') : e;
      });
      if (!r || 'error' in r) throw new DomainError('INVALID_ARGUMENT', r && 'error' in r ? r.error : 'not added', 'email');
      subscriberId = r.id;
      inserted = r.inserted;
    }
    const attachments: Attachment[] = (input.attachments ?? []).map((a) => ({
      filename: a.filename,
      contentType: a.contentType ?? 'application/octet-stream',
      data: a.data,
      ...(a.charset ? { charset: a.charset } : {}),
    }));
    const own: RecipientContent = {
      ...(input.subject !== undefined ? { subject: input.subject } : {}),
      ...(input.html !== undefined ? { html: input.html } : {}),
      ...input.extra,
    };
    const content = Object.keys(own).length ? own : null;
    const {
      results: [added],
      wake,
      mailing,
      ids,
    } = await deps.recipients.addMessage(
      ctx,
      input.mailingId,
      [
        {
          email: input.email,
          trackingId: input.trackingId,
          fields: input.fields,
          attachments,
          subscriberId,
          content,
          notBefore: input.notBefore ?? null,
          expiresAt: input.expiresAt ?? null,
        },
      ],
      refuse,
    );
    if (wake !== null) {
      failpoint('transactional-wake');
      await deps.waker.wake(wake);
    }
    if (!added || 'error' in added) throw new DomainError('INVALID_ARGUMENT', added && 'error' in added ? added.error : 'not added', 'email');
    // The first messages make it a standing send (kept open, started) marked transactional: its sends go
    // first in the worker queue, so a transactional message never waits behind a bulk mailing. From the next
    // message on, its job is woken after the commit (the first one enqueued it in its transaction, as the
    // sweep's wakeStrandedSends looks at transactional mailings only), and nothing here writes the mailing's
    // row: concurrent messages of one campaign never wait on each other for it.
    if (!mailing.dont_close_if_empty || !mailing.transactional || mailing.status === 'filling') await deps.mailings.makeStanding(ctx, input.mailingId);
    const id = ids.get(added.id)!;
    return { emailId: subscriberId ?? id, sendId: mailing.send_id, messageId: id, inserted };
  }

  const api = {
    async send(ctx: CallContext, input: TransactionalInput): Promise<TransactionalResult> {
      const r = await deliver(ctx, input);
      return { ...r, sent: (await store.suppressions.get(ctx.accountId, emailKey(input.email))) === undefined };
    },

    /** One message to every address of to, cc and bcc (each once): its Message-ID and its copies' ids. */
    async sendMessage(ctx: CallContext, input: MessageInput): Promise<{ messageId: string; recipientIds: number[] }> {
      const seen = new Set<string>();
      const all = [...input.to, ...input.cc, ...input.bcc].filter((a) => !seen.has(emailKey(a.email)) && seen.add(emailKey(a.email)));
      if (!all.length) throw new DomainError('INVALID_ARGUMENT', 'no recipient', 'to');
      if (all.length > MAX_MESSAGE_RECIPIENTS)
        throw new DomainError('INVALID_ARGUMENT', `at most ${MAX_MESSAGE_RECIPIENTS} recipients in one message, got ${all.length}`, 'to');
      const shown = { ...(input.to.length ? { to: input.to } : {}), ...(input.cc.length ? { cc: input.cc } : {}) };
      const extra = { ...(input.from ? { from: input.from } : {}), ...(input.headers?.length ? { headers: input.headers } : {}) };
      // Whether an address is suppressed is not part of the answer: its copy is recorded, and ends ERROR.
      const one = (a: Address, more: TransactionalInput['extra'], trackingId?: string) =>
        deliver(ctx, {
          mailingId: input.mailingId,
          listId: null,
          email: a.email,
          fields: input.fields,
          ...(input.attachments ? { attachments: input.attachments } : {}),
          notBefore: input.notBefore ?? null,
          expiresAt: input.expiresAt ?? null,
          extra: { ...extra, ...(all.length > 1 ? shown : {}), ...more },
          ...(trackingId ? { trackingId } : {}),
        });
      const first = await one(all[0]!, {}, input.trackingId);
      const messageId = messageIdOf(first.messageId, input.mailingId, deps.bounceDomain);
      const ids = [first.messageId];
      for (const a of all.slice(1)) ids.push((await one(a, { messageId })).messageId);
      return { messageId, recipientIds: ids };
    },

    /** A message's delivery, by the Message-ID sendMessage answered; undefined when it names none of ours. */
    async status(ctx: CallContext, messageId: string) {
      const id = recipientOfMessageId(messageId);
      if (id === null) return undefined;
      return await store.recipients.byId(ctx.accountId, id);
    },

    /**
     * A campaign to send through (Sender's transactional/<name>): a mailing of that name, which must be new in
     * the account; its text part is derived from the html as every mailing's is (mailings.create).
     */
    async createCampaign(ctx: CallContext, c: { name: string; fromEmail: string; fromName: string | null; subject: string; html: string }): Promise<number> {
      if (!c.name) throw new DomainError('INVALID_ARGUMENT', 'a campaign name is required', 'name');
      if ((await deps.mailings.idByName(ctx, c.name)) !== undefined)
        throw new DomainError('CONFLICT', `a mailing named ${JSON.stringify(c.name)} exists`, 'name');
      return await deps.mailings.create(ctx, {
        dialect: 'sender',
        name: c.name,
        fromEmail: c.fromEmail,
        fromName: c.fromName,
        subject: c.subject,
        html: c.html,
        text: null,
      });
    },

    /** Transactional campaigns of every account (/admin), newest first, with their messages so far by status. */
    async campaigns(page: { limit: number; beforeId?: number | undefined; search?: string | undefined }): Promise<CampaignSummary[]> {
      const rows = await store.mailings.campaigns(page);
      const totals = await store.mailings.totals(rows.map((r) => r.id));
      return rows.map((r) => ({ ...r, totals: totals.get(r.id)! }));
    },
  };
  return api;
}
export type TransactionalService = ReturnType<typeof transactionalService>;

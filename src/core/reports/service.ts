/**
 * Reports: counts per send and per mailing, a send's bounces, and the raw log of messages (paged by message
 * id, inclusive, like the bounce log). Opens and clicks count the events recorded by tracking.
 *
 * Also read from the events alone: a send's clicked links, the raw log of responses to messages (opens,
 * clicks, unsubscribes, complaints; paged by event id, inclusive), each subscriber's engagement; and the
 * account's unsubscribed addresses and sender addresses. Links and sender addresses have no row of their own:
 * their ids are derived (ids.ts).
 */
import { builtInSender } from '../subscriptions/sender.js';
import type { CallContext } from '../context.js';
import { emailKey, isValidEmail } from '../email.js';
import { badRequest, notFound } from '../errors.js';
import type { Store } from '../../db/store.js';
import type {
  EngagementRow,
  LinkRow,
  MessageLogRow,
  ReportRange,
  ResponseKind,
  ResponseRow,
  SendBounceRow,
  SendReportRow,
  UnsubscribedRow,
  VerdictFilter,
} from '../../db/reports.js';
import { RAW_LOG_MAX } from '../bounces/service.js';
import { linkIdOf, senderIdOf } from './ids.js';

export type { EngagementRow, MessageLogRow, ReportRange, ResponseKind, SendBounceRow, SendReportRow, UnsubscribedRow, VerdictFilter };

/** A clicked link of a send, with its derived id. */
export interface SendLink extends LinkRow {
  id: number;
}

/** A response, with the derived id of the link a click followed (null for the other kinds). */
export interface Response extends ResponseRow {
  link_id: number | null;
}

/** An address the account sends from, with its derived id. */
export interface SenderAddress {
  id: number;
  email: string;
}

export function reportsService(deps: { store: Store; bounceDomain: string }) {
  const { store } = deps;

  function checkLimit(limit: number): void {
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > RAW_LOG_MAX) throw badRequest(`the limit is 1 to ${RAW_LOG_MAX}`);
  }

  return {
    /** One row per send, oldest first. */
    sends: (ctx: CallContext, range: ReportRange) => store.reports.sends(ctx.accountId, range),

    /** The latest bounce of each bounced message of one send. */
    sendBounces: (ctx: CallContext, sendId: number) => store.reports.sendBounces(ctx.accountId, sendId),

    /** The messages from `fromId` (inclusive), ascending, at most RAW_LOG_MAX. */
    async messages(ctx: CallContext, q: { mailingId: number | null; sendId: number | null }, fromId: number, limit: number): Promise<MessageLogRow[]> {
      checkLimit(limit);
      return await store.reports.messages(ctx.accountId, q, Math.max(0, fromId), limit);
    },

    /**
     * The links clicked in one send, first clicked first; NOT_FOUND when the account has no such send. Narrowed
     * to a mailing that the send is not of, there are none. A link nobody clicked is not known: tracking learns
     * a message's links from their clicks. `verdict` picks the clicks counted (and so the links listed): human
     * ones by default.
     */
    async links(ctx: CallContext, sendId: number, mailingId: number | null = null, verdict: VerdictFilter = 'human'): Promise<SendLink[]> {
      const ofSend = await store.reports.sendMailing(ctx.accountId, sendId);
      if (ofSend === undefined) throw notFound('send', sendId);
      if (mailingId !== null && ofSend !== mailingId) return [];
      return (await store.reports.links(sendId, verdict)).map((l) => ({ ...l, id: linkIdOf(sendId, l.url) }));
    },

    /**
     * The responses to messages from event id `fromId` (inclusive), ascending, at most RAW_LOG_MAX: opens and
     * clicks of the verdict `q.verdict` selects (human ones by default), every unsubscribe and complaint.
     */
    async responses(
      ctx: CallContext,
      q: { mailingId: number | null; sendId: number | null; messageId: number | null; verdict?: VerdictFilter },
      fromId: number,
      limit: number,
    ): Promise<Response[]> {
      checkLimit(limit);
      const rows = await store.reports.responses(ctx.accountId, q, Math.max(0, fromId), limit);
      return rows.map((r) => ({ ...r, link_id: r.kind === 'click' && r.link !== null && r.send_id !== null ? linkIdOf(r.send_id, r.link) : null }));
    },

    /** The addresses unsubscribed from the whole account, since `from` when given, oldest first. */
    unsubscribed: (ctx: CallContext, from: Date | null): Promise<UnsubscribedRow[]> => store.reports.unsubscribed(ctx.accountId, from),

    /** A page of one list's subscribers (from subscriber id `fromId`, inclusive) with their engagement. */
    async engagement(ctx: CallContext, listId: number, fromId: number, limit: number): Promise<EngagementRow[]> {
      checkLimit(limit);
      if (!(await store.lists.exists(ctx.accountId, listId))) throw notFound('list', listId);
      return await store.reports.engagement(ctx.accountId, listId, Math.max(0, fromId), limit);
    },

    /**
     * The addresses the account sends from: those its mailings and its lists' defaults use, first used first,
     * then the one the built-in messages go from (builtInSender: always a valid address, also on a default
     * install), which every account has. Mailgate verifies no sender: these are the ones the account has used,
     * offered to clients that pick a sender by id.
     */
    async senders(ctx: CallContext): Promise<SenderAddress[]> {
      // The same address (or an id collision) again: the first stands.
      const byId = new Map<number, SenderAddress>();
      for (const email of [...(await store.reports.senderAddresses(ctx.accountId)), builtInSender(deps.bounceDomain)]) {
        if (!isValidEmail(email)) continue;
        const id = senderIdOf(emailKey(email));
        if (!byId.has(id)) byId.set(id, { id, email });
      }
      return [...byId.values()];
    },
  };
}
export type ReportsService = ReturnType<typeof reportsService>;

/**
 * Reports: counts per send and per mailing, a send's bounces, and the raw log of messages (paged by message
 * id, inclusive, like the bounce log). Opens and clicks count the events recorded by tracking.
 */
import type { CallContext } from '../context.js';
import { badRequest } from '../errors.js';
import type { Store } from '../../db/store.js';
import type { MessageLogRow, ReportRange, SendBounceRow, SendReportRow } from '../../db/reports.js';
import { RAW_LOG_MAX } from '../bounces/service.js';

export type { MessageLogRow, ReportRange, SendBounceRow, SendReportRow };

export function reportsService(deps: { store: Store }) {
  const { store } = deps;
  return {
    /** One row per send, oldest first. */
    sends: (ctx: CallContext, range: ReportRange) => store.reports.sends(ctx.accountId, range),

    /** The latest bounce of each bounced message of one send. */
    sendBounces: (ctx: CallContext, sendId: number) => store.reports.sendBounces(ctx.accountId, sendId),

    /** The messages from `fromId` (inclusive), ascending, at most RAW_LOG_MAX. */
    async messages(ctx: CallContext, q: { mailingId: number | null; sendId: number | null }, fromId: number, limit: number): Promise<MessageLogRow[]> {
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > RAW_LOG_MAX) throw badRequest(`the limit is 1 to ${RAW_LOG_MAX}`);
      return await store.reports.messages(ctx.accountId, q, Math.max(0, fromId), limit);
    },
  };
}
export type ReportsService = ReturnType<typeof reportsService>;

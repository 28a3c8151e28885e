/**
 * What an operator sees and does on the admin pages: every account at once, each object shown with its
 * account. Reads come from the store's cross-account views; every change is the owning service's own
 * operation, called in the call context of the object's account, so an operator's pause or lift is the same
 * operation an API client's is.
 */
import type { CallContext } from '../context.js';
import { forbiddenState, notFound } from '../errors.js';
import type { Store } from '../../db/store.js';
import type { MailingSummaryRow, Page, SendRateRow } from '../../db/overview.js';
import type { MailingEngagement } from '../../db/reports.js';
import { NO_ENGAGEMENT } from '../engagement.js';
import type { MailingStatus, RecipientStatus } from '../statuses.js';
import type { MailingsService } from '../mailings/service.js';
import type { RecipientsService } from '../recipients/service.js';
import type { SuppressionsService } from '../suppressions/service.js';

export type { Page, SendRateRow };

/** A mailing's recipients in four words: sent, pending (not tried yet), deferred (to be retried), failed. */
export interface Progress {
  total: number;
  sent: number;
  pending: number;
  deferred: number;
  failed: number;
  /** Recipients with a final outcome, in per cent of all (100 when there are none and the send is finished). */
  percent: number;
}

/**
 * Opens and clicks, human and machine apart, each as events and unique recipients: the dialects' report
 * counts (the event rollups of migration 20261207200000), never a count of the events.
 */
export type Engagement = MailingEngagement;

export type MailingSummary = MailingSummaryRow & { progress: Progress; engagement: Engagement };

/** The statuses "resend to the failed ones" takes again. */
export const FAILED: readonly RecipientStatus[] = ['error', 'timeout', 'general_error'];

export const CANCELLABLE: readonly MailingStatus[] = ['ready', 'running', 'paused'];

export function progressOf(t: Record<RecipientStatus, number>, status: MailingStatus): Progress {
  const failed = t.error + t.timeout + t.general_error;
  const total = t.ready + t.warning + t.finished + failed;
  const done = t.finished + failed;
  const percent = total ? Math.floor((done * 100) / total) : status === 'finished' ? 100 : 0;
  return { total, sent: t.finished, pending: t.ready, deferred: t.warning, failed, percent };
}

export interface OverviewDeps {
  store: Store;
  mailings: MailingsService;
  recipients: RecipientsService;
  suppressions: SuppressionsService;
}

export function overviewService(deps: OverviewDeps) {
  const { store } = deps;
  const { overview } = store;

  /** The call context of the account mailing `id` belongs to (NOT_FOUND when there is no such mailing). */
  async function mailingContext(id: number, requestId: string): Promise<CallContext & { account: string }> {
    const owner = await overview.mailingAccount(id);
    if (!owner) throw notFound('mailing', id);
    return { accountId: owner.account_id, account: owner.account, requestId };
  }

  async function accountContext(slug: string, requestId: string): Promise<CallContext> {
    const account = await store.accounts.bySlug(slug);
    if (!account) throw notFound('account', slug);
    return { accountId: account.id, requestId };
  }

  return {
    async mailings(page: Page): Promise<MailingSummary[]> {
      const rows = await overview.mailings(page);
      const ids = rows.map((r) => r.id);
      const [totals, engagement] = await Promise.all([store.mailings.totals(ids), store.reports.mailingEngagement(ids)]);
      return rows.map((r) => ({ ...r, progress: progressOf(totals.get(r.id)!, r.status), engagement: engagement.get(r.id) ?? NO_ENGAGEMENT }));
    },

    /** One mailing as its account's clients see it (opens and clicks in its `engagement`), with its account and progress. */
    async mailing(id: number, requestId: string) {
      const ctx = await mailingContext(id, requestId);
      const view = await deps.mailings.get(ctx, id);
      const totals = (await store.mailings.totals([id])).get(id)!;
      return { ...view, account: ctx.account, progress: progressOf(totals, view.status) };
    },

    /** A mailing's messages delivered, deferred and failed per minute, oldest first (minutes without any left out). */
    sendRate: (mailingId: number): Promise<SendRateRow[]> => overview.sendRate(mailingId),

    recipients: (mailingId: number, statuses: RecipientStatus[] | null, page: Page) => overview.recipients(mailingId, statuses, page),

    async pause(id: number, requestId: string): Promise<MailingStatus> {
      return await deps.mailings.pause(await mailingContext(id, requestId), id);
    },

    /** Start a filling mailing, or resume a paused one. */
    async resume(id: number, requestId: string): Promise<MailingStatus> {
      return await deps.mailings.start(await mailingContext(id, requestId), id);
    },

    /**
     * Stop a send for good: its recipients not sent yet end TIMEOUT at once (as at a deadline), and it is
     * FINISHED — at once, or, when a batch is on the wire, by its send job once that batch's outcomes are in.
     */
    async cancel(id: number, requestId: string): Promise<{ timedOut: number }> {
      const ctx = await mailingContext(id, requestId);
      const row = await store.mailings.get(ctx.accountId, id);
      if (!row) throw notFound('mailing', id);
      if (!CANCELLABLE.includes(row.status)) throw forbiddenState(`mailing ${id} is ${row.status}: it cannot be cancelled`);
      const { timedOut } = await store.manager.closeNow(row.send_id);
      return { timedOut };
    },

    /** Every failed recipient of the mailing (error, timeout, general error) is sent again; the others are left as they are. */
    async resendFailed(id: number, requestId: string): Promise<number> {
      const ctx = await mailingContext(id, requestId);
      const ids = await overview.trackingIds(id, [...FAILED]);
      let n = 0;
      for (let i = 0; i < ids.length; i += 1000) n += await deps.recipients.reset(ctx, ids.slice(i, i + 1000));
      return n;
    },

    bounces: (page: Page) => overview.bounces(page),
    suppressions: (page: Page) => overview.suppressions(page),
    async suppress(accountSlug: string, email: string, requestId: string): Promise<boolean> {
      return await deps.suppressions.add(await accountContext(accountSlug, requestId), email, 'by an operator');
    },
    async lift(accountSlug: string, email: string, requestId: string) {
      return await deps.suppressions.lift(await accountContext(accountSlug, requestId), email);
    },
  };
}
export type OverviewService = ReturnType<typeof overviewService>;

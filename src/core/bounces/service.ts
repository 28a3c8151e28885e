/**
 * The bounce log as the single source of every bounce: replies during sending (recorded by the worker with
 * each batch) and reports received later, which arrive here from the inbound listener — delivery status
 * notifications and complaints, each for the recipient its VERP token names.
 */
import type { CallContext } from '../context.js';
import { emailKey } from '../email.js';
import { badRequest } from '../errors.js';
import type { Store } from '../../db/store.js';
import type { BounceFilter, BounceRow } from '../../db/bounces.js';
import { classify, normalizeEnhanced, type BounceCategory, type DsnAction } from './classify.js';

export type { BounceRow };

/** One recipient's block of a delivery report (RFC 3464), as the report parser gives it. */
export interface ReportEntry {
  finalRecipient: string | null;
  originalRecipient: string | null;
  action: DsnAction | null;
  status: string | null;
  diagnosticCode: string | null;
  replyCode: number | null;
  remoteMta: string | null;
}

/** `already-recorded`: the same report came again (its sender retried it); nothing changed. */
export type LateOutcome = 'recorded' | 'already-recorded' | 'delivered' | 'unknown-recipient';

export const RAW_LOG_MAX = 25_000;

/** A report received later and recorded (not one that came again): the process's metrics count them. */
export type LateReport = { source: 'dsn'; kind: 'permanent' | 'temporary'; category: BounceCategory } | { source: 'complaint'; feedbackType: string };

/** Told of each late report recorded; it never changes what is recorded. */
export interface BounceObserver {
  lateReport?(report: LateReport): void;
}

/**
 * The block of a report that is about this recipient: the one naming its address (a report may list several,
 * or name the address another way: then the only failed or delayed one).
 */
export function entryFor(email: string, entries: ReportEntry[]): ReportEntry | undefined {
  const key = emailKey(email).toLowerCase();
  const named = entries.filter((e) => [e.finalRecipient, e.originalRecipient].some((a) => a && emailKey(a).toLowerCase() === key));
  const pool = named.length ? named : entries;
  return pool.find((e) => e.action === 'failed') ?? pool.find((e) => e.action === 'delayed') ?? (pool.length === 1 ? pool[0] : undefined);
}

const outcomeOf = (r: { recorded: boolean } | undefined): LateOutcome => (r === undefined ? 'unknown-recipient' : r.recorded ? 'recorded' : 'already-recorded');

export function bouncesService(deps: { store: Store; observer?: BounceObserver }) {
  const { store } = deps;
  return {
    /**
     * A delivery report received for the recipient `recipientId` (from its VERP token). `reportKey` identifies
     * the report across its deliveries (its Message-ID, else a digest of its bytes): a report that comes again
     * is recorded once.
     */
    async recordReport(recipientId: number, reportKey: string, entries: ReportEntry[]): Promise<LateOutcome> {
      const email = await store.recipients.emailOf(recipientId);
      if (email === undefined) return 'unknown-recipient';
      const entry = entryFor(email, entries);
      if (!entry) return 'delivered';
      const enhanced = normalizeEnhanced(entry.status);
      const c = classify({ replyCode: entry.replyCode, enhanced, action: entry.action });
      if (c.outcome === 'delivered') return 'delivered';
      const recorded = await store.bounces.recordLate({
        recipientId,
        source: 'dsn',
        kind: c.outcome,
        enhancedStatus: enhanced,
        replyCode: entry.replyCode,
        textStatus: entry.diagnosticCode,
        remoteMta: entry.remoteMta,
        failRecipient: c.outcome === 'permanent',
        suppress: c.suppress ? 'hard_bounce' : null,
        emailKey,
        reportKey,
      });
      if (recorded?.recorded) deps.observer?.lateReport?.({ source: 'dsn', kind: c.outcome, category: c.category });
      return outcomeOf(recorded);
    },

    /**
     * A complaint (RFC 5965 feedback report) about the message sent to `recipientId`: the address is suppressed.
     * Recorded once per report, as recordReport.
     */
    async recordComplaint(recipientId: number, reportKey: string, feedbackType: string): Promise<LateOutcome> {
      const recorded = await store.bounces.recordLate({
        recipientId,
        source: 'complaint',
        kind: 'permanent',
        enhancedStatus: null,
        replyCode: null,
        textStatus: `feedback-type; ${feedbackType}`,
        remoteMta: null,
        failRecipient: false,
        suppress: 'complaint',
        emailKey,
        reportKey,
      });
      if (recorded?.recorded) deps.observer?.lateReport?.({ source: 'complaint', feedbackType });
      return outcomeOf(recorded);
    },

    /** The account's bounce log from `fromId` (inclusive), ascending, at most RAW_LOG_MAX. */
    async log(ctx: CallContext, filter: BounceFilter, fromId: number, limit: number): Promise<BounceRow[]> {
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > RAW_LOG_MAX) throw badRequest(`the limit is 1 to ${RAW_LOG_MAX}`);
      return await store.bounces.log(ctx.accountId, filter, Math.max(0, fromId), limit);
    },
  };
}
export type BouncesService = ReturnType<typeof bouncesService>;

/**
 * Suppressions: addresses an account never mails again — a permanent bounce of a mailbox that does not
 * exist, a complaint, an unsubscribe, or an operator's decision. Sends skip them (the recipient ends ERROR,
 * its reply text says why); they can be listed and lifted.
 */
import type { CallContext } from '../context.js';
import { emailKey, isValidEmail } from '../email.js';
import { invalid, notFound } from '../errors.js';
import type { Store } from '../../db/store.js';
import type { AddressLists, SuppressionReason, SuppressionRow } from '../../db/suppressions.js';

export type { SuppressionReason, SuppressionRow };

export const SUPPRESSION_REASONS: readonly SuppressionReason[] = ['hard_bounce', 'unsubscribe', 'complaint', 'manual'];

/** What a skipped recipient's reply text says. */
export const SKIPPED_BECAUSE: Record<SuppressionReason, string> = {
  hard_bounce: 'not sent: the address is suppressed (it bounced permanently before)',
  unsubscribe: 'not sent: the address is suppressed (it unsubscribed)',
  complaint: 'not sent: the address is suppressed (it reported a message as spam)',
  manual: 'not sent: the address is suppressed',
};

/** The reply text of a recipient skipped for `reason` (a suppression's, or `unsubscribe_list:<slug>`). */
export function skippedBecause(reason: string): string {
  if (reason.startsWith('unsubscribe_list:')) return `not sent: the address is in unsubscribe list ${reason.slice('unsubscribe_list:'.length)}`;
  return SKIPPED_BECAUSE[reason as SuppressionReason] ?? SKIPPED_BECAUSE.manual;
}

export interface AddressStatus {
  email: string;
  suppression: SuppressionRow | null;
  lists: AddressLists[];
}

function addressOf(email: string): string {
  if (!isValidEmail(email)) throw invalid(`not an e-mail address: ${JSON.stringify(email)}`, 'email');
  return emailKey(email);
}

export function suppressionsService(deps: { store: Store }) {
  const { store } = deps;
  return {
    async list(ctx: CallContext, opts: { after?: string; limit?: number; reason?: SuppressionReason } = {}): Promise<SuppressionRow[]> {
      const limit = Math.min(Math.max(1, opts.limit ?? 1000), 10_000);
      return await store.suppressions.list(ctx.accountId, opts.after ?? '', limit, opts.reason ?? null);
    },

    /** Suppress by hand (true when it was not already). */
    add: (ctx: CallContext, email: string, detail: string | null = null) => store.suppressions.add(ctx.accountId, addressOf(email), email, 'manual', detail),

    /** Mail the address again; with `reason`, only when that is why it is suppressed (else NOT_FOUND). */
    async lift(ctx: CallContext, email: string, o: { reason?: SuppressionReason } = {}): Promise<SuppressionRow> {
      const row = await store.suppressions.lift(ctx.accountId, addressOf(email), o.reason ?? null);
      if (!row) throw notFound('suppression of', email);
      return row;
    },

    /**
     * Unsubscribe from the whole account, by address or by the id of a subscriber or message (a message id
     * also records which message the unsubscribe came from). False when it already was unsubscribed.
     */
    async unsubscribe(ctx: CallContext, who: { email: string } | { id: number }, detail: string): Promise<{ email: string; changed: boolean }> {
      let email: string;
      let recipient: { id: number; mailing_id: number } | null = null;
      if ('email' in who) email = who.email;
      else {
        const found = await store.suppressions.addressOfId(ctx.accountId, who.id);
        if (!found) throw notFound('subscriber', who.id);
        ({ email, recipient } = found);
      }
      const changed = await store.suppressions.unsubscribe(ctx.accountId, addressOf(email), email, detail, recipient);
      return { email, changed };
    },

    /** The address an id names (a subscriber's, else a message's), if any. */
    addressOfId: async (ctx: CallContext, id: number) => (await store.suppressions.addressOfId(ctx.accountId, id))?.email,

    /** Is the address suppressed, and how does each of the account's lists hold it? */
    async status(ctx: CallContext, email: string): Promise<AddressStatus> {
      const key = addressOf(email);
      const [suppression, lists] = await Promise.all([store.suppressions.get(ctx.accountId, key), store.suppressions.lists(ctx.accountId, key)]);
      return { email, suppression: suppression ?? null, lists };
    },
  };
}
export type SuppressionsService = ReturnType<typeof suppressionsService>;

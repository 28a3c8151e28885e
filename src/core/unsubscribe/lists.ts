/**
 * Unsubscribe lists (Sender's `unsubscribe/list/<slug>`), and what Sender's `unsubscribe/global` reads of the
 * account-wide unsubscription (the account's suppression with reason `unsubscribe`, written by the
 * suppressions service).
 *
 * An unsubscribe list is a named set of addresses. A mailing names the lists it honours: its sends skip their
 * addresses (the recipient ends ERROR "not sent: the address is in unsubscribe list <slug>"), and an
 * unsubscribe link in its messages puts the address into them instead of suppressing it for the account, so
 * that leaving one newsletter stops that newsletter only. Lists are made by the operator
 * (`mailgate unsubscribe-lists create`); the API adds, removes and reads addresses, as Sender's does.
 */
import type { CallContext } from '../context.js';
import { emailKey, isValidEmail } from '../email.js';
import { conflict, invalid, notFound } from '../errors.js';
import type { Store } from '../../db/store.js';
import type { UnsubscribeEntryRow, UnsubscribeListOverviewRow, UnsubscribeListRow } from '../../db/unsubscribes.js';

export type { UnsubscribeEntryRow, UnsubscribeListOverviewRow, UnsubscribeListRow };

const SLUG = /^[A-Za-z0-9._-]{1,80}$/;

function address(email: unknown): { email: string; key: string } {
  const e = typeof email === 'string' ? email.trim() : '';
  if (!e || !isValidEmail(e)) throw invalid(`invalid email address: ${JSON.stringify(email)}`, 'email');
  return { email: e, key: emailKey(e) };
}

export interface Page {
  after: Date | null;
  offset: number;
  limit: number;
}

export function unsubscribeListsService(deps: { store: Store }) {
  const repo = deps.store.unsubscribes;
  async function listOf(ctx: CallContext, slug: string): Promise<UnsubscribeListRow> {
    const l = await repo.listBySlug(ctx.accountId, slug);
    if (!l) throw notFound('unsubscribe list', slug);
    return l;
  }
  return {
    async create(ctx: CallContext, input: { slug: string; name?: string | undefined }): Promise<UnsubscribeListRow> {
      if (!SLUG.test(input.slug)) throw invalid('an unsubscribe list slug is 1 to 80 letters, digits, ".", "_" or "-"', 'slug');
      const name = input.name?.trim() || input.slug;
      if (name.length > 200) throw invalid('an unsubscribe list name has at most 200 characters', 'name');
      const l = await repo.createList(ctx.accountId, input.slug, name);
      if (!l) throw conflict(`an unsubscribe list with the slug ${JSON.stringify(input.slug)} exists`, 'slug');
      return l;
    },
    get: listOf,
    list: (ctx: CallContext) => repo.lists(ctx.accountId),
    async delete(ctx: CallContext, slug: string): Promise<void> {
      await repo.deleteList(ctx.accountId, (await listOf(ctx, slug)).id);
    },

    /** True when the address was added, false when it was in the list already. */
    async add(ctx: CallContext, slug: string, email: unknown): Promise<boolean> {
      const a = address(email);
      return await repo.addEntry((await listOf(ctx, slug)).id, a.key, a.email);
    },
    /** True when the address was removed, false when it was not in the list. */
    async remove(ctx: CallContext, slug: string, email: unknown): Promise<boolean> {
      const a = address(email);
      return await repo.removeEntry((await listOf(ctx, slug)).id, a.key);
    },
    /** The address's entry; NOT_FOUND when the list does not exist or does not hold it. */
    async entry(ctx: CallContext, slug: string, email: unknown): Promise<UnsubscribeEntryRow> {
      const a = address(email);
      const e = await repo.entry((await listOf(ctx, slug)).id, a.key);
      if (!e) throw notFound('address', a.email);
      return e;
    },
    async content(ctx: CallContext, slug: string, page: Page) {
      return await repo.entries((await listOf(ctx, slug)).id, page.after, page.offset, page.limit);
    },

    /** The unsubscribe lists a mailing honours, replaced by `slugs` (every one must exist). */
    async setForMailing(ctx: CallContext, mailingId: number, slugs: readonly string[]): Promise<string[]> {
      const lists = await Promise.all([...new Set(slugs)].map((s) => listOf(ctx, s)));
      if (!(await deps.store.mailings.get(ctx.accountId, mailingId))) throw notFound('mailing', mailingId);
      await repo.setMailingLists(
        ctx.accountId,
        mailingId,
        lists.map((l) => l.id),
      );
      return await repo.mailingLists(mailingId);
    },

    // --- the operator's view: every account in scope (null: all) --------------------------------------------

    /** Every unsubscribe list, with its account and size. */
    overview: (scope: number | null) => repo.overview(scope),
    async byId(scope: number | null, id: number): Promise<UnsubscribeListOverviewRow> {
      const l = await repo.overviewOne(scope, id);
      if (!l) throw notFound('unsubscribe list', id);
      return l;
    },
    /** A page of the list's addresses in address order (`search`: those containing it), after `afterKey`. */
    async addresses(scope: number | null, id: number, page: { search?: string | undefined; afterKey?: string | undefined; limit: number }) {
      const l = await repo.overviewOne(scope, id);
      if (!l) throw notFound('unsubscribe list', id);
      return await repo.addresses(l.id, page);
    },

    // --- the whole account -----------------------------------------------------------------------------------

    async globalContent(ctx: CallContext, page: Page) {
      return await repo.globalEntries(ctx.accountId, page.after, page.offset, page.limit);
    },
    /** The account-wide state and each unsubscribe list's, for one address. */
    async info(ctx: CallContext, email: unknown) {
      const a = address(email);
      const [account, suppression, lists] = await Promise.all([
        deps.store.accounts.byId(ctx.accountId),
        deps.store.suppressions.get(ctx.accountId, a.key),
        repo.listsOf(ctx.accountId, a.key),
      ]);
      return { account: account!, unsubscribed: suppression?.reason === 'unsubscribe', lists };
    },
  };
}
export type UnsubscribeListsService = ReturnType<typeof unsubscribeListsService>;

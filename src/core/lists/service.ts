/**
 * Lists (Sender maillists, Emailicious lists, Mailkit ID_user_list) and their subscribers.
 *
 * A subscriber's address is unique per list (local part as given, domain lower-cased). Adding an address that
 * is suppressed keeps the membership but not the mailing: the subscriber is stored unsubscribed, bounced or
 * complained and disabled, and the caller is told so (Mailkit answers "inserted unsubscribed").
 */
import type { CallContext } from '../context.js';
import { emailKey, isValidEmail } from '../email.js';
import { badRequest, conflict, invalid, notFound } from '../errors.js';
import type { Store } from '../../db/store.js';
import type { ListRow, ListSummaryRow, NewSubscriber, SubscriberRow, SubscriberStatus, UpsertOptions, UpsertResult } from '../../db/lists.js';

export type { ListRow, ListSummaryRow, SubscriberRow, SubscriberStatus };

export interface SubscriberInput {
  email: unknown;
  /** Free fields (names as the dialect gives them); merged into the stored ones on update. */
  params?: Record<string, unknown>;
}

export type SubscribeResult = (UpsertResult & { email: string }) | { email: unknown; error: string };

/** At most this many subscribers in one import call. */
export const IMPORT_MAX = 100_000;

/** A list slug from its name: lower-case words joined by '-', at most 80 characters. */
export function slugOf(name: string): string {
  const s = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80);
  return s || 'list';
}

export function listsService(deps: { store: Store }) {
  const { store } = deps;

  async function listOf(ctx: CallContext, id: number): Promise<ListRow> {
    const [row] = await store.lists.list(ctx.accountId, id);
    if (!row) throw notFound('list', id);
    return row;
  }
  /** NOT_FOUND unless the account has the list (without counting its subscribers, as listOf does). */
  async function requireList(ctx: CallContext, id: number): Promise<void> {
    if (!(await store.lists.exists(ctx.accountId, id))) throw notFound('list', id);
  }

  function validated(
    items: readonly SubscriberInput[],
    status: NewSubscriber['status'],
  ): { rows: (NewSubscriber & { index: number })[]; errors: Map<number, string> } {
    const rows: (NewSubscriber & { index: number })[] = [];
    const errors = new Map<number, string>();
    for (const [index, item] of items.entries()) {
      if (typeof item.email !== 'string' || !item.email.trim()) errors.set(index, 'an email address is required');
      else if (!isValidEmail(item.email.trim())) errors.set(index, `invalid email address: ${JSON.stringify(item.email)}`);
      else rows.push({ index, email: item.email.trim(), emailKey: emailKey(item.email.trim()), params: item.params ?? {}, status });
    }
    return { rows, errors };
  }

  async function write(
    ctx: CallContext,
    listId: number,
    items: readonly SubscriberInput[],
    o: { status: NewSubscriber['status'] } & UpsertOptions,
  ): Promise<SubscribeResult[]> {
    const { rows, errors } = validated(items, o.status);
    // A concurrent insert of the same address is waited for by the upsert (ON CONFLICT): nothing is lost.
    const written = await store.lists.upsert(ctx.accountId, listId, rows, o);
    if (!written) throw notFound('list', listId);
    const out: SubscribeResult[] = items.map((item, i) => ({ email: item.email, error: errors.get(i) ?? 'not a subscriber of this list' }));
    rows.forEach((r, i) => {
      const w = written[i];
      if (w) out[r.index] = { ...w, email: r.email };
    });
    return out;
  }

  return {
    /** A new list; the name must be new in the account. */
    async create(ctx: CallContext, input: { name: unknown; description?: unknown }): Promise<number> {
      const name = typeof input.name === 'string' ? input.name.trim() : '';
      if (!name) throw invalid('a list name is required', 'name');
      if (name.length > 200) throw invalid('a list name has at most 200 characters', 'name');
      const description = typeof input.description === 'string' ? input.description : '';
      if (await store.lists.byName(ctx.accountId, name)) throw conflict(`a list named ${JSON.stringify(name)} exists`, 'name');
      const base = slugOf(name);
      for (let n = 1; n < 1000; n++) {
        const id = await store.lists.create(ctx.accountId, n === 1 ? base : `${base}-${n}`, name, description);
        if (id !== undefined) return id;
      }
      throw conflict(`no free slug for ${JSON.stringify(name)}`, 'name');
    },

    list: (ctx: CallContext) => store.lists.list(ctx.accountId),
    get: listOf,

    async delete(ctx: CallContext, id: number): Promise<void> {
      if (!(await store.lists.delete(ctx.accountId, id))) throw notFound('list', id);
    },

    /**
     * Add or update one subscriber each (one statement for the whole call). `confirm`: new ones wait for
     * their confirmation (double opt-in); `reenable`: disabled or unconfirmed ones become active again.
     */
    async subscribe(
      ctx: CallContext,
      listId: number,
      items: readonly SubscriberInput[],
      o: { confirm?: boolean; reenable?: boolean } = {},
    ): Promise<SubscribeResult[]> {
      if (items.length > IMPORT_MAX) throw badRequest(`too many subscribers in one call: ${items.length} (at most ${IMPORT_MAX})`);
      return await write(ctx, listId, items, { status: o.confirm ? 'unconfirmed' : 'active', onlyExisting: false, reenable: o.reenable ?? false });
    },

    /** A list by its slug (Sender's maillist slug), without its count. */
    async bySlug(ctx: CallContext, slug: string) {
      const row = await store.lists.bySlug(ctx.accountId, slug);
      if (!row) throw notFound('list', slug);
      return row;
    },

    async count(ctx: CallContext, id: number): Promise<number> {
      await requireList(ctx, id);
      return await store.lists.count(id);
    },

    /** A new list with the slug given (Sender's maillist PUT); the slug must be new in the account. */
    async createWithSlug(ctx: CallContext, input: { slug: string; name?: unknown; description?: unknown }): Promise<number> {
      if (!/^[A-Za-z0-9._-]{1,80}$/.test(input.slug)) throw invalid('a list slug is 1 to 80 letters, digits, ".", "_" or "-"', 'slug');
      const name = typeof input.name === 'string' && input.name.trim() ? input.name.trim() : input.slug;
      if (name.length > 200) throw invalid('a list name has at most 200 characters', 'name');
      const id = await store.lists.create(ctx.accountId, input.slug, name, typeof input.description === 'string' ? input.description : '');
      if (id === undefined) throw conflict(`a list with the slug ${JSON.stringify(input.slug)} exists`, 'slug');
      return id;
    },

    /** Disables one subscriber by address: was it enabled? NOT_FOUND when the address is not in the list. */
    async disable(ctx: CallContext, listId: number, email: unknown): Promise<{ disabled: boolean }> {
      if (typeof email !== 'string' || !isValidEmail(email.trim())) throw invalid(`invalid email address: ${JSON.stringify(email)}`, 'email');
      await requireList(ctx, listId);
      const [r] = await store.lists.disable(ctx.accountId, listId, [emailKey(email.trim())]);
      if (r === 'absent') throw notFound('subscriber', email);
      return { disabled: r === 'disabled' };
    },

    /** A page of the list's subscribers changed after `after` (oldest change first) and their count. */
    async content(ctx: CallContext, listId: number, page: { after: Date | null; offset: number; limit: number }) {
      await requireList(ctx, listId);
      return await store.lists.content(listId, page.after, page.offset, page.limit);
    },

    /** Update subscribers that exist; an address not in the list is an error for that item. */
    async edit(ctx: CallContext, listId: number, items: readonly SubscriberInput[]): Promise<SubscribeResult[]> {
      return await write(ctx, listId, items, { status: 'active', onlyExisting: true });
    },

    /** The subscriber by id, or every membership of an address (in one list when `listId` is given). */
    async subscribers(ctx: CallContext, by: { id: number } | { email: string }, listId: number | null = null): Promise<SubscriberRow[]> {
      if ('email' in by && !isValidEmail(by.email)) throw invalid(`invalid email address: ${JSON.stringify(by.email)}`, 'email');
      return await store.lists.subscriber(ctx.accountId, listId, 'id' in by ? by : { emailKey: emailKey(by.email) });
    },

    /**
     * Empties the list and keeps it: every subscriber goes, whatever its status (how many). Suppressions stay
     * the account's; the messages sent to the subscribers keep their history.
     */
    async empty(ctx: CallContext, id: number): Promise<number> {
      const n = await store.lists.empty(ctx.accountId, id);
      if (n === undefined) throw notFound('list', id);
      return n;
    },

    // --- the operator's side (/admin): every account's lists; changes are made in the list's account

    /** Lists of every account, newest first, with their subscribers by status. */
    overview: (page: { limit: number; beforeId?: number | undefined; search?: string | undefined }) => store.lists.overview(page),

    /** The call context of the account list `id` belongs to, and its slug (NOT_FOUND when there is no such list). */
    async ownerContext(id: number, requestId: string): Promise<CallContext & { account: string }> {
      const owner = await store.lists.owner(id);
      if (!owner) throw notFound('list', id);
      return { accountId: owner.account_id, account: owner.account, requestId };
    },

    /** A list's subscribers, newest first, by status and by a part of the address. */
    async search(
      ctx: CallContext,
      listId: number,
      page: { limit: number; beforeId?: number | undefined; search?: string | undefined; statuses?: readonly SubscriberStatus[] | null },
    ): Promise<SubscriberRow[]> {
      await requireList(ctx, listId);
      return await store.lists.subscriberSearch(listId, page);
    },
  };
}
export type ListsService = ReturnType<typeof listsService>;

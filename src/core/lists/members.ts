/**
 * Lists and subscribers one at a time, as a REST resource sees them (Emailicious): a list with its sending
 * defaults and languages, a subscriber by id with its fields flat in `params`, a duplicate address answered
 * with the subscriber that has it, statuses set one subscriber at a time.
 *
 * Decided where the sources are silent:
 * - Deleting a subscriber keeps the row, status `disabled` (Emailicious' `deleted`); it still holds its address.
 * - Unsubscribing a subscriber concerns its list only (the recipients' own unsubscribe links stay
 *   account-wide suppressions).
 * - Activating brings a subscriber back from any status but a hard bounce or a complaint (those are the
 *   account's suppressions and are lifted by an operator); an account-wide unsubscribe of the address is
 *   lifted by it, since the list's owner asks for the address again. With `confirm` the subscriber waits for
 *   its confirmation (`unconfirmed`) and the confirmation message is sent.
 */
import type { CallContext } from '../context.js';
import { emailKey, isValidEmail } from '../email.js';
import { conflict, forbiddenState, invalid, notFound } from '../errors.js';
import type { Store } from '../../db/store.js';
import type { ListDetailColumn, ListDetails, SubscriberRow, SubscriberStatus } from '../../db/lists.js';
import { slugOf } from './service.js';

export type { ListDetails };

export interface ListFields {
  name?: string;
  language?: string | null;
  languages?: string[];
  default_from_name?: string | null;
  default_from_email?: string | null;
  default_replyto_email?: string | null;
}

export type Added = { row: SubscriberRow } | { conflict: SubscriberRow };

function address(email: unknown, field = 'email'): { email: string; emailKey: string } {
  const e = typeof email === 'string' ? email.trim() : '';
  if (!e) throw invalid('an e-mail address is required', field, { kind: 'required' });
  if (!isValidEmail(e)) throw invalid('not a valid e-mail address', field, { kind: 'email' });
  return { email: e, emailKey: emailKey(e) };
}

function checkedFields(f: ListFields): Partial<Record<ListDetailColumn, unknown>> {
  const out: Partial<Record<ListDetailColumn, unknown>> = {};
  if (f.name !== undefined) {
    if (!f.name.trim()) throw invalid('the name is blank', 'name', { kind: 'blank' });
    out.name = f.name.trim();
  }
  for (const k of ['default_from_email', 'default_replyto_email'] as const) {
    const v = f[k];
    if (v === undefined) continue;
    if (v && !isValidEmail(v)) throw invalid('not a valid e-mail address', k, { kind: 'email' });
    out[k] = v || null;
  }
  if (f.default_from_name !== undefined) out.default_from_name = f.default_from_name || null;
  if (f.language !== undefined) out.language = f.language || null;
  if (f.languages !== undefined) out.languages = [...new Set(f.languages)];
  return out;
}

/**
 * What activating with `confirm` needs of the subscriptions service, stated here: subscriptions/ depends on
 * lists/, and an import back would close a circle between the two folders.
 */
export interface ConfirmationRequests {
  /** Refuses what `request` would refuse for the list, before the caller changes anything. */
  ready(ctx: CallContext, listId: number): Promise<void>;
  request(ctx: CallContext, listId: number, input: { email: string }): Promise<{ sent: boolean }>;
}

/** What a revalidation did: the memberships it re-subscribed, and whether confirmation messages went out. */
export interface Revalidated {
  email: string;
  subscriberIds: number[];
  sent: boolean;
}

export function membersService(deps: { store: Store; subscriptions: ConfirmationRequests }) {
  const { store } = deps;

  async function mustList(ctx: CallContext, id: number): Promise<ListDetails> {
    const { rows } = await store.lists.details(ctx.accountId, id);
    if (!rows[0]) throw notFound('list', id);
    return rows[0];
  }
  async function mustSubscriber(ctx: CallContext, listId: number, id: number): Promise<SubscriberRow> {
    await mustList(ctx, listId);
    const [row] = await store.lists.subscriber(ctx.accountId, listId, { id });
    if (!row) throw notFound('subscriber', id);
    return row;
  }
  async function setStatus(ctx: CallContext, listId: number, id: number, status: SubscriberStatus): Promise<SubscriberRow> {
    const row = await store.lists.setStatus(ctx.accountId, listId, id, status);
    if (!row) throw notFound('subscriber', id);
    return row;
  }

  return {
    lists: (ctx: CallContext, offset: number, limit: number) => store.lists.details(ctx.accountId, null, offset, limit),
    list: mustList,

    /** A new list: its slug is made from its name (made unique with a number). */
    async createList(ctx: CallContext, f: ListFields): Promise<ListDetails> {
      if (f.name === undefined) throw invalid('a list needs a name', 'name', { kind: 'required' });
      const fields = checkedFields(f);
      const base = slugOf(f.name);
      for (let n = 1; n < 1000; n++) {
        const id = await store.lists.create(ctx.accountId, n === 1 ? base : `${base}-${n}`, String(fields.name), '');
        if (id !== undefined) return (await store.lists.setDetails(ctx.accountId, id, fields))!;
      }
      throw conflict('no free slug for this list name', 'name');
    },

    async updateList(ctx: CallContext, id: number, f: ListFields): Promise<ListDetails> {
      const row = await store.lists.setDetails(ctx.accountId, id, checkedFields(f));
      if (!row) throw notFound('list', id);
      return row;
    },

    /** Deletes the list, its subscribers and (as Emailicious does) its mailings. */
    async deleteList(ctx: CallContext, id: number): Promise<void> {
      await store.transaction(async (tx) => {
        await tx.mailings.deleteOfList(ctx.accountId, id);
        if (!(await tx.lists.delete(ctx.accountId, id))) throw notFound('list', id);
      });
    },

    async subscribers(ctx: CallContext, listId: number, q: { statuses?: SubscriberStatus[] | null; email?: string | null }, offset: number, limit: number) {
      await mustList(ctx, listId);
      return await store.lists.subscriberPage(listId, { statuses: q.statuses ?? null, emailKey: q.email ? emailKey(q.email.trim()) : null }, offset, limit);
    },

    subscriber: mustSubscriber,

    /** Adds a subscriber, or answers the list's subscriber of that address (whatever its status). */
    async add(ctx: CallContext, listId: number, s: { email: unknown; params: Record<string, unknown> }): Promise<Added> {
      await mustList(ctx, listId);
      const r = await store.lists.insertOne(ctx.accountId, listId, { ...address(s.email), params: s.params });
      if (!r) throw notFound('list', listId);
      return r;
    },

    /** New address and fields (`merge`: the given fields over the stored ones, else instead of them). */
    async rewrite(ctx: CallContext, listId: number, id: number, s: { email?: unknown; params: Record<string, unknown>; merge: boolean }): Promise<Added> {
      await mustList(ctx, listId);
      const r = await store.lists.rewrite(ctx.accountId, listId, id, {
        email: s.email === undefined ? undefined : address(s.email),
        params: s.params,
        merge: s.merge,
      });
      if (!r) throw notFound('subscriber', id);
      return r;
    },

    async remove(ctx: CallContext, listId: number, id: number): Promise<void> {
      await mustSubscriber(ctx, listId, id);
      await setStatus(ctx, listId, id, 'disabled');
    },

    async unsubscribe(ctx: CallContext, listId: number, id: number): Promise<SubscriberRow> {
      await mustSubscriber(ctx, listId, id);
      return await setStatus(ctx, listId, id, 'unsubscribed');
    },

    async activate(ctx: CallContext, listId: number, id: number, confirm: boolean): Promise<SubscriberRow> {
      const row = await mustSubscriber(ctx, listId, id);
      const key = emailKey(row.email);
      const suppression = await store.suppressions.get(ctx.accountId, key);
      if (row.status === 'bounced' || row.status === 'complained' || (suppression && suppression.reason !== 'unsubscribe'))
        throw invalid(`${row.email} is suppressed for this account (${suppression?.reason ?? row.status}): it cannot be activated`, 'subscription');
      if (confirm) await deps.subscriptions.ready(ctx, listId);
      if (suppression) await store.suppressions.lift(ctx.accountId, key, 'unsubscribe');
      if (!confirm) return await setStatus(ctx, listId, id, 'active');
      await setStatus(ctx, listId, id, 'unconfirmed');
      await deps.subscriptions.request(ctx, listId, { email: row.email });
      return (await store.lists.subscriber(ctx.accountId, listId, { id }))[0]!;
    },

    /**
     * Re-subscribes an address that unsubscribed (Mailkit's email.revalidate), named by address, by a
     * subscriber id or by a message id: its account-wide unsubscribe is lifted, and its unsubscribed
     * memberships (only the one a subscriber id names) become active, or, with `confirm`, wait for their
     * confirmation, whose message goes out for each (one per list). FORBIDDEN_STATE, and nothing changes, when
     * the address is not unsubscribed (it never was, waits for a confirmation already, or is suppressed for
     * another reason: a bounce, a complaint or an operator's, which only lifting the suppression undoes);
     * INVALID_ARGUMENT (field `confirm`) when `confirm` finds no membership to confirm.
     */
    async revalidate(ctx: CallContext, who: { email: string } | { id: number }, o: { confirm: boolean }): Promise<Revalidated> {
      let members: SubscriberRow[];
      let email: string;
      if ('email' in who) {
        email = address(who.email).email;
        members = await store.lists.subscriber(ctx.accountId, null, { emailKey: emailKey(email) });
      } else {
        const [named] = await store.lists.subscriber(ctx.accountId, null, { id: who.id });
        const found = named ? { email: named.email } : await store.suppressions.addressOfId(ctx.accountId, who.id);
        if (!found) throw notFound('subscriber', who.id);
        email = found.email;
        members = named ? [named] : await store.lists.subscriber(ctx.accountId, null, { emailKey: emailKey(email) });
      }
      const key = emailKey(email);
      const targets = members.filter((m) => m.status === 'unsubscribed');
      const suppression = await store.suppressions.get(ctx.accountId, key);
      if (suppression ? suppression.reason !== 'unsubscribe' : !targets.length) throw forbiddenState(`${email} is not unsubscribed`);
      // A confirmation is a list's (its link activates a membership): without one there is nothing to confirm.
      if (o.confirm && !targets.length) throw invalid(`${email} is in no list to confirm`, 'confirm');
      if (suppression) await store.suppressions.lift(ctx.accountId, key, 'unsubscribe');
      let sent = false;
      for (const m of targets) {
        await setStatus(ctx, m.list_id, m.id, o.confirm ? 'unconfirmed' : 'active');
        if (o.confirm) sent = (await deps.subscriptions.request(ctx, m.list_id, { email: m.email })).sent || sent;
      }
      return { email, subscriberIds: targets.map((m) => m.id), sent };
    },
  };
}
export type MembersService = ReturnType<typeof membersService>;

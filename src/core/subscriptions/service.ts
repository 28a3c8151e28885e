/**
 * Double opt-in and the optout notice: messages the gateway sends on a subscriber's behalf, through the normal
 * pipeline (transactional sends: suppression, bounce log, status of each message as for any other).
 *
 * Double opt-in (Sender's `subscription/request`, Mailkit's adduser with `double_opt_in`): the address is
 * added to the list unconfirmed and disabled and, unless it was already active, the list's confirmation
 * message is sent with `{{ subscribe_link }}`, `{{ list_title }}`, the subscriber's stored params and the caller's
 * `args` as fields. The
 * message is the list's confirmation mailing, else the account's, else a built-in one (one per account, from
 * `noreply@BOUNCE_DOMAIN`, qualified on a host without a domain as ./sender.ts says: choose your own mailing to
 * send from your own address). The link is
 * `PUBLIC_URL/subscribe/confirm/<token>`, signed (src/core/delivery/tokens.ts) and valid CONFIRM_LINK_DAYS;
 * following it activates the subscriber once. A suppressed address gets no confirmation message (lift the
 * suppression first): its membership is stored as the suppression says, as in any subscribe.
 *
 * A request that is refused changes nothing: everything that can refuse it (the list, the address, the
 * confirmation mailing, made when it is first needed) is settled before the subscriber is written.
 *
 * Decided where Sender and Mailkit are silent: a GET of the link confirms (that is what the subscriber
 * clicks; Sender's and Mailkit's links do the same); a second click says it is already confirmed; a link
 * for a subscriber who has since unsubscribed or been deleted is no longer valid.
 */
import type { CallContext } from '../context.js';
import { isValidEmail } from '../email.js';
import { DomainError, invalid, isDomainError, notFound } from '../errors.js';
import { signConfirmToken, verifyConfirmToken } from '../delivery/tokens.js';
import type { Store } from '../../db/store.js';
import type { SystemRole } from '../../db/mailings.js';
import type { SubscriberStatus } from '../../db/lists.js';
import type { ListsService } from '../lists/service.js';
import type { MailingsService } from '../mailings/service.js';
import type { TransactionalService } from '../transactional/service.js';
import { builtInSender } from './sender.js';

export interface SubscriptionsDeps {
  store: Store;
  lists: ListsService;
  mailings: MailingsService;
  transactional: TransactionalService;
  secret: Buffer;
  publicUrl: string;
  bounceDomain: string;
  confirmLinkDays: number;
}

export interface RequestInput {
  email: unknown;
  params?: Record<string, unknown>;
  /** Fields of the confirmation message only (Sender's `args`). */
  args?: Record<string, unknown>;
  /** When the confirmation message may go, and until when (Sender's countdown and expires). */
  notBefore?: Date;
  expiresAt?: Date;
}

export interface RequestResult {
  subscriberId: number;
  email: string;
  inserted: boolean;
  status: SubscriberStatus;
  /** A confirmation message was queued. */
  sent: boolean;
}

export type ConfirmResult = { state: 'confirmed' | 'already'; email: string; list: string };

/** The built-in messages (fields are those each sender passes). */
/** A U+0000 in any key or text of `v`: Postgres cannot store it (the pool refuses it, but only once written). */
function holdsNul(v: unknown): boolean {
  let found = false;
  JSON.stringify(v, (k, x: unknown) => {
    if (k.includes('\u0000') || (typeof x === 'string' && x.includes('\u0000'))) found = true;
    return x;
  });
  return found;
}

const BUILT_IN: Record<SystemRole, { name: string; subject: string; html: string }> = {
  confirm: {
    name: 'Subscription confirmation (built-in)',
    subject: 'Please confirm your subscription to {{ list_title }}',
    html:
      '<p>Hello,</p><p>Someone, hopefully you, asked to receive <b>{{ list_title }}</b> at {{ email }}.</p>' +
      '<p><a href="{{ subscribe_link }}">Yes, subscribe me</a></p>' +
      '<p>If you did not ask for it, ignore this message: you will not be subscribed.</p>',
  },
  optout: {
    name: 'Unsubscribe notice (built-in)',
    subject: 'You have been unsubscribed',
    html: '<p>Hello,</p><p>{{ email }} has been unsubscribed and will not receive these mailings any more.</p>',
  },
};

export function subscriptionsService(deps: SubscriptionsDeps) {
  const { store } = deps;

  /** The account's built-in mailing of a role, made the first time it is needed. */
  async function builtIn(ctx: CallContext, role: SystemRole): Promise<number> {
    const existing = await store.mailings.systemMailing(ctx.accountId, role);
    if (existing !== undefined) return existing;
    const b = BUILT_IN[role];
    const id = await deps.mailings.create(ctx, { dialect: 'system', fromEmail: builtInSender(deps.bounceDomain), subject: b.subject, html: b.html });
    if (await store.mailings.setSystemRole(ctx.accountId, id, role)) return id;
    // Another call made it at the same time: use that one.
    await deps.mailings.delete(ctx, id);
    return (await store.mailings.systemMailing(ctx.accountId, role))!;
  }

  async function mailingOrBuiltIn(ctx: CallContext, chosen: number | null, role: SystemRole): Promise<number> {
    if (chosen !== null) {
      const m = await deps.mailings.get(ctx, chosen).catch(() => undefined);
      if (m && m.status !== 'finished') return chosen;
    }
    return await builtIn(ctx, role);
  }

  return {
    async request(ctx: CallContext, listId: number, input: RequestInput): Promise<RequestResult> {
      // Checked before anything is written: a refused request leaves neither a subscriber nor a message.
      const settings = await store.lists.confirmSettings(ctx.accountId, listId);
      if (!settings) throw notFound('list', listId);
      const email = typeof input.email === 'string' ? input.email.trim() : '';
      if (!email) throw invalid('an email address is required', 'email');
      if (!isValidEmail(email)) throw invalid(`invalid email address: ${JSON.stringify(input.email)}`, 'email');
      // Refused here, not by the store: the built-in mailing and the subscriber are written before the message.
      if (holdsNul([input.params, input.args])) throw invalid('a text value contains a null character (U+0000), which cannot be stored', 'params');
      const mailingId = await mailingOrBuiltIn(ctx, settings.mailing_id, 'confirm');

      const [r] = await deps.lists.subscribe(ctx, listId, [{ email, params: input.params ?? {} }], { confirm: true });
      if (!r || 'error' in r) throw invalid(r && 'error' in r ? r.error : 'not added', 'email');
      let status = r.status;
      // A subscriber disabled by a call (not by a suppression) asks again: unconfirmed once more.
      if (status === 'disabled') status = (await store.lists.reopenUnconfirmed(ctx.accountId, r.id)) ?? status;
      const result = { subscriberId: r.id, email: r.email, inserted: r.inserted, status, sent: false };
      if (status !== 'unconfirmed') return result;
      const link = `${deps.publicUrl}/subscribe/confirm/${signConfirmToken(deps.secret, r.id)}`;
      // Every param the subscriber has (not only those of this call) personalizes the message.
      const [stored] = await store.lists.subscriber(ctx.accountId, listId, { id: r.id });
      await deps.transactional.send(ctx, {
        mailingId,
        listId: null,
        subscriberId: r.id,
        email: r.email,
        fields: { ...stored?.params, ...(input.args ?? {}), subscribe_link: link, list_title: settings.name },
        notBefore: input.notBefore ?? null,
        expiresAt: input.expiresAt ?? null,
      });
      return { ...result, sent: true };
    },

    /**
     * What a request for the list needs before anything changes (the list, its confirmation mailing): refused
     * here, a caller that writes before requesting (Emailicious' activate) writes nothing.
     */
    async ready(ctx: CallContext, listId: number): Promise<void> {
      const settings = await store.lists.confirmSettings(ctx.accountId, listId);
      if (!settings) throw notFound('list', listId);
      await mailingOrBuiltIn(ctx, settings.mailing_id, 'confirm');
    },

    /** Follows a confirmation link. A forged, expired or no longer valid link is NOT_FOUND. */
    async confirm(token: string, now: Date = new Date()): Promise<ConfirmResult> {
      const t = verifyConfirmToken(deps.secret, token);
      const gone = () => new DomainError('NOT_FOUND', 'this confirmation link is not valid');
      if (!t) throw gone();
      if (now.getTime() - t.issuedAt.getTime() > deps.confirmLinkDays * 86_400_000) throw new DomainError('NOT_FOUND', 'this confirmation link has expired');
      const o = await store.lists.confirm(t.subscriberId);
      if (!o) throw gone();
      if (o.confirmed) return { state: 'confirmed', email: o.email, list: o.list_name };
      if (o.previous === 'active') return { state: 'already', email: o.email, list: o.list_name };
      throw gone();
    },

    /** Chooses the confirmation mailing of a list, or of the account (`listId` null); null: the built-in one. */
    async setConfirmMailing(ctx: CallContext, listId: number | null, mailingId: number | null): Promise<void> {
      if (mailingId !== null) await deps.mailings.get(ctx, mailingId);
      if (listId !== null) await deps.lists.get(ctx, listId);
      await store.lists.setConfirmMailing(ctx.accountId, listId, mailingId);
    },

    /** Tells an address it was unsubscribed (Mailkit's `send_optout`), although it is now suppressed. */
    async sendOptoutNotice(ctx: CallContext, email: string): Promise<void> {
      const mailingId = await builtIn(ctx, 'optout');
      try {
        await deps.transactional.send(ctx, { mailingId, listId: null, email, fields: {} });
      } catch (e) {
        if (isDomainError(e)) throw invalid(e.message, 'email');
        throw e;
      }
    },
  };
}
export type SubscriptionsService = ReturnType<typeof subscriptionsService>;

/**
 * Sender's routes under `/api/0/<account>`: each reads its parameters (values.ts), calls the core and builds
 * Sender's answer (serializers.ts); errors are answered by index.ts through errors.ts.
 */
import type { Request } from 'express';
import { randomUUID } from 'node:crypto';
import type { CallContext } from '../../core/context.js';
import { isValidEmail } from '../../core/email.js';
import { isDomainError } from '../../core/errors.js';
import type { Core } from '../../core/index.js';
import { CAMPAIGN_NOT_FOUND, NO_MAILLIST, NOT_IN_MAILLIST, SenderError, WRONG_EMAIL, unsubscribeError } from './errors.js';
import { contentPage, deliveryStatus, echo, listResult, ok, okLower, subscriberElement, unsubscribeGroup, unsubscribeListInfo } from './serializers.js';
import {
  boolParam,
  durationParam,
  emailOf,
  intParam,
  itemsOf,
  jsonParam,
  pageParams,
  stringParam,
  subscriberParams,
  transactionalRequest,
  type Params,
} from './values.js';

export interface Call {
  req: Request;
  ctx: CallContext;
  p: Params;
  core: Core;
}
export type Answer = { status?: number; body: unknown };
export type Route = [method: 'get' | 'put' | 'post' | 'delete', path: string, handler: (c: Call) => Promise<Answer>];

async function listOf({ core, ctx }: Call, slug: string) {
  try {
    return await core.lists.bySlug(ctx, slug);
  } catch (e) {
    if (isDomainError(e) && e.code === 'NOT_FOUND') throw NO_MAILLIST();
    throw e;
  }
}

const slugOf = (req: Request) => String(req.params.list);

/** A transactional campaign: by name, else by id. */
async function campaignOf({ core, ctx }: Call, slug: string): Promise<number> {
  const id = await core.mailings.idByName(ctx, slug);
  if (id !== undefined) return id;
  if (/^\d{1,15}$/.test(slug)) {
    const id = Number(slug);
    if (await core.mailings.exists(ctx, id).catch(() => false)) return id;
  }
  throw CAMPAIGN_NOT_FOUND();
}

/** Errors in the unsubscribe family are DRF's bare `{"detail": ...}`. */
const unsub =
  (fn: (c: Call) => Promise<Answer>) =>
  (c: Call): Promise<Answer> =>
    fn(c).catch((e: unknown) => {
      throw unsubscribeError(e);
    });
const unsubList = (req: Request) => String(req.params.slug);
const unsubEmail = (p: Params) => stringParam(p, 'email') ?? '';

/** A content page of addresses (an unsubscribe list's, the account's unsubscriptions), read by `read`. */
async function addressPage(
  c: Call,
  read: (page: { after: Date | null; offset: number; limit: number }) => Promise<{ count: number; rows: { email: string }[] }>,
): Promise<Answer> {
  const page = pageParams(c.p);
  const r = await read({ after: page.after?.at ?? null, offset: page.offset, limit: page.limit });
  return {
    body: contentPage(
      c.req,
      page,
      r.count,
      r.rows.map((e) => ({ email: e.email })),
    ),
  };
}

const transactionalStatus = async (c: Call): Promise<Answer> => {
  const messageId = stringParam(c.p, 'message_id');
  if (!messageId) throw SenderError.field('message_id', 'This field is required.');
  const mailingId = await campaignOf(c, String(c.req.params.campaign));
  const r = await c.core.transactional.status(c.ctx, messageId);
  // Always HTTP 200: clients read `code` (Yandex Pay's client raises on its 404 itself).
  if (!r || r.mailing_id !== mailingId) return { body: { msg: 'No such message, or its record has expired', code: 404, message_id: messageId, retry: false } };
  return { body: { ...deliveryStatus(r), message_id: messageId } };
};

export const ROUTES: Route[] = [
  // --- maillists (Mailgate addition) ---------------------------------------------------------------------
  [
    'put',
    '/:account/maillist/:list',
    async (c) => {
      const { core, ctx, p } = c;
      const slug = slugOf(c.req);
      const existing = await core.lists.bySlug(ctx, slug).catch((e: unknown) => {
        if (isDomainError(e) && e.code === 'NOT_FOUND') return undefined;
        throw e;
      });
      if (existing) return { body: ok(echo(p, 'title', 'description'), listResult(existing, await core.lists.count(ctx, existing.id))) };
      await core.lists.createWithSlug(ctx, { slug, name: stringParam(p, 'title'), description: stringParam(p, 'description') });
      return { status: 201, body: ok(echo(p, 'title', 'description'), listResult(await core.lists.bySlug(ctx, slug), 0)) };
    },
  ],
  [
    'get',
    '/:account/maillist/:list',
    async (c) => {
      const list = await listOf(c, slugOf(c.req));
      return { body: ok(undefined, listResult(list, await c.core.lists.count(c.ctx, list.id))) };
    },
  ],
  [
    'delete',
    '/:account/maillist/:list',
    async (c) => {
      const list = await listOf(c, slugOf(c.req));
      await c.core.lists.delete(c.ctx, list.id);
      return { body: ok(undefined) };
    },
  ],

  // --- one subscriber ------------------------------------------------------------------------------------
  [
    'put',
    '/:account/maillist/:list/subscription',
    async (c) => {
      const email = emailOf(c.p, 'email');
      const params = subscriberParams(c.p);
      const list = await listOf(c, slugOf(c.req));
      const [r] = await c.core.lists.subscribe(c.ctx, list.id, [{ email, params }], { reenable: true });
      if (!r || 'error' in r) throw WRONG_EMAIL();
      return { body: ok(echo(c.p, 'email', 'params')) };
    },
  ],
  [
    'delete',
    '/:account/maillist/:list/subscription',
    async (c) => {
      const email = emailOf(c.p, 'email');
      const list = await listOf(c, slugOf(c.req));
      const r = await c.core.lists.disable(c.ctx, list.id, email).catch((e: unknown) => {
        throw isDomainError(e) && e.code === 'NOT_FOUND' ? NOT_IN_MAILLIST() : e;
      });
      return { body: ok(echo(c.p, 'email'), { disabled: r.disabled ? 1 : 0, already_disabled: r.disabled ? 0 : 1 }) };
    },
  ],
  [
    'post',
    '/:account/maillist/:list/subscription/request',
    async (c) => {
      const { p } = c;
      const email = emailOf(p, 'to_email', 'email');
      const params = subscriberParams(p);
      const args = (jsonParam(p, 'args', 'object') as Record<string, unknown> | undefined) ?? {};
      // Read (and refused when malformed) like the transactional send's: the confirmation is queued either way.
      boolParam(p, 'async', true);
      const countdown = durationParam(p, 'countdown');
      const expires = durationParam(p, 'expires');
      const list = await listOf(c, slugOf(c.req));
      // One clock reading for both: `expires: 0` means "expired the moment it may be sent".
      const now = Date.now();
      await c.core.subscriptions.request(c.ctx, list.id, {
        email,
        params,
        args,
        ...(countdown !== undefined ? { notBefore: new Date(now + countdown * 1000) } : {}),
        ...(expires !== undefined ? { expiresAt: new Date(now + ((countdown ?? 0) + expires) * 1000) } : {}),
      });
      return { body: ok({ email, ...echo(p, 'params') }) };
    },
  ],

  // --- bulk ------------------------------------------------------------------------------------------------
  [
    'put',
    '/:account/maillist/:list/subscription/bulk',
    async (c) => {
      const items = itemsOf(c.p);
      const rev = intParam(c.p, 'rev', { min: 0 });
      const disableOthers = boolParam(c.p, 'disable_others', false);
      const list = await listOf(c, slugOf(c.req));
      const t = await c.core.tasks.bulkPut(c.ctx, list.id, items, { rev: rev ?? null, disableOthers });
      return { body: ok(undefined, { task_id: t.taskId, rev: t.rev }) };
    },
  ],
  [
    'delete',
    '/:account/maillist/:list/subscription/bulk',
    async (c) => {
      const items = itemsOf(c.p);
      const list = await listOf(c, slugOf(c.req));
      const t = await c.core.tasks.bulkDelete(c.ctx, list.id, items);
      return { body: ok(undefined, { task_id: t.taskId }) };
    },
  ],
  [
    'get',
    '/:account/tasks/:task',
    async (c) => {
      const t = await c.core.tasks.get(c.ctx, String(c.req.params.task));
      return { body: ok(undefined, { task_id: t.id, state: t.status.toUpperCase(), info: t.result ?? {} }) };
    },
  ],

  // --- reading ---------------------------------------------------------------------------------------------
  [
    'get',
    '/:account/maillist/:list/content',
    async (c) => {
      const page = pageParams(c.p);
      const list = await listOf(c, slugOf(c.req));
      const r = await c.core.lists.content(c.ctx, list.id, { after: page.after?.at ?? null, offset: page.offset, limit: page.limit });
      return { body: contentPage(c.req, page, r.count, r.rows.map(subscriberElement)) };
    },
  ],
  [
    'get',
    '/:account/maillist/:list/email/:email',
    async (c) => {
      const email = String(c.req.params.email).trim();
      if (!isValidEmail(email)) throw WRONG_EMAIL();
      const list = await listOf(c, slugOf(c.req)).catch((e: unknown) => {
        // The page: 404 when the address is not in the list "or the list does not exist".
        throw e instanceof SenderError && e.status === 404 ? NOT_IN_MAILLIST() : e;
      });
      const [s] = await c.core.lists.subscribers(c.ctx, { email }, list.id);
      if (!s) throw NOT_IN_MAILLIST();
      return { body: { result: subscriberElement(s) } };
    },
  ],

  // --- unsubscribe lists and the account-wide unsubscription ----------------------------------------------
  [
    'put',
    '/:account/unsubscribe/list/:slug',
    unsub(async ({ req, ctx, p, core }) => (await core.unsubscribeLists.add(ctx, unsubList(req), unsubEmail(p)), { body: okLower(unsubEmail(p)) })),
  ],
  [
    'delete',
    '/:account/unsubscribe/list/:slug',
    unsub(async ({ req, ctx, p, core }) => (await core.unsubscribeLists.remove(ctx, unsubList(req), unsubEmail(p)), { body: okLower(unsubEmail(p)) })),
  ],
  ['get', '/:account/unsubscribe/list/:slug/content', unsub((c) => addressPage(c, (page) => c.core.unsubscribeLists.content(c.ctx, unsubList(c.req), page)))],
  [
    'get',
    '/:account/unsubscribe/list/:slug/email/:email',
    unsub(async ({ req, ctx, core }) => {
      const email = String(req.params.email).trim();
      if (!isValidEmail(email)) throw SenderError.bare(400, 'Wrong email format');
      const e = await core.unsubscribeLists.entry(ctx, unsubList(req), email).catch((err: unknown) => {
        // Like the maillist lookup: 404 when the address is not in the list or the list does not exist.
        throw isDomainError(err) && err.code === 'NOT_FOUND' ? SenderError.bare(404, 'Email is not in unsublist.') : err;
      });
      return { body: { result: { email: e.email } } };
    }),
  ],
  [
    'get',
    '/:account/unsubscribe/global',
    unsub(async ({ ctx, p, core }) => {
      const info = await core.unsubscribeLists.info(ctx, unsubEmail(p));
      return { body: { params: { email: unsubEmail(p) }, result: unsubscribeGroup(info.account, info.unsubscribed) } };
    }),
  ],
  [
    'put',
    '/:account/unsubscribe/global',
    unsub(async ({ ctx, p, core }) => (await core.suppressions.unsubscribe(ctx, { email: unsubEmail(p).trim() }, 'api'), { body: okLower(unsubEmail(p)) })),
  ],
  // Takes back an unsubscription only: a bounce's or a manual suppression stays. Idempotent, like PUT.
  [
    'delete',
    '/:account/unsubscribe/global',
    unsub(async ({ ctx, p, core }) => {
      await core.suppressions.lift(ctx, unsubEmail(p).trim(), { reason: 'unsubscribe' }).catch((e: unknown) => {
        if (!(isDomainError(e) && e.code === 'NOT_FOUND')) throw e;
      });
      return { body: okLower(unsubEmail(p)) };
    }),
  ],
  ['get', '/:account/unsubscribe/global/content', unsub((c) => addressPage(c, (page) => c.core.unsubscribeLists.globalContent(c.ctx, page)))],
  [
    'get',
    '/:account/unsubscribe/info',
    unsub(async ({ ctx, p, core }) => {
      const info = await core.unsubscribeLists.info(ctx, unsubEmail(p));
      const lists = info.lists.map((l) => unsubscribeListInfo(info.account.slug, l));
      return { body: { params: { email: unsubEmail(p) }, result: { group: unsubscribeGroup(info.account, info.unsubscribed), lists } } };
    }),
  ],

  // --- transactional ---------------------------------------------------------------------------------------
  [
    'post',
    '/:account/transactional/:campaign/send',
    async (c) => {
      const { core, ctx } = c;
      const m = transactionalRequest(c.p);
      if (!m.to.length && !m.cc.length && !m.bcc.length) {
        if (m.ignoreEmpty) return { status: 202, body: { params: m.echo, result: { status: 'OK', message: 'No recipient: nothing was sent.' } } };
        throw new SenderError(400, {
          result: { status: 'ERROR', error: { non_field_errors: ['to_email or valid to_yandex_puid argument required: no to_email'] } },
        });
      }
      const mailingId = await campaignOf(c, String(c.req.params.campaign));
      const taskId = randomUUID();
      const now = Date.now();
      const r = await core.transactional.sendMessage(ctx, {
        mailingId,
        to: m.to,
        cc: m.cc,
        bcc: m.bcc,
        fields: m.args,
        attachments: m.attachments,
        ...(m.from ? { from: m.from } : {}),
        headers: m.headers,
        notBefore: m.countdown ? new Date(now + m.countdown * 1000) : null,
        expiresAt: new Date(now + ((m.countdown ?? 0) + m.expires) * 1000),
        trackingId: taskId,
      });
      // async=false: answered once the message had its SMTP conversation (or 30 s passed).
      if (!m.async) {
        const until = Date.now() + 30_000;
        while (Date.now() < until && (await core.transactional.status(ctx, r.messageId))?.status === 'ready') await new Promise((res) => setTimeout(res, 100));
      }
      return { body: { params: m.echo, result: { status: 'OK', task_id: taskId, message_id: r.messageId } } };
    },
  ],
  ['get', '/:account/transactional/:campaign/status', transactionalStatus],
  ['post', '/:account/transactional/:campaign/status', transactionalStatus],
];

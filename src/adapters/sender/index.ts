/**
 * Yandex Sender dialect: `/api/0/<account>/...`, as Sender's API pages (the seed is its maillist page) and its
 * real clients (Yandex Pay's AbstractSenderClient, and the others listed in ../shared/spec/rest.md) call it.
 *
 * Quirks kept for drop-in compatibility:
 * - Auth: HTTP Basic, the key's secret as the user name and an empty password. The key must belong to the
 *   account of the URL (else 403). Missing credentials and a wrong key: 401.
 * - Every parameter is read from the query string and from the body (form or JSON, on every method, DELETE
 *   included), the body winning; a form's complex fields (`params`, `items`, `args`) are JSON strings, and
 *   so may they be in a JSON body. A bare JSON array body is the `items` of a bulk call.
 * - `params` are echoed back as they came (a JSON string stays a string). Bulk calls answer without `params`.
 * - `result.status` is "OK"; real clients compare it case-insensitively.
 * - Unsubscribe answers say `"status": "ok"` in lower case and answer errors as DRF's bare `{"detail": ...}`,
 *   as the unsubscribe page shows. `unsubscribe/global` is the account's own unsubscription (the account is
 *   the "group"); `unsubscribe/info` names each list `{"ru": name, "en": name}`.
 * Mailgate additions: `PUT/GET/DELETE .../maillist/<slug>` (create with `title`, read, delete a list) and
 * `GET .../tasks/<task_id>` (a bulk task's `state`: PENDING, STARTED, SUCCESS or FAILURE, and its counts).
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { randomUUID } from 'node:crypto';
import { basicAuth, callContext, tooManyFailures, type Principal } from '../auth.js';
import { requestErrors } from '../http-errors.js';
import type { CallContext } from '../../core/context.js';
import { isValidEmail } from '../../core/email.js';
import { isDomainError } from '../../core/errors.js';
import type { AdapterDeps } from '../types.js';
import { BAD_KEY, CAMPAIGN_NOT_FOUND, FORBIDDEN, NO_MAILLIST, NOT_AUTHENTICATED, NOT_IN_MAILLIST, SenderError, WRONG_EMAIL, senderErrorOf } from './errors.js';
import { deliveryStatus, ok, pageLinks, subscriberElement } from './serializers.js';
import { transactionalRequest } from './transactional.js';
import { afterParam, boolParam, durationParam, intParam, jsonParam, paramsOf, stringParam, type Params } from './values.js';

/** Most subscribers one content page returns (and its default). */
const PAGE_MAX = 1000;

interface Call {
  req: Request;
  ctx: CallContext;
  p: Params;
}
type Answer = { status?: number; body: unknown };

function send(res: Response, e: SenderError): void {
  res.status(e.status).json(e.body);
}

export function senderRouter(deps: AdapterDeps): express.Router {
  const { core } = deps;
  const router = express.Router();
  const limit = deps.config.MAX_BODY_BYTES;

  const auth = basicAuth({
    core,
    limiter: deps.authLimiter,
    scheme: { kind: 'secret-as-user' },
    onFailure(outcome, _req, res) {
      if (outcome.kind === 'limited') return tooManyFailures(res, outcome.retryAfter);
      if (outcome.kind === 'unavailable') return void res.status(503).json({ result: { status: 'ERROR', message: 'Service unavailable' } });
      res.set('WWW-Authenticate', 'Basic realm="api"');
      send(res, outcome.kind === 'missing' ? NOT_AUTHENTICATED() : BAD_KEY());
    },
  });
  router.use('/:account', auth, (req: Request, res: Response, next: NextFunction) => {
    if ((res.locals.principal as Principal).account !== req.params.account) return send(res, FORBIDDEN());
    next();
  });
  router.use(express.json({ type: ['application/json', 'application/*+json'], limit, strict: false }));
  router.use(express.urlencoded({ extended: false, limit, parameterLimit: 10_000 }));

  const handle =
    (fn: (c: Call) => Promise<Answer>) =>
    async (req: Request, res: Response, next: NextFunction): Promise<void> => {
      try {
        const a = await fn({ req, ctx: callContext(res), p: paramsOf(req.query, req.body) });
        res.status(a.status ?? 200).json(a.body);
      } catch (e) {
        try {
          send(res, senderErrorOf(e));
        } catch (other) {
          next(other);
        }
      }
    };

  async function listOf(ctx: CallContext, slug: string) {
    try {
      return await core.lists.bySlug(ctx, slug);
    } catch (e) {
      if (isDomainError(e) && e.code === 'NOT_FOUND') throw NO_MAILLIST();
      throw e;
    }
  }

  const slugOf = (req: Request) => String(req.params.list);

  function emailOf(p: Params, ...names: string[]): string {
    for (const n of names) {
      const v = stringParam(p, n);
      if (v) {
        if (!isValidEmail(v)) throw WRONG_EMAIL();
        return v;
      }
    }
    throw WRONG_EMAIL();
  }

  /** `params` of a subscriber: an object, or a JSON string of one. */
  const subscriberParams = (p: Params) => (jsonParam(p, 'params', 'object') as Record<string, unknown> | undefined) ?? {};

  const echo = (p: Params, ...names: string[]) => Object.fromEntries(names.filter((n) => p[n] !== undefined).map((n) => [n, p[n]]));

  // --- maillists (Mailgate addition) ---------------------------------------------------------------------
  router.put(
    '/:account/maillist/:list',
    handle(async ({ req, ctx, p }) => {
      const slug = slugOf(req);
      const existing = await core.lists.bySlug(ctx, slug).catch((e: unknown) => {
        if (isDomainError(e) && e.code === 'NOT_FOUND') return undefined;
        throw e;
      });
      if (existing) return { body: ok(echo(p, 'title', 'description'), listResult(existing, await core.lists.count(ctx, existing.id))) };
      await core.lists.createWithSlug(ctx, { slug, name: stringParam(p, 'title'), description: stringParam(p, 'description') });
      return { status: 201, body: ok(echo(p, 'title', 'description'), listResult(await core.lists.bySlug(ctx, slug), 0)) };
    }),
  );
  router.get(
    '/:account/maillist/:list',
    handle(async ({ req, ctx }) => {
      const list = await listOf(ctx, slugOf(req));
      return { body: ok(undefined, listResult(list, await core.lists.count(ctx, list.id))) };
    }),
  );
  router.delete(
    '/:account/maillist/:list',
    handle(async ({ req, ctx }) => {
      const list = await listOf(ctx, slugOf(req));
      await core.lists.delete(ctx, list.id);
      return { body: ok(undefined) };
    }),
  );

  // --- one subscriber ------------------------------------------------------------------------------------
  router.put(
    '/:account/maillist/:list/subscription',
    handle(async ({ req, ctx, p }) => {
      const email = emailOf(p, 'email');
      const params = subscriberParams(p);
      const list = await listOf(ctx, slugOf(req));
      const [r] = await core.lists.subscribe(ctx, list.id, [{ email, params }], { reenable: true });
      if (!r || 'error' in r) throw WRONG_EMAIL();
      return { body: ok(echo(p, 'email', 'params')) };
    }),
  );

  router.delete(
    '/:account/maillist/:list/subscription',
    handle(async ({ req, ctx, p }) => {
      const email = emailOf(p, 'email');
      const list = await listOf(ctx, slugOf(req));
      let r;
      try {
        r = await core.lists.disable(ctx, list.id, email);
      } catch (e) {
        if (isDomainError(e) && e.code === 'NOT_FOUND') throw NOT_IN_MAILLIST();
        throw e;
      }
      return { body: ok(echo(p, 'email'), { disabled: r.disabled ? 1 : 0, already_disabled: r.disabled ? 0 : 1 }) };
    }),
  );

  router.post(
    '/:account/maillist/:list/subscription/request',
    handle(async ({ req, ctx, p }) => {
      const email = emailOf(p, 'to_email', 'email');
      const params = subscriberParams(p);
      const args = (jsonParam(p, 'args', 'object') as Record<string, unknown> | undefined) ?? {};
      // Read (and refused when malformed) like the transactional send's: the confirmation is queued either way.
      boolParam(p, 'async', true);
      const countdown = durationParam(p, 'countdown');
      const expires = durationParam(p, 'expires');
      const list = await listOf(ctx, slugOf(req));
      await core.subscriptions.request(ctx, list.id, {
        email,
        params,
        args,
        ...(countdown !== undefined ? { notBefore: new Date(Date.now() + countdown * 1000) } : {}),
        ...(expires !== undefined ? { expiresAt: new Date(Date.now() + ((countdown ?? 0) + expires) * 1000) } : {}),
      });
      return { body: ok({ email, ...echo(p, 'params') }) };
    }),
  );

  // --- bulk ------------------------------------------------------------------------------------------------
  function itemsOf(p: Params): { email: unknown; params?: Record<string, unknown> }[] {
    const items = jsonParam(p, 'items', 'array') as unknown[] | undefined;
    if (!items) throw SenderError.field('items', 'This field is required.');
    return items.map((item, i) => {
      if (!item || typeof item !== 'object' || Array.isArray(item)) throw SenderError.field('items', `items[${i}]: expected an object with an email.`);
      const it = item as Params;
      let params: unknown = it.params;
      if (typeof params === 'string') {
        try {
          params = params ? JSON.parse(params) : {};
        } catch {
          throw SenderError.field('items', `items[${i}].params: Value must be valid JSON.`);
        }
      }
      if (params !== undefined && params !== null && (typeof params !== 'object' || Array.isArray(params)))
        throw SenderError.field('items', `items[${i}].params: Expected a JSON object.`);
      return { email: it.email, ...(params ? { params: params as Record<string, unknown> } : {}) };
    });
  }

  router.put(
    '/:account/maillist/:list/subscription/bulk',
    handle(async ({ req, ctx, p }) => {
      const items = itemsOf(p);
      const rev = intParam(p, 'rev', { min: 0 });
      const disableOthers = boolParam(p, 'disable_others', false);
      const list = await listOf(ctx, slugOf(req));
      const t = await core.tasks.bulkPut(ctx, list.id, items, { rev: rev ?? null, disableOthers });
      return { body: ok(undefined, { task_id: t.taskId, rev: t.rev }) };
    }),
  );

  router.delete(
    '/:account/maillist/:list/subscription/bulk',
    handle(async ({ req, ctx, p }) => {
      const items = itemsOf(p);
      const list = await listOf(ctx, slugOf(req));
      const t = await core.tasks.bulkDelete(ctx, list.id, items);
      return { body: ok(undefined, { task_id: t.taskId }) };
    }),
  );

  router.get(
    '/:account/tasks/:task',
    handle(async ({ req, ctx }) => {
      const t = await core.tasks.get(ctx, String(req.params.task));
      return { body: ok(undefined, { task_id: t.id, state: t.status.toUpperCase(), info: t.result ?? {} }) };
    }),
  );

  // --- reading ---------------------------------------------------------------------------------------------
  /** `after` / `offset` / `limit` of a content page, and the page's answer in DRF's limit/offset shape. */
  function paging(req: Request, p: Params) {
    const after = afterParam(p);
    const offset = intParam(p, 'offset', { min: 0 }) ?? 0;
    const lim = Math.min(intParam(p, 'limit', { min: 1 }) ?? PAGE_MAX, PAGE_MAX);
    return {
      page: { after: after?.at ?? null, offset, limit: lim },
      answer(count: number, result: unknown[]): Answer {
        const query = Object.fromEntries(Object.entries(req.query).map(([k, v]) => [k, String(Array.isArray(v) ? v.at(-1) : v)]));
        const links = pageLinks(`${req.protocol}://${req.get('host')}${req.baseUrl}${req.path}`, query, offset, lim, count);
        return { body: { count, next: links.next, previous: links.previous, params: { ...(after ? { after: after.echo } : {}), limit: lim, offset }, result } };
      },
    };
  }

  router.get(
    '/:account/maillist/:list/content',
    handle(async ({ req, ctx, p }) => {
      const { page, answer } = paging(req, p);
      const list = await listOf(ctx, slugOf(req));
      const r = await core.lists.content(ctx, list.id, page);
      return answer(r.count, r.rows.map(subscriberElement));
    }),
  );

  router.get(
    '/:account/maillist/:list/email/:email',
    handle(async ({ req, ctx }) => {
      const email = String(req.params.email).trim();
      if (!isValidEmail(email)) throw WRONG_EMAIL();
      const list = await listOf(ctx, slugOf(req)).catch((e: unknown) => {
        // The page: 404 when the address is not in the list "or the list does not exist".
        throw e instanceof SenderError && e.status === 404 ? NOT_IN_MAILLIST() : e;
      });
      const [s] = await core.lists.subscribers(ctx, { email }, list.id);
      if (!s) throw NOT_IN_MAILLIST();
      return { body: { result: subscriberElement(s) } };
    }),
  );

  // --- unsubscribe lists and the account-wide unsubscription ----------------------------------------------
  // Errors in the unsubscribe family are DRF's bare `{"detail": ...}`, as the page shows for its 404.
  const unsub =
    (fn: (c: Call) => Promise<Answer>) =>
    (c: Call): Promise<Answer> =>
      fn(c).catch((e: unknown) => {
        if (isDomainError(e) && e.code === 'INVALID_ARGUMENT' && e.field === 'email') throw SenderError.bare(400, 'Wrong email format');
        if (isDomainError(e) && e.code === 'NOT_FOUND') throw SenderError.bare(404, 'Not found.');
        throw e;
      });
  const unsubList = (req: Request) => String(req.params.slug);
  const unsubEmail = (p: Params) => stringParam(p, 'email') ?? '';
  const okLower = (email: string) => ({ body: { params: { email }, result: { status: 'ok' } } });

  router.put(
    '/:account/unsubscribe/list/:slug',
    handle(unsub(async ({ req, ctx, p }) => (await core.unsubscribeLists.add(ctx, unsubList(req), unsubEmail(p)), okLower(unsubEmail(p))))),
  );
  router.delete(
    '/:account/unsubscribe/list/:slug',
    handle(unsub(async ({ req, ctx, p }) => (await core.unsubscribeLists.remove(ctx, unsubList(req), unsubEmail(p)), okLower(unsubEmail(p))))),
  );
  router.get(
    '/:account/unsubscribe/list/:slug/content',
    handle(
      unsub(async ({ req, ctx, p }) => {
        const { page, answer } = paging(req, p);
        const r = await core.unsubscribeLists.content(ctx, unsubList(req), page);
        return answer(r.count, r.rows.map((e) => ({ email: e.email })));
      }),
    ),
  );
  router.get(
    '/:account/unsubscribe/list/:slug/email/:email',
    handle(
      unsub(async ({ req, ctx }) => {
        const email = String(req.params.email).trim();
        if (!isValidEmail(email)) throw SenderError.bare(400, 'Wrong email format');
        const e = await core.unsubscribeLists.entry(ctx, unsubList(req), email).catch((err: unknown) => {
          // Like the maillist lookup: 404 when the address is not in the list or the list does not exist.
          throw isDomainError(err) && err.code === 'NOT_FOUND' ? SenderError.bare(404, 'Email is not in unsublist.') : err;
        });
        return { body: { result: { email: e.email } } };
      }),
    ),
  );

  const group = (a: { id: number; slug: string; name: string | null }, unsubscribed: boolean) => ({ unsubscribed, slug: a.slug, id: String(a.id), name: a.name ?? a.slug });
  router.get(
    '/:account/unsubscribe/global',
    handle(
      unsub(async ({ ctx, p }) => {
        const info = await core.unsubscribeLists.info(ctx, unsubEmail(p));
        return { body: { params: { email: unsubEmail(p) }, result: group(info.account, info.unsubscribed) } };
      }),
    ),
  );
  router.put(
    '/:account/unsubscribe/global',
    handle(unsub(async ({ ctx, p }) => (await core.suppressions.unsubscribe(ctx, { email: unsubEmail(p).trim() }, 'api'), okLower(unsubEmail(p))))),
  );
  // Takes back an unsubscription only: a bounce's or a manual suppression stays. Idempotent, like PUT.
  router.delete(
    '/:account/unsubscribe/global',
    handle(
      unsub(async ({ ctx, p }) => {
        await core.suppressions.lift(ctx, unsubEmail(p).trim(), { reason: 'unsubscribe' }).catch((e: unknown) => {
          if (!(isDomainError(e) && e.code === 'NOT_FOUND')) throw e;
        });
        return okLower(unsubEmail(p));
      }),
    ),
  );
  router.get(
    '/:account/unsubscribe/global/content',
    handle(
      unsub(async ({ req, ctx, p }) => {
        const { page, answer } = paging(req, p);
        const r = await core.unsubscribeLists.globalContent(ctx, page);
        return answer(r.count, r.rows.map((e) => ({ email: e.email })));
      }),
    ),
  );
  router.get(
    '/:account/unsubscribe/info',
    handle(
      unsub(async ({ ctx, p }) => {
        const info = await core.unsubscribeLists.info(ctx, unsubEmail(p));
        const lists = info.lists.map((l) => ({
          list: { account: info.account.slug, description: null, id: String(l.id), name: { ru: l.name, en: l.name }, slug: l.slug },
          unsubscribed: l.member,
        }));
        return { body: { params: { email: unsubEmail(p) }, result: { group: group(info.account, info.unsubscribed), lists } } };
      }),
    ),
  );

  // --- transactional ---------------------------------------------------------------------------------------
  async function campaignOf(ctx: CallContext, slug: string): Promise<number> {
    const id = await core.mailings.idByName(ctx, slug);
    if (id !== undefined) return id;
    if (/^\d{1,15}$/.test(slug)) {
      const m = await core.mailings.get(ctx, Number(slug)).catch(() => undefined);
      if (m) return m.id;
    }
    throw CAMPAIGN_NOT_FOUND();
  }

  router.post(
    '/:account/transactional/:campaign/send',
    handle(async ({ req, ctx, p }) => {
      const m = transactionalRequest(p);
      if (!m.to.length && !m.cc.length && !m.bcc.length) {
        if (m.ignoreEmpty) return { status: 202, body: { params: m.echo, result: { status: 'OK', message: 'No recipient: nothing was sent.' } } };
        throw new SenderError(400, { result: { status: 'ERROR', error: { non_field_errors: ['to_email or valid to_yandex_puid argument required: no to_email'] } } });
      }
      const mailingId = await campaignOf(ctx, String(req.params.campaign));
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
    }),
  );

  const status = handle(async ({ req, ctx, p }) => {
    const messageId = stringParam(p, 'message_id');
    if (!messageId) throw SenderError.field('message_id', 'This field is required.');
    const mailingId = await campaignOf(ctx, String(req.params.campaign));
    const r = await core.transactional.status(ctx, messageId);
    // Always HTTP 200: clients read `code` (Yandex Pay's client raises on its 404 itself).
    if (!r || r.mailing_id !== mailingId) return { body: { msg: 'No such message, or its record has expired', code: 404, message_id: messageId, retry: false } };
    return { body: { ...deliveryStatus(r), message_id: messageId } };
  });
  router.get('/:account/transactional/:campaign/status', status);
  router.post('/:account/transactional/:campaign/status', status);

  router.use((_req: Request, res: Response) => {
    send(res, SenderError.detail(404, 'Not found.'));
  });
  router.use(
    requestErrors({
      name: 'sender',
      logger: deps.logger,
      tooLarge: (res) => send(res, SenderError.detail(413, `Request body too large (limit ${limit} bytes).`)),
      unreadable(res, status, err) {
        const e = err as { type?: string; message?: string };
        if (e.type === 'entity.parse.failed') return send(res, SenderError.detail(400, `JSON parse error - ${e.message ?? 'malformed JSON'}`));
        send(res, SenderError.detail(status, e.message ?? 'Bad request.'));
      },
      internal: (res) => void res.status(500).json({ result: { status: 'ERROR', message: 'Internal error' } }),
    }),
  );
  return router;
}

function listResult(l: { slug: string; name: string; description: string; created_at: Date }, count: number) {
  return { slug: l.slug, title: l.name, description: l.description, created_at: l.created_at.toISOString(), count };
}

/**
 * Emailicious dialect: `/api/v1/...`, as Emailicious' API docs (the seed is its French "Envois" page) and its
 * official PHP client (emailicious-php 1.0.0) call it. Django REST Framework's behaviour throughout.
 *
 * - Auth: HTTP Basic; the API key's secret is the password, the user name (the real service's login, an
 *   e-mail address) is not needed. Failure: 401 `{"detail": "Invalid username/password."}` with
 *   `WWW-Authenticate: Basic realm="api"`. The account is the key's: another account's objects are 404.
 * - Bodies as JSON, form-urlencoded or multipart (body.ts): the PHP client's `variants[0].subject` and its
 *   file part `variants[0]layout.zip_file`, DRF's `variants[0]subject`, repeated keys for lists.
 * - Every answer has `Allow` and `Vary: Accept`; OPTIONS describes the resource (name, description,
 *   renders, parses, and `actions.POST` with each writable field); another method is 405.
 * - Lists of objects are pages `{count, next, previous, results}`: `?page=` (from 1), `?page_size=`
 *   (default 100, at most 1000); `next`/`previous` are the URL the client called with another page, so
 *   they keep its filters and start with its own base URL (the PHP client cuts its base off them).
 * - Subscribers: `subscription` is `active`, `pending`, `bounced`, `unsubscribed` or `deleted`; every other
 *   field (first_name, last_name, gender, date_of_birth, language, region and custom ones) is flat on the
 *   object. A POST of an address the list has (whatever its status) is 409 with that subscriber as body.
 *   PUT writes every field (those left out are emptied), PATCH the given ones; read-only fields in a body
 *   (the PHP client's `update()` sends the object back whole) are ignored.
 * - Mailings: the seed's create (variants, layouts, deliveries; see core/newsletters/service.ts for what
 *   a delivery sends to whom); `GET /mailings/<id>` adds each delivery's `id` (Mailkit's `ID_send`),
 *   `status` and `totals` (Mailgate additions).
 * - `GET /api/v1` lists the resources (DRF's API root).
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { basicAuth, callContext, tooManyFailures } from '../auth.js';
import { methodNotAllowed } from '../http-errors.js';
import type { CallContext } from '../../core/context.js';
import { isValidEmail } from '../../core/email.js';
import type { AdapterDeps } from '../types.js';
import { readBody } from './body.js';
import { EmailiciousError, FieldErrors, NOT_FOUND, emailiciousErrorOf } from './errors.js';
import { Fields, NULL_CHARACTERS } from './fields.js';
import * as S from './serializers.js';
import type { VariantInput } from '../../core/newsletters/service.js';

const PAGE_SIZE = 100;
const PAGE_SIZE_MAX = 1000;
const ID = /^[1-9]\d{0,15}$/;

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
interface Call {
  req: Request;
  res: Response;
  ctx: CallContext;
  /** The request body (POST, PUT, PATCH). */
  body: () => Promise<Record<string, unknown>>;
}
type Answer = { status?: number; body?: unknown };
interface Resource {
  name: string;
  description: string;
  /** The object as DRF names it in messages ("mailing with this name already exists."). */
  model?: string;
  methods: Partial<Record<Method, (c: Call) => Promise<Answer>>>;
  /** Writable fields for OPTIONS' `actions.POST`. */
  post?: Record<string, Record<string, unknown>>;
}

const field = (type: string, label: string, o: Record<string, unknown> = {}) => ({ type, required: false, read_only: false, label, ...o });
const READ_ONLY = { read_only: true };
const STAMPS = {
  id: field('integer', 'ID', READ_ONLY),
  create_datetime: field('datetime', 'Create datetime', READ_ONLY),
  create_user: field('field', 'Create user', READ_ONLY),
  update_datetime: field('datetime', 'Update datetime', READ_ONLY),
  update_user: field('field', 'Update user', READ_ONLY),
};
const LIST_FIELDS = {
  ...STAMPS,
  name: field('string', 'Name', { required: true, max_length: 255 }),
  default_from_name: field('string', 'Default from name', { max_length: 255 }),
  default_from_email: field('email', 'Default from email', { max_length: 254 }),
  default_replyto_email: field('email', 'Default reply-to email', { max_length: 254 }),
  default_language: field('string', 'Default language', { help_text: 'ISO-639-1 language code.' }),
  languages: field('list', 'Languages', { help_text: 'ISO-639-1 language codes.' }),
};
const SUBSCRIBER_FIELDS = {
  ...STAMPS,
  subscription: field('field', 'Subscription', READ_ONLY),
  email: field('email', 'Email', { required: true, max_length: 254 }),
  first_name: field('string', 'First name', { max_length: 100 }),
  last_name: field('string', 'Last name', { max_length: 100 }),
  gender: field('choice', 'Gender', {
    choices: [
      { display_name: 'Unknown', value: '' },
      { display_name: 'Male', value: 'm' },
      { display_name: 'Female', value: 'f' },
    ],
  }),
  date_of_birth: field('date', 'Date of birth'),
  language: field('field', 'Language', { help_text: 'ISO-639-1 language code.' }),
  region: field('field', 'Region', { help_text: 'ISO-3166-1 country or ISO-3166-2 region code.' }),
};
const MAILING_FIELDS = {
  id: field('integer', 'ID', READ_ONLY),
  list: field('field', 'List', { required: true }),
  name: field('string', 'Name', { required: true, max_length: 255 }),
  campaign: field('field', 'Campaign'),
  segments: field('field', 'Segments'),
  variants: field('field', 'Variants', { required: true }),
};

/** A page request: `?page=` from 1, `?page_size=` up to PAGE_SIZE_MAX. */
function pageOf(req: Request): { page: number; size: number; offset: number } {
  const q = (name: string) => (typeof req.query[name] === 'string' ? (req.query[name] as string) : undefined);
  const page = q('page') === undefined || q('page') === 'last' ? 1 : Number(q('page'));
  if (!Number.isSafeInteger(page) || page < 1) throw new EmailiciousError(404, { detail: 'Invalid page.' });
  let size = q('page_size') === undefined ? PAGE_SIZE : Number(q('page_size'));
  if (!Number.isSafeInteger(size) || size < 1) size = PAGE_SIZE;
  size = Math.min(size, PAGE_SIZE_MAX);
  return { page, size, offset: (page - 1) * size };
}

function paged<T>(req: Request, p: { page: number; size: number }, count: number, results: T[]) {
  if (p.page > 1 && !results.length) throw new EmailiciousError(404, { detail: 'Invalid page.' });
  return S.page(req, { ...p, count }, results);
}

function idParam(req: Request, name: string): number {
  const v = String(req.params[name] ?? '');
  if (!ID.test(v)) throw NOT_FOUND();
  return Number(v);
}

/** Subscriber fields of a body: the address, and every other writable field (standard ones checked). */
function subscriberInput(body: Record<string, unknown>, o: { partial: boolean }): { email?: string; params: Record<string, unknown> } {
  const errors = new FieldErrors();
  const f = new Fields(body, errors);
  const email = f.string('email', { required: !o.partial, max: 254 });
  if (email && !isValidEmail(email)) f.fail('email', 'Enter a valid email address.');
  const params: Record<string, unknown> = {};
  if (!o.partial) Object.assign(params, S.STANDARD_FIELDS);
  for (const name of ['first_name', 'last_name'] as const) {
    const v = f.string(name, { blank: true, nullable: true, max: 100 });
    if (v !== undefined) params[name] = v ?? '';
  }
  const gender = f.string('gender', { blank: true, nullable: true });
  if (gender !== undefined) {
    if (gender && !['m', 'f'].includes(gender)) f.fail('gender', `"${gender}" is not a valid choice.`);
    else params.gender = gender ?? '';
  }
  const dob = f.string('date_of_birth', { nullable: true });
  if (dob !== undefined) {
    if (dob && !/^\d{4}-\d{2}-\d{2}$/.test(dob)) f.fail('date_of_birth', 'Date has wrong format. Use one of these formats instead: YYYY-MM-DD.');
    else params.date_of_birth = dob;
  }
  for (const name of ['language', 'region'] as const) {
    const v = f.string(name, { blank: true, nullable: true, max: 10 });
    if (v !== undefined) params[name] = v ?? '';
  }
  // Custom fields, flat: any other name with a plain value.
  for (const [k, v] of Object.entries(body)) {
    if (S.READ_ONLY_FIELDS.has(k) || k in S.STANDARD_FIELDS) continue;
    if (v !== null && typeof v === 'object') f.fail(k, 'Not a valid value: a custom field holds a string, a number or a boolean.');
    else if (k.includes('\0') || (typeof v === 'string' && v.includes('\0'))) f.fail(k.replace(/\0/g, ''), NULL_CHARACTERS);
    else params[k] = v;
  }
  errors.check();
  return { ...(email ? { email } : {}), params };
}

function listInput(body: Record<string, unknown>, o: { partial: boolean }) {
  const errors = new FieldErrors();
  const f = new Fields(body, errors);
  const out = {
    name: f.string('name', { required: !o.partial, max: 255 }) ?? undefined,
    default_from_name: f.string('default_from_name', { blank: true, nullable: true, max: 255 }),
    default_from_email: f.string('default_from_email', { blank: true, nullable: true, max: 254 }),
    default_replyto_email: f.string('default_replyto_email', { blank: true, nullable: true, max: 254 }),
    language: f.string('default_language', { blank: true, nullable: true, max: 10 }),
    languages: f.stringList('languages'),
  };
  errors.check();
  return out;
}

function mailingInput(body: Record<string, unknown>) {
  const errors = new FieldErrors();
  const f = new Fields(body, errors);
  const list = f.int('list', { required: true, min: 1 });
  const name = f.string('name', { required: true, max: 255 });
  const campaign = f.int('campaign', { nullable: true, min: 1 });
  const segments = f.intList('segments');
  const variants: VariantInput[] = f.objects('variants', { required: true }).map((v) => {
    const layout = v.object('layout');
    return {
      language: v.string('language', { nullable: true, max: 10 }),
      fromName: v.string('from_name', { blank: true, nullable: true, max: 255 }),
      fromEmail: v.string('from_email', { blank: true, nullable: true, max: 254 }),
      replytoEmail: v.string('replyto_email', { blank: true, nullable: true, max: 254 }),
      subject: v.string('subject', { required: true, max: 998 }) ?? '',
      text: layout.string('text', { blank: true, nullable: true }),
      zip: layout.file('zip_file'),
      deliveries: v.objects('deliveries').map((d) => ({
        scheduledAt: d.datetime('scheduled_datetime', { nullable: true }),
        limit: d.int('limit', { nullable: true, min: 1 }),
        exclusions: d.intList('exclusions'),
      })),
    };
  });
  const given = f.raw('variants');
  if (Array.isArray(given) && !given.length) f.fail('variants', 'This list may not be empty.');
  errors.check();
  return { list: list!, name: name!, campaign: campaign ?? null, segments: segments ?? [], variants };
}

export function emailiciousRouter(deps: AdapterDeps): express.Router {
  const { core } = deps;
  const router = express.Router();
  const limit = deps.config.MAX_BODY_BYTES;

  const auth = basicAuth({
    core,
    limiter: deps.authLimiter,
    scheme: { kind: 'secret-as-password' },
    onFailure(outcome, _req, res) {
      if (outcome.kind === 'limited') return tooManyFailures(res, outcome.retryAfter);
      if (outcome.kind === 'unavailable') return void res.status(503).json({ detail: 'Service unavailable.' });
      res
        .set('WWW-Authenticate', 'Basic realm="api"')
        .status(401)
        .json({ detail: outcome.kind === 'missing' ? 'Authentication credentials were not provided.' : 'Invalid username/password.' });
    },
  });
  router.use(auth);

  function resource(path: string, r: Resource): void {
    const methods = Object.keys(r.methods) as Method[];
    const allow = [...methods, ...(methods.includes('GET') ? ['HEAD'] : []), 'OPTIONS'].join(', ');
    router.all(path, async (req: Request, res: Response, next: NextFunction) => {
      res.set('Allow', allow).set('Vary', 'Accept');
      try {
        const method = (req.method === 'HEAD' ? 'GET' : req.method) as Method | 'OPTIONS';
        if (method === 'OPTIONS') {
          const description = { name: r.name, description: r.description, renders: ['application/json'], parses: ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data'] };
          return void res.json(r.post && r.methods.POST ? { ...description, actions: { POST: r.post } } : description);
        }
        const handler = r.methods[method];
        if (!handler) return methodNotAllowed(res, allow, (answer) => void answer.json({ detail: `Method "${req.method}" not allowed.` }));
        const a = await handler({ req, res, ctx: callContext(res), body: () => readBody(req, limit) });
        if (a.body === undefined) res.status(a.status ?? 204).end();
        else res.status(a.status ?? 200).json(a.body);
      } catch (e) {
        try {
          const err = emailiciousErrorOf(e, r.model);
          if (!res.headersSent) res.status(err.status).json(err.body);
        } catch (other) {
          next(other);
        }
      }
    });
  }

  resource('/', {
    name: 'Api Root',
    description: 'The resources of the Emailicious API.',
    methods: {
      async GET({ req }) {
        const base = S.calledUrl(req);
        base.search = '';
        const at = (p: string) => new URL(p, base.toString().replace(/\/?$/, '/')).toString();
        return { body: { lists: at('lists'), mailings: at('mailings') } };
      },
    },
  });

  resource('/lists', {
    name: 'Subscriber List List',
    description: 'The subscriber lists of the account.',
    post: LIST_FIELDS,
    methods: {
      async GET({ req, ctx }) {
        const p = pageOf(req);
        const { count, rows } = await core.members.lists(ctx, p.offset, p.size);
        return { body: paged(req, p, count, rows.map(S.list)) };
      },
      async POST({ ctx, body }) {
        return { status: 201, body: S.list(await core.members.createList(ctx, listInput(await body(), { partial: false }))) };
      },
    },
  });

  const listDetail = (partial: boolean) => async ({ req, ctx, body }: Call): Promise<Answer> => {
    const id = idParam(req, 'list');
    await core.members.list(ctx, id);
    return { body: S.list(await core.members.updateList(ctx, id, listInput(await body(), { partial }))) };
  };
  resource('/lists/:list', {
    name: 'Subscriber List Instance',
    description: 'One subscriber list. Deleting it deletes its subscribers and mailings.',
    methods: {
      GET: async ({ req, ctx }) => ({ body: S.list(await core.members.list(ctx, idParam(req, 'list'))) }),
      PUT: listDetail(false),
      PATCH: listDetail(true),
      async DELETE({ req, ctx }) {
        await core.members.deleteList(ctx, idParam(req, 'list'));
        return {};
      },
    },
  });

  resource('/lists/:list/subscribers', {
    name: 'Subscriber List',
    description: 'The subscribers of a list; `?subscription=` and `?email=` filter them.',
    post: SUBSCRIBER_FIELDS,
    methods: {
      async GET({ req, ctx }) {
        const listId = idParam(req, 'list');
        const p = pageOf(req);
        const q = (n: string) => (typeof req.query[n] === 'string' ? (req.query[n] as string) : undefined);
        const subscription = q('subscription');
        const statuses = subscription ? S.statusesOf(subscription) : null;
        if (statuses === undefined) throw new EmailiciousError(400, { subscription: [`Select a valid choice. ${subscription} is not one of the available choices.`] });
        const { count, rows } = await core.members.subscribers(ctx, listId, { statuses, email: q('email') ?? null }, p.offset, p.size);
        return { body: paged(req, p, count, rows.map(S.subscriber)) };
      },
      async POST({ req, ctx, body }) {
        const listId = idParam(req, 'list');
        await core.members.list(ctx, listId);
        const input = subscriberInput(await body(), { partial: false });
        // Empty standard fields are not stored: they read back empty anyway.
        const params = Object.fromEntries(Object.entries(input.params).filter(([k, v]) => !(k in S.STANDARD_FIELDS) || (v !== '' && v !== null)));
        const r = await core.members.add(ctx, listId, { email: input.email, params });
        if ('conflict' in r) return { status: 409, body: S.subscriber(r.conflict) };
        return { status: 201, body: S.subscriber(r.row) };
      },
    },
  });

  const subscriberDetail = (partial: boolean) => async ({ req, ctx, body }: Call): Promise<Answer> => {
    const listId = idParam(req, 'list');
    const id = idParam(req, 'subscriber');
    await core.members.subscriber(ctx, listId, id);
    const input = subscriberInput(await body(), { partial });
    const r = await core.members.rewrite(ctx, listId, id, { email: input.email, params: input.params, merge: partial });
    if ('conflict' in r) return { status: 409, body: S.subscriber(r.conflict) };
    return { body: S.subscriber(r.row) };
  };
  resource('/lists/:list/subscribers/:subscriber', {
    name: 'Subscriber Instance',
    description: 'One subscriber of a list. DELETE sets its subscription to deleted.',
    methods: {
      GET: async ({ req, ctx }) => ({ body: S.subscriber(await core.members.subscriber(ctx, idParam(req, 'list'), idParam(req, 'subscriber'))) }),
      PUT: subscriberDetail(false),
      PATCH: subscriberDetail(true),
      async DELETE({ req, ctx }) {
        await core.members.remove(ctx, idParam(req, 'list'), idParam(req, 'subscriber'));
        return {};
      },
    },
  });

  resource('/lists/:list/subscribers/:subscriber/activate', {
    name: 'Subscriber Activate',
    description: 'Makes the subscriber active, or pending its confirmation with `confirm`.',
    methods: {
      async POST({ req, ctx, body }) {
        const listId = idParam(req, 'list');
        const id = idParam(req, 'subscriber');
        await core.members.subscriber(ctx, listId, id);
        const errors = new FieldErrors();
        const confirm = new Fields(await body(), errors).bool('confirm') ?? false;
        errors.check();
        const row = await core.members.activate(ctx, listId, id, confirm);
        return { body: { status: S.SUBSCRIPTION[row.status] } };
      },
    },
  });

  resource('/lists/:list/subscribers/:subscriber/unsubscribe', {
    name: 'Subscriber Unsubscribe',
    description: 'Unsubscribes the subscriber from the list.',
    methods: {
      async POST({ req, ctx }) {
        const row = await core.members.unsubscribe(ctx, idParam(req, 'list'), idParam(req, 'subscriber'));
        return { body: { status: S.SUBSCRIPTION[row.status] } };
      },
    },
  });

  resource('/mailings', {
    name: 'Mailing List',
    model: 'mailing',
    description: 'The mailings of the account; `?list=` filters them by list.',
    post: MAILING_FIELDS,
    methods: {
      async GET({ req, ctx }) {
        const p = pageOf(req);
        const raw = typeof req.query.list === 'string' ? req.query.list : undefined;
        if (raw !== undefined && raw !== '' && !ID.test(raw)) throw new EmailiciousError(400, { list: ['Select a valid choice. That choice is not one of the available choices.'] });
        const { count, rows } = await core.newsletters.page(ctx, { listId: raw ? Number(raw) : null }, p.offset, p.size);
        return { body: paged(req, p, count, rows.map(S.mailingItem)) };
      },
      async POST({ ctx, body }) {
        const input = mailingInput(await body());
        const id = await core.newsletters.create(ctx, {
          dialect: 'emailicious',
          listId: input.list,
          name: input.name,
          campaignId: input.campaign,
          segments: input.segments,
          variants: input.variants,
        });
        return { status: 201, body: S.mailing(await core.newsletters.get(ctx, id), false) };
      },
    },
  });

  resource('/mailings/:mailing', {
    name: 'Mailing Instance',
    description: 'One mailing with its variants and deliveries; each delivery has its status and totals.',
    methods: {
      GET: async ({ req, ctx }) => ({ body: S.mailing(await core.newsletters.get(ctx, idParam(req, 'mailing')), true) }),
    },
  });

  router.use((_req, res) => {
    res.set('Vary', 'Accept').status(404).json({ detail: 'Not found.' });
  });
  return router;
}

/** The layouts' images, under PUBLIC_URL: `/layouts/<key>/images/<name>` (no auth: the key is unguessable). */
export function layoutImagesRouter(deps: AdapterDeps): express.Router {
  const router = express.Router();
  router.get('/:key/images/:name', async (req: Request, res: Response, next: NextFunction) => {
    try {
      const img = await deps.core.newsletters.layoutImage(String(req.params.key), `images/${String(req.params.name)}`);
      if (!img) return void res.status(404).type('text/plain').send('Not found.\n');
      res.set('Cache-Control', 'public, max-age=31536000, immutable').type(img.content_type).send(img.data);
    } catch (e) {
      next(e);
    }
  });
  return router;
}

/**
 * Emailicious' resources under `/api/v1`: each method reads the request (values.ts), calls the core and
 * answers DRF's objects (serializers.ts); index.ts runs them (OPTIONS, 405, errors through errors.ts).
 */
import type { Request, Response } from 'express';
import type { CallContext } from '../../core/context.js';
import type { Core } from '../../core/index.js';
import { EmailiciousError, FieldErrors } from './errors.js';
import * as S from './serializers.js';
import { Fields, ID, idParam, listInput, mailingInput, pageOf, subscriberInput } from './values.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export interface Call {
  req: Request;
  res: Response;
  ctx: CallContext;
  core: Core;
  /** The request body (POST, PUT, PATCH). */
  body: () => Promise<Record<string, unknown>>;
}
export type Answer = { status?: number; body?: unknown };
export interface Resource {
  name: string;
  description: string;
  /** The object as DRF names it in messages ("mailing with this name already exists."). */
  model?: string;
  methods: Partial<Record<Method, (c: Call) => Promise<Answer>>>;
  /** Writable fields for OPTIONS' `actions.POST`. */
  post?: Record<string, Record<string, unknown>>;
}

function paged<T>(req: Request, p: { page: number; size: number }, count: number, results: T[]) {
  if (p.page > 1 && !results.length) throw new EmailiciousError(404, { detail: 'Invalid page.' });
  return S.page(req, { ...p, count }, results);
}

const listDetail =
  (partial: boolean) =>
  async ({ core, req, ctx, body }: Call): Promise<Answer> => {
    const id = idParam(req, 'list');
    await core.members.list(ctx, id);
    return { body: S.list(await core.members.updateList(ctx, id, listInput(await body(), { partial }))) };
  };

const subscriberDetail =
  (partial: boolean) =>
  async ({ core, req, ctx, body }: Call): Promise<Answer> => {
    const listId = idParam(req, 'list');
    const id = idParam(req, 'subscriber');
    await core.members.subscriber(ctx, listId, id);
    const input = subscriberInput(await body(), { partial });
    const r = await core.members.rewrite(ctx, listId, id, { email: input.email, params: input.params, merge: partial });
    if ('conflict' in r) return { status: 409, body: S.subscriber(r.conflict) };
    return { body: S.subscriber(r.row) };
  };

export const RESOURCES: Record<string, Resource> = {
  '/': {
    name: 'Api Root',
    description: 'The resources of the Emailicious API.',
    methods: {
      GET({ req }) {
        const base = S.calledUrl(req);
        base.search = '';
        const at = (p: string) => new URL(p, base.toString().replace(/\/?$/, '/')).toString();
        return Promise.resolve({ body: { lists: at('lists'), mailings: at('mailings') } });
      },
    },
  },

  '/lists': {
    name: 'Subscriber List List',
    description: 'The subscriber lists of the account.',
    post: S.LIST_FIELDS,
    methods: {
      async GET({ core, req, ctx }) {
        const p = pageOf(req);
        const { count, rows } = await core.members.lists(ctx, p.offset, p.size);
        return { body: paged(req, p, count, rows.map(S.list)) };
      },
      async POST({ core, ctx, body }) {
        return { status: 201, body: S.list(await core.members.createList(ctx, listInput(await body(), { partial: false }))) };
      },
    },
  },

  '/lists/:list': {
    name: 'Subscriber List Instance',
    description: 'One subscriber list. Deleting it deletes its subscribers and mailings.',
    methods: {
      GET: async ({ core, req, ctx }) => ({ body: S.list(await core.members.list(ctx, idParam(req, 'list'))) }),
      PUT: listDetail(false),
      PATCH: listDetail(true),
      async DELETE({ core, req, ctx }) {
        await core.members.deleteList(ctx, idParam(req, 'list'));
        return {};
      },
    },
  },

  '/lists/:list/subscribers': {
    name: 'Subscriber List',
    description: 'The subscribers of a list; `?subscription=` and `?email=` filter them.',
    post: S.SUBSCRIBER_FIELDS,
    methods: {
      async GET({ core, req, ctx }) {
        const listId = idParam(req, 'list');
        const p = pageOf(req);
        const query = req.query;
        const q = (n: string) => (typeof query[n] === 'string' ? query[n] : undefined);
        const subscription = q('subscription');
        const statuses = subscription ? S.statusesOf(subscription) : null;
        if (statuses === undefined)
          throw new EmailiciousError(400, { subscription: [`Select a valid choice. ${subscription} is not one of the available choices.`] });
        const { count, rows } = await core.members.subscribers(ctx, listId, { statuses, email: q('email') ?? null }, p.offset, p.size);
        return { body: paged(req, p, count, rows.map(S.subscriber)) };
      },
      async POST({ core, req, ctx, body }) {
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
  },

  '/lists/:list/subscribers/:subscriber': {
    name: 'Subscriber Instance',
    description: 'One subscriber of a list. DELETE sets its subscription to deleted.',
    methods: {
      GET: async ({ core, req, ctx }) => ({ body: S.subscriber(await core.members.subscriber(ctx, idParam(req, 'list'), idParam(req, 'subscriber'))) }),
      PUT: subscriberDetail(false),
      PATCH: subscriberDetail(true),
      async DELETE({ core, req, ctx }) {
        await core.members.remove(ctx, idParam(req, 'list'), idParam(req, 'subscriber'));
        return {};
      },
    },
  },

  '/lists/:list/subscribers/:subscriber/activate': {
    name: 'Subscriber Activate',
    description: 'Makes the subscriber active, or pending its confirmation with `confirm`.',
    methods: {
      async POST({ core, req, ctx, body }) {
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
  },

  '/lists/:list/subscribers/:subscriber/unsubscribe': {
    name: 'Subscriber Unsubscribe',
    description: 'Unsubscribes the subscriber from the list.',
    methods: {
      async POST({ core, req, ctx }) {
        const row = await core.members.unsubscribe(ctx, idParam(req, 'list'), idParam(req, 'subscriber'));
        return { body: { status: S.SUBSCRIPTION[row.status] } };
      },
    },
  },

  '/mailings': {
    name: 'Mailing List',
    model: 'mailing',
    description: 'The mailings of the account; `?list=` filters them by list.',
    post: S.MAILING_FIELDS,
    methods: {
      async GET({ core, req, ctx }) {
        const p = pageOf(req);
        const list = req.query.list;
        const raw = typeof list === 'string' ? list : undefined;
        if (raw !== undefined && raw !== '' && !ID.test(raw))
          throw new EmailiciousError(400, { list: ['Select a valid choice. That choice is not one of the available choices.'] });
        const { count, rows } = await core.newsletters.page(ctx, { listId: raw ? Number(raw) : null }, p.offset, p.size);
        return { body: paged(req, p, count, rows.map(S.mailingItem)) };
      },
      async POST({ core, ctx, body }) {
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
  },

  '/mailings/:mailing': {
    name: 'Mailing Instance',
    description: 'One mailing with its variants and deliveries; each delivery has its status and totals.',
    methods: {
      GET: async ({ core, req, ctx }) => ({ body: S.mailing(await core.newsletters.get(ctx, idParam(req, 'mailing')), true) }),
    },
  },
};

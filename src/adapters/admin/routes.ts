/**
 * The admin pages: each reads its request (values.ts), calls the core and answers a page (serializers.ts).
 * GETs change nothing; every change is a POST (its CSRF token checked by index.ts) answered by a redirect to
 * the page it changed (POST-redirect-GET), with a notice named by a fixed word, never text from the request.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Request, Response } from 'express';
import type { CallContext } from '../../core/context.js';
import type { Core } from '../../core/index.js';
import { badFormPage, notFoundPage } from './errors.js';
import type { Upload } from './upload.js';
import {
  accountsPage,
  bouncesPage,
  campaignsPage,
  importPage,
  listPage,
  listsPage,
  mailingPage,
  mailingsPage,
  newKeyPage,
  outboxMessagePage,
  outboxPage,
  previewDocument,
  suppressionsPage,
  webhookDeliveryPage,
  webhookEndpointPage,
  webhookSecretPage,
  webhooksPage,
  segmentPage,
  segmentsPage,
  unsubscribeListPage,
  unsubscribeListsPage,
  type Viewer,
} from './serializers.js';
import {
  RECIPIENT_FILTERS,
  SUBSCRIBER_FILTERS,
  subscriberFilterOf,
  subscriberParam,
  afterOf,
  beforeOf,
  failedOnlyOf,
  field,
  fieldsOf,
  idField,
  idParam,
  linesOf,
  purgeDaysOf,
  recipientFilterOf,
  searchOf,
  utcTimeOf,
} from './values.js';
import { invalid } from '../../core/errors.js';
import { stateOf } from '../../core/webhooks/service.js';

const PAGE_SIZE = 100;

export interface Call {
  req: Request;
  res: Response;
  core: Core;
  viewer: Viewer;
  /** The accounts this viewer sees: null for an operator (all), the key's account for an API key. */
  scope: number | null;
  requestId: string;
  retentionDays: number;
  /** An upload form's file (routes of access 'operator-upload'), spooled; deleted after the handler unless taken. */
  upload?: Upload | undefined;
}

/**
 * Who may call a route: operators only, or API keys too (the scripted, read-only outbox); 'operator-upload':
 * operators, posting a multipart form with one file (upload.ts).
 */
export type Access = 'operator' | 'operator-or-key' | 'operator-upload';
export type Route = [method: 'get' | 'post', path: string, access: Access, handler: (c: Call) => Promise<void>];

/** What a redirect's `?notice=` may say. */
const NOTICES = {
  'account-created': 'Account created.',
  'key-revoked': 'Key revoked: every dialect refuses it from now on.',
  paused: 'Mailing paused.',
  resumed: 'Mailing started (or resumed).',
  cancelled: 'Mailing cancelled: recipients not sent yet will not be.',
  resent: 'Failed recipients queued again.',
  'nothing-to-resend': 'No failed recipients to send again.',
  suppressed: 'Address suppressed.',
  'already-suppressed': 'The address was suppressed already.',
  lifted: 'Suppression lifted.',
  purged: 'Captured messages purged.',
  'webhook-paused': 'Endpoint paused: nothing is sent to it; its messages queue until it is resumed.',
  'webhook-resumed': 'Endpoint resumed: what queued meanwhile is being sent.',
  'webhook-enabled': 'Endpoint re-enabled from a clean slate: what queued meanwhile is being sent.',
  'webhook-deleted': 'Endpoint deleted, with its undelivered messages and its attempt log.',
  'webhook-replayed': 'Replay queued: the worker sends the message again under the same webhook-id.',
  'webhook-replayed-failed': 'Failed deliveries queued again: the worker sends each again under its own webhook-id.',
  'webhook-nothing-to-replay': 'No failed delivery since that time to send again.',
  'segment-created': 'Segment created.',
  'segment-deleted': 'Segment deleted.',
  'unsubscribe-list-created': 'Unsubscribe list created.',
  'unsubscribe-list-deleted': 'Unsubscribe list deleted.',
  'address-added': 'Address added: mailings honouring this list skip it.',
  'address-there-already': 'The address was in the list already.',
  'address-removed': 'Address removed from the list.',
  'address-not-there': 'The address was not in the list.',
  'key-relabelled': 'Key label saved.',
  'list-created': 'List created.',
  'list-deleted': 'List deleted, with its subscribers.',
  unsubscribed: 'Subscriber unsubscribed from this list.',
  removed: 'Subscriber removed (disabled): it is kept, and never mailed from this list.',
  'campaign-created': 'Campaign created.',
} as const;
type Notice = keyof typeof NOTICES;

const noticeOf = (req: Request): string | undefined => {
  const n = req.query.notice;
  return typeof n === 'string' && Object.hasOwn(NOTICES, n) ? NOTICES[n as Notice] : undefined;
};

const done = (res: Response, path: string, notice: Notice) => res.redirect(303, `${path}?notice=${notice}`);

/** A preview is the message's own html: no script, no remote load, a sandbox of its own even when opened alone. */
const PREVIEW_CSP = "default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox";

export const ROUTES: Route[] = [
  ['get', '/', 'operator', ({ res }) => Promise.resolve(res.redirect(303, '/admin/mailings'))],

  // --- accounts and keys
  [
    'get',
    '/accounts',
    'operator',
    async ({ req, res, core, viewer }) => {
      const [accounts, keys] = await Promise.all([core.accounts.listAccounts(), core.accounts.listKeys()]);
      res.type('html').send(accountsPage(viewer, accounts, keys, noticeOf(req)));
    },
  ],
  [
    'post',
    '/accounts',
    'operator',
    async ({ req, res, core }) => {
      await core.accounts.createAccount(field(req, 'slug'));
      done(res, '/admin/accounts', 'account-created');
    },
  ],
  [
    'post',
    '/keys',
    'operator',
    async ({ req, res, core, viewer }) => {
      const account = field(req, 'account');
      // Only an existing account: a mistyped slug must not make a new one.
      await core.accounts.operatorContext(account);
      const key = await core.accounts.createKey(account, field(req, 'label').slice(0, 200) || undefined);
      // The secret is on this answer only: never in a URL, never stored.
      res.status(201).set('Cache-Control', 'no-store').type('html').send(newKeyPage(viewer, key));
    },
  ],
  [
    'post',
    '/keys/:id/revoke',
    'operator',
    async ({ req, res, core, viewer }) => {
      const id = idParam(req);
      if (!id) return notFoundPage(viewer, res);
      await core.accounts.revokeKey(id);
      done(res, '/admin/accounts', 'key-revoked');
    },
  ],

  // --- mailings
  [
    'get',
    '/mailings',
    'operator',
    async ({ req, res, core, viewer }) => {
      const search = searchOf(req);
      const rows = await core.overview.mailings({ limit: PAGE_SIZE, beforeId: beforeOf(req), search });
      res.type('html').send(mailingsPage(viewer, rows, { search, limit: PAGE_SIZE }));
    },
  ],
  [
    'get',
    '/mailings/:id',
    'operator',
    async ({ req, res, core, viewer, requestId }) => {
      const id = idParam(req);
      if (!id) return notFoundPage(viewer, res);
      const filter = recipientFilterOf(req);
      const search = searchOf(req);
      const mailing = await core.overview.mailing(id, requestId);
      const statuses = RECIPIENT_FILTERS[filter];
      const [recipients, sendRate] = await Promise.all([
        core.overview.recipients(id, statuses && [...statuses], { limit: PAGE_SIZE, beforeId: beforeOf(req), search }),
        core.overview.sendRate(id),
      ]);
      res.type('html').send(mailingPage(viewer, mailing, recipients, { filter, search, limit: PAGE_SIZE, notice: noticeOf(req), sendRate }));
    },
  ],
  ...(
    [
      ['pause', async (core, id, rid) => void (await core.overview.pause(id, rid)), 'paused'],
      ['resume', async (core, id, rid) => void (await core.overview.resume(id, rid)), 'resumed'],
      ['cancel', async (core, id, rid) => void (await core.overview.cancel(id, rid)), 'cancelled'],
      ['resend', async (core, id, rid) => ((await core.overview.resendFailed(id, rid)) ? 'resent' : 'nothing-to-resend'), 'resent'],
    ] as [string, (core: Core, id: number, requestId: string) => Promise<Notice | void>, Notice][]
  ).map(([name, act, notice]): Route => [
    'post',
    `/mailings/:id/${name}`,
    'operator',
    async ({ req, res, core, viewer, requestId }) => {
      const id = idParam(req);
      if (!id) return notFoundPage(viewer, res);
      const said = await act(core, id, requestId);
      done(res, `/admin/mailings/${id}`, said ?? notice);
    },
  ]),

  // --- bounces and suppressions
  [
    'get',
    '/bounces',
    'operator',
    async ({ req, res, core, viewer }) => {
      const search = searchOf(req);
      const rows = await core.overview.bounces({ limit: PAGE_SIZE, beforeId: beforeOf(req), search });
      res.type('html').send(bouncesPage(viewer, rows, { search, limit: PAGE_SIZE }));
    },
  ],
  [
    'get',
    '/suppressions',
    'operator',
    async ({ req, res, core, viewer }) => {
      const search = searchOf(req);
      const [rows, accounts] = await Promise.all([core.overview.suppressions({ limit: PAGE_SIZE, search }), core.accounts.listAccounts()]);
      res.type('html').send(suppressionsPage(viewer, rows, accounts, { search, notice: noticeOf(req), limit: PAGE_SIZE }));
    },
  ],
  [
    'post',
    '/suppressions',
    'operator',
    async ({ req, res, core, requestId }) => {
      const added = await core.overview.suppress(field(req, 'account'), field(req, 'email'), requestId);
      done(res, '/admin/suppressions', added ? 'suppressed' : 'already-suppressed');
    },
  ],
  [
    'post',
    '/suppressions/lift',
    'operator',
    async ({ req, res, core, requestId }) => {
      await core.overview.lift(field(req, 'account'), field(req, 'email'), requestId);
      done(res, '/admin/suppressions', 'lifted');
    },
  ],

  // --- the capture outbox
  [
    'get',
    '/outbox',
    'operator-or-key',
    async ({ req, res, core, viewer, scope, retentionDays }) => {
      const search = searchOf(req);
      const { messages, total } = await core.outbox.page(scope, { limit: PAGE_SIZE, beforeId: beforeOf(req), search });
      res.type('html').send(outboxPage(viewer, messages, total, { search, limit: PAGE_SIZE, retentionDays, notice: noticeOf(req) }));
    },
  ],
  [
    'post',
    '/outbox/purge',
    'operator',
    async ({ req, res, core, viewer }) => {
      const days = purgeDaysOf(req);
      if (days === undefined) return notFoundPage(viewer, res, 'Days: a whole number from 1 to 3650, or empty for every message.');
      await core.outbox.purge(days);
      done(res, '/admin/outbox', 'purged');
    },
  ],
  [
    'get',
    '/outbox/:id',
    'operator-or-key',
    async ({ req, res, core, viewer, scope }) => {
      const m = await core.outbox.message(scope, idParam(req));
      if (!m) return notFoundPage(viewer, res, 'No such message.');
      res.type('html').send(outboxMessagePage(viewer, m));
    },
  ],
  [
    'get',
    '/outbox/:id/preview',
    'operator-or-key',
    async ({ req, res, core, viewer, scope }) => {
      const summary = await core.outbox.preview(scope, idParam(req));
      if (!summary) return notFoundPage(viewer, res, 'No such message.');
      res.set('Content-Security-Policy', PREVIEW_CSP).set('X-Frame-Options', 'SAMEORIGIN').type('html').send(previewDocument(summary));
    },
  ],
  [
    'get',
    '/outbox/:id/raw',
    'operator-or-key',
    async ({ req, res, core, viewer, scope }) => {
      const m = await core.outbox.message(scope, idParam(req));
      if (!m) return notFoundPage(viewer, res, 'No such message.');
      // Shown, not downloaded: text/plain, inline, and never sniffed into anything else.
      res.type('text/plain; charset=utf-8').set('Content-Disposition', 'inline').send(m.raw);
    },
  ],

  // --- webhooks
  [
    'get',
    '/webhooks',
    'operator',
    async ({ req, res, core, viewer }) => {
      const [endpoints, accounts] = await Promise.all([core.webhooks.overview(), core.accounts.listAccounts()]);
      res.type('html').send(webhooksPage(viewer, endpoints, accounts, noticeOf(req)));
    },
  ],
  [
    'post',
    '/webhooks',
    'operator',
    async ({ req, res, core, viewer, requestId }) => {
      const account = field(req, 'account');
      // Only an existing account: a mistyped slug must not make a new one.
      const ctx = { ...(await core.accounts.operatorContext(account)), requestId };
      const description = field(req, 'description').slice(0, 200) || null;
      const { endpoint, secret } = await core.webhooks.add(ctx, { url: field(req, 'url'), kinds: fieldsOf(req, 'kinds'), description });
      // The secret is on this answer only: never in a URL; the page is not cached.
      res
        .status(201)
        .set('Cache-Control', 'no-store')
        .type('html')
        .send(webhookSecretPage(viewer, endpoint, account, secret, false));
    },
  ],
  [
    'get',
    '/webhooks/:id',
    'operator',
    async ({ req, res, core, viewer, requestId }) => {
      const id = idParam(req);
      if (!id) return notFoundPage(viewer, res);
      const ctx = await core.webhooks.endpointContext(id, requestId);
      const failedOnly = failedOnlyOf(req);
      const [endpoint, log] = await Promise.all([
        core.webhooks.endpointOverview(ctx, id),
        core.webhooks.log(ctx, id, { failedOnly, beforeId: beforeOf(req) ?? null, limit: PAGE_SIZE }),
      ]);
      // The replay form starts a day back (UTC, as every time on these pages).
      const since = new Date(Date.now() - 86_400_000).toISOString().slice(0, 19);
      res.type('html').send(webhookEndpointPage(viewer, endpoint, log, { failedOnly, limit: PAGE_SIZE, notice: noticeOf(req), since }));
    },
  ],
  [
    'post',
    '/webhooks/:id/pause',
    'operator',
    async ({ req, res, core, viewer, requestId }) => {
      const id = idParam(req);
      if (!id) return notFoundPage(viewer, res);
      await core.webhooks.pause(await core.webhooks.endpointContext(id, requestId), id);
      done(res, `/admin/webhooks/${id}`, 'webhook-paused');
    },
  ],
  [
    'post',
    '/webhooks/:id/resume',
    'operator',
    async ({ req, res, core, viewer, requestId }) => {
      const id = idParam(req);
      if (!id) return notFoundPage(viewer, res);
      const ctx = await core.webhooks.endpointContext(id, requestId);
      const before = await core.webhooks.get(ctx, id);
      await core.webhooks.enable(ctx, id);
      done(res, `/admin/webhooks/${id}`, stateOf(before) === 'disabled' ? 'webhook-enabled' : 'webhook-resumed');
    },
  ],
  [
    'post',
    '/webhooks/:id/rotate',
    'operator',
    async ({ req, res, core, viewer, requestId }) => {
      const id = idParam(req);
      if (!id) return notFoundPage(viewer, res);
      const ctx = await core.webhooks.endpointContext(id, requestId);
      const { endpoint, secret } = await core.webhooks.rotate(ctx, id);
      const { account } = await core.webhooks.endpointOverview(ctx, id);
      res
        .set('Cache-Control', 'no-store')
        .type('html')
        .send(webhookSecretPage(viewer, endpoint, account, secret, true));
    },
  ],
  [
    'post',
    '/webhooks/:id/delete',
    'operator',
    async ({ req, res, core, viewer, requestId }) => {
      const id = idParam(req);
      if (!id) return notFoundPage(viewer, res);
      await core.webhooks.remove(await core.webhooks.endpointContext(id, requestId), id);
      done(res, '/admin/webhooks', 'webhook-deleted');
    },
  ],
  [
    'post',
    '/webhooks/:id/replay-failed',
    'operator',
    async ({ req, res, core, viewer, requestId }) => {
      const id = idParam(req);
      if (!id) return notFoundPage(viewer, res);
      const since = utcTimeOf(req, 'since');
      if (!since) throw invalid('Since: a time as YYYY-MM-DD HH:MM (UTC), seconds optional.', 'since');
      const n = await core.webhooks.replayFailedSince(await core.webhooks.endpointContext(id, requestId), id, since);
      done(res, `/admin/webhooks/${id}`, n ? 'webhook-replayed-failed' : 'webhook-nothing-to-replay');
    },
  ],
  [
    'get',
    '/webhooks/attempts/:id',
    'operator',
    async ({ req, res, core, viewer, requestId }) => {
      const id = idParam(req);
      if (!id) return notFoundPage(viewer, res);
      const delivery = await core.webhooks.delivery(await core.webhooks.attemptContext(id, requestId), id);
      res.type('html').send(webhookDeliveryPage(viewer, delivery.attempt.endpoint_id, delivery, noticeOf(req)));
    },
  ],
  [
    'post',
    '/webhooks/attempts/:id/replay',
    'operator',
    async ({ req, res, core, viewer, requestId }) => {
      const id = idParam(req);
      if (!id) return notFoundPage(viewer, res);
      await core.webhooks.replay(await core.webhooks.attemptContext(id, requestId), id);
      done(res, `/admin/webhooks/attempts/${id}`, 'webhook-replayed');
    },
  ],

  // --- segments, unsubscribe lists, key labels
  [
    'get',
    '/segments',
    'operator',
    async ({ req, res, core, viewer }) => {
      const [segments, lists] = await Promise.all([core.segments.overview(null), core.segments.listChoices(null)]);
      res.type('html').send(segmentsPage(viewer, segments, lists, noticeOf(req)));
    },
  ],
  [
    'post',
    '/segments',
    'operator',
    async ({ req, res, core, requestId }) => {
      const id = await core.segments.createFromLines(null, requestId, idField(req, 'list'), field(req, 'name'), linesOf(req, 'conditions'));
      done(res, `/admin/segments/${id}`, 'segment-created');
    },
  ],
  [
    'get',
    '/segments/:id',
    'operator',
    async ({ req, res, core, viewer }) => {
      const id = idParam(req);
      if (!id) return notFoundPage(viewer, res);
      const segment = await core.segments.get(null, id);
      const members = await core.segments.members(null, id, { beforeId: beforeOf(req), limit: PAGE_SIZE });
      res.type('html').send(segmentPage(viewer, segment, members, { limit: PAGE_SIZE, notice: noticeOf(req) }));
    },
  ],
  [
    'post',
    '/segments/:id/delete',
    'operator',
    async ({ req, res, core, viewer }) => {
      const id = idParam(req);
      if (!id) return notFoundPage(viewer, res);
      await core.segments.deleteAny(null, id);
      done(res, '/admin/segments', 'segment-deleted');
    },
  ],
  [
    'get',
    '/unsubscribe-lists',
    'operator',
    async ({ req, res, core, viewer }) => {
      const [lists, accounts] = await Promise.all([core.unsubscribeLists.overview(null), core.accounts.listAccounts()]);
      res.type('html').send(unsubscribeListsPage(viewer, lists, accounts, noticeOf(req)));
    },
  ],
  [
    'post',
    '/unsubscribe-lists',
    'operator',
    async ({ req, res, core }) => {
      const ctx = await core.accounts.operatorContext(field(req, 'account'));
      const l = await core.unsubscribeLists.create(ctx, { slug: field(req, 'slug'), name: field(req, 'name') });
      done(res, `/admin/unsubscribe-lists/${l.id}`, 'unsubscribe-list-created');
    },
  ],
  [
    'get',
    '/unsubscribe-lists/:id',
    'operator',
    async ({ req, res, core, viewer }) => {
      const id = idParam(req);
      if (!id) return notFoundPage(viewer, res);
      const search = searchOf(req);
      const list = await core.unsubscribeLists.byId(null, id);
      const rows = await core.unsubscribeLists.addresses(null, id, { search, afterKey: afterOf(req), limit: PAGE_SIZE });
      res.type('html').send(unsubscribeListPage(viewer, list, rows, { search, limit: PAGE_SIZE, notice: noticeOf(req) }));
    },
  ],
  ...(
    [
      ['delete', async (core, ctx, slug) => void (await core.unsubscribeLists.delete(ctx, slug))],
      ['add', async (core, ctx, slug, email) => ((await core.unsubscribeLists.add(ctx, slug, email)) ? 'address-added' : 'address-there-already')],
      ['remove', async (core, ctx, slug, email) => ((await core.unsubscribeLists.remove(ctx, slug, email)) ? 'address-removed' : 'address-not-there')],
    ] as [string, (core: Core, ctx: CallContext, slug: string, email: string) => Promise<Notice | void>][]
  ).map(([name, act]): Route => [
    'post',
    `/unsubscribe-lists/:id/${name}`,
    'operator',
    async ({ req, res, core, viewer, requestId }) => {
      const id = idParam(req);
      if (!id) return notFoundPage(viewer, res);
      const list = await core.unsubscribeLists.byId(null, id);
      const said = await act(core, { accountId: list.account_id, requestId }, list.slug, field(req, 'email'));
      if (said) done(res, `/admin/unsubscribe-lists/${id}`, said);
      else done(res, '/admin/unsubscribe-lists', 'unsubscribe-list-deleted');
    },
  ]),
  [
    'post',
    '/keys/:id/label',
    'operator',
    async ({ req, res, core, viewer }) => {
      const id = idParam(req);
      if (!id) return notFoundPage(viewer, res);
      await core.accounts.relabelKey(id, field(req, 'label'));
      done(res, '/admin/accounts', 'key-relabelled');
    },
  ],

  // --- lists, subscribers, imports and transactional campaigns
  [
    'get',
    '/lists',
    'operator',
    async ({ req, res, core, viewer }) => {
      const search = searchOf(req);
      const [rows, accounts] = await Promise.all([core.lists.overview({ limit: PAGE_SIZE, beforeId: beforeOf(req), search }), core.accounts.listAccounts()]);
      res.type('html').send(listsPage(viewer, rows, accounts, { search, limit: PAGE_SIZE, notice: noticeOf(req) }));
    },
  ],
  [
    'post',
    '/lists',
    'operator',
    async ({ req, res, core }) => {
      // Only an existing account: a mistyped slug must not make a new one.
      const ctx = await core.accounts.operatorContext(field(req, 'account'));
      await core.lists.create(ctx, { name: field(req, 'name') });
      done(res, '/admin/lists', 'list-created');
    },
  ],
  [
    'post',
    '/lists/:id/delete',
    'operator',
    async ({ req, res, core, viewer, requestId }) => {
      const id = idParam(req);
      if (!id) return notFoundPage(viewer, res);
      // `mailgate lists delete`'s operation: the list and its subscribers go; its mailings stay.
      await core.lists.delete(await core.lists.ownerContext(id, requestId), id);
      done(res, '/admin/lists', 'list-deleted');
    },
  ],
  [
    'get',
    '/lists/:id',
    'operator',
    async ({ req, res, core, viewer, requestId }) => {
      const id = idParam(req);
      if (!id) return notFoundPage(viewer, res);
      const ctx = await core.lists.ownerContext(id, requestId);
      const filter = subscriberFilterOf(req);
      const search = searchOf(req);
      const statuses = SUBSCRIBER_FILTERS[filter];
      const [list, subscribers] = await Promise.all([
        core.lists.get(ctx, id),
        core.lists.search(ctx, id, { limit: PAGE_SIZE, beforeId: beforeOf(req), search, statuses: statuses && [...statuses] }),
      ]);
      res.type('html').send(listPage(viewer, { ...list, account: ctx.account }, subscribers, { filter, search, limit: PAGE_SIZE, notice: noticeOf(req) }));
    },
  ],
  ...(
    [
      ['unsubscribe', (core, ctx, list, id) => core.members.unsubscribe(ctx, list, id), 'unsubscribed'],
      ['remove', (core, ctx, list, id) => core.members.remove(ctx, list, id), 'removed'],
    ] as [string, (core: Core, ctx: CallContext, list: number, id: number) => Promise<unknown>, Notice][]
  ).map(([name, act, notice]): Route => [
    'post',
    `/lists/:id/subscribers/:subscriber/${name}`,
    'operator',
    async ({ req, res, core, viewer, requestId }) => {
      const id = idParam(req);
      const subscriber = subscriberParam(req);
      if (!id || !subscriber) return notFoundPage(viewer, res);
      await act(core, await core.lists.ownerContext(id, requestId), id, subscriber);
      done(res, `/admin/lists/${id}`, notice);
    },
  ]),
  [
    'post',
    '/lists/:id/import',
    'operator-upload',
    async ({ req, res, core, viewer, requestId, upload }) => {
      const id = idParam(req);
      if (!id) return notFoundPage(viewer, res);
      const ctx = await core.lists.ownerContext(id, requestId);
      if (!upload) return badFormPage(viewer, res, 'Choose a CSV file to import.');
      const importId = await startImport(core, ctx, id, upload);
      res.redirect(303, `/admin/imports/${importId}`);
    },
  ],
  [
    'get',
    '/imports/:id',
    'operator',
    async ({ req, res, core, viewer }) => {
      const id = idParam(req);
      if (!id) return notFoundPage(viewer, res);
      res.type('html').send(importPage(viewer, await core.imports.progress(id)));
    },
  ],
  [
    'get',
    '/campaigns',
    'operator',
    async ({ req, res, core, viewer }) => {
      const search = searchOf(req);
      const [rows, accounts] = await Promise.all([
        core.transactional.campaigns({ limit: PAGE_SIZE, beforeId: beforeOf(req), search }),
        core.accounts.listAccounts(),
      ]);
      res.type('html').send(campaignsPage(viewer, rows, accounts, { search, limit: PAGE_SIZE, notice: noticeOf(req) }));
    },
  ],
  [
    'post',
    '/campaigns',
    'operator-upload',
    async ({ req, res, core, viewer, upload }) => {
      const ctx = await core.accounts.operatorContext(field(req, 'account'));
      if (!upload) return badFormPage(viewer, res, 'Choose the html file of the message.');
      const html = await htmlOf(upload);
      if (html === undefined)
        return badFormPage(viewer, res, `${upload.filename || 'The file'}: not UTF-8 text (or larger than 5 MiB); save the html as UTF-8.`);
      await core.transactional.createCampaign(ctx, {
        name: field(req, 'name'),
        fromEmail: field(req, 'from'),
        fromName: field(req, 'from_name') || null,
        subject: field(req, 'subject'),
        html,
      });
      done(res, '/admin/campaigns', 'campaign-created');
    },
  ],
];

/**
 * Starts an uploaded CSV's import and answers its id once the import's row exists (the file read whole for
 * its hash, its text and header checked: a malformed file is refused here, with nothing stored).
 *
 * Where it runs: in this HTTP process, detached from the request, not as a worker job. The import needs the
 * file twice (hash, then parse) and the file is on this node's disk; a worker may run on another machine.
 * Closing the tab ends the request, not the import: nothing of the request is awaited after the answer.
 * Its progress is the import's row, written by each committed batch with its counts and first rejects (and
 * the error when the file stops it), so the progress page of any process reads it, and a reload shows it.
 * If this process stops mid-import, the committed batches stay and the row stays `running`: uploading the same
 * file into the same list again resumes after the last committed batch (the core's import is resumable).
 */
function startImport(core: Core, ctx: CallContext, listId: number, upload: Upload): Promise<number> {
  upload.taken = true;
  return new Promise<number>((resolve, reject) => {
    let started = false;
    core.imports
      .importCsv(
        ctx,
        listId,
        { name: upload.filename || 'upload.csv', size: upload.size, open: () => createReadStream(upload.path) },
        {
          // Smaller than the command's 10,000: the progress page moves, and resumes lose less, every 1,000 records.
          batchSize: 1_000,
          onStart: (s) => {
            started = true;
            resolve(s.importId);
          },
        },
      )
      // After the start, a file that stops the import has its error on the import's row (the core writes it);
      // any other failure (the database gone) leaves the row running, resumed by uploading the file again.
      .catch((e: unknown) => (started ? undefined : reject(e as Error)))
      .finally(() => void upload.discard());
  });
}

/** An uploaded html file's text: undefined when it is not UTF-8 or larger than 5 MiB. */
async function htmlOf(upload: Upload): Promise<string | undefined> {
  if (upload.size > 5 * 1024 * 1024) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(await readFile(upload.path));
  } catch {
    return undefined;
  }
}

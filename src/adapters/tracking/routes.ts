/**
 * The public links: each reads its token, calls the core and answers a page (serializers.ts). Tracking's pixel
 * and links answer first and record after (index.ts says why).
 */
import type { Request, Response } from 'express';
import type { Core } from '../../core/index.js';
import type { Logger } from '../../logger.js';
import { invalidConfirmationLink, invalidTrackingLink, invalidUnsubscribeLink } from './errors.js';
import { confirmation, pixel, redirect, unsubscribePrompt, unsubscribed } from './serializers.js';
import { clickTarget, isOneClick, pixelToken, tokenOf, trackingRequest } from './values.js';

export interface Call {
  req: Request;
  res: Response;
  core: Core;
  logger: Logger;
}

/**
 * Recordings started and not finished, in this process. Beyond MAX_PENDING (a flood while the database is slow
 * or away) a hit is answered and not recorded, so waiting writes cannot grow without bound.
 */
let pending = 0;
const MAX_PENDING = 10_000;

/** Record after the answer: a failure (the database down) loses this one event and is logged, never thrown. */
function recordLater(logger: Logger, what: string, recording: () => Promise<unknown>): void {
  if (pending >= MAX_PENDING) {
    logger.warn(`tracking: ${what} not recorded (${MAX_PENDING} recordings waiting)`);
    return;
  }
  pending++;
  setImmediate(() => {
    recording()
      .catch((err: unknown) => logger.warn({ err }, `tracking: ${what} not recorded`))
      .finally(() => pending--);
  });
}

/** The pixel: a GIF at once when its token is genuine (the open recorded), else a 404 page. */
function open({ req, res, core, logger }: Call): Promise<void> {
  const r = trackingRequest(req);
  const recipientId = core.tracking.openRecipient(pixelToken(req));
  if (recipientId === null) {
    invalidTrackingLink(res);
    return Promise.resolve();
  }
  pixel(res);
  recordLater(logger, 'open', () => core.tracking.recordOpen({ ...r, recipientId }));
  return Promise.resolve();
}

/** A link: a redirect to its URL at once when signed for it, else a 404 page; the click recorded. */
function click({ req, res, core, logger }: Call): Promise<void> {
  const r = trackingRequest(req);
  const target = clickTarget(req);
  const signed = target && core.tracking.clickOf(tokenOf(req), target);
  if (!target || !signed) {
    invalidTrackingLink(res);
    return Promise.resolve();
  }
  redirect(res, target);
  recordLater(logger, 'click', () => core.tracking.recordClick({ ...r, recipientId: signed.recipientId }, signed.linkIndex, target));
  return Promise.resolve();
}

export type Route = [method: 'get' | 'post' | 'head', path: string, handler: (c: Call) => Promise<void>];

export const ROUTES: Route[] = [
  ['head', '/t/o/:file', open],
  ['get', '/t/o/:file', open],
  ['head', '/t/c/:token', click],
  ['get', '/t/c/:token', click],
  [
    'get',
    '/u/:token',
    async ({ req, res, core }) => {
      const email = await core.unsubscribe.address(tokenOf(req)).catch((e: unknown) => invalidUnsubscribeLink(res, e));
      if (email !== undefined) res.type('html').send(unsubscribePrompt(email));
    },
  ],
  [
    'post',
    '/u/:token',
    async ({ req, res, core }) => {
      const done = await core.unsubscribe.unsubscribe(tokenOf(req), isOneClick(req.body) ? 'one-click' : 'page').then(
        () => true,
        (e: unknown) => invalidUnsubscribeLink(res, e),
      );
      if (done) res.type('html').send(unsubscribed());
    },
  ],
  // The double opt-in link ({{ subscribe_link }}): a GET confirms (once); HEAD, which link checkers send, does not.
  [
    'head',
    '/subscribe/confirm/:token',
    ({ res }) => {
      res.status(200).type('html').end();
      return Promise.resolve();
    },
  ],
  [
    'get',
    '/subscribe/confirm/:token',
    async ({ req, res, core }) => {
      const r = await core.subscriptions.confirm(tokenOf(req)).catch((e: unknown) => invalidConfirmationLink(res, e));
      if (r) res.type('html').send(confirmation(r));
    },
  ],
];

/** The public links: each reads its token, calls the core and answers a page (serializers.ts). */
import type { Request, Response } from 'express';
import type { Core } from '../../core/index.js';
import { invalidConfirmationLink, invalidUnsubscribeLink } from './errors.js';
import { confirmation, unsubscribePrompt, unsubscribed } from './serializers.js';
import { isOneClick, tokenOf } from './values.js';

export interface Call {
  req: Request;
  res: Response;
  core: Core;
}
export type Route = [method: 'get' | 'post' | 'head', path: string, handler: (c: Call) => Promise<void>];

export const ROUTES: Route[] = [
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

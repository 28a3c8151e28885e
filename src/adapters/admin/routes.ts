/** The admin pages: each reads its request (values.ts), calls the core and answers a page (serializers.ts). */
import type { Request, Response } from 'express';
import type { Core } from '../../core/index.js';
import { callContext } from '../auth.js';
import { noSuchMessage } from './errors.js';
import { outboxPage } from './serializers.js';
import { beforeOf, messageIdOf } from './values.js';

const PAGE_SIZE = 100;

export interface Call {
  req: Request;
  res: Response;
  core: Core;
}
export type Route = [path: string, handler: (c: Call) => Promise<void>];

export const ROUTES: Route[] = [
  [
    '/outbox',
    async ({ req, res, core }) => {
      const { messages, total } = await core.outbox.page(callContext(res), PAGE_SIZE, beforeOf(req));
      res.type('html').send(outboxPage(messages, total, PAGE_SIZE));
    },
  ],
  [
    '/outbox/:id',
    async ({ req, res, core }) => {
      const raw = await core.outbox.raw(callContext(res), messageIdOf(req));
      if (!raw) return noSuchMessage(res);
      res
        .type('message/rfc822')
        .set('Content-Disposition', `inline; filename="${Number(req.params.id)}.eml"`)
        .send(raw);
    },
  ],
];

/**
 * Public recipient links under PUBLIC_URL: `/u/<token>`, the unsubscribe link of every message, and
 * `/subscribe/confirm/<token>`, the double opt-in link (src/core/subscriptions/service.ts).
 *
 * Quirks: RFC 8058 one-click is a POST with the form body `List-Unsubscribe=One-Click`, sent by the mailbox
 * provider without cookies or JavaScript; it must act at once and needs no confirmation. A GET (a person
 * clicking) only shows a page with a button (mail scanners follow GET links: they must not unsubscribe anyone).
 * No auth: the token is the credential. Answers are HTML pages for a person.
 */
import express from 'express';
import type { AdapterDeps } from '../types.js';
import { ROUTES } from './routes.js';

export function trackingRouter(deps: AdapterDeps): express.Router {
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '4kb' });
  for (const [method, path, handler] of ROUTES) {
    const run: express.RequestHandler = (req, res, next) => handler({ req, res, core: deps.core }).catch(next);
    if (method === 'post') router.post(path, form, run);
    else router[method](path, run);
  }
  return router;
}

/**
 * Public recipient links under PUBLIC_URL: `/u/<token>`, the unsubscribe link of every message,
 * `/subscribe/confirm/<token>`, the double opt-in link (src/core/subscriptions/service.ts), and hosted
 * tracking: the pixel `/t/o/<token>.gif` and the links `/t/c/<token>?u=<url>` (src/core/tracking).
 *
 * Quirks: RFC 8058 one-click is a POST with the form body `List-Unsubscribe=One-Click`, sent by the mailbox
 * provider without cookies or JavaScript; it must act at once and needs no confirmation. A GET (a person
 * clicking) only shows a page with a button (mail scanners follow GET links: they must not unsubscribe anyone).
 * No auth: the token is the credential. Answers are HTML pages for a person.
 *
 * Tracking answers at once and records after (never awaited by the answer): the pixel is a GIF when its token
 * is genuine; a link redirects only when its token was signed for exactly that `u` (both checked without the
 * database, any other query parameter ignored); anything else is the 404 page of every bad token here. Neither ever changes a subscription. The client's address is
 * req.ip: X-Forwarded-For counts only from a proxy on loopback (the app's `trust proxy`).
 */
import express from 'express';
import type { AdapterDeps } from '../types.js';
import { ROUTES } from './routes.js';

export function trackingRouter(deps: AdapterDeps): express.Router {
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '4kb' });
  for (const [method, path, handler] of ROUTES) {
    const run: express.RequestHandler = (req, res, next) => handler({ req, res, core: deps.core, logger: deps.logger }).catch(next);
    if (method === 'post') router.post(path, form, run);
    else router[method](path, run);
  }
  return router;
}

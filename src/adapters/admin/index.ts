/**
 * The admin pages, under `/admin`. For now the capture outbox (`/admin/outbox`, when no SMTP_URL is set): what
 * the gateway would have sent, readable by an account's key, each account seeing the mail of its own mailings.
 * The full admin pages come later; this keeps captured mail viewable from day one.
 *
 * Quirks: HTTP Basic, any user name and the key's secret as password (a browser asks for both); failures are
 * plain text, with `WWW-Authenticate` so that the browser asks again. Pages are HTML, a message is served
 * whole as `message/rfc822`.
 */
import express from 'express';
import { basicAuth } from '../auth.js';
import type { AdapterDeps } from '../types.js';
import { authFailure } from './errors.js';
import { ROUTES } from './routes.js';

export function adminRouter(deps: AdapterDeps): express.Router {
  const router = express.Router();
  router.use('/outbox', basicAuth({ core: deps.core, limiter: deps.authLimiter, scheme: { kind: 'secret-as-password' }, onFailure: authFailure }));
  for (const [path, handler] of ROUTES) router.get(path, (req, res) => handler({ req, res, core: deps.core }));
  return router;
}

/**
 * The one HTTP app: every dialect on one port, plus /healthz and the admin pages.
 */
import express from 'express';
import { randomUUID } from 'node:crypto';
import type { AdapterDeps } from '../adapters/types.js';
import type { AuthFailureLimiter } from '../adapters/auth.js';
import { requestErrors } from '../adapters/http-errors.js';
import { adminRouter } from '../adapters/admin/index.js';
import { cloudmailingRouters } from '../adapters/cloudmailing/index.js';
import { mailkitRouters } from '../adapters/mailkit/index.js';
import { trackingRouter } from '../adapters/tracking/index.js';
import { senderRouter } from '../adapters/sender/index.js';
import { emailiciousRouter, layoutImagesRouter } from '../adapters/emailicious/index.js';

export type HttpDeps = AdapterDeps & {
  /** Failed operator logins on the admin pages, per address. */
  loginLimiter: AuthFailureLimiter;
};

export function makeHttpApp(deps: HttpDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use((req, res, next) => {
    const id = (req.get('x-request-id') ?? '').slice(0, 100) || randomUUID();
    res.locals.requestId = id;
    res.set('X-Request-Id', id);
    next();
  });

  app.get('/healthz', async (_req, res) => {
    if (await deps.core.health()) res.json({ status: 'ok' });
    else res.status(503).json({ status: 'unavailable', detail: 'database unreachable' });
  });

  const cloudmailing = cloudmailingRouters(deps);
  app.use('/CloudMailing', cloudmailing.xmlRpc);
  app.use('/jsonrpc', cloudmailing.jsonRpc);
  const mailkit = mailkitRouters(deps);
  app.use('/json.fcgi', mailkit.json);
  app.use('/rpc.fcgi', mailkit.rpc);
  app.use('/api/0', senderRouter(deps));
  app.use('/api/v1', emailiciousRouter(deps));
  app.use('/layouts', layoutImagesRouter(deps));
  app.use('/admin', adminRouter(deps));
  app.use(trackingRouter(deps));

  app.use((_req, res) => {
    res.status(404).json({ detail: 'Not found.' });
  });
  app.use(
    requestErrors({
      name: 'http',
      logger: deps.logger,
      tooLarge: (res) => void res.status(413).json({ detail: 'Request body too large.' }),
      unreadable: (res, status) => void res.status(status).json({ detail: 'Bad request.' }),
      internal: (res, status) => void res.status(status).json({ detail: 'Internal error.' }),
      // The public pages (unsubscribe and confirmation links, layout images, the admin pages).
      unavailable: (res, u) => void res.status(503).json({ detail: `Service unavailable: ${u.message}` }),
    }),
  );
  return app;
}

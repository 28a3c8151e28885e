/**
 * The one HTTP app: every dialect on one port, plus /healthz, /metrics and the admin pages.
 */
import express from 'express';
import type { AdapterDeps } from '../adapters/types.js';
import type { AuthFailureLimiter } from '../adapters/auth.js';
import { requestErrors } from '../adapters/http-errors.js';
import { adminRouter } from '../adapters/admin/index.js';
import { cloudmailingRouters } from '../adapters/cloudmailing/index.js';
import { mailkitRouters } from '../adapters/mailkit/index.js';
import { trackingRouter } from '../adapters/tracking/index.js';
import { senderRouter } from '../adapters/sender/index.js';
import { emailiciousRouter, layoutImagesRouter } from '../adapters/emailicious/index.js';
import type { Metrics } from '../metrics/index.js';
import { answerHealth, answerMetrics } from '../metrics/answers.js';
import { dialect, observeRequests } from './observe.js';

export type HttpDeps = AdapterDeps & {
  metrics: Metrics;
  /** Failed operator logins on the admin pages, per address. */
  loginLimiter: AuthFailureLimiter;
};

export function makeHttpApp(deps: HttpDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(observeRequests(deps.metrics));

  app.get('/healthz', (_req, res) => answerHealth(res, deps.core.health));
  app.get('/metrics', (req, res) => answerMetrics(req, res, deps.metrics, deps.config.METRICS_TOKEN));

  const cloudmailing = cloudmailingRouters(deps);
  app.use('/CloudMailing', dialect('cloudmailing', cloudmailing.xmlRpc));
  app.use('/jsonrpc', dialect('cloudmailing', cloudmailing.jsonRpc));
  const mailkit = mailkitRouters(deps);
  app.use('/json.fcgi', dialect('mailkit', mailkit.json));
  app.use('/rpc.fcgi', dialect('mailkit', mailkit.rpc));
  app.use('/api/0', dialect('sender', senderRouter(deps)));
  app.use('/api/v1', dialect('emailicious', emailiciousRouter(deps)));
  app.use('/layouts', dialect('emailicious', layoutImagesRouter(deps)));
  app.use('/admin', dialect('admin', adminRouter(deps)));
  app.use(dialect('tracking', trackingRouter(deps), { routedOnly: true }));

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

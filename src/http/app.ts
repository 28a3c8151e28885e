/**
 * The one HTTP app: every dialect on one port, plus /healthz and the capture outbox.
 */
import express, { type ErrorRequestHandler } from 'express';
import { randomUUID } from 'node:crypto';
import type { AdapterDeps } from '../adapters/types.js';
import { cloudmailingRouter } from '../adapters/cloudmailing/index.js';
import { jsonRpcRouter } from '../adapters/jsonrpc/index.js';
import { mailkitRouters } from '../adapters/mailkit/index.js';
import type { Pool } from '../db/pool.js';
import { outboxRouter } from './outbox.js';
import { trackingRouter } from '../adapters/tracking/index.js';
import { senderRouter } from '../adapters/sender/index.js';
import { emailiciousRouter, layoutImagesRouter } from '../adapters/emailicious/index.js';

export interface HttpDeps extends AdapterDeps {
  pool: Pool;
}

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
    try {
      await deps.pool.query('SELECT 1');
      res.json({ status: 'ok' });
    } catch {
      res.status(503).json({ status: 'unavailable', detail: 'database unreachable' });
    }
  });

  app.use('/CloudMailing', cloudmailingRouter(deps));
  app.use('/jsonrpc', jsonRpcRouter(deps));
  const mailkit = mailkitRouters(deps);
  app.use('/json.fcgi', mailkit.json);
  app.use('/rpc.fcgi', mailkit.rpc);
  app.use('/api/0', senderRouter(deps));
  app.use('/api/v1', emailiciousRouter(deps));
  app.use('/layouts', layoutImagesRouter(deps));
  app.use('/admin/outbox', outboxRouter(deps));
  app.use(trackingRouter(deps));

  app.use((_req, res) => {
    res.status(404).json({ detail: 'Not found.' });
  });
  const onError: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
    const status = typeof err === 'object' && err !== null && 'status' in err ? Number((err as { status: unknown }).status) : 500;
    if (status >= 500) deps.logger.error({ err, requestId: res.locals.requestId }, 'request failed');
    if (res.headersSent) return;
    res.status(status >= 400 && status < 600 ? status : 500).json({ detail: status === 413 ? 'Request body too large.' : status < 500 ? 'Bad request.' : 'Internal error.' });
  };
  app.use(onError);
  return app;
}

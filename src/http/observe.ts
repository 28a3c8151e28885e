/**
 * What the HTTP side gives the operator: the request metrics (every answer of a dialect's mount counted by
 * dialect, function and status), `GET /metrics` and `GET /healthz`. The last two are answered by
 * src/metrics/answers.ts, as a worker-only process on METRICS_PORT answers them (src/metrics/server.ts).
 *
 * The `function` label is never a raw path: the RPC endpoints name the method they ran (src/rpc/call-name.ts; a method
 * the dialect's table lacks is `unknown`), REST routes give their pattern (`/api/v1/lists/:id/`), and what no
 * route answered (auth refusals, 404s) is `unmatched`.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Metrics } from '../metrics/index.js';
import { calledName } from '../rpc/call-name.js';

interface Tag {
  dialect: string;
  mount: string;
  /** Count only requests a route of the mount answered (a mount at the root sees every path). */
  routedOnly: boolean;
}

/** Marks the requests of a dialect's mount (placed before its router; req.baseUrl is the mount path here). */
export function dialect(name: string, opts: { routedOnly?: boolean } = {}): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    res.locals.apiTag = { dialect: name, mount: req.baseUrl, routedOnly: !!opts.routedOnly } satisfies Tag;
    next();
  };
}

/** Counts every tagged request once its answer is written (or its connection closed). */
export function requestMetrics(metrics: Metrics): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const began = process.hrtime.bigint();
    let counted = false;
    const count = () => {
      const tag = res.locals.apiTag as Tag | undefined;
      if (counted || !tag) return;
      counted = true;
      const named = calledName(res);
      // req.route is the route that answered, its path relative to the mount (every route sits on the router mounted there).
      const route = (req as { route?: unknown }).route as { path?: unknown } | undefined;
      const fn = named ?? (route ? `${tag.mount}${String(route.path)}` : 'unmatched');
      if (tag.routedOnly && !named && !route) return;
      // 499 (as nginx counts it): the client went away before its answer was written.
      metrics.apiRequest(tag.dialect, fn, res.writableFinished ? res.statusCode : 499, Number(process.hrtime.bigint() - began) / 1e9);
    };
    res.once('finish', count);
    res.once('close', count);
    next();
  };
}

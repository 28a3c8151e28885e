/**
 * What the HTTP side gives the operator: the request id and the request metrics (every answer of a dialect's
 * mount counted by dialect, function and status), `GET /metrics` and `GET /healthz`. The last two are answered
 * by src/metrics/answers.ts, as a worker-only process on METRICS_PORT answers them (src/metrics/server.ts).
 *
 * The `function` label is never a raw path: the RPC endpoints name the method they ran (src/rpc/call-name.ts; a method
 * the dialect's table lacks is `unknown`), REST routes give their pattern (`/api/v1/lists/:id/`), and what no
 * route answered (auth refusals, 404s) is `unmatched`.
 *
 * This runs for every request of every dialect: one middleware and one listener per request, no closure made
 * per request (each layer express walks and each listener cost a measurable share of a small call's CPU).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { Metrics } from '../metrics/index.js';
import { calledName } from '../rpc/call-name.js';

interface Tag {
  dialect: string;
  mount: string;
  /** Count only requests a route of the mount answered (a mount at the root sees every path). */
  routedOnly: boolean;
}

/**
 * A dialect's router with its requests marked for the metrics, as one layer (req.baseUrl is the mount path
 * here: the path as the client spelled it, routing being case-insensitive).
 */
export function dialect(name: string, router: RequestHandler, opts: { routedOnly?: boolean } = {}): RequestHandler {
  const routedOnly = !!opts.routedOnly;
  return (req: Request, res: Response, next: NextFunction) => {
    res.locals.apiTag = { dialect: name, mount: req.baseUrl, routedOnly } satisfies Tag;
    return router(req, res, next);
  };
}

/**
 * Gives every request its id (the client's X-Request-Id, cut to 100 characters, or a new one), echoed in the
 * answer's X-Request-Id, and counts every tagged request once its answer is written or its connection closed.
 */
export function observeRequests(metrics: Metrics): RequestHandler {
  /**
   * On the answer's 'close', which Node emits once per response: after 'finish' when the answer was written
   * (res.writableFinished), alone when the connection went first.
   */
  function count(this: Response): void {
    const tag = this.locals.apiTag as Tag | undefined;
    if (!tag) return;
    const named = calledName(this);
    // req.route is the route that answered, its path relative to the mount (every route sits on the router mounted there).
    const route = (this.req as { route?: unknown }).route as { path?: unknown } | undefined;
    if (tag.routedOnly && !named && !route) return;
    const fn = named ?? (route ? `${tag.mount}${String(route.path)}` : 'unmatched');
    // 499 (as nginx counts it): the client went away before its answer was written.
    const seconds = Number(process.hrtime.bigint() - (this.locals.began as bigint)) / 1e9;
    metrics.apiRequest(tag.dialect, fn, this.writableFinished ? this.statusCode : 499, seconds);
  }
  return (req: Request, res: Response, next: NextFunction) => {
    res.locals.began = process.hrtime.bigint();
    const given = req.headers['x-request-id'];
    const id = (typeof given === 'string' ? given.slice(0, 100) : '') || randomUUID();
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    res.on('close', count);
    next();
  };
}

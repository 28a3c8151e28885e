/**
 * What the HTTP side gives the operator: the request metrics (every answer of a dialect's mount counted by
 * dialect, function and status), `GET /metrics` and `GET /healthz`. The last two are also served by a
 * worker-only process on METRICS_PORT (src/metrics/server.ts), from answerMetrics and answerHealth.
 *
 * The `function` label is never a raw path: the RPC endpoints name the method they ran (src/rpc/call-name.ts; a method
 * the dialect's table lacks is `unknown`), REST routes give their pattern (`/api/v1/lists/:id/`), and what no
 * route answered (auth refusals, 404s) is `unmatched`.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { HealthReport } from '../core/health/service.js';
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

/** A bearer token compared in constant time; no token configured: everyone may scrape. */
function authorized(header: string | undefined, token: string | undefined): boolean {
  if (!token) return true;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** `GET /metrics` on a node:http response (express's too). */
export async function answerMetrics(req: IncomingMessage, res: ServerResponse, metrics: Metrics, token: string | undefined): Promise<void> {
  if (!authorized(req.headers.authorization, token)) {
    res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8', 'WWW-Authenticate': 'Bearer realm="metrics"' });
    res.end('A bearer token (METRICS_TOKEN) is required.\n');
    return;
  }
  const body = await metrics.registry.metrics();
  res.writeHead(200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' });
  res.end(body);
}

/** `GET /healthz`: 200 when every check is ok, else 503 with the reasons in `detail`. */
export async function answerHealth(res: ServerResponse, check: () => Promise<HealthReport>): Promise<void> {
  const r = await check();
  const body = {
    status: r.ok ? 'ok' : 'unavailable',
    database: r.database,
    migrations: r.migrations,
    workers: r.workers,
    workers_alive: r.workersAlive,
    relay: r.relay,
    ...(r.ok ? {} : { detail: r.reasons.join('; ') }),
  };
  res.writeHead(r.ok ? 200 : 503, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}

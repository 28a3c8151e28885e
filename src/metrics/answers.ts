/**
 * The answers of `GET /metrics` and `GET /healthz` on a node:http response (express's too): an HTTP node
 * (src/http/observe.ts mounts them) and a worker-only process on METRICS_PORT (./server.ts) answer alike.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HealthReport } from '../core/health/service.js';
import type { Metrics } from './index.js';

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
  const body = await metrics.scrape();
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

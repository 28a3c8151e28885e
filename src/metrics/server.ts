/**
 * `/metrics` and `/healthz` of a process without the HTTP app (`mailgate worker` with METRICS_PORT): a bare
 * node:http server, nothing else on it. The answers are the HTTP app's own (src/http/observe.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HealthReport } from '../core/health/service.js';
import type { Logger } from '../logger.js';
import { answerHealth, answerMetrics } from './answers.js';
import type { Metrics } from './index.js';

export interface MetricsServer {
  port: number;
  stop(): Promise<void>;
}

export async function startMetricsServer(o: {
  metrics: Metrics;
  health: () => Promise<HealthReport>;
  token: string | undefined;
  host: string;
  port: number;
  logger: Logger;
}): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const answer =
      req.method !== 'GET' && req.method !== 'HEAD'
        ? null
        : path === '/metrics'
          ? answerMetrics(req, res, o.metrics, o.token)
          : path === '/healthz'
            ? answerHealth(res, o.health)
            : null;
    if (!answer) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found: GET /metrics or /healthz.\n');
      return;
    }
    answer.catch((err: unknown) => {
      o.logger.error({ err }, 'metrics server: answer failed');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

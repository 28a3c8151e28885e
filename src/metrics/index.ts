/**
 * The Prometheus metrics of one running gateway (prom-client, a registry of its own: tests run several
 * gateways in one process). The README's "Metrics and health" lists every metric and its labels.
 *
 * Two kinds:
 *  - counted by this process as things happen: messages, deferrals, put-offs, bounces, complaints, API
 *    requests. A worker counts what it sent, an HTTP node what it answered; Prometheus sums the processes.
 *  - read from Postgres at scrape time (queue depth, oldest due recipient, status feed lag, live workers):
 *    the installation's, the same on every process (aggregate them with max). One statement serves every
 *    gauge of a scrape and its result is kept for CLUSTER_CACHE_MS, so a scrape storm does not load the
 *    database.
 *
 * `serve --processes N`: a scrape of any HTTP process answers for the whole node, every process's registry summed
 * by the primary (prom-client's aggregation: counters and histograms summed; the installation's gauges, the same
 * in every process, taken once by their `aggregator`).
 *
 * No label carries account data: labels are dialects, API function names (an RPC method of the dialect's
 * table or a route pattern, never a raw path), HTTP statuses, relay host:port (the operator's SMTP_URL,
 * without credentials), outcome words and bounce classes.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ClusterGauges } from '../db/health.js';
import type { LateReport } from '../core/bounces/service.js';
import type { RecordedOutcome, SendObserver } from '../worker/send.js';

export const WEBHOOK_BACKLOG = 'mailgate_webhook_deliveries_pending';

/** How long one reading of the cluster gauges serves scrapes. */
export const CLUSTER_CACHE_MS = 2_000;

/** RFC 5965's feedback types (and its IANA registry's); anything else is counted as `other`. */
const FEEDBACK_TYPES = new Set(['abuse', 'fraud', 'virus', 'other', 'not-spam', 'auth-failure']);

/** A message's final outcome as this metric names it; null: not final (a deferral). */
function outcomeOf(o: RecordedOutcome): string | null {
  switch (o.status) {
    case 'finished':
      return 'sent';
    case 'error':
      // Untried and `error`: the address was suppressed before sending.
      return o.tried ? 'failed' : 'suppressed';
    case 'general_error':
      return 'failed';
    case 'timeout':
      return 'timed_out';
    default:
      return null;
  }
}

export interface MetricsOptions {
  /** The installation's gauges, read from Postgres (src/db/health.ts). */
  cluster: () => Promise<ClusterGauges>;
}

export function makeMetrics(o: MetricsOptions) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const messages = new Counter({
    name: 'mailgate_messages_total',
    help: 'Messages that reached a final outcome in this worker: sent, failed (refused or unbuildable), suppressed (not sent), timed_out.',
    labelNames: ['outcome', 'relay'] as const,
    registers,
  });
  const deferrals = new Counter({
    name: 'mailgate_deferrals_total',
    help: 'Messages put back for later: temporary_failure (the relay answered 4xx; retried by the retry rule) or relay_unreachable (given back untried).',
    labelNames: ['reason', 'relay'] as const,
    registers,
  });
  const putOffs = new Counter({
    name: 'mailgate_send_throttled_total',
    help: "Times a send job was put off instead of sending: pacing (the mailing's spread) or relay_down (no relay answers).",
    labelNames: ['reason'] as const,
    registers,
  });
  const batchSeconds = new Histogram({
    name: 'mailgate_send_batch_duration_seconds',
    help: 'One batch, from its claim to its outcomes written (rendering and SMTP included).',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers,
  });
  const bounces = new Counter({
    name: 'mailgate_bounces_total',
    help: 'Bounces recorded: source smtp (a refusal while sending) or dsn (a delivery report received later), kind permanent or temporary, category by the enhanced status code.',
    labelNames: ['source', 'kind', 'category'] as const,
    registers,
  });
  const complaints = new Counter({
    name: 'mailgate_complaints_total',
    help: 'Complaints (RFC 5965 feedback reports) recorded, by feedback type.',
    labelNames: ['feedback_type'] as const,
    registers,
  });
  const apiRequests = new Counter({
    name: 'mailgate_api_requests_total',
    help: 'HTTP requests answered, by dialect, function (RPC method or route pattern) and HTTP status.',
    labelNames: ['dialect', 'function', 'status'] as const,
    registers,
  });
  const apiSeconds = new Histogram({
    name: 'mailgate_api_request_duration_seconds',
    help: 'Time to answer an HTTP request, by dialect and function.',
    labelNames: ['dialect', 'function'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });

  let relayStatus: (() => { relay: string; up: boolean }[]) | undefined;
  new Gauge({
    name: 'mailgate_relay_up',
    help: "1 when this worker's relay answers (as last found), 0 while it is marked down.",
    labelNames: ['relay'] as const,
    registers,
    collect() {
      this.reset();
      for (const r of relayStatus?.() ?? []) this.set({ relay: r.relay }, r.up ? 1 : 0);
    },
  });

  // One reading serves every gauge of a scrape, the scrapes that come while it runs (a slow database is not
  // asked again meanwhile), and those of the CLUSTER_CACHE_MS after it.
  let reading: { until: number; value: Promise<ClusterGauges | null> } | undefined;
  const cluster = (): Promise<ClusterGauges | null> => {
    if (!reading || Date.now() > reading.until) {
      const r = { until: Infinity, value: o.cluster().catch(() => null) };
      void r.value.then(() => (r.until = Date.now() + CLUSTER_CACHE_MS));
      reading = r;
    }
    return reading.value;
  };
  /** A gauge of the installation: absent from the scrape while the database does not answer. */
  const clusterGauge = (name: string, help: string, set: (g: Gauge<'state'>, c: ClusterGauges) => void, labelNames: 'state'[] = []) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      aggregator: 'max',
      async collect() {
        const c = await cluster();
        this.reset();
        if (c) set(this, c);
      },
    });
  new Gauge({
    name: 'mailgate_database_up',
    help: 'Whether the database answered the last reading of the installation gauges.',
    registers,
    // The lowest over a node's processes: 0 when any of them failed to read it.
    aggregator: 'min',
    async collect() {
      this.set((await cluster()) ? 1 : 0);
    },
  });
  clusterGauge(
    'mailgate_queue_recipients',
    'Recipients still to send: ready (never tried) and retry (waiting for a retry after a temporary failure).',
    (g, c) => {
      g.set({ state: 'ready' }, c.ready);
      g.set({ state: 'retry' }, c.retry);
    },
    ['state'],
  );
  clusterGauge(
    'mailgate_queue_oldest_ready_age_seconds',
    'How long the longest-waiting recipient that is due now (of a running send) has waited; 0 when none waits.',
    (g, c) => g.set(c.oldestDueSeconds),
  );
  clusterGauge(
    'mailgate_status_feed_lag_seconds',
    'How long the oldest open writing transaction has held the status feed back (the feed passes only changes of ended transactions); 0 when none is open.',
    (g, c) => g.set(c.feedLagSeconds),
  );
  clusterGauge(WEBHOOK_BACKLOG, 'Webhook messages not yet delivered to their endpoint (waiting for a retry, or for a disabled endpoint, included).', (g, c) =>
    g.set(c.webhooksPending),
  );
  clusterGauge('mailgate_workers_alive', 'Send workers heard from within WORKER_STALE_SECONDS.', (g, c) => g.set(c.workersAlive));

  const sendObserver: SendObserver = {
    batchRecorded(b) {
      batchSeconds.observe(b.seconds);
      for (const out of b.outcomes) {
        const relay = out.relay ?? 'none';
        const outcome = outcomeOf(out);
        if (outcome) messages.inc({ outcome, relay });
        else if (out.status === 'warning') deferrals.inc({ reason: 'temporary_failure', relay });
        if (out.bounce) bounces.inc({ source: 'smtp', kind: out.bounce.kind, category: out.bounce.category });
      }
      for (const relay of b.released) deferrals.inc({ reason: 'relay_unreachable', relay });
    },
    putOff(reason) {
      putOffs.inc({ reason });
    },
  };

  let scrape = () => registry.metrics();

  return {
    registry,
    sendObserver,
    /** The text of GET /metrics: this registry, or the whole node's (scrapeWith). */
    scrape: (): Promise<string> => scrape(),
    scrapeWith(node: () => Promise<string>): void {
      scrape = node;
    },
    /** The worker's relays, for mailgate_relay_up. */
    watchRelays(status: () => { relay: string; up: boolean }[]): void {
      relayStatus = status;
    },
    lateReport(r: LateReport): void {
      if (r.source === 'dsn') bounces.inc({ source: 'dsn', kind: r.kind, category: r.category });
      else complaints.inc({ feedback_type: FEEDBACK_TYPES.has(r.feedbackType.toLowerCase()) ? r.feedbackType.toLowerCase() : 'other' });
    },
    apiRequest(dialect: string, fn: string, status: number, seconds: number): void {
      apiRequests.inc({ dialect, function: fn, status: String(status) });
      apiSeconds.observe({ dialect, function: fn }, seconds);
    },
  };
}
export type Metrics = ReturnType<typeof makeMetrics>;

/**
 * The composition root: builds every object from the config and hands each its dependencies.
 * Nothing else constructs pools, stores, the core or servers.
 *
 * What only a server runs (HTTP and the dialects, the bounce listener, the send worker and its SMTP capture) is
 * imported when it is started: one-shot commands (`mailgate keys list`) build the services and never load it.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.js';
import { makeCore, type Core } from './core/index.js';
import { DomainError, invalid } from './core/errors.js';
import { startEmbedded, type EmbeddedHandle } from './db/embedded.js';
import { ensureDatabase, migrateIfBehind } from './db/migrate.js';
import { makePool, type Pool } from './db/pool.js';
import { makeStore, type Store } from './db/store.js';
import type { Logger } from './logger.js';
import type { RunningWorker } from './worker/index.js';
import type { MessageCodec } from './core/mailings/message.js';
import type { BounceObserver } from './core/bounces/service.js';
import type { Metrics } from './metrics/index.js';
import type { AuthFailureLimiter } from './adapters/auth.js';

export const EMBEDDED_DATABASE = 'mailgate';

export interface Database {
  url: string;
  embedded?: EmbeddedHandle;
  /** Stops the embedded cluster when this process started it. */
  close(): Promise<void>;
}

/** DATABASE_URL, else the embedded Postgres of DATA_DIR (joined when another process runs it). */
export async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  if (config.DATABASE_URL) return { url: config.DATABASE_URL, close: () => Promise.resolve() };
  const embedded = await startEmbedded({
    dataDir: config.DATA_DIR,
    systemDir: config.MAILGATE_SYSTEM_DIR,
    port: config.EMBEDDED_PG_PORT || undefined,
    log: (line) => logger.debug({ postgres: line }),
    onNotice: (line) => logger.warn(line),
  });
  await ensureDatabase(embedded.url, EMBEDDED_DATABASE);
  return { url: embedded.databaseUrl(EMBEDDED_DATABASE), embedded, close: () => embedded.stop() };
}

export interface Services {
  databaseUrl: string;
  config: Config;
  logger: Logger;
  pool: Pool;
  store: Store;
  core: Core;
  secret: Buffer;
  /** Told of late bounces and complaints the core records: a started gateway points it at its metrics. */
  bounceObserver: BounceObserver;
  close(): Promise<void>;
}

export interface ServicesOptions {
  /** false: the schema is known to be current (tests clone a migrated template). */
  migrate?: boolean;
  /** The MIME codec loaded when first used (see mimeOnFirstUse): for one-shot commands. */
  mimeOnFirstUse?: boolean;
}

/** Pool, store, installation secret and core over a migrated database. */
export async function buildServices(config: Config, logger: Logger, databaseUrl: string, opts: ServicesOptions = {}): Promise<Services> {
  if (opts.migrate !== false) await migrateIfBehind(databaseUrl);
  const messages = opts.mimeOnFirstUse ? mimeOnFirstUse() : (await import('./mime/message.js')).mimeCodec;
  // A value Postgres cannot store is the caller's bad input: the core's INVALID_ARGUMENT.
  const pool = makePool(databaseUrl, 20, (message) => invalid(message));
  const store = makeStore(pool);
  const secret = Buffer.from(await store.settings.getOrCreate('hmac_secret', () => randomBytes(32).toString('base64')), 'base64');
  const bounceObserver: BounceObserver = {};
  const core = makeCore({
    store,
    messages,
    cursorSecret: secret,
    maxRecipientsPerCall: config.MAX_RECIPIENTS_PER_CALL,
    sendLanes: config.SEND_LANES,
    workerStaleSeconds: config.WORKER_STALE_SECONDS,
    publicUrl: config.publicUrl,
    bounceDomain: config.bounceDomain,
    confirmLinkDays: config.CONFIRM_LINK_DAYS,
    bounceObserver,
    wakeFailed: (sendId, e) => logger.warn({ sendId, err: (e as Error)?.message }, 'send job not woken after a transactional send; the sweep wakes it'),
    tracking: {
      tooSoonSeconds: config.TRACKING_TOO_SOON_SECONDS,
      burstMs: config.TRACKING_BURST_MS,
      appleNetworks: config.TRACKING_APPLE_NETWORKS,
      scannerNetworks: config.TRACKING_SCANNER_NETWORKS,
    },
  });
  return { databaseUrl, config, logger, pool, store, core, secret, bounceObserver, close: () => pool.end() };
}

/**
 * The MIME codec (src/mime), imported by its first asynchronous call: nodemailer and libmime take a tenth of a
 * second to load, which most one-shot commands never use. A synchronous method called before any asynchronous
 * one throws; no command path does that (the core's synchronous edits follow a compose or a summarize, except
 * setProperties and createFromMessage, which only the dialects call).
 */
function mimeOnFirstUse(): MessageCodec {
  let codec: MessageCodec | undefined;
  const load = async () => (codec ??= (await import('./mime/message.js')).mimeCodec);
  const loaded = () => {
    if (!codec) throw new Error('the MIME codec is not loaded yet: build these services without mimeOnFirstUse');
    return codec;
  };
  return {
    compose: async (input) => await (await load()).compose(input),
    summarize: async (raw) => await (await load()).summarize(raw),
    replaceTextBodies: async (raw, content) => await (await load()).replaceTextBodies(raw, content),
    normalize: (raw) => loaded().normalize(raw),
    setHeader: (raw, name, value) => loaded().setHeader(raw, name, value),
    setFrom: (raw, name, address) => loaded().setFrom(raw, name, address),
    replaceHeaderBlock: (raw, header) => loaded().replaceHeaderBlock(raw, header),
    replaceBody: (raw, body) => loaded().replaceBody(raw, body),
  };
}

export interface Gateway {
  services: Services;
  /** Base URL the HTTP server answers at (its real port). */
  url: string;
  /** The in-process worker's SMTP capture, when no relay is configured (every message is kept there). */
  captureUrl?: string;
  /** The inbound bounce listener's port (HTTP nodes only). */
  bouncePort?: number;
  /** Where a process without HTTP serves /metrics and /healthz (METRICS_PORT set). */
  metricsUrl?: string;
  firstKey?: { id: number; secret: string; account: string };
  /** The operator made on a start that found none (its password is shown once, on the terminal only). */
  firstOperator?: { login: string; password: string };
  /** This process's metrics (the primary of `serve --processes` sums every process's registry). */
  metrics: Metrics;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  http?: boolean;
  worker?: boolean;
  /** The inbound bounce listener; default: with HTTP. `serve --processes` runs it once, in the primary. */
  bounces?: boolean;
  /** /metrics and /healthz on METRICS_PORT; default: without HTTP. Never in the primary of `serve --processes`. */
  metricsServer?: boolean;
  /** On an empty database, create account `default` with one key. */
  bootstrapAccount?: boolean;
  /** The other HTTP processes of this node (`serve --processes`): what they must share. */
  peers?: NodePeers;
}

/** What one HTTP process tells the node's other HTTP processes (through the primary of `serve --processes`). */
export interface LimiterEvent {
  limiter: 'auth' | 'login';
  op: 'fail' | 'succeed';
  address: string;
}

export interface NodePeers {
  /** Told to every other HTTP process of the node. */
  tell(event: LimiterEvent): void;
  /** `fn` gets every event another process told. */
  heard(fn: (event: LimiterEvent) => void): void;
  /** The node's metrics: every process's registry, summed by the primary (one scrape = the whole node). */
  scrape(): Promise<string>;
}

/**
 * A failure limiter shared by the node's HTTP processes: each keeps the whole node's failures, its own and
 * those the others tell, so the limit holds per node and not per process (2 processes must not double the
 * attempts an address gets). Told, not asked: retryAfter stays synchronous and never waits on the primary; an
 * event reaches the others a moment after it happened, so attempts racing in that moment on other processes
 * may pass the limit by what is in flight. A replaced process starts with no failures.
 */
function sharedLimiter(name: LimiterEvent['limiter'], local: AuthFailureLimiter, peers: NodePeers | undefined): AuthFailureLimiter {
  if (!peers) return local;
  peers.heard((e) => {
    if (e.limiter !== name) return;
    if (e.op === 'fail') local.fail(e.address);
    else local.succeed(e.address);
  });
  return {
    retryAfter: (address) => local.retryAfter(address),
    fail(address) {
      local.fail(address);
      peers.tell({ limiter: name, op: 'fail', address });
    },
    succeed(address) {
      local.succeed(address);
      peers.tell({ limiter: name, op: 'succeed', address });
    },
  };
}

/** HTTP (every dialect), the SMTP capture when no relay is configured, and the worker. */
export async function startGateway(services: Services, opts: GatewayOptions = {}): Promise<Gateway> {
  const { config, logger, core } = services;
  const stops: (() => Promise<void>)[] = [];
  const relayUrls = (config.SMTP_URL ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

  // One registry for what this process does, HTTP and worker alike (a serve with its worker shows both).
  const { makeMetrics } = await import('./metrics/index.js');
  const metrics = makeMetrics({ cluster: () => services.store.health.gauges(config.WORKER_STALE_SECONDS) });
  const peers = opts.peers;
  if (peers) metrics.scrapeWith(() => peers.scrape());
  services.bounceObserver.lateReport = (r) => metrics.lateReport(r);

  let url = '';
  if (opts.http !== false) {
    const [{ makeHttpApp }, { authFailureLimiter }] = await Promise.all([import('./http/app.js'), import('./adapters/auth.js')]);
    // One failure limiter for every dialect: a client failing on one is slowed down on all.
    // Operator logins have a limiter of their own and a stricter one: 5 failures per 5 minutes per address.
    const app = makeHttpApp({
      core,
      logger,
      config,
      authLimiter: sharedLimiter('auth', authFailureLimiter(), peers),
      loginLimiter: sharedLimiter('login', authFailureLimiter({ maxFailures: 5, windowMs: 5 * 60_000 }), peers),
      metrics,
    });
    const tls = config.TLS_CERT_FILE && config.TLS_KEY_FILE;
    const server = tls
      ? https.createServer({ cert: readFileSync(config.TLS_CERT_FILE!), key: readFileSync(config.TLS_KEY_FILE!) }, app)
      : http.createServer(app);
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.PORT, config.HOST, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? 'localhost' : config.HOST;
    url = `${tls ? 'https' : 'http'}://${host}:${port}`;
    stops.unshift(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        }),
    );
    // API keys are cached in this process, dropped at every change any process makes (see
    // migrations/20261208120000_api_keys_notify.ts) and not served while that feed is lost.
    const { listenForChanges } = await import('./db/listen.js');
    let lostOnce = false;
    const keyChanges = listenForChanges(services.databaseUrl, 'mailgate_api_keys', (event, detail) => {
      if (event === 'notification') logger.info('API keys changed: the key cache is dropped');
      else if (event === 'lost') {
        lostOnce = true;
        logger.warn({ err: detail }, 'API key change notifications lost: keys are read from the database until they are back');
      } else if (lostOnce) logger.info('API key change notifications back: keys are cached again');
    });
    core.accounts.cacheKeys(keyChanges);
    stops.push(async () => {
      core.accounts.cacheKeys(null);
      await keyChanges.close();
    });
  }

  // Only once the port is ours: a first key printed by a start that then fails would never be shown again.
  let firstKey: Gateway['firstKey'];
  if (opts.bootstrapAccount && (await core.accounts.countAccounts()) === 0) {
    firstKey = await core.accounts.createKey('default', 'first key');
  }
  // The same for the admin pages: an install (or an upgrade) without operators gets `admin`. Two HTTP nodes
  // starting together race on the login: the loser's CONFLICT means the other made it (and shows it).
  let firstOperator: Gateway['firstOperator'];
  if (opts.bootstrapAccount && (await core.operators.count()) === 0) {
    const made = await core.operators.create('admin').catch((e: unknown) => {
      if (e instanceof DomainError && e.code === 'CONFLICT') return undefined;
      throw e;
    });
    if (made) firstOperator = { login: made.operator.login, password: made.password };
  }

  // Late bounces and complaints come back to the HTTP nodes (the MX of BOUNCE_DOMAIN points at them).
  let bouncePort: number | undefined;
  if (opts.bounces ?? opts.http !== false) {
    const { startBounceListener } = await import('./bounces/listener.js');
    const listener = await startBounceListener({
      core,
      secret: services.secret,
      bounceDomain: config.bounceDomain,
      host: config.HOST,
      port: config.BOUNCE_SMTP_PORT,
      logger,
    });
    bouncePort = listener.port;
    stops.push(() => listener.stop());
  }

  // A process without HTTP: /metrics and /healthz on METRICS_PORT when it is set.
  let metricsUrl: string | undefined;
  if ((opts.metricsServer ?? opts.http === false) && config.METRICS_PORT !== undefined) {
    const { startMetricsServer } = await import('./metrics/server.js');
    const server = await startMetricsServer({
      metrics,
      health: core.health,
      token: config.METRICS_TOKEN,
      host: config.HOST,
      port: config.METRICS_PORT,
      logger,
    });
    const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? 'localhost' : config.HOST;
    metricsUrl = `http://${host}:${server.port}`;
    stops.push(() => server.stop());
  }

  let captureUrl: string | undefined;
  if (opts.worker !== false) {
    const worker = await startSendWorker(services, { relayUrls, metrics });
    // The worker stops after HTTP (no new work).
    stops.push(() => worker.stop());
    if (!relayUrls.length) captureUrl = worker.captureUrl;
  }

  return {
    services,
    url,
    ...(captureUrl ? { captureUrl } : {}),
    ...(bouncePort !== undefined ? { bouncePort } : {}),
    ...(metricsUrl ? { metricsUrl } : {}),
    ...(firstKey ? { firstKey } : {}),
    ...(firstOperator ? { firstOperator } : {}),
    metrics,
    async stop() {
      for (const stop of stops) await stop().catch((e: unknown) => logger.warn({ err: e }, 'shutdown step failed'));
    },
  };
}

/**
 * The send worker and what it runs on: the repos, graphile-worker's own pool, the SMTP capture, the relays of
 * `relayUrls` (none: every message goes to the capture), the testing server of TESTING_SMTP_URL (none: testing
 * mailings go to the capture) and the installation's DKIM signer.
 */
export async function startSendWorker(services: Services, opts: { relayUrls: string[]; workerId?: string; metrics?: Metrics }): Promise<RunningWorker> {
  const { config, pool } = services;
  const [{ startWorker }, { startCapture }, { makeRelays }, { dkimSigner }, { deliveryRepo }] = await Promise.all([
    import('./worker/index.js'),
    import('./capture/server.js'),
    import('./worker/smtp.js'),
    import('./worker/dkim.js'),
    import('./db/delivery.js'),
  ]);
  const logger = services.logger.child({ component: 'worker' });
  // Read before anything is started: a missing key file stops the start with nothing to clean up.
  const dkim =
    config.DKIM_DOMAIN && config.DKIM_SELECTOR && config.DKIM_PRIVATE_KEY_FILE
      ? dkimSigner({ domain: config.DKIM_DOMAIN, selector: config.DKIM_SELECTOR, privateKey: readFileSync(config.DKIM_PRIVATE_KEY_FILE, 'utf8') })
      : undefined;
  const capture = await startCapture({ captured: services.store.captured, logger, port: config.CAPTURE_SMTP_PORT });
  let relays: ReturnType<typeof makeRelays>;
  try {
    relays = makeRelays(
      { relays: opts.relayUrls, capture: capture.url, testing: config.TESTING_SMTP_URL },
      { maxConnections: config.SMTP_MAX_CONNECTIONS, maxMessages: config.SMTP_MAX_MESSAGES, rate: config.SMTP_RATE, timeoutMs: config.SMTP_TIMEOUT_MS },
      logger,
    );
  } catch (e) {
    await capture.stop();
    throw e;
  }
  opts.metrics?.watchRelays(() => relays.status());
  // From here on the worker owns the capture, the relays and this pool (it closes them, also when its start fails).
  return await startWorker({
    config,
    logger,
    delivery: deliveryRepo(pool),
    workers: services.store.workers,
    manager: services.store.manager,
    store: services.store,
    // graphile-worker's own pool, made here and ended by the worker: the pool it would make itself is ended
    // without waiting and loses its error handlers on stop, so a connection still closing when Postgres stops
    // crashed the process.
    jobsPool: makePool(services.databaseUrl, config.WORKER_CONCURRENCY + 2),
    capture,
    relays,
    relayCount: opts.relayUrls.length,
    secret: services.secret,
    dkim,
    ...(opts.workerId ? { workerId: opts.workerId } : {}),
    ...(opts.metrics ? { observer: opts.metrics.sendObserver } : {}),
  });
}

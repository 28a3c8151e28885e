/**
 * `mailgate serve --processes N` (node:cluster): N HTTP processes answering on one port, beside a primary that
 * owns everything that must run once per node.
 *
 * The primary opens the database (it starts the embedded Postgres), migrates, runs the send worker with its SMTP
 * capture and sweeps, and the bounce listener; it makes the first key and operator and prints the banner. It
 * serves no request itself: node:cluster's round-robin hands it each new connection to pass to a child. Kept in
 * the primary, the worker lives as long as the database it needs and a crashed HTTP process never takes a send
 * with it; a replaced child only starts HTTP again.
 *
 * The children (httpProcess) serve every dialect, /healthz and /metrics. What they share goes through the
 * primary over cluster IPC (messages tagged `mailgate`):
 *  - the auth and login failure limiters: each failure or success is told to every other child (compose.ts
 *    sharedLimiter), so the limits hold per node;
 *  - GET /metrics: the primary asks every child and itself for its registry and answers the sum.
 * Per process, and right so: the API key cache (each child LISTENs for key changes itself), the transactional
 * wake window (each child wakes after its own commits; src/core/transactional/wake.ts's invariant is per
 * process), /healthz (it answers for the process that answers and reads the node's state from Postgres). Admin
 * sessions and tracking judgements live in Postgres; the login form's CSRF token is a double-submit cookie.
 */
import type { Worker } from 'node:cluster';
import type { Config } from '../config.js';
import type { Gateway, LimiterEvent, NodePeers, Services } from '../compose.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/index.js';

/** The signals a process stops on (as serve.ts). */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** How long the primary waits for a child's registry in a scrape: a child stuck or dying is left out of it. */
const COLLECT_MS = 5_000;
/** How long a child waits for the node's scrape from the primary before answering 500. */
const SCRAPE_MS = 15_000;
/** A replacement that ended before it was ready is started again after this, not at once (no busy loop). */
const RESTART_DELAY_MS = 1_000;

type MetricsJson = Awaited<ReturnType<Metrics['registry']['getMetricsAsJSON']>>;

/** What the primary and its children say to each other. */
type Message =
  | { mailgate: 'hello' }
  | { mailgate: 'start'; databaseUrl: string }
  | { mailgate: 'ready'; url: string }
  | { mailgate: 'limiter'; event: LimiterEvent }
  | { mailgate: 'scrape'; id: number }
  | { mailgate: 'scraped'; id: number; text?: string }
  | { mailgate: 'collect'; id: number }
  | { mailgate: 'collected'; id: number; metrics: MetricsJson };

const isMessage = (m: unknown): m is Message => typeof m === 'object' && m !== null && typeof (m as { mailgate?: unknown }).mailgate === 'string';

export interface HttpProcesses {
  /** The URL the children answer at. */
  url: string;
  /** The primary's own registry (its worker's counters), summed into every scrape. */
  addMetrics(metrics: Metrics): void;
  /** Every child stopped: each stops accepting, finishes what it serves and exits. */
  stop(): Promise<void>;
}

/**
 * `count` HTTP processes, resolved once every one of them answers on the port; rejected (the others stopped) when
 * one ends before that. From then on a child that ends is replaced, until stop().
 */
export async function startHttpProcesses(o: { count: number; databaseUrl: string; logger: Logger }): Promise<HttpProcesses> {
  const [{ default: cluster }, { AggregatorRegistry }] = await Promise.all([import('node:cluster'), import('prom-client')]);
  const { logger } = o;
  const live = new Set<Worker>();
  /** Children that asked for their start: they listen for messages. */
  const talking = new Set<Worker>();
  /** Children that answer on the port. */
  const ready = new Set<Worker>();
  let own: Metrics | undefined;
  let stopping = false;
  let started = false;
  let url = '';
  let seq = 0;
  let startFailed: (e: Error) => void = () => undefined;
  let oneReady: () => void = () => undefined;

  const send = (w: Worker, m: Message) => {
    if (w.isConnected()) w.send(m, (e: Error | null) => e && logger.debug({ err: e, httpProcess: w.process.pid }, 'message to an HTTP process lost'));
  };

  /** One child's registry, or nothing when it does not answer in COLLECT_MS (or ends meanwhile). */
  const collect = (w: Worker) =>
    new Promise<MetricsJson | undefined>((resolve) => {
      const id = ++seq;
      const done = (v: MetricsJson | undefined) => {
        clearTimeout(timer);
        w.off('message', onMessage);
        w.off('exit', onExit);
        resolve(v);
      };
      const onMessage = (m: unknown) => {
        if (isMessage(m) && m.mailgate === 'collected' && m.id === id) done(m.metrics);
      };
      const onExit = () => done(undefined);
      const timer = setTimeout(() => done(undefined), COLLECT_MS);
      w.on('message', onMessage);
      w.once('exit', onExit);
      send(w, { mailgate: 'collect', id });
    });

  const scrape = async () => {
    const parts = await Promise.all([...ready].map(collect));
    if (own) parts.push(await own.registry.getMetricsAsJSON());
    return await AggregatorRegistry.aggregate(parts.filter((p): p is MetricsJson => p !== undefined)).metrics();
  };

  const fork = () => {
    const w = cluster.fork();
    const pid = w.process.pid;
    live.add(w);
    w.on('message', (m: unknown) => {
      if (!isMessage(m)) return;
      switch (m.mailgate) {
        case 'hello':
          talking.add(w);
          send(w, { mailgate: 'start', databaseUrl: o.databaseUrl });
          break;
        case 'ready':
          ready.add(w);
          url ||= m.url;
          logger.info({ httpProcess: pid }, 'HTTP process ready');
          oneReady();
          break;
        case 'limiter':
          for (const other of talking) if (other !== w) send(other, m);
          break;
        case 'scrape':
          scrape().then(
            (text) => send(w, { mailgate: 'scraped', id: m.id, text }),
            (e: unknown) => {
              logger.warn({ err: e }, 'metrics of the node not gathered');
              send(w, { mailgate: 'scraped', id: m.id });
            },
          );
          break;
      }
    });
    w.on('exit', (code, signal) => {
      const wasReady = ready.has(w);
      live.delete(w);
      talking.delete(w);
      ready.delete(w);
      if (stopping) return;
      if (!started) {
        startFailed(new Error(`an HTTP process ended while starting (${signal ?? `exit code ${code}`})`));
        return;
      }
      logger.warn({ httpProcess: pid, code, signal }, 'HTTP process ended; starting another');
      if (wasReady) fork();
      else setTimeout(() => stopping || fork(), RESTART_DELAY_MS);
    });
  };

  const stop = async () => {
    stopping = true;
    const exits = [...live].map(
      (w) => new Promise<void>((resolve) => (w.process.exitCode !== null || w.process.signalCode !== null ? resolve() : w.once('exit', () => resolve()))),
    );
    // SIGTERM, not a message: a child still loading has no listener yet, and its default action is the right one.
    for (const w of live) w.process.kill('SIGTERM');
    await Promise.all(exits);
  };

  try {
    await new Promise<void>((resolve, reject) => {
      startFailed = reject;
      oneReady = () => ready.size === o.count && resolve();
      for (let i = 0; i < o.count; i++) fork();
    });
  } catch (e) {
    await stop();
    throw e;
  }
  started = true;
  return {
    url,
    addMetrics(metrics) {
      own = metrics;
    },
    stop,
  };
}

/**
 * One HTTP process of `serve --processes`: it asks the primary for the database, serves until a signal (the
 * primary's SIGTERM, or a terminal's SIGINT sent to the whole group), then stops accepting, finishes what it
 * serves and exits 0.
 */
export async function httpProcess(config: Config, logger: Logger): Promise<void> {
  const tell = (m: Message) => process.send?.(m);
  let stopSignal: string | undefined;
  let onSignal = (signal: string) => void (stopSignal ??= signal);
  for (const signal of SIGNALS) {
    process.removeAllListeners(signal);
    process.on(signal, () => onSignal(signal));
  }

  const heard: ((e: LimiterEvent) => void)[] = [];
  const scrapes = new Map<number, (text: string | undefined) => void>();
  /** This process's registry for the primary's sum: empty until the gateway runs. */
  let ownMetrics = (): Promise<MetricsJson> => Promise.resolve([]);
  let seq = 0;
  const start = new Promise<string>((resolve) => {
    process.on('message', (m: unknown) => {
      if (!isMessage(m)) return;
      switch (m.mailgate) {
        case 'start':
          resolve(m.databaseUrl);
          break;
        case 'limiter':
          for (const fn of heard) fn(m.event);
          break;
        case 'scraped':
          scrapes.get(m.id)?.(m.text);
          break;
        case 'collect':
          void ownMetrics().then((json) => tell({ mailgate: 'collected', id: m.id, metrics: json }));
          break;
      }
    });
  });
  tell({ mailgate: 'hello' });
  const databaseUrl = await start;

  const peers: NodePeers = {
    tell: (event) => tell({ mailgate: 'limiter', event }),
    heard: (fn) => void heard.push(fn),
    scrape: () =>
      new Promise<string>((resolve, reject) => {
        const id = ++seq;
        const timer = setTimeout(() => answered(undefined), SCRAPE_MS);
        const answered = (text: string | undefined) => {
          clearTimeout(timer);
          scrapes.delete(id);
          if (text === undefined) reject(new Error('the primary did not gather the metrics of the node'));
          else resolve(text);
        };
        scrapes.set(id, answered);
        tell({ mailgate: 'scrape', id });
      }),
  };

  const { buildServices, startGateway } = await import('../compose.js');
  // The primary migrated before forking.
  const services: Services = await buildServices(config, logger, databaseUrl, { migrate: false });
  let gateway: Gateway;
  try {
    gateway = await startGateway(services, { http: true, worker: false, bounces: false, bootstrapAccount: false, peers });
  } catch (e) {
    await services.close().catch(() => undefined);
    throw e;
  }
  ownMetrics = () => gateway.metrics.registry.getMetricsAsJSON();
  const { asStartedServer } = await import('./command.js');
  asStartedServer(logger);

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    logger.info('HTTP process stopping');
    const force = setTimeout(() => {
      logger.error('HTTP process: shutdown took over 30 s; exiting');
      process.exit(1);
    }, 30_000);
    force.unref();
    await gateway.stop();
    await services.close();
    process.exit(0);
  };
  onSignal = () => void shutdown();
  tell({ mailgate: 'ready', url: gateway.url });
  if (stopSignal) void shutdown();
}

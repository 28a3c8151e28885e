/**
 * The worker process side of the send pipeline: graphile-worker running the `send`, `webhooks` and `sweep`
 * tasks, the SMTP relays, the worker registry (heartbeat), the sweeper and the fold of recipient counts.
 *
 * Crash recovery is ours, not the queue's (graphile-worker keeps a dead worker's job locked for 4 hours):
 * every worker heartbeats in `workers` (four times per WORKER_STALE_SECONDS); the sweeper (every worker, every
 * half WORKER_STALE_SECONDS and once at start, plus a graphile-worker cron task every minute) removes workers
 * silent for more than WORKER_STALE_SECONDS, returns their leased recipients to the queue, unlocks
 * their graphile-worker jobs (force_unlock_workers, by the pool id graphile-worker locks jobs with) and
 * re-enqueues the sends they held. A killed worker's mailing resumes within about a minute.
 *
 * A worker that loses its database (Postgres restarted or unreachable) stays up; once the database answers
 * again its job runner is replaced and the work the old one held is freed (see replaceRunner), and each start
 * frees what a worker stopped during an outage left behind.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { Logger as GraphileLogger, run, type Runner, type Task, type WorkerEvents } from 'graphile-worker';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Pool } from '../db/pool.js';
import { TASKS } from '../db/jobs.js';
import type { DeliveryRepo, WorkersRepo } from '../db/delivery.js';
import type { ManagerRepo } from '../db/manager.js';
import type { Store } from '../db/store.js';
import { TASK_JOB } from '../db/tasks.js';
import { runTask } from '../core/tasks/service.js';
import type { CaptureServer } from '../capture/server.js';
import { VERSION } from '../version.js';
import type { Relays } from './smtp.js';
import { InFlight, makeSendTask, type SendObserver } from './send.js';
import { makeWebhooksTask } from './webhooks.js';
import type { MessageSettings } from './message.js';

/**
 * What a worker runs on, built by the composition root (src/compose.ts). From the call of startWorker on, the
 * worker owns `jobsPool`, `relays` and `capture`: it closes them when it stops (or fails to start), in the
 * order the pipeline needs.
 */
export interface WorkerDeps {
  config: Config;
  logger: Logger;
  delivery: DeliveryRepo;
  workers: WorkersRepo;
  manager: ManagerRepo;
  /** Sender's asynchronous bulk tasks run on it. */
  store: Store;
  /** graphile-worker's own pool (see compose.ts). */
  jobsPool: Pool;
  /** This worker's SMTP capture (testing mailings; every mailing when no relay is configured). */
  capture: CaptureServer;
  /** The relays of SMTP_URL, and the capture. */
  relays: Relays;
  /** How many relays SMTP_URL names (0: every message goes to the capture). */
  relayCount: number;
  /** Installation HMAC secret (VERP and unsubscribe tokens). */
  secret: Buffer;
  /** The installation's DKIM signer (DKIM_*), for mailings without a key of their own. */
  dkim: MessageSettings['dkim'];
  workerId?: string;
  /** Told of every batch and put-off (the process's metrics). */
  observer?: SendObserver;
}

export interface RunningWorker {
  workerId: string;
  /** This worker's SMTP capture (testing mailings; every mailing when no relay is configured). */
  captureUrl: string;
  stop(): Promise<void>;
}

/**
 * The mailing manager's graphile-worker task (a cron item, every minute): sweep dead workers, then the
 * manager's checks (deadlines, due starts, finished sends) and the purge of kept messages, settled webhook
 * messages and finished tasks past their retention.
 */
export const SWEEP_TASK = 'sweep';

declare global {
  namespace GraphileWorker {
    interface Tasks {
      sweep: unknown;
    }
  }
}

/** graphile-worker's logger, bridged to pino and kept quiet: its routine chatter goes to debug. */
function graphileLogger(logger: Logger): GraphileLogger {
  const log = logger.child({ component: 'graphile-worker' });
  return new GraphileLogger((scope) => (level, message, meta) => {
    const obj = { ...scope, ...(meta ?? {}) };
    switch (String(level)) {
      case 'error':
        return log.error(obj, message);
      case 'warning':
        return log.warn(obj, message);
      case 'info':
        return log.debug(obj, message);
      default:
        return log.trace(obj, message);
    }
  });
}

/** How long a stopping worker waits for a database that is away, to hand its work over (within serve's 30 s). */
const HANDOVER_WAIT_MS = 15_000;

/** How long a runner being replaced may take to hand its jobs over before it is abandoned (its jobs are unlocked anyway). */
const RUNNER_STOP_MS = 30_000;

/**
 * How often a worker folds recipient_counts' deltas (src/db/mailings.ts foldRecipientCounts). Every reader of a
 * mailing's counts (list_mailings, every dialect's mailing reads) sums the deltas written since the last fold:
 * a transactional campaign writes one per message and more per outcome batch, thousands a minute. Each delta
 * left unfolded cost every list_mailings call 0.6-0.9 us of Postgres CPU (measured: ~300 deltas, half of the
 * statement, at a 2 s period under the load bench); a fold with nothing to fold reads one index page, so
 * folding four times a second costs next to nothing.
 */
export const FOLD_EVERY_MS = 250;

export async function startWorker(deps: WorkerDeps): Promise<RunningWorker> {
  const { config, logger, delivery, workers, manager, store, jobsPool, capture, relays } = deps;
  const workerId = deps.workerId ?? `w-${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const inFlight = new InFlight();
  let stopping = false;
  /** True while a runner that lost its database is replaced: its send jobs hand their sends over and return. */
  let handingOver = false;
  /** Every graphile-worker pool id this worker's runners had, the current one last. */
  const poolIds: string[] = [];
  const currentPool = () => poolIds.at(-1) ?? null;

  const sweep = async (orphans = false) => {
    const swept = await workers.sweep(config.WORKER_STALE_SECONDS, { orphans });
    if (swept.length) logger.warn({ workers: swept }, 'swept silent workers: their leases and jobs are released');
    // A process that died between a transactional recipient's commit and its wake-up left it without a job.
    const woken = await manager.wakeStranded();
    if (woken) logger.debug({ sends: woken }, 'sweep: running transactional sends with recipients to send enqueued');
  };

  const send = makeSendTask({
    delivery,
    relays,
    config,
    logger,
    workerId,
    settings: { bounceDomain: config.bounceDomain, publicUrl: config.publicUrl, secret: deps.secret, dkim: deps.dkim },
    inFlight,
    isStopping: () => stopping || handingOver,
    relayCount: Math.max(1, deps.relayCount),
    ...(deps.observer ? { observer: deps.observer } : {}),
  });
  const sweepTask: Task<'sweep'> = async () => {
    await sweep();
    const r = await manager.check(null);
    if (r.expired || r.started || r.finished) logger.info(r, 'mailing manager: sends moved on');
    await manager.purgeCustomized(config.CUSTOMIZED_CONTENT_RETENTION_DAYS);
    await store.webhooks.purge(config.WEBHOOK_RETENTION_DAYS);
    await store.captured.purge(config.CAPTURE_RETENTION_DAYS);
    await store.tasks.purge(config.TASK_RETENTION_DAYS);
    await store.overview.foldSendRate();
  };

  const webhooksTask = makeWebhooksTask({
    webhooks: store.webhooks,
    logger,
    bounceDomain: config.bounceDomain,
    timeoutMs: config.WEBHOOK_TIMEOUT_SECONDS * 1000,
    policy: { scheduleSeconds: config.WEBHOOK_RETRY_SCHEDULE, disableAfterSeconds: config.WEBHOOK_DISABLE_AFTER_HOURS * 3600 },
  });

  // Asynchronous API work (Sender's bulk calls): see src/core/tasks/service.ts.
  const bulkTask: Task<typeof TASK_JOB> = async (payload) => {
    const p = payload as { taskId?: unknown; queue?: unknown } | null;
    if (typeof p?.taskId === 'string') await runTask(store, p.taskId, typeof p.queue === 'string' ? p.queue : null);
  };

  /**
   * Set when the database may have been lost under the runner (a heartbeat failed, the server restarted, a
   * pooled connection broke, the runner itself failed). graphile-worker does not recover from that by itself:
   * a job whose completion could not be written stays locked by a pool that still looks alive, and our
   * batches' leases stay taken. Once the database answers again the runner is replaced (see replaceRunner).
   */
  let lost = false;
  let dbStarted: string | null = null;
  jobsPool.on('error', () => (lost = true));

  const startRunner = async (): Promise<Runner> => {
    const events: WorkerEvents = new EventEmitter();
    events.on('pool:create', ({ workerPool }) => void poolIds.push(workerPool.id));
    const r = await run({
      pgPool: jobsPool,
      concurrency: config.WORKER_CONCURRENCY,
      noHandleSignals: true,
      logger: graphileLogger(logger),
      events,
      taskList: { [TASKS.send]: send, [TASKS.webhooks]: webhooksTask, [SWEEP_TASK]: sweepTask, [TASK_JOB]: bulkTask },
      crontab: `* * * * * ${SWEEP_TASK} ?max=1`,
    });
    r.promise.catch((e: unknown) => {
      if (runner !== r || stopping) return;
      lost = true;
      logger.error({ err: (e as Error)?.message }, 'graphile-worker runner failed; it is replaced once the database answers');
    });
    return r;
  };

  // Heartbeats carry it for /healthz: mail can leave while one relay answers.
  const relayUp = () => relays.status().some((r) => r.up);

  let runner: Runner | null = null;
  try {
    dbStarted = await workers.heartbeat(workerId, null, VERSION, relayUp());
    // A start frees what earlier runs left behind (a gateway stopped while its database was away).
    await sweep(true);
    runner = await startRunner();
  } catch (e) {
    await jobsPool.end().catch(() => undefined);
    relays.close();
    await capture.stop();
    await workers.deregister(workerId, poolIds).catch(() => undefined);
    throw e;
  }
  await workers.heartbeat(workerId, currentPool(), null, relayUp());

  /**
   * The database is back after a loss: stop the old runner (its send jobs hand their sends over; whatever it
   * cannot give back is abandoned), then, with nothing of ours running, free this worker's leases and the jobs
   * of its earlier pools, free what other lost workers left, and start a new runner. Sent batches whose
   * outcomes could not be written are the only ones sent again.
   */
  let replacing: Promise<void> | null = null;
  const replaceRunner = () =>
    (replacing ??= (async () => {
      lost = false;
      handingOver = true;
      try {
        const old = runner;
        runner = null;
        if (old) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([old.stop().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, RUNNER_STOP_MS)))]);
          clearTimeout(timer);
        }
        handingOver = false;
        // A batch of an abandoned job still on the wire keeps its leases (its outcomes may yet be written).
        const freed = await workers.release(workerId, poolIds.slice(), inFlight.all());
        await sweep(true);
        if (stopping) return;
        runner = await startRunner();
        await workers.heartbeat(workerId, currentPool(), null, relayUp());
        logger.warn(
          { workerId, leasesFreed: freed.leases, poolsUnlocked: freed.pools.length },
          'database back after a loss: job runner replaced, the work it held returned to the queue',
        );
      } catch (e) {
        // The database went away again: the next heartbeat that gets through tries again.
        lost = true;
        logger.warn({ err: (e as Error).message }, 'job runner not replaced yet: the database is not answering');
      } finally {
        handingOver = false;
        replacing = null;
      }
    })());

  // One beat at a time: a beat held up by a lock (a big mailing being deleted holds its recipients' rows)
  // must not pile up one waiting statement, and one pooled connection, every few seconds.
  let beating = false;
  let failing = false;
  const beat = async () => {
    if (beating) return;
    beating = true;
    try {
      const started = await workers.heartbeat(workerId, currentPool(), null, relayUp());
      if (started !== dbStarted) lost = true;
      dbStarted = started;
      if (failing) logger.info({ workerId }, 'worker heartbeat: the database answers again');
      failing = false;
      if ((lost || !runner) && !stopping) void replaceRunner();
      // Batches out for a third of their lease (a slow or rate-capped relay) keep their leases.
      const slow = inFlight.olderThan((config.LEASE_SECONDS * 1000) / 3);
      if (slow.length) await delivery.extendLeases(workerId, slow, config.LEASE_SECONDS);
    } catch (e) {
      lost = true;
      // Once per outage: every beat fails until the database is back.
      if (!failing) logger.warn({ err: (e as Error).message }, 'worker heartbeat failed');
      failing = true;
    } finally {
      beating = false;
    }
  };
  const heartbeat = setInterval(() => void beat(), Math.min(5_000, (config.WORKER_STALE_SECONDS * 1000) / 4));
  heartbeat.unref();
  const sweeper = setInterval(
    () => void sweep().catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'sweep failed')),
    (config.WORKER_STALE_SECONDS * 1000) / 2,
  );
  sweeper.unref();
  // One fold at a time; stop() waits for the one running (it uses the store's pool, closed after the worker).
  let folding: Promise<void> | null = null;
  let foldFailing = false;
  const fold = () =>
    (folding ??= store.mailings
      .foldRecipientCounts()
      .then(
        () => void (foldFailing = false),
        (e: unknown) => {
          // Once per outage: every fold fails until the database is back.
          if (!foldFailing) logger.warn({ err: (e as Error).message }, 'recipient counts fold failed');
          foldFailing = true;
        },
      )
      .finally(() => (folding = null)));
  const folder = setInterval(() => void fold(), FOLD_EVERY_MS);
  folder.unref();
  logger.info({ workerId, relays: deps.relayCount, capture: capture.url, concurrency: config.WORKER_CONCURRENCY }, 'worker started');

  let stopped: Promise<void> | null = null;
  return {
    workerId,
    captureUrl: capture.url,
    stop() {
      stopped ??= (async () => {
        // Running send jobs see `stopping`, finish the batch in hand, re-enqueue their send and return;
        // graphile-worker claims nothing new once its graceful shutdown has begun.
        stopping = true;
        clearInterval(heartbeat);
        clearInterval(sweeper);
        clearInterval(folder);
        await folding;
        await replacing;
        await runner?.stop().catch((e: unknown) => logger.warn({ err: (e as Error)?.message }, 'graphile-worker did not stop cleanly'));
        await jobsPool.end().catch(() => undefined);
        // Anything still leased (a job that failed mid-batch) goes back to the queue at once.
        await delivery.releaseLeases(workerId, inFlight.all()).catch(() => undefined);
        relays.close();
        // After the relays: messages still in flight to the capture land first.
        await capture.stop();
        // With the row go this worker's leases and its pools' jobs (locked ones a lost database left behind).
        // A stop while the database is away (being restarted, say) waits a little for it: handed over now,
        // the work resumes at the next start instead of when this worker's row goes stale.
        const until = Date.now() + HANDOVER_WAIT_MS;
        for (;;) {
          try {
            await workers.deregister(workerId, poolIds);
            break;
          } catch (e) {
            if (Date.now() >= until) {
              logger.warn({ err: (e as Error).message }, 'worker stopped without its database: its work is freed once its row goes stale');
              break;
            }
            await sleep(500);
          }
        }
        logger.info({ workerId }, 'worker stopped');
      })();
      return stopped;
    },
  };
}

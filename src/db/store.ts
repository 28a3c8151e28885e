/**
 * The repositories, bound to the pool or to one transaction. The core receives a Store and never sees SQL.
 */
import { accountsRepo, apiKeysRepo, settingsRepo } from './accounts.js';
import { enqueueSend, wakeSend } from './jobs.js';
import { mailingsRepo } from './mailings.js';
import { SQLSTATE, sqlState, transactionOn, withTransaction, type Pool, type Queryable } from './pool.js';
import { recipientsRepo } from './recipients.js';
import { unsubscribesRepo } from './unsubscribes.js';
import { managerRepo } from './manager.js';
import { workersRepo } from './delivery.js';
import { bouncesRepo, recordLateBounce, type LateBounce } from './bounces.js';
import { suppressionsRepo } from './suppressions.js';
import { listsRepo } from './lists.js';
import { reportsRepo } from './reports.js';
import { tasksRepo } from './tasks.js';
import { importsRepo } from './imports.js';
import { segmentsRepo } from './segments.js';
import { capturedRepo } from './captured.js';
import { healthRepo } from './health.js';
import { webhooksRepo } from './webhooks.js';
import { hitsRepo } from './events.js';
import { operatorsRepo, sessionsRepo } from './operators.js';
import { overviewRepo } from './overview.js';

function bind(db: Queryable) {
  return {
    accounts: accountsRepo(db),
    apiKeys: apiKeysRepo(db),
    settings: settingsRepo(db),
    mailings: mailingsRepo(db),
    recipients: recipientsRepo(db),
    bounces: bouncesRepo(db),
    lists: listsRepo(db),
    reports: reportsRepo(db),
    tasks: tasksRepo(db),
    imports: importsRepo(db),
    segments: segmentsRepo(db),
    captured: capturedRepo(db),
    operators: operatorsRepo(db),
    sessions: sessionsRepo(db),
    overview: overviewRepo(db),
    ping: async () => void (await db.query('SELECT 1')),
    jobs: {
      enqueueSend: (sendId: number, runAt: Date | null, lanes?: number, testOnly?: boolean) => enqueueSend(db, sendId, runAt, lanes, testOnly),
      wakeSend: (sendId: number, lanes?: number) => wakeSend(db, sendId, lanes),
    },
  };
}

export type Repos = ReturnType<typeof bind>;
export interface Store extends Repos {
  /** These run their own transactions (pool only). */
  unsubscribes: ReturnType<typeof unsubscribesRepo>;
  manager: ReturnType<typeof managerRepo>;
  workers: ReturnType<typeof workersRepo>;
  health: ReturnType<typeof healthRepo>;
  suppressions: ReturnType<typeof suppressionsRepo>;
  webhooks: ReturnType<typeof webhooksRepo>;
  /** Hosted tracking's opens and clicks. */
  hits: ReturnType<typeof hitsRepo>;
  bounces: ReturnType<typeof bouncesRepo> & { recordLate: (b: LateBounce) => ReturnType<typeof recordLateBounce> };
  transaction<T>(fn: (tx: Repos) => Promise<T>): Promise<T>;
  /**
   * `fn` alone for `key` across every process: a session advisory lock held on one connection for the whole
   * run, its transactions on that connection. `{ ran: false }` when another holder keeps the key for `waitMs`
   * (the lock of a killed process is released once Postgres notices its connection is gone).
   */
  exclusive<T>(key: string, waitMs: number, fn: (transaction: Transact) => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }>;
}

export type Transact = <T>(fn: (tx: Repos) => Promise<T>) => Promise<T>;

export function makeStore(pool: Pool): Store {
  return {
    ...bind(pool),
    unsubscribes: unsubscribesRepo(pool),
    manager: managerRepo(pool),
    workers: workersRepo(pool),
    health: healthRepo(pool),
    suppressions: suppressionsRepo(pool),
    webhooks: webhooksRepo(pool),
    hits: hitsRepo(pool),
    bounces: { ...bouncesRepo(pool), recordLate: (b: LateBounce) => recordLateBounce(pool, b) },
    transaction: (fn) => withTransaction(pool, (client) => fn(bind(client))),
    async exclusive(key, waitMs, fn) {
      const client = await pool.connect();
      try {
        try {
          await client.query(`SET lock_timeout = ${Math.max(1, Math.round(waitMs))}`);
          await client.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
        } catch (e) {
          if (sqlState(e) === SQLSTATE.lockNotAvailable) return { ran: false };
          throw e;
        } finally {
          await client.query('RESET lock_timeout').catch(() => undefined);
        }
        try {
          const transact: Transact = (f) => transactionOn(client, (c) => f(bind(c)));
          return { ran: true, value: await fn(transact) };
        } finally {
          await client.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).catch(() => undefined);
        }
      } finally {
        client.release();
      }
    },
  };
}

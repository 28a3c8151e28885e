/**
 * The repositories, bound to the pool or to one transaction. The core receives a Store and never sees SQL.
 */
import { accountsRepo, apiKeysRepo, settingsRepo } from './accounts.js';
import { enqueueSend } from './jobs.js';
import { mailingsRepo } from './mailings.js';
import { withTransaction, type Pool, type Queryable } from './pool.js';
import { recipientsRepo } from './recipients.js';
import { unsubscribesRepo } from './unsubscribes.js';
import { managerRepo } from './manager.js';
import { workersRepo } from './delivery.js';
import { bouncesRepo, recordLateBounce, type LateBounce } from './bounces.js';
import { suppressionsRepo } from './suppressions.js';
import { listsRepo } from './lists.js';
import { reportsRepo } from './reports.js';
import { tasksRepo } from './tasks.js';

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
    jobs: {
      enqueueSend: (sendId: number, runAt: Date | null, lanes?: number, testOnly?: boolean) => enqueueSend(db, sendId, runAt, lanes, testOnly),
    },
  };
}

export type Repos = ReturnType<typeof bind>;
export interface Store extends Repos {
  /** These run their own transactions (pool only). */
  unsubscribes: ReturnType<typeof unsubscribesRepo>;
  manager: ReturnType<typeof managerRepo>;
  workers: ReturnType<typeof workersRepo>;
  suppressions: ReturnType<typeof suppressionsRepo>;
  bounces: ReturnType<typeof bouncesRepo> & { recordLate: (b: LateBounce) => ReturnType<typeof recordLateBounce> };
  transaction<T>(fn: (tx: Repos) => Promise<T>): Promise<T>;
}

export function makeStore(pool: Pool): Store {
  return {
    ...bind(pool),
    unsubscribes: unsubscribesRepo(pool),
    manager: managerRepo(pool),
    workers: workersRepo(pool),
    suppressions: suppressionsRepo(pool),
    bounces: { ...bouncesRepo(pool), recordLate: (b: LateBounce) => recordLateBounce(pool, b) },
    transaction: (fn) => withTransaction(pool, (client) => fn(bind(client))),
  };
}

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

function bind(db: Queryable) {
  return {
    accounts: accountsRepo(db),
    apiKeys: apiKeysRepo(db),
    settings: settingsRepo(db),
    mailings: mailingsRepo(db),
    recipients: recipientsRepo(db),
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
  transaction<T>(fn: (tx: Repos) => Promise<T>): Promise<T>;
}

export function makeStore(pool: Pool): Store {
  return {
    ...bind(pool),
    unsubscribes: unsubscribesRepo(pool),
    manager: managerRepo(pool),
    workers: workersRepo(pool),
    transaction: (fn) => withTransaction(pool, (client) => fn(bind(client))),
  };
}

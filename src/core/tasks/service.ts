/**
 * Asynchronous bulk work (Sender's `subscription/bulk` PUT and DELETE): the call is checked whole when it is
 * made (at most BULK_MAX items, every address valid, the list known: else nothing is queued), answered at once
 * with a task id, and applied by a worker in one transaction (all of it or none), in call order per list.
 * A task that fails says why in its result and changes nothing.
 *
 * Revisions (`rev`): every subscriber written by a bulk PUT carries the call's revision; a call without one
 * gets a new revision of the list. `disable_others` disables the list's subscribers of earlier revisions, so a
 * client that uploads its whole list in calls of one revision, the last with `disable_others`, ends with
 * exactly that list enabled.
 */
import type { CallContext } from '../context.js';
import { emailKey, isValidEmail } from '../email.js';
import { badRequest, DomainError, invalid, notFound } from '../errors.js';
import type { Repos, Store } from '../../db/store.js';
import type { NewSubscriber, StoredItem } from '../../db/lists.js';
import type { TaskRow, TaskState } from '../../db/tasks.js';

export type { TaskRow, TaskState };

/** Most items one bulk call may carry (Sender's documented limit). */
export const BULK_MAX = 1000;

export interface PutParams {
  listId: number;
  rev: number;
  disableOthers: boolean;
  items: NewSubscriber[];
}
/**
 * A bulk PUT as its task stores it: the revision is the task's column (see placePut in src/db/tasks.ts), the
 * items in their short stored form (StoredItem: a thousand of them cross to Postgres and are parsed there).
 */
type StoredPut = Omit<PutParams, 'rev' | 'items'> & { items: StoredItem[] };
/** A bulk PUT task's params as a started task has them: without its items, which stay in the database. */
type PutHead = Omit<StoredPut, 'items'>;
const headOf = (t: TaskRow): PutHead => t.params as unknown as PutHead;
interface DeleteParams {
  listId: number;
  emailKeys: string[];
}

const queueOf = (listId: number) => `list:${listId}`;

function checkCount(n: number): void {
  if (n === 0) throw invalid('items: at least one item is required', 'items');
  if (n > BULK_MAX) throw badRequest(`items: at most ${BULK_MAX} items in one call, got ${n}`);
}

/** Item `i`'s address, trimmed; INVALID_ARGUMENT (field `items`) when it has none or a bad one. */
export function address(item: { email: unknown }, i: number): string {
  const email = typeof item.email === 'string' ? item.email.trim() : '';
  if (!email) throw invalid(`items[${i}]: an email address is required`, 'items');
  if (!isValidEmail(email)) throw invalid(`items[${i}]: invalid email address: ${JSON.stringify(item.email)}`, 'items');
  return email;
}

export function tasksService(deps: { store: Store }) {
  const { store } = deps;
  async function listOf(ctx: CallContext, listId: number): Promise<void> {
    if (!(await store.lists.exists(ctx.accountId, listId))) throw notFound('list', listId);
  }
  return {
    async bulkPut(
      ctx: CallContext,
      listId: number,
      items: readonly { email: unknown; params?: Record<string, unknown> }[],
      o: { rev?: number | null; disableOthers?: boolean },
    ): Promise<{ taskId: string; rev: number }> {
      checkCount(items.length);
      const rows: StoredItem[] = items.map((item, i) => {
        const email = address(item, i);
        const key = emailKey(email);
        return key === email ? { email, params: item.params ?? {} } : { email, emailKey: key, params: item.params ?? {} };
      });
      if (o.rev !== undefined && o.rev !== null && (!Number.isSafeInteger(o.rev) || o.rev < 0)) throw invalid('rev: a non-negative integer', 'rev');
      await listOf(ctx, listId);
      // The list's revision moves with the task or not at all: a task the database refuses (a value it cannot
      // store) leaves the list as it was. It is taken last (placePut), after the task's insert.
      return await store.transaction(async (tx) => {
        const params: StoredPut = { listId, disableOthers: o.disableOthers ?? false, items: rows };
        const taskId = await tx.tasks.create(ctx.accountId, 'subscribers.put', { ...params }, queueOf(listId));
        const rev = await tx.tasks.placePut(ctx.accountId, listId, taskId, o.rev ?? null);
        if (rev === undefined) throw notFound('list', listId);
        return { taskId, rev };
      });
    },

    async bulkDelete(ctx: CallContext, listId: number, items: readonly { email: unknown }[]): Promise<{ taskId: string }> {
      checkCount(items.length);
      const emailKeys = items.map((item, i) => emailKey(address(item, i)));
      await listOf(ctx, listId);
      const params: DeleteParams = { listId, emailKeys };
      return { taskId: await store.tasks.create(ctx.accountId, 'subscribers.delete', { ...params }, queueOf(listId)) };
    },

    /** A task's state (no params: see get in src/db/tasks.ts); NOT_FOUND when the account has no such task. */
    async get(ctx: CallContext, id: string): Promise<TaskState> {
      const t = await store.tasks.get(ctx.accountId, id);
      if (!t) throw notFound('task', id);
      return t;
    },
  };
}
export type TasksService = ReturnType<typeof tasksService>;

/**
 * A bulk PUT applied, in the caller's transaction: a task's, or one batch of a CSV import (the same statement
 * and the same counts). An address given twice is written once, its last params winning.
 */
export async function applyPut(
  tx: Repos,
  accountId: number,
  p: PutParams,
): Promise<{ rev: number; items: number; inserted: number; updated: number; disabled_others: number }> {
  const w = await tx.lists.upsertMany(accountId, p.listId, p.items, { reenable: true, rev: p.rev });
  const disabled = p.disableOthers ? await tx.lists.disableOthers(p.listId, p.rev) : 0;
  return { rev: p.rev, items: p.items.length, inserted: w.inserted, updated: w.updated, disabled_others: disabled };
}

/**
 * A bulk PUT task applied, in the caller's transaction, from the items it stored (the same upsert as applyPut,
 * without bringing them into the gateway): the task's result.
 */
async function putTask(
  tx: Repos,
  t: TaskRow,
  disableOthers: boolean,
): Promise<{ rev: number; items: number; inserted: number; updated: number; disabled_others: number }> {
  const { listId } = headOf(t);
  const rev = t.rev!;
  const w = await tx.lists.upsertFromTask(t.account_id, listId, t.id, { rev, reenable: true });
  const disabled = disableOthers ? await tx.lists.disableOthers(listId, rev) : 0;
  return { rev, items: w.items, inserted: w.inserted, updated: w.updated, disabled_others: disabled };
}

type Handler = (tx: Repos, t: TaskRow) => Promise<Record<string, unknown>>;

const HANDLERS: Record<string, Handler> = {
  async 'subscribers.put'(tx, t) {
    const p = headOf(t);
    if (!(await tx.lists.exists(t.account_id, p.listId))) throw new DomainError('NOT_FOUND', `list ${p.listId} was deleted`);
    return { ...(await putTask(tx, t, p.disableOthers)) };
  },
  async 'subscribers.delete'(tx, t) {
    const p = t.params as unknown as DeleteParams;
    if (!(await tx.lists.exists(t.account_id, p.listId))) throw new DomainError('NOT_FOUND', `list ${p.listId} was deleted`);
    const r = await tx.lists.disable(t.account_id, p.listId, p.emailKeys);
    return {
      items: p.emailKeys.length,
      disabled: r.filter((x) => x === 'disabled').length,
      already_disabled: r.filter((x) => x === 'already').length,
      not_in_list: r.filter((x) => x === 'absent').length,
    };
  },
};

/** Most time one job spends running the tasks queued behind its own (see runTask). */
const DRAIN_MS = 20_000;
/** Tasks taken at once from a queue; consecutive bulk PUTs among them are applied together (see applyRun). */
const DRAIN_BATCH = 10;

/**
 * Runs one task (the worker's `task` job): each task is started, then applied with its success in one
 * transaction; a failure is recorded with its reason and nothing of the task stays applied; a task already
 * done is left alone. A task of a queue is run in the queue's order (seq), not first: its job may come
 * before the job of a task placed ahead of it (jobs are added with the task's insert, the place is taken at
 * the end of the call's transaction: see placePut in src/db/tasks.ts). So the job runs the queue's pending
 * tasks in order until its own is done, then goes on for up to DRAIN_MS, even when its own task had been run
 * that way already: graphile-worker would otherwise find the queue still locked by the finishing job and wait
 * for its next poll before each task, and a list's thousand bulk calls would spend most of their time
 * waiting. The jobs of the tasks run here find them done. A task of no queue runs alone.
 */
export async function runTask(store: Store, id: string, queue: string | null): Promise<void> {
  let q = queue;
  if (!q) {
    const t = await store.tasks.start(id);
    if (t) await runOne(store, t);
    q = t?.queue ?? null;
    if (!q) return;
  }
  // Its own task comes in its turn: it is committed, so the tasks before it are finite. Past DRAIN_MS the
  // database says whether it is still to run (a retried job's task is done already).
  let own = q === queue;
  const until = Date.now() + DRAIN_MS;
  for (;;) {
    if (Date.now() >= until && (!own || !(await store.tasks.unfinished(id)))) return;
    const next = await store.tasks.startNext(q, DRAIN_BATCH);
    if (!next.length) return;
    if (next.some((t) => t.id === id)) own = false;
    for (const run of runsOf(next)) {
      if (run.length > 1 && (await applyRun(store, run))) continue;
      for (const one of run) await runOne(store, one);
    }
  }
}

/** One started task, applied and finished in one transaction, or failed with its reason. */
async function runOne(store: Store, t: TaskRow): Promise<void> {
  const handler = HANDLERS[t.kind];
  try {
    if (!handler) throw new Error(`unknown task kind ${t.kind}`);
    await store.transaction(async (tx) => {
      const result = await handler(tx, t);
      await tx.tasks.finish(t.id, 'success', result);
    });
  } catch (e) {
    await store.tasks.finish(t.id, 'failure', { error: e instanceof Error ? e.message : String(e) });
  }
}

/**
 * Tasks in order, cut into runs that may be applied as one: consecutive bulk PUTs of one list, of which only
 * the last may disable the others. Anything else is a run of its own.
 */
function runsOf(tasks: TaskRow[]): TaskRow[][] {
  const runs: TaskRow[][] = [];
  for (const t of tasks) {
    const last = runs.at(-1);
    const prev = last?.at(-1);
    const p = t.params as unknown as PutHead;
    const q = prev?.params as unknown as PutHead | undefined;
    const joins = t.kind === 'subscribers.put' && prev?.kind === 'subscribers.put' && p.listId === q!.listId && !q!.disableOthers;
    if (joins) last!.push(t);
    else runs.push([t]);
  }
  return runs;
}

/**
 * Consecutive bulk PUTs applied in one transaction (one commit, one update of the tasks' results, and one wake
 * of the queue, for several calls), each by its own statement in call order: the same statements, so the same
 * end state and the same counts, as one transaction each. Only the last may disable the others (runsOf).
 * False, with nothing applied, when one fails: the caller then runs each task alone, so one task's failure
 * stays its own.
 */
async function applyRun(store: Store, run: TaskRow[]): Promise<boolean> {
  const listId = headOf(run[0]!).listId;
  const accountId = run[0]!.account_id;
  try {
    await store.transaction(async (tx) => {
      if (!(await tx.lists.exists(accountId, listId))) throw new DomainError('NOT_FOUND', `list ${listId} was deleted`);
      const done: { id: string; result: Record<string, unknown> }[] = [];
      for (const t of run) done.push({ id: t.id, result: { ...(await putTask(tx, t, headOf(t).disableOthers)) } });
      await tx.tasks.succeedAll(done);
    });
    return true;
  } catch {
    return false;
  }
}

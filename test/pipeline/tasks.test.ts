/**
 * Bulk tasks as the worker's `task` job runs them (runTask, on a real database; no worker running, so the
 * tasks wait until the test runs them): consecutive calls applied together with each its own counts, a
 * deleted list failing every task with its reason and storing nothing, and the order kept after a crash left
 * a task half run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runTask } from '../../src/core/tasks/service.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway();
});
after(async () => {
  await gw?.stop();
});

const ctx = () => gw.core.accounts.operatorContext('acme');
const items = (prefix: string, n: number, params: Record<string, unknown> = {}) =>
  Array.from({ length: n }, (_, i) => ({ email: `${prefix}${i}@tasks.test`, params }));
const state = async (id: string) => (await gw.pool.query('SELECT status, result FROM tasks WHERE id = $1', [id])).rows[0] as { status: string; result: any };

describe('bulk tasks, as the worker runs them', () => {
  it('pending calls of one list run in order from one job, each told what it did, the later disable_others last', async () => {
    const c = await ctx();
    const list = await gw.core.lists.createWithSlug(c, { slug: 'grouped' });
    const rev = 7;
    const t = [
      await gw.core.tasks.bulkPut(c, list, items('a', 30, { n: 0, from0: true }), { rev }),
      await gw.core.tasks.bulkPut(c, list, [...items('a', 10, { n: 1 }), ...items('b', 5)], { rev }),
      await gw.core.tasks.bulkDelete(c, list, items('b', 2)),
      await gw.core.tasks.bulkPut(c, list, items('b', 5, { n: 3 }), { rev, disableOthers: true }),
    ];
    await runTask(gw.services.store, t[0]!.taskId, `list:${list}`);
    assert.deepEqual(await Promise.all(t.map(async (x) => (await state(x.taskId)).status)), ['success', 'success', 'success', 'success']);
    assert.deepEqual((await state(t[0]!.taskId)).result, { rev, items: 30, inserted: 30, updated: 0, disabled_others: 0 });
    assert.deepEqual((await state(t[1]!.taskId)).result, { rev, items: 15, inserted: 5, updated: 10, disabled_others: 0 });
    assert.equal((await state(t[2]!.taskId)).result.disabled, 2);
    assert.deepEqual((await state(t[3]!.taskId)).result, { rev, items: 5, inserted: 0, updated: 5, disabled_others: 0 });
    const [a0] = await gw.core.lists.subscribers(c, { email: 'a0@tasks.test' }, list);
    assert.deepEqual(a0!.params, { n: 1, from0: true }, 'merged in call order');
    assert.equal((await gw.core.lists.subscribers(c, { email: 'b0@tasks.test' }, list))[0]!.enabled, true, 're-enabled by the later PUT');
  });

  it('calls of different revisions go together too: each address keeps the revision of its last call; the last disable_others sees them', async () => {
    const c = await ctx();
    const list = await gw.core.lists.createWithSlug(c, { slug: 'revisions' });
    const old = await gw.core.tasks.bulkPut(c, list, items('r', 6), {});
    await runTask(gw.services.store, old.taskId, null);
    const t = [await gw.core.tasks.bulkPut(c, list, items('r', 2), {}), await gw.core.tasks.bulkPut(c, list, items('s', 2), {})];
    const last = await gw.core.tasks.bulkPut(c, list, items('s', 1), { rev: t[1]!.rev, disableOthers: true });
    await runTask(gw.services.store, t[0]!.taskId, `list:${list}`);
    const { rows } = await gw.pool.query('SELECT email, rev::int, enabled FROM subscribers WHERE list_id = $1 ORDER BY email', [list]);
    const r1 = t[0]!.rev;
    const r2 = t[1]!.rev;
    assert.ok(old.rev < r1 && r1 < r2);
    assert.deepEqual(
      rows.map((r) => [r.email, r.rev, r.enabled]),
      [
        ['r0@tasks.test', r1, false],
        ['r1@tasks.test', r1, false],
        ['r2@tasks.test', old.rev, false],
        ['r3@tasks.test', old.rev, false],
        ['r4@tasks.test', old.rev, false],
        ['r5@tasks.test', old.rev, false],
        ['s0@tasks.test', r2, true],
        ['s1@tasks.test', r2, true],
      ],
    );
    assert.equal((await state(last.taskId)).result.disabled_others, 6);
  });

  it('a job that comes before the job of a task placed ahead of it runs the queue in order, its own task in its turn', async () => {
    const c = await ctx();
    const list = await gw.core.lists.createWithSlug(c, { slug: 'placed' });
    const first = await gw.core.tasks.bulkPut(c, list, items('p', 3, { n: 1 }), {});
    const second = await gw.core.tasks.bulkPut(c, list, items('p', 3, { n: 2 }), {});
    assert.ok(first.rev < second.rev);
    // The second call's job first: as when its insert (and job) came first but its revision second.
    await runTask(gw.services.store, second.taskId, `list:${list}`);
    assert.deepEqual((await state(first.taskId)).result, { rev: first.rev, items: 3, inserted: 3, updated: 0, disabled_others: 0 });
    assert.deepEqual((await state(second.taskId)).result, { rev: second.rev, items: 3, inserted: 0, updated: 3, disabled_others: 0 });
    const { rows } = await gw.pool.query('SELECT params, rev::int FROM subscribers WHERE list_id = $1 AND email = $2', [list, 'p0@tasks.test']);
    assert.deepEqual(rows, [{ params: { n: 2 }, rev: second.rev }]);
  });

  it('a list deleted while its calls wait: every task fails with the reason, nothing is stored', async () => {
    const c = await ctx();
    const list = await gw.core.lists.createWithSlug(c, { slug: 'doomed' });
    const t = [await gw.core.tasks.bulkPut(c, list, items('d', 20), {}), await gw.core.tasks.bulkPut(c, list, items('e', 20), {})];
    await gw.core.lists.delete(c, list);
    await runTask(gw.services.store, t[0]!.taskId, `list:${list}`);
    for (const x of t) assert.deepEqual(await state(x.taskId), { status: 'failure', result: { error: `list ${list} was deleted` } });
    assert.equal((await gw.pool.query('SELECT count(*)::int AS n FROM subscribers WHERE list_id = $1', [list])).rows[0].n, 0);
  });

  it('after a crash left a task started, the next job runs it before the later ones', async () => {
    const c = await ctx();
    const list = await gw.core.lists.createWithSlug(c, { slug: 'crashed' });
    const first = await gw.core.tasks.bulkPut(c, list, items('z', 3, { n: 1 }), {});
    await runTask(gw.services.store, first.taskId, null);
    const second = await gw.core.tasks.bulkPut(c, list, items('z', 3, { n: 2 }), {});
    const third = await gw.core.tasks.bulkPut(c, list, items('z', 3, { n: 3 }), {});
    // As a drain that crashed leaves it: the second marked started, not applied; the third waiting.
    await gw.pool.query(`UPDATE tasks SET status = 'started' WHERE id = $1`, [second.taskId]);
    // graphile-worker retries the crashed job: its own task is done; it goes on with the queue, in order.
    await runTask(gw.services.store, first.taskId, `list:${list}`);
    const t = [first, second, third];
    assert.equal((await state(t[1]!.taskId)).status, 'success');
    assert.equal((await state(t[2]!.taskId)).status, 'success');
    assert.equal((await gw.core.lists.subscribers(c, { email: 'z0@tasks.test' }, list))[0]!.params.n, 3);
  });
});

describe('bulk tasks applied together, as one by one', () => {
  const subscribers = async (list: number) =>
    (await gw.pool.query('SELECT email, params, status, enabled, rev::int, unsuppressed_status FROM subscribers WHERE list_id = $1 ORDER BY email', [list]))
      .rows;
  const result = async (id: string) => (await state(id)).result as Record<string, unknown>;

  it('new addresses, a known one among new ones, an address given twice, a suppressed one: the same rows and counts', async () => {
    const c = await ctx();
    await gw.core.overview.suppress('acme', 'gone@together.test', 'test');
    const calls: [{ email: string; params?: Record<string, unknown> }[], { rev: number; disableOthers?: boolean }][] = [
      // New addresses (more than one sample) and a suppressed one.
      [[...items('n', 60, { at: 1 }), { email: 'gone@together.test' }], { rev: 2 }],
      // A known address among new ones (the insert of new addresses fails and is undone), a new one given twice.
      [
        [
          { email: 'm0@tasks.test', params: { at: 2 } },
          { email: 'k1@tasks.test', params: { at: 2 } },
          { email: 'm0@tasks.test', params: { again: true } },
        ],
        { rev: 2 },
      ],
      // A known address first.
      [[{ email: 'k0@tasks.test', params: { at: 3 } }, ...items('p', 3)], { rev: 2 }],
      // New addresses given twice.
      [
        [
          { email: 'd0@tasks.test', params: { a: 1 } },
          { email: 'd0@tasks.test', params: { b: 2 } },
        ],
        { rev: 2 },
      ],
      [[{ email: 'n0@tasks.test', params: { at: 5 } }], { rev: 2, disableOthers: true }],
    ];
    const together = await gw.core.lists.createWithSlug(c, { slug: 'together' });
    const alone = await gw.core.lists.createWithSlug(c, { slug: 'alone' });
    for (const list of [together, alone])
      await runTask(gw.services.store, (await gw.core.tasks.bulkPut(c, list, items('k', 3, { old: true }), { rev: 1 })).taskId, null);

    const t: string[] = [];
    for (const [its, o] of calls) t.push((await gw.core.tasks.bulkPut(c, together, its, o)).taskId);
    await runTask(gw.services.store, t[0]!, `list:${together}`);
    const a: string[] = [];
    for (const [its, o] of calls) {
      a.push((await gw.core.tasks.bulkPut(c, alone, its, o)).taskId);
      await runTask(gw.services.store, a.at(-1)!, null);
    }

    assert.deepEqual(await Promise.all(t.map(result)), await Promise.all(a.map(result)));
    assert.deepEqual(await Promise.all(t.map(result)), [
      { rev: 2, items: 61, inserted: 61, updated: 0, disabled_others: 0 },
      { rev: 2, items: 3, inserted: 1, updated: 1, disabled_others: 0 },
      { rev: 2, items: 4, inserted: 3, updated: 1, disabled_others: 0 },
      { rev: 2, items: 2, inserted: 1, updated: 0, disabled_others: 0 },
      { rev: 2, items: 1, inserted: 0, updated: 1, disabled_others: 1 },
    ]);
    const rows = await subscribers(together);
    assert.deepEqual(rows, await subscribers(alone));
    const by = new Map(rows.map((r) => [r.email, r]));
    assert.deepEqual(by.get('m0@tasks.test').params, { again: true }, 'the last of an address given twice in one call');
    assert.deepEqual(by.get('d0@tasks.test').params, { b: 2 });
    assert.deepEqual(by.get('k1@tasks.test').params, { old: true, at: 2 });
    assert.deepEqual(by.get('n0@tasks.test').params, { at: 5 });
    assert.equal(by.get('k2@tasks.test').enabled, false, 'disabled by the last call');
    assert.equal(by.get('gone@together.test').enabled, false, 'suppressed');
    assert.notEqual(by.get('gone@together.test').status, 'active');
  });

  it('a task the database refuses fails alone: the tasks before and after it in its run are applied', async () => {
    const c = await ctx();
    const list = await gw.core.lists.createWithSlug(c, { slug: 'spoiled' });
    const t = [
      await gw.core.tasks.bulkPut(c, list, items('f', 3), {}),
      await gw.core.tasks.bulkPut(c, list, items('g', 3), {}),
      await gw.core.tasks.bulkPut(c, list, items('h', 3), {}),
    ];
    // A stored item no call can make: a status subscribers refuse (check violation).
    await gw.pool.query(`UPDATE tasks SET params = jsonb_set(params, '{items,1,status}', '"bogus"') WHERE id = $1`, [t[1]!.taskId]);
    await runTask(gw.services.store, t[0]!.taskId, `list:${list}`);
    assert.deepEqual(await Promise.all(t.map(async (x) => (await state(x.taskId)).status)), ['success', 'failure', 'success']);
    assert.match(String((await state(t[1]!.taskId)).result.error), /check constraint/);
    assert.deepEqual(
      (await subscribers(list)).map((r) => r.email),
      ['f0@tasks.test', 'f1@tasks.test', 'f2@tasks.test', 'h0@tasks.test', 'h1@tasks.test', 'h2@tasks.test'],
    );
  });

  it('an address whose domain has capitals keeps them, and its key finds it: the stored item names its key only then', async () => {
    const c = await ctx();
    const list = await gw.core.lists.createWithSlug(c, { slug: 'keyed' });
    const first = await gw.core.tasks.bulkPut(c, list, [{ email: 'Mixed@Tasks.TEST', params: { at: 1 } }, ...items('q', 2)], {});
    const stored = (await gw.pool.query(`SELECT params->'items' AS items FROM tasks WHERE id = $1`, [first.taskId])).rows[0].items;
    assert.deepEqual(stored, [
      { email: 'Mixed@Tasks.TEST', emailKey: 'Mixed@tasks.test', params: { at: 1 } },
      { email: 'q0@tasks.test', params: {} },
      { email: 'q1@tasks.test', params: {} },
    ]);
    await runTask(gw.services.store, first.taskId, null);
    const second = await gw.core.tasks.bulkPut(c, list, [{ email: 'Mixed@tasks.test', params: { at: 2 } }], {});
    await runTask(gw.services.store, second.taskId, null);
    assert.deepEqual((await state(second.taskId)).result, { rev: second.rev, items: 1, inserted: 0, updated: 1, disabled_others: 0 });
    assert.deepEqual((await gw.pool.query('SELECT email, email_key, params, status FROM subscribers WHERE list_id = $1 ORDER BY email_key', [list])).rows, [
      { email: 'Mixed@tasks.test', email_key: 'Mixed@tasks.test', params: { at: 2 }, status: 'active' },
      { email: 'q0@tasks.test', email_key: 'q0@tasks.test', params: {}, status: 'active' },
      { email: 'q1@tasks.test', email_key: 'q1@tasks.test', params: {}, status: 'active' },
    ]);
  });

  it('a task stored with every field of an item (as before the short form) applies as one stored short', async () => {
    const c = await ctx();
    const [short, full] = [await gw.core.lists.createWithSlug(c, { slug: 'short' }), await gw.core.lists.createWithSlug(c, { slug: 'full' })];
    const its = [{ email: 'Old@Form.TEST', params: { a: 1 } }, ...items('o', 3, { b: 2 })];
    const a = await gw.core.tasks.bulkPut(c, short, its, {});
    const b = await gw.core.tasks.bulkPut(c, full, its, {});
    await gw.pool.query(
      `UPDATE tasks SET params = jsonb_set(params, '{items}', (
         SELECT jsonb_agg(i || jsonb_build_object('emailKey', coalesce(i->>'emailKey', i->>'email'), 'status', 'active') ORDER BY n)
           FROM jsonb_array_elements(params->'items') WITH ORDINALITY AS e(i, n)))
        WHERE id = $1`,
      [b.taskId],
    );
    const stored = (await gw.pool.query(`SELECT params->'items'->0 AS item FROM tasks WHERE id = $1`, [b.taskId])).rows[0].item;
    assert.deepEqual(stored, { email: 'Old@Form.TEST', emailKey: 'Old@form.test', params: { a: 1 }, status: 'active' });
    for (const t of [a, b]) await runTask(gw.services.store, t.taskId, null);
    const rows = async (list: number) =>
      (await gw.pool.query('SELECT email, email_key, params, status, enabled, unsuppressed_status FROM subscribers WHERE list_id = $1 ORDER BY id', [list]))
        .rows;
    assert.deepEqual((await state(b.taskId)).result, { ...(await state(a.taskId)).result, rev: b.rev });
    assert.deepEqual(await rows(full), await rows(short));
    assert.equal((await rows(full)).length, 4);
  });
});

describe('tasks finished together (succeedAll)', () => {
  it('each task gets its own result as given and success; other tasks and an empty call change nothing', async () => {
    const c = await ctx();
    const list = await gw.core.lists.createWithSlug(c, { slug: 'finished-together' });
    const t = [
      await gw.core.tasks.bulkPut(c, list, items('u', 1), {}),
      await gw.core.tasks.bulkPut(c, list, items('v', 1), {}),
      await gw.core.tasks.bulkPut(c, list, items('w', 1), {}),
    ].map((x) => x.taskId);
    const results = [{ rev: 1, items: 2, note: 'a "quoted" \\ back\\slash, {braces}, commas, ünïcödé' }, { nested: { list: [1, 'two', null], empty: {} } }];
    await gw.services.store.tasks.succeedAll([]);
    await gw.services.store.tasks.succeedAll([
      { id: t[2]!, result: results[1]! },
      { id: t[0]!, result: results[0]! },
    ]);
    assert.deepEqual(await state(t[0]!), { status: 'success', result: results[0] });
    assert.deepEqual(await state(t[2]!), { status: 'success', result: results[1] });
    assert.deepEqual(await state(t[1]!), { status: 'pending', result: null });
  });
});

describe('a task as a status poll reads it (tasks.get)', () => {
  it('its state and result, without its params', async () => {
    const c = await ctx();
    const list = await gw.core.lists.createWithSlug(c, { slug: 'polled' });
    const { taskId, rev } = await gw.core.tasks.bulkPut(c, list, items('p', 3), {});
    const pending = await gw.core.tasks.get(c, taskId);
    assert.deepEqual([pending.id, pending.status, pending.result, pending.rev], [taskId, 'pending', null, rev]);
    assert.equal('params' in pending, false);
    await runTask(gw.services.store, taskId, null);
    const done = await gw.core.tasks.get(c, taskId);
    assert.deepEqual([done.status, done.result], ['success', { rev, items: 3, inserted: 3, updated: 0, disabled_others: 0 }]);
    assert.equal('params' in done, false);
  });
});

describe('finished tasks: items dropped, then purged after TASK_RETENTION_DAYS', () => {
  const stored = async (id: string) => (await gw.pool.query('SELECT status, params FROM tasks WHERE id = $1', [id])).rows[0] as { status: string; params: any };

  it('a finished PUT, DELETE or failed task keeps its list and result but not its items; an unfinished one keeps them', async () => {
    const c = await ctx();
    const list = await gw.core.lists.createWithSlug(c, { slug: 'dropped' });
    const put = await gw.core.tasks.bulkPut(c, list, items('d', 3), {});
    const del = await gw.core.tasks.bulkDelete(c, list, items('d', 1));
    const bad = await gw.core.tasks.bulkPut(c, list, items('e', 2), {});
    await gw.pool.query(`UPDATE tasks SET params = jsonb_set(params, '{items,0,status}', '"bogus"') WHERE id = $1`, [bad.taskId]);
    const other = await gw.core.lists.createWithSlug(c, { slug: 'kept-waiting' });
    const waiting = await gw.core.tasks.bulkPut(c, other, items('k', 2), {});
    await runTask(gw.services.store, put.taskId, `list:${list}`);
    const [p, d, b, w] = await Promise.all([put, del, bad, waiting].map((t) => stored(t.taskId)));
    assert.deepEqual([p!.status, d!.status, b!.status, w!.status], ['success', 'success', 'failure', 'pending']);
    for (const done of [p!, d!, b!]) {
      assert.equal(done.params.listId, list);
      assert.equal('items' in done.params || 'emailKeys' in done.params, false, JSON.stringify(done.params));
    }
    assert.equal(w!.params.items.length, 2);
    assert.deepEqual((await gw.core.tasks.get(c, put.taskId)).result, { rev: put.rev, items: 3, inserted: 3, updated: 0, disabled_others: 0 });
  });

  it('purge deletes the tasks finished before the retention, not the recent nor the unfinished ones', async () => {
    const c = await ctx();
    const list = await gw.core.lists.createWithSlug(c, { slug: 'purged' });
    const [old, recent, stuck] = [
      await gw.core.tasks.bulkPut(c, list, items('o', 1), {}),
      await gw.core.tasks.bulkPut(c, list, items('n', 1), {}),
      await gw.core.tasks.bulkPut(c, await gw.core.lists.createWithSlug(c, { slug: 'stuck' }), items('s', 1), {}),
    ];
    await runTask(gw.services.store, old.taskId, `list:${list}`);
    await gw.pool.query(`UPDATE tasks SET updated_at = now() - interval '31 days' WHERE id = ANY($1::uuid[])`, [[old.taskId, stuck.taskId]]);
    assert.equal(await gw.services.store.tasks.purge(30), 1);
    assert.equal(await stored(old.taskId), undefined);
    assert.equal((await stored(recent.taskId)).status, 'success');
    assert.equal((await stored(stuck.taskId)).status, 'pending');
    await assert.rejects(gw.core.tasks.get(c, old.taskId), { code: 'NOT_FOUND' });
    assert.equal(await gw.services.store.tasks.purge(30), 0);
  });

  it('the migration drops the items of tasks finished before it, and only theirs', async () => {
    const c = await ctx();
    const list = await gw.core.lists.createWithSlug(c, { slug: 'migrated' });
    const [done, waiting] = [await gw.core.tasks.bulkPut(c, list, items('m', 2), {}), await gw.core.tasks.bulkPut(c, list, items('w', 2), {})];
    // As finished by an earlier version: success, its items still stored.
    await gw.pool.query(`UPDATE tasks SET status = 'success', result = '{}' WHERE id = $1`, [done.taskId]);
    await gw.pool.query('DROP INDEX tasks_finished');
    const { up } = await import('../../migrations/20261208610000_task_retention.js');
    const knex = (await import('knex')).default({ client: 'pg', connection: gw.databaseUrl, pool: { min: 0, max: 1 } });
    try {
      await up(knex);
    } finally {
      await knex.destroy();
    }
    assert.deepEqual((await stored(done.taskId)).params, { listId: list, disableOthers: false });
    assert.equal((await stored(waiting.taskId)).params.items.length, 2);
  });
});

/**
 * The hot mailing reads run as named prepared statements (src/db/pool.ts preparedQuery): each filter shape reads
 * what it read as one unprepared statement, before and after Postgres settles on a generic plan, and a migration
 * that changes a prepared read's result columns while the gateway runs costs no call on the pool; in a transaction
 * the call fails once and its connection is not used again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mailingsRepo } from '../../src/db/mailings.js';
import { makePool, withTransaction } from '../../src/db/pool.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let gw: TestGateway;
let ctx: { accountId: number; requestId: string };
const made: number[] = [];

before(async () => {
  gw = await startTestGateway();
  ctx = { accountId: (await gw.services.store.accounts.bySlug('acme'))!.id, requestId: 't' };
  for (const [subject, owner] of [
    ['A', 'o1'],
    ['B', 'o2'],
    ['C', 'o1'],
  ] as const) {
    const id = await gw.core.mailings.create(ctx, { dialect: 'cloudmailing', fromEmail: 'news@Example.org', subject, html: '<p>x</p>' });
    await gw.pool.query('UPDATE mailings SET owner_guid = $2 WHERE id = $1', [id, owner]);
    made.push(id);
  }
});
after(async () => {
  await gw?.stop();
});

describe('prepared mailing reads', () => {
  it('read the same rows for every filter shape, past the plan cache settling on a generic plan', async () => {
    const mailings = mailingsRepo(gw.pool);
    const ids = async (f: Parameters<typeof mailings.list>[1]) => (await mailings.list(ctx.accountId, f)).map((m) => m.id);
    // Seven runs: the sixth on a connection may be the first on its generic plan.
    for (let i = 0; i < 7; i++) {
      assert.deepEqual(await ids({}), made);
      assert.deepEqual(await ids({ ownerGuids: ['o1'] }), [made[0], made[2]]);
      assert.deepEqual(await ids({ ids: [made[1]!, made[2]!], ownerGuids: ['o1'] }), [made[2]]);
      assert.deepEqual(await ids({ ids: [] }), []);
      assert.deepEqual(await ids({ domains: ['EXAMPLE.ORG'], statuses: ['filling'] }), made);
      assert.deepEqual(await ids({ satelliteGroups: ['none'] }), []);
      const page = await mailings.summaries(ctx.accountId, { listId: null }, 1, 1);
      assert.deepEqual([page.count, page.rows.map((r) => r.id)], [3, [made[1]]]);
      // Past the last page: the count still comes, with no rows.
      assert.deepEqual(await mailings.summaries(ctx.accountId, { listId: null }, 10, 5), { count: 3, rows: [] });
      const one = await mailings.summaries(ctx.accountId, { listId: null, ids: [made[0]!] }, 0, 1);
      assert.deepEqual([one.count, one.rows.map((r) => r.id)], [1, [made[0]]]);
      assert.deepEqual(await mailings.summaries(ctx.accountId, { listId: 0 }, 0, 10), { count: 0, rows: [] });
      assert.deepEqual((await mailings.totals([made[0]!])).get(made[0]!), { ready: 0, warning: 0, finished: 0, error: 0, timeout: 0, general_error: 0 });
      assert.deepEqual(await mailings.totals([]), new Map());
    }
  });

  it("survive a change of a prepared read's result columns (a column's type): on the pool at once, in a transaction after one failure", async () => {
    const pool = makePool(gw.databaseUrl, 1);
    // The listing names its columns: a column of another type changes its result's row type.
    const retype = (type: string) => gw.pool.query(`ALTER TABLE mailings ALTER COLUMN url_encoding TYPE ${type}`);
    try {
      const mailings = mailingsRepo(pool);
      const onPool = () => mailings.list(ctx.accountId, { ownerGuids: ['o2'] });
      const inTx = () => withTransaction(pool, (c) => mailingsRepo(c).list(ctx.accountId, { ownerGuids: ['o2'] }));
      const readsO2 = async (read: typeof onPool) =>
        assert.deepEqual(
          (await read()).map((m) => m.id),
          [made[1]],
        );
      await readsO2(onPool);
      await retype('varchar(100)');
      // The pool's one connection has the statement prepared: the read runs again unnamed on a new one.
      await readsO2(onPool);
      await readsO2(inTx);
      await retype('text');
      await assert.rejects(inTx(), (e: { code?: string }) => e.code === '0A000');
      // The failed transaction's connection went: the next one prepares the statement anew.
      await readsO2(inTx);
      await readsO2(onPool);
    } finally {
      await pool.end();
      await retype('text');
    }
  });
});

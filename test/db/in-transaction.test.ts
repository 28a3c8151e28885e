/**
 * What needs a transaction (src/db/pool.ts inTransaction) runs in one of its own on the pool, and inside the
 * caller's when given a transaction's client: a pool client has connect() too, and taking it for a pool tried
 * to connect it again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { inTransaction, withTransaction, type Queryable } from '../../src/db/pool.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let gw: TestGateway;
let accountId: number;

before(async () => {
  gw = await startTestGateway();
  accountId = (await gw.services.store.accounts.bySlug('acme'))!.id;
});
after(async () => {
  await gw?.stop();
});

const suppress = (db: Queryable, key: string) =>
  inTransaction(db, async (tx) => {
    const { rows } = await tx.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
    await tx.query(`INSERT INTO suppressions (account_id, email_key, email, reason) VALUES ($1, $2, $2, 'manual')`, [accountId, key]);
    return rows[0]!.xid;
  });
const suppressed = async (key: string) =>
  (await gw.pool.query('SELECT 1 FROM suppressions WHERE account_id = $1 AND email_key = $2', [accountId, key])).rowCount;

describe('inTransaction', () => {
  it('joins the caller’s transaction: rolled back with it, committed with it', async () => {
    await assert.rejects(
      withTransaction(gw.pool, async (client) => {
        const { rows } = await client.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
        assert.equal(await suppress(client, 'rolled@example.org'), rows[0]!.xid);
        throw new Error('the caller fails');
      }),
      /the caller fails/,
    );
    assert.equal(await suppressed('rolled@example.org'), 0);
    await withTransaction(gw.pool, (client) => suppress(client, 'kept@example.org'));
    assert.equal(await suppressed('kept@example.org'), 1);
  });

  it('runs in a transaction of its own on the pool', async () => {
    await suppress(gw.pool, 'pool@example.org');
    assert.equal(await suppressed('pool@example.org'), 1);
  });
});

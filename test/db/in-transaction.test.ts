/**
 * A repository method that needs a transaction (src/db/pool.ts inTransaction) runs in one of its own on the
 * pool, and inside the caller's when called on a transaction's client: a pool client has connect() too, and
 * taking it for a pool would try to connect it again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { withTransaction } from '../../src/db/pool.js';
import { suppressionsRepo } from '../../src/db/suppressions.js';
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

const suppressed = async (key: string) =>
  (await gw.pool.query('SELECT 1 FROM suppressions WHERE account_id = $1 AND email_key = $2', [accountId, key])).rowCount;

describe('inTransaction', () => {
  it('joins the caller’s transaction: rolled back with it, committed with it', async () => {
    await assert.rejects(
      withTransaction(gw.pool, async (client) => {
        assert.equal(await suppressionsRepo(client).add(accountId, 'rolled@example.org', 'rolled@example.org', 'manual', null), true);
        throw new Error('the caller fails');
      }),
      /the caller fails/,
    );
    assert.equal(await suppressed('rolled@example.org'), 0);
    await withTransaction(gw.pool, async (client) => {
      await suppressionsRepo(client).add(accountId, 'kept@example.org', 'kept@example.org', 'manual', null);
    });
    assert.equal(await suppressed('kept@example.org'), 1);
  });

  it('runs in a transaction of its own on the pool', async () => {
    assert.equal(await suppressionsRepo(gw.pool).add(accountId, 'pool@example.org', 'pool@example.org', 'manual', null), true);
    assert.equal(await suppressed('pool@example.org'), 1);
  });
});

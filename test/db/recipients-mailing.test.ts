/**
 * recipients.mailing_id without a foreign key (migration 20261208500000): deleting a mailing, a list's
 * mailings or an account still deletes every recipient of those mailings, and the counts with them; a
 * mailing's deletion waits for an add_recipients call still open on it, whose recipients then go too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';

let gw: TestGateway;
let ctx: { accountId: number; requestId: string };

const recipientsOf = async (mailingId: number) =>
  (await gw.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM recipients WHERE mailing_id = $1', [mailingId])).rows[0]!.n;

const mailing = (name: string) => gw.core.mailings.create(ctx, { dialect: 'cloudmailing', name, fromEmail: 'a@example.org', subject: 'Hi', html: '<p>Hi</p>' });

const add = (id: number, n: number, prefix: string) =>
  gw.core.recipients.add(
    ctx,
    id,
    Array.from({ length: n }, (_, i) => ({ email: `${prefix}${i}@example.org`, fields: {} })),
  );

before(async () => {
  gw = await startTestGateway();
  ctx = { accountId: (await gw.core.accounts.authenticate(gw.key.secret))!.accountId, requestId: 't' };
});
after(async () => {
  await gw?.stop();
});

describe('recipients of a deleted mailing', () => {
  it('the foreign key is gone, and deleting a mailing deletes its recipients and only them', async () => {
    const { rows } = await gw.pool.query(`SELECT 1 FROM pg_constraint WHERE conrelid = 'recipients'::regclass AND confrelid = 'mailings'::regclass`);
    assert.equal(rows.length, 0);
    const a = await mailing('a');
    const b = await mailing('b');
    await add(a, 300, 'a');
    await add(b, 200, 'b');
    await gw.core.mailings.delete(ctx, a);
    assert.equal(await recipientsOf(a), 0);
    assert.equal(await recipientsOf(b), 200);
    const counts = await gw.pool.query<{ n: number }>('SELECT coalesce(sum(n), 0)::int AS n FROM recipient_counts WHERE mailing_id = $1', [a]);
    assert.equal(counts.rows[0]!.n, 0);
  });

  it("deleting an account (its mailings go by their key's cascade) deletes their recipients", async () => {
    const { account } = await gw.core.accounts.createAccount('gone-account');
    const own = { accountId: account.id, requestId: 't' };
    const id = await gw.core.mailings.create(own, { dialect: 'cloudmailing', name: 'x', fromEmail: 'a@example.org', subject: 'Hi', html: '<p>Hi</p>' });
    await gw.core.recipients.add(own, id, [{ email: 'x@example.org', fields: {} }]);
    assert.equal(await recipientsOf(id), 1);
    await gw.pool.query('DELETE FROM accounts WHERE id = $1', [account.id]);
    assert.equal(await recipientsOf(id), 0);
  });

  it('a deletion waits for an add still open on the mailing, and its recipients go too', async () => {
    const id = await mailing('c');
    await add(id, 10, 'c');
    const tx = await gw.pool.connect();
    try {
      await tx.query('BEGIN');
      // The share lock insertMany holds on the mailing row while it inserts, then one recipient inserted.
      await tx.query('SELECT 1 FROM mailings WHERE id = $1 FOR SHARE', [id]);
      await tx.query(
        `INSERT INTO recipients (account_id, mailing_id, send_id, tracking_id, email, fields)
         SELECT account_id, mailing_id, send_id, 'open-add', 'late@example.org', '{}' FROM recipients WHERE mailing_id = $1 LIMIT 1`,
        [id],
      );
      const deleting = gw.core.mailings.delete(ctx, id);
      await waitFor(
        'the deletion waiting on the open add',
        async () =>
          (
            await gw.pool.query(
              `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM mailings%' AND datname = current_database()`,
            )
          ).rows.length > 0,
        30_000,
      );
      await tx.query('COMMIT');
      await deleting;
    } finally {
      tx.release();
    }
    assert.equal(await recipientsOf(id), 0);
  });
});

/**
 * The send-rate rollup (migration 20261207810000): append-only, so writers of one send never wait on each
 * other's commit; the minute sweep's fold keeps every minute's sums.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { STAMP_CHANGE } from '../../src/db/recipients.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let gw: TestGateway;
let sendId: number;
let ids: number[];

const outcome = (c: pg.ClientBase, status: string, rows: number[]) =>
  c.query(`UPDATE recipients SET status = $2, ${STAMP_CHANGE} WHERE id = ANY ($1::bigint[])`, [rows, status]);

const rate = async () =>
  (
    await gw.pool.query<{ minute: Date; delivered: number; deferred: number; failed: number; rows: number }>(
      `SELECT minute, sum(delivered)::int AS delivered, sum(deferred)::int AS deferred, sum(failed)::int AS failed, count(*)::int AS rows
         FROM send_minute_counts WHERE send_id = $1 GROUP BY minute ORDER BY minute`,
      [sendId],
    )
  ).rows;

before(async () => {
  gw = await startTestGateway();
  const ctx = { accountId: (await gw.services.store.accounts.bySlug('acme'))!.id, requestId: 't' };
  const id = await gw.core.mailings.create(ctx, { dialect: 'cloudmailing', fromEmail: 'news@example.org', subject: 'Rate', html: '<p>x</p>' });
  await gw.core.recipients.add(
    ctx,
    id,
    Array.from({ length: 12 }, (_, i) => ({ email: `r${i}@example.org`, fields: {} })),
  );
  await gw.core.mailings.start(ctx, id);
  sendId = (await gw.pool.query<{ id: number }>('SELECT id::int FROM sends WHERE mailing_id = $1', [id])).rows[0]!.id;
  ids = (await gw.pool.query<{ id: number }>('SELECT id::int FROM recipients WHERE mailing_id = $1 ORDER BY id', [id])).rows.map((r) => r.id);
});
after(async () => {
  await gw?.stop();
});

describe('send-rate rollup', () => {
  it('lets a second writer of the same send commit while the first is still open', async () => {
    const a = await gw.pool.connect();
    const b = await gw.pool.connect();
    try {
      await a.query('BEGIN');
      await outcome(a, 'finished', ids.slice(0, 3));
      // An upsert of one row per send and minute made this wait for a's commit; a bound, not a wait.
      await b.query(`SET lock_timeout = '60s'`);
      await outcome(b, 'warning', ids.slice(3, 5));
      await a.query('COMMIT');
    } finally {
      a.release();
      b.release();
    }
    await outcome(gw.pool as unknown as pg.ClientBase, 'error', ids.slice(5, 6));
    const r = await rate();
    const sum = (k: 'delivered' | 'deferred' | 'failed') => r.reduce((n, x) => n + x[k], 0);
    assert.deepEqual([sum('delivered'), sum('deferred'), sum('failed')], [3, 2, 1]);
  });

  it('folds a past minute into one row per send, every sum as it was', async () => {
    await outcome(gw.pool as unknown as pg.ClientBase, 'finished', ids.slice(6, 9));
    await outcome(gw.pool as unknown as pg.ClientBase, 'finished', ids.slice(9, 12));
    // Every row so far is moved ten minutes back, into one minute past the fold's two-minute guard.
    await gw.pool.query(`UPDATE send_minute_counts SET minute = date_trunc('minute', now()) - interval '10 minutes' WHERE send_id = $1`, [sendId]);
    const before = await rate();
    assert.equal(before.length, 1);
    assert.ok(before[0]!.rows > 1, 'several statements, several rows');
    const gone = await gw.services.store.overview.foldSendRate();
    assert.equal(gone, before[0]!.rows);
    const after = await rate();
    assert.deepEqual(after, [{ ...before[0]!, rows: 1 }]);
    assert.deepEqual([after[0]!.delivered, after[0]!.deferred, after[0]!.failed], [9, 2, 1]);
    assert.equal(await gw.services.store.overview.foldSendRate(), 0, 'nothing left to fold');
  });
});

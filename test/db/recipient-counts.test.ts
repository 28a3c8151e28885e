/**
 * The maintained recipient counts (migration 20261208400000): after any sequence of inserts, outcomes,
 * resets and deletes, a mailing's recipient_counts rows sum to a real count(*) of its recipients, before and
 * after a fold, and while writers and folds run at once; append-only, so writers of one mailing never wait on
 * each other's commit; one fold at a time, and one with nothing to fold writes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { deliveryRepo } from '../../src/db/delivery.js';
import { mailingsRepo } from '../../src/db/mailings.js';
import { STAMP_CHANGE } from '../../src/db/recipients.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let gw: TestGateway;
let ctx: { accountId: number; requestId: string };
let mailingA: number;
let mailingB: number;
let sendA: number;

type Key = { mailing_id: number; send_id: number | null; is_test: boolean; status: string; tried: boolean; n: number };

/** Counts by key as a real count(*) gives them, and as recipient_counts sums them, in one snapshot. */
const both = async (q: pg.ClientBase | pg.Pool, mailingIds: number[]) => {
  const { rows } = await q.query<{ real: Key[] | null; kept: Key[] | null }>(
    `SELECT (SELECT json_agg(r ORDER BY r.mailing_id, r.send_id, r.is_test, r.status, r.tried) FROM (
               SELECT mailing_id::int, send_id::int, is_test, status, try_count > 0 AS tried, count(*)::int AS n
                 FROM recipients WHERE mailing_id = ANY($1::bigint[]) GROUP BY 1, 2, 3, 4, 5) r) AS real,
            (SELECT json_agg(k ORDER BY k.mailing_id, k.send_id, k.is_test, k.status, k.tried) FROM (
               SELECT mailing_id::int, send_id::int, is_test, status, tried, sum(n)::int AS n
                 FROM recipient_counts WHERE mailing_id = ANY($1::bigint[]) GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0) k) AS kept`,
    [mailingIds],
  );
  return { real: rows[0]!.real ?? [], kept: rows[0]!.kept ?? [] };
};

const assertExact = async (mailingIds: number[], q: pg.ClientBase | pg.Pool = gw.pool) => {
  const { real, kept } = await both(q, mailingIds);
  assert.deepEqual(kept, real);
  return real;
};

const rowsOf = async (mailingId: number) =>
  (await gw.pool.query<{ rows: number }>('SELECT count(*)::int AS rows FROM recipient_counts WHERE mailing_id = $1', [mailingId])).rows[0]!.rows;

/** The worker's result batch: one statement, a status and a try per recipient (delivery.ts recordOutcomes' shape). */
const outcomes = (c: pg.ClientBase | pg.Pool, ids: number[], statuses: string[]) =>
  c.query(
    `UPDATE recipients r SET status = o.status, try_count = r.try_count + 1, lease_owner = NULL, lease_until = NULL, ${STAMP_CHANGE}
       FROM unnest($1::bigint[], $2::text[]) AS o(id, status) WHERE r.id = o.id`,
    [ids, statuses],
  );

/** The worker's delivery repo, over the gateway's pool. */
const delivery = () => deliveryRepo(gw.pool);

const idsOf = async (mailingId: number) =>
  (await gw.pool.query<{ id: number }>('SELECT id::int FROM recipients WHERE mailing_id = $1 ORDER BY id', [mailingId])).rows.map((r) => r.id);

const addTo = (mailingId: number, from: number, n: number) =>
  gw.core.recipients.add(
    ctx,
    mailingId,
    Array.from({ length: n }, (_, i) => ({ email: `r${from + i}@example.org`, fields: {} })),
  );

before(async () => {
  gw = await startTestGateway();
  ctx = { accountId: (await gw.services.store.accounts.bySlug('acme'))!.id, requestId: 't' };
  const create = (subject: string) => gw.core.mailings.create(ctx, { dialect: 'cloudmailing', fromEmail: 'news@example.org', subject, html: '<p>x</p>' });
  mailingA = await create('A');
  mailingB = await create('B');
  await addTo(mailingA, 0, 20);
  await addTo(mailingB, 100, 5);
  await gw.core.mailings.start(ctx, mailingA);
  sendA = (await gw.pool.query<{ id: number }>('SELECT id::int FROM sends WHERE mailing_id = $1', [mailingA])).rows[0]!.id;
  // What the send job does when it picks the send up (no worker runs here): claims take only from a running send.
  await gw.services.store.mailings.setSendStatus(sendA, 'running');
});
after(async () => {
  await gw?.stop();
});

describe('recipient counts', () => {
  it('equal a real count after inserts, claims, outcome batches, a reset, deletes and a deleted mailing, and after the fold', async () => {
    const real = await assertExact([mailingA, mailingB]);
    assert.deepEqual(
      real.map((k) => [k.mailing_id, k.status, k.n]),
      [
        [mailingA, 'ready', 20],
        [mailingB, 'ready', 5],
      ],
    );
    // A test recipient, and more added to a running mailing.
    await gw.pool.query(
      `INSERT INTO recipients (account_id, mailing_id, send_id, is_test, tracking_id, email)
       SELECT account_id, mailing_id, send_id, true, 'test-1', 'test@example.org' FROM recipients WHERE mailing_id = $1 LIMIT 1`,
      [mailingA],
    );
    await addTo(mailingA, 20, 4);
    // A claim only leases: it moves no count.
    const before = await rowsOf(mailingA);
    const claim = await delivery().claimBatch({ sendId: sendA, mailingId: mailingA, workerId: 'w1', limit: 10, leaseSeconds: 300, testOnly: false });
    assert.equal(claim.recipients.length, 10);
    assert.equal(await rowsOf(mailingA), before, 'a lease adds no row');
    await assertExact([mailingA]);
    assert.deepEqual(await delivery().paceCounts(sendA), { total: 24, tried: 10 }, 'leased on a first try: in flight');

    const ids = await idsOf(mailingA);
    await outcomes(gw.pool, ids.slice(0, 6), ['finished', 'finished', 'warning', 'error', 'timeout', 'general_error']);
    await outcomes(gw.pool, ids.slice(2, 4), ['finished', 'warning']);
    await assertExact([mailingA]);
    assert.deepEqual(await delivery().paceCounts(sendA), { total: 24, tried: 10 });

    const reset = await gw.services.store.recipients.reset(ctx.accountId, ['test-1']);
    assert.equal(reset.count, 1);
    const tracking = (await gw.pool.query<{ t: string }>('SELECT tracking_id AS t FROM recipients WHERE id = ANY($1::bigint[])', [ids.slice(0, 2)])).rows;
    await gw.services.store.recipients.reset(
      ctx.accountId,
      tracking.map((r) => r.t),
    );
    await assertExact([mailingA]);

    await gw.pool.query('DELETE FROM recipients WHERE id = ANY($1::bigint[])', [ids.slice(10, 13)]);
    await assertExact([mailingA, mailingB]);

    // The readers answer from the counts what a count gave.
    const totals = (await gw.services.store.mailings.totals([mailingA, mailingB])).get(mailingA)!;
    const statusCount = (s: string) =>
      gw.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM recipients WHERE mailing_id = $1 AND status = $2', [mailingA, s]).then((r) => r.rows[0]!.n);
    for (const s of ['ready', 'warning', 'finished', 'error', 'timeout', 'general_error'] as const) assert.equal(totals[s], await statusCount(s), s);
    const [progress] = await gw.services.store.mailings.progress(ctx.accountId, mailingA);
    assert.deepEqual(
      {
        ready: progress!.ready,
        warning: progress!.warning,
        finished: progress!.finished,
        error: progress!.error,
        timeout: progress!.timeout,
        general_error: progress!.general_error,
      },
      totals,
    );
    assert.equal(
      await gw.services.store.recipients.count(ctx.accountId, { statuses: ['ready', 'finished'], mailingIds: [mailingA, mailingB] }),
      (await statusCount('ready')) + (await statusCount('finished')) + 5,
    );

    await gw.core.mailings.delete(ctx, mailingB);
    assert.deepEqual(await assertExact([mailingB]), [], 'a deleted mailing counts nothing');
    assert.ok((await rowsOf(mailingB)) > 0, 'its rows sum to 0 until the fold');

    const gone = await gw.services.store.mailings.foldRecipientCounts();
    assert.ok(gone > 0);
    await assertExact([mailingA, mailingB]);
    assert.equal(await rowsOf(mailingB), 0, 'the fold drops a deleted mailing');
    const folded = await gw.pool.query<{ rows: number; keys: number }>(
      `SELECT count(*)::int AS rows, count(DISTINCT (send_id, is_test, status, tried))::int AS keys FROM recipient_counts WHERE mailing_id = $1`,
      [mailingA],
    );
    assert.equal(folded.rows[0]!.rows, folded.rows[0]!.keys, 'one row per key');
    assert.equal(await gw.services.store.mailings.foldRecipientCounts(), 0, 'nothing left to fold');

    await outcomes(gw.pool, ids.slice(13, 15), ['finished', 'finished']);
    await assertExact([mailingA]);
    assert.ok((await gw.services.store.mailings.foldRecipientCounts()) > 0);
    await assertExact([mailingA]);
  });

  it('lets a second writer of the same mailing commit while the first is still open', async () => {
    const a = await gw.pool.connect();
    const b = await gw.pool.connect();
    const ids = await idsOf(mailingA);
    try {
      await a.query('BEGIN');
      await outcomes(a, ids.slice(15, 17), ['finished', 'error']);
      // An upsert of one row per mailing and key made this wait for a's commit; a bound, not a wait.
      await b.query(`SET lock_timeout = '60s'`);
      await b.query('BEGIN');
      await outcomes(b, ids.slice(17, 19), ['finished', 'error']);
      await b.query(
        `INSERT INTO recipients (account_id, mailing_id, send_id, tracking_id, email)
         SELECT account_id, mailing_id, send_id, 'late-1', 'late@example.org' FROM recipients WHERE id = $1`,
        [ids[0]],
      );
      await b.query('COMMIT');
      await assertExact([mailingA]);
      await a.query('COMMIT');
    } finally {
      await b.query('RESET lock_timeout');
      a.release();
      b.release();
    }
    await assertExact([mailingA]);
  });

  it('a reader during the fold sees exact sums, and is not held by it', async () => {
    const ids = await idsOf(mailingA);
    await outcomes(gw.pool, ids.slice(19, 21), ['warning', 'finished']);
    const expected = (await both(gw.pool, [mailingA])).real;
    const folder = await gw.pool.connect();
    const reader = await gw.pool.connect();
    try {
      await folder.query('BEGIN');
      // The fold in an open transaction: its deletes and sums not committed yet.
      assert.ok((await mailingsRepo(folder).foldRecipientCounts()) > 0);
      await reader.query(`SET lock_timeout = '60s'`);
      assert.deepEqual((await both(reader, [mailingA])).kept, expected);
      // A writer meanwhile only inserts: not held by the fold's deleted rows.
      await outcomes(reader, ids.slice(21, 22), ['finished']);
      await folder.query('COMMIT');
      await reader.query('RESET lock_timeout');
    } finally {
      folder.release();
      reader.release();
    }
    await assertExact([mailingA]);
    await gw.services.store.mailings.foldRecipientCounts();
    await assertExact([mailingA]);
  });

  it('a fold with nothing to fold writes nothing (no transaction id taken)', async () => {
    await gw.services.store.mailings.foldRecipientCounts();
    const c = await gw.pool.connect();
    try {
      await c.query('BEGIN');
      assert.equal(await mailingsRepo(c).foldRecipientCounts(), 0);
      const { rows } = await c.query<{ xid: string | null }>('SELECT pg_current_xact_id_if_assigned()::text AS xid');
      assert.equal(rows[0]!.xid, null);
      await c.query('COMMIT');
    } finally {
      c.release();
    }
  });

  it('a fold that finds another one running folds nothing, and does not wait for it', async () => {
    await addTo(mailingA, 200, 1);
    const first = await gw.pool.connect();
    const second = await gw.pool.connect();
    try {
      await first.query('BEGIN');
      assert.ok((await mailingsRepo(first).foldRecipientCounts()) > 0);
      await addTo(mailingA, 201, 1);
      // Queued behind the first one's deleted rows, it would wait for its commit: a bound, not a wait.
      await second.query(`SET lock_timeout = '60s'`);
      assert.equal(await mailingsRepo(second).foldRecipientCounts(), 0);
      await assertExact([mailingA]);
      await first.query('COMMIT');
    } finally {
      await second.query('RESET lock_timeout');
      first.release();
      second.release();
    }
    await assertExact([mailingA]);
    assert.ok((await gw.services.store.mailings.foldRecipientCounts()) > 0, 'the delta written meanwhile is folded next');
    await assertExact([mailingA]);
  });

  it('stay exact while writers of several mailings and folds run at once', async () => {
    const create = (subject: string) => gw.core.mailings.create(ctx, { dialect: 'cloudmailing', fromEmail: 'news@example.org', subject, html: '<p>x</p>' });
    const mailings = [await create('C1'), await create('C2')];
    let stop = false;
    let checks = 0;
    const writer = async (m: number, w: number) => {
      for (let i = 0; i < 25; i++) {
        const made = await gw.core.recipients.add(ctx, m, [{ email: `c${w}-${i}@example.org`, fields: {} }]);
        assert.equal(made.length, 1);
        if (i % 3 === 2) {
          const own = (await gw.pool.query<{ id: number }>(`SELECT id::int FROM recipients WHERE mailing_id = $1 AND email LIKE $2`, [m, `c${w}-%`])).rows;
          await outcomes(
            gw.pool,
            own.slice(-3).map((r) => r.id),
            ['finished', 'error', 'warning'],
          );
        }
        if (i === 20) await gw.pool.query(`DELETE FROM recipients WHERE mailing_id = $1 AND email = $2`, [m, `c${w}-0@example.org`]);
      }
    };
    const folder = async () => {
      while (!stop) await gw.services.store.mailings.foldRecipientCounts();
    };
    // Every snapshot a reader takes meanwhile: the sums equal a real count.
    const checker = async () => {
      while (!stop) {
        await assertExact(mailings);
        checks++;
      }
    };
    const folds = [folder(), folder(), checker()];
    await Promise.all(mailings.flatMap((m, k) => [writer(m, 2 * k), writer(m, 2 * k + 1)]));
    stop = true;
    await Promise.all(folds);
    assert.ok(checks > 0);
    const real = await assertExact(mailings);
    assert.equal(
      real.reduce((n, k) => n + k.n, 0),
      2 * 2 * 24,
    );
    await gw.services.store.mailings.foldRecipientCounts();
    await assertExact(mailings);
    const { rows } = await gw.pool.query<{ deltas: number }>(
      'SELECT count(*)::int AS deltas FROM recipient_counts WHERE mailing_id = ANY($1::bigint[]) AND NOT folded',
      [mailings],
    );
    assert.equal(rows[0]!.deltas, 0);
  });
});

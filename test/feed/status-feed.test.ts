/**
 * The status feed (get_recipients_status_updated_since) is exact under concurrency: a reader following the
 * cursor sees every status change once, collapsed to the latest, even when writers commit out of order.
 * The same scenarios show that a reader keyed on the change sequence alone would skip changes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { makeCore, type Core } from '../../src/core/index.js';
import { mimeCodec } from '../../src/mime/message.js';
import type { CallContext } from '../../src/core/context.js';
import { RECIPIENT_STATUSES, type RecipientStatus } from '../../src/core/statuses.js';
import { makePool, type Pool } from '../../src/db/pool.js';
import { STAMP_CHANGE } from '../../src/db/recipients.js';
import { makeStore } from '../../src/db/store.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
let pool: Pool;
let core: Core;
let ctx: CallContext;
const secret = Buffer.alloc(32, 7);

/** A status change as a writer makes it: stamped, with a version from a sequence drawn at update time. */
const CHANGE = `UPDATE recipients SET status = $2, reply_code = nextval('feed_test_version'), ${STAMP_CHANGE} WHERE id = ANY($1::bigint[])`;

async function newMailing(n: number): Promise<number[]> {
  const id = await core.mailings.create(ctx, { dialect: 'cloudmailing', fromEmail: 'news@example.org', subject: 's', html: '<p>x</p>' });
  const ids: number[] = [];
  for (let i = 0; i < n; i += 1000) {
    const items = Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ email: `r${i + k}@example.org`, fields: {} }));
    await core.recipients.add(ctx, id, items);
  }
  const { rows } = await pool.query<{ id: number }>('SELECT id FROM recipients WHERE mailing_id = $1 ORDER BY id', [id]);
  ids.push(...rows.map((r) => r.id));
  return ids;
}

/** Follows the real feed until it is caught up; records what it saw per recipient id: the versions (reply_code). */
async function drainFeed(cursor: string, seen: Map<number, number[]>): Promise<string> {
  for (;;) {
    const page = await core.recipients.feed(ctx, cursor, { max: 100 });
    for (const r of page.recipients) {
      const list = seen.get(r.id) ?? [];
      list.push(r.reply_code ?? -1);
      seen.set(r.id, list);
    }
    const moved = page.cursor !== cursor;
    cursor = page.cursor;
    if (!page.recipients.length && !moved) return cursor;
  }
}

/**
 * Keeps following the feed until `done()`, for at most 30 s. The horizon is cluster-wide: a transaction open in
 * another test's database holds it back for a moment (the feed lags, it never skips), so a reader may need
 * another poll to see a change that has committed.
 */
async function followUntil(cursor: string, seen: Map<number, number[]>, done: () => boolean): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    cursor = await drainFeed(cursor, seen);
    if (done()) return cursor;
    if (Date.now() > deadline) return cursor;
    await sleep(20);
  }
}

/** The naive design the spec warns about: `change_seq > last` alone. */
async function drainNaive(last: number, seen: Map<number, number[]>): Promise<number> {
  for (;;) {
    const { rows } = await pool.query<{ id: number; change_seq: number; reply_code: number }>(
      `SELECT id, change_seq, reply_code FROM recipients WHERE account_id = $1 AND change_seq > $2 AND status <> 'ready'
        ORDER BY change_seq LIMIT 100`,
      [ctx.accountId, last],
    );
    if (!rows.length) return last;
    for (const r of rows) {
      const list = seen.get(r.id) ?? [];
      list.push(r.reply_code);
      seen.set(r.id, list);
      last = r.change_seq;
    }
  }
}

async function finalVersions(ids: number[]): Promise<Map<number, number>> {
  const { rows } = await pool.query<{ id: number; reply_code: number | null }>('SELECT id, reply_code FROM recipients WHERE id = ANY($1::bigint[])', [ids]);
  return new Map(rows.filter((r) => r.reply_code !== null).map((r) => [r.id, r.reply_code!]));
}

before(async () => {
  db = await createTestDatabase();
  pool = makePool(db.url, 20);
  await pool.query('CREATE SEQUENCE feed_test_version');
  core = makeCore({
    store: makeStore(pool),
    messages: mimeCodec,
    cursorSecret: secret,
    maxRecipientsPerCall: 10_000,
    sendLanes: 1,
    workerStaleSeconds: 60,
    publicUrl: 'http://mailgate.test',
    bounceDomain: 'mailgate.test',
    confirmLinkDays: 30,
  });
  const { account } = await core.accounts.createAccount('feed-test');
  ctx = { accountId: account.id, requestId: 'test' };
});
after(async () => {
  await pool.end();
  await db.drop();
});

describe('status feed: out-of-order commits', () => {
  it('a change committed after a later one still reaches the reader; the sequence-only reader loses it', async () => {
    const [a, b] = await newMailing(2);
    const exact = new Map<number, number[]>();
    const naive = new Map<number, number[]>();
    let cursor = await drainFeed('', exact);
    let last = await drainNaive(0, naive);

    // T1 changes A first (lower sequence value) but commits last.
    const t1 = new pg.Client({ connectionString: db.url });
    await t1.connect();
    await t1.query('BEGIN');
    await t1.query(CHANGE, [[a], 'finished']);
    await pool.query(CHANGE, [[b], 'error']); // T2, autocommit

    cursor = await drainFeed(cursor, exact);
    last = await drainNaive(last, naive);
    assert.equal(exact.has(b!), false, 'B must wait: A (in flight) is below it in the feed order');
    assert.equal(naive.has(b!), true);

    await t1.query('COMMIT');
    await t1.end();
    const final = await finalVersions([a!, b!]);
    await followUntil(cursor, exact, () => exact.get(a!)?.at(-1) === final.get(a!) && exact.get(b!)?.at(-1) === final.get(b!));
    await drainNaive(last, naive);

    assert.deepEqual(exact.get(a!), [final.get(a!)]);
    assert.deepEqual(exact.get(b!), [final.get(b!)]);
    assert.equal(naive.has(a!), false, 'the sequence-only reader skipped A for good');
  });
});

describe('status feed: concurrent writers', () => {
  it('4 writers committing out of order; the reader sees every recipient final status, each change at most once', async () => {
    const ids = await newMailing(3000);
    const exact = new Map<number, number[]>();
    const naive = new Map<number, number[]>();
    let stop = false;
    const statuses = RECIPIENT_STATUSES.filter((s) => s !== 'ready');

    async function writer(seed: number) {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      let x = seed;
      const rand = (n: number) => {
        x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
        return (x >>> 8) % n;
      };
      try {
        for (let round = 0; round < 60; round++) {
          const batch = Array.from({ length: 20 }, () => ids[rand(ids.length)]!);
          batch.sort((p, q) => p - q); // one lock order for every writer: no deadlocks
          await client.query('BEGIN');
          await client.query(CHANGE, [batch, statuses[rand(statuses.length)] as RecipientStatus]);
          await sleep(rand(15)); // hold the transaction open a while: commits land out of order
          await client.query('COMMIT');
        }
      } finally {
        await client.end();
      }
    }

    const reader = (async () => {
      let cursor = '';
      let last = 0;
      while (!stop) {
        const page = await core.recipients.feed(ctx, cursor, { max: 50 });
        for (const r of page.recipients) exact.set(r.id, [...(exact.get(r.id) ?? []), r.reply_code ?? -1]);
        cursor = page.cursor;
        last = await drainNaive(last, naive);
        await sleep(2);
      }
      const final = await finalVersions(ids);
      await followUntil(cursor, exact, () => [...final].every(([id, v]) => exact.get(id)?.at(-1) === v));
      await drainNaive(last, naive);
    })();

    await Promise.all([1, 2, 3, 4].map((s) => writer(s * 7919)));
    stop = true;
    await reader;

    const final = await finalVersions(ids);
    assert.ok(final.size > 1000, `enough recipients changed (${final.size})`);
    let naiveMissed = 0;
    for (const [id, version] of final) {
      const seen = exact.get(id);
      assert.ok(seen, `recipient ${id} changed but the reader never saw it`);
      assert.equal(seen.at(-1), version, `recipient ${id}: the reader's last view is not its final status`);
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, `recipient ${id}: a change seen twice or out of order: ${seen.join(',')}`);
      if (naive.get(id)?.at(-1) !== version) naiveMissed++;
    }
    const mine = new Set(ids);
    for (const id of exact.keys()) if (mine.has(id)) assert.ok(final.has(id), `reader saw ${id}, which never changed`);
    // Not asserted (it depends on timing): how many final statuses the sequence-only reader missed.
    console.log(`# sequence-only reader missed the final status of ${naiveMissed} of ${final.size} recipients`);
  });
});

describe('status feed: cursors', () => {
  it('is signed: a forged or altered cursor is not followed, the feed restarts from its beginning', async () => {
    const first = await core.recipients.feed(ctx, '', { max: 3 });
    assert.ok(first.recipients.length > 0);
    const [xid, seq, mac] = first.cursor.split('.');
    for (const forged of [`${xid}.${Number(seq) + 1}.${mac}`, `${xid}.${seq}.${'A'.repeat(16)}`, 'garbage']) {
      const page = await core.recipients.feed(ctx, forged, { max: 3 });
      assert.deepEqual(
        page.recipients.map((r) => r.id),
        first.recipients.map((r) => r.id),
        forged,
      );
    }
  });

  it("stays valid across a restart (the secret is the installation's, not the process')", async () => {
    const page = await core.recipients.feed(ctx, '', { max: 10 });
    const again = makeCore({
      store: makeStore(pool),
      messages: mimeCodec,
      cursorSecret: Buffer.from(secret),
      maxRecipientsPerCall: 10,
      sendLanes: 1,
      workerStaleSeconds: 60,
      publicUrl: 'http://mailgate.test',
      bounceDomain: 'mailgate.test',
      confirmLinkDays: 30,
    });
    const next = await again.recipients.feed(ctx, page.cursor, { max: 10 });
    assert.equal(typeof next.cursor, 'string');
  });

  it("never shows another account's recipients", async () => {
    const { account } = await core.accounts.createAccount('feed-other');
    const other: CallContext = { accountId: account.id, requestId: 'x' };
    const ids = await newMailing(3);
    await pool.query(CHANGE, [ids, 'finished']);
    const page = await core.recipients.feed(other, '', {});
    assert.equal(page.recipients.length, 0);
  });
});

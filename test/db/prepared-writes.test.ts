/**
 * The hot one-row writes run as named prepared statements (src/db/pool.ts preparedQuery): a list's upsert of
 * one subscriber (Sender's PUT subscription) and a transactional message's insert write and answer what they
 * did unprepared, on the custom plans and on the generic plan (forced on a pool of its own, so that every run
 * takes it). The upsert learns in its own statement that the list is missing: NOT_FOUND, nothing written.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { isDomainError } from '../../src/core/errors.js';
import { listsRepo, type NewSubscriber } from '../../src/db/lists.js';
import { makePool, type Pool } from '../../src/db/pool.js';
import { recipientsRepo, type NewRecipient } from '../../src/db/recipients.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let gw: TestGateway;
let ctx: { accountId: number; requestId: string };
let other: { accountId: number; requestId: string };
/** Every statement on the generic plan. */
let generic: Pool;

before(async () => {
  gw = await startTestGateway();
  ctx = { accountId: (await gw.services.store.accounts.bySlug('acme'))!.id, requestId: 't' };
  await gw.core.accounts.createKey('other', 'test');
  other = { accountId: (await gw.services.store.accounts.bySlug('other'))!.id, requestId: 't' };
  const url = new URL(gw.databaseUrl);
  url.searchParams.set('options', '-c plan_cache_mode=force_generic_plan');
  generic = makePool(url.toString(), 1);
});
after(async () => {
  await generic?.end();
  await gw?.stop();
});

const stored = async (listId: number) =>
  (
    await gw.pool.query<{ email: string; params: Record<string, unknown>; status: string; enabled: boolean }>(
      'SELECT email, params, status, enabled FROM subscribers WHERE list_id = $1 ORDER BY id',
      [listId],
    )
  ).rows;

const notFound = (e: unknown) => isDomainError(e) && e.code === 'NOT_FOUND';

describe('prepared one-subscriber upsert', () => {
  it('inserts, merges, re-enables and honours a suppression as before, past the plan cache settling on a generic plan', async () => {
    const listId = await gw.core.lists.create(ctx, { name: 'Prepared one' });
    await gw.core.suppressions.unsubscribe(ctx, { email: 'gone@example.org' }, 'test');
    // Seven rounds on the gateway's pool (one connection reused: the sixth run may be the first on a generic plan).
    for (let i = 0; i < 7; i++) {
      const email = `p${i}@example.org`;
      const [a] = await gw.core.lists.subscribe(ctx, listId, [{ email, params: { n: i } }], { confirm: true });
      assert.ok(a && !('error' in a));
      assert.deepEqual({ ...a, id: typeof a.id }, { id: 'number', inserted: true, status: 'unconfirmed', email });
      const [b] = await gw.core.lists.subscribe(ctx, listId, [{ email, params: { m: i } }], { reenable: true });
      assert.deepEqual(b, { id: a.id, inserted: false, status: 'active', email });
      const [c] = await gw.core.lists.edit(ctx, listId, [{ email, params: { k: i } }]);
      assert.deepEqual(c, { id: a.id, inserted: false, status: 'active', email });
      assert.deepEqual(await gw.core.lists.edit(ctx, listId, [{ email: `absent${i}@example.org` }]), [
        { email: `absent${i}@example.org`, error: 'not a subscriber of this list' },
      ]);
    }
    const [s] = await gw.core.lists.subscribe(ctx, listId, [{ email: 'gone@example.org', params: {} }], { reenable: true });
    assert.deepEqual({ ...s, id: 0 }, { id: 0, inserted: true, status: 'unsubscribed', email: 'gone@example.org' });
    const rows = await stored(listId);
    assert.deepEqual(
      rows.map((r) => [r.email, r.params, r.status, r.enabled]),
      [...Array.from({ length: 7 }, (_, i) => [`p${i}@example.org`, { n: i, m: i, k: i }, 'active', true]), ['gone@example.org', {}, 'unsubscribed', false]],
    );
  });

  it('answers the same on the generic plan', async () => {
    const listId = await gw.core.lists.create(ctx, { name: 'Prepared generic' });
    const lists = listsRepo(generic);
    const one = (email: string, status: NewSubscriber['status'] = 'active'): NewSubscriber[] => [{ email, emailKey: email, params: { e: email }, status }];
    for (let i = 0; i < 3; i++) {
      const [a] = (await lists.upsert(ctx.accountId, listId, one(`g${i}@example.org`, 'unconfirmed'), { reenable: false }))!;
      assert.deepEqual({ ...a, id: typeof a?.id }, { id: 'number', inserted: true, status: 'unconfirmed' });
      assert.deepEqual(await lists.upsert(ctx.accountId, listId, one(`g${i}@example.org`), { reenable: true }), [
        { id: a!.id, inserted: false, status: 'active' },
      ]);
      assert.deepEqual(await lists.upsert(ctx.accountId, listId, one(`h${i}@example.org`), { onlyExisting: true }), [null]);
      assert.equal(await lists.upsert(other.accountId, listId, one(`x${i}@example.org`)), undefined);
      assert.equal(await lists.upsert(other.accountId, listId, one(`g${i}@example.org`), { onlyExisting: true }), undefined);
      assert.deepEqual((await lists.bySlug(ctx.accountId, 'prepared-generic'))?.id, listId);
    }
    assert.deepEqual(
      (await stored(listId)).map((r) => [r.email, r.status]),
      [0, 1, 2].map((i) => [`g${i}@example.org`, 'active']),
    );
  });

  it('NOT_FOUND for a list of another account or deleted, with one item, many or none valid, and nothing written', async () => {
    const theirs = await gw.core.lists.create(other, { name: 'Theirs' });
    const gone = await gw.core.lists.create(ctx, { name: 'Gone' });
    await gw.core.lists.delete(ctx, gone);
    for (const listId of [theirs, gone]) {
      for (const items of [[{ email: 'a@example.org' }], [{ email: 'a@example.org' }, { email: 'b@example.org' }], [{ email: 'not an address' }], []]) {
        await assert.rejects(gw.core.lists.subscribe(ctx, listId, items), notFound);
        await assert.rejects(gw.core.lists.edit(ctx, listId, items), notFound);
      }
      assert.deepEqual(await stored(listId), []);
    }
    // The owner still writes to it.
    const [mine] = await gw.core.lists.subscribe(other, theirs, [{ email: 'a@example.org' }]);
    assert.equal(mine && 'inserted' in mine && mine.inserted, true);
  });
});

describe('prepared transactional insert', () => {
  it('inserts into a running transactional mailing only, on the generic plan as on the custom ones', async () => {
    const id = await gw.core.mailings.create(ctx, { dialect: 'sender', name: 'prepared', fromEmail: 'news@example.org', subject: 'P', html: '<p>x</p>' });
    const plain = await gw.core.mailings.create(ctx, { dialect: 'sender', name: 'plain', fromEmail: 'news@example.org', subject: 'P', html: '<p>x</p>' });
    // The first message makes it a transactional standing send.
    await gw.core.transactional.sendMessage(ctx, { mailingId: id, to: [{ email: 'first@example.org' }], cc: [], bcc: [], fields: {} });
    const row = (email: string): NewRecipient => ({
      tracking_id: randomUUID(),
      email,
      fields: { e: email },
      attachments: null,
      next_try: null,
      expires_at: null,
    });
    for (const db of [gw.pool, generic, gw.pool, generic, gw.pool, gw.pool, gw.pool, gw.pool]) {
      const recipients = recipientsRepo(db);
      const r = row(`m${randomUUID()}@example.org`);
      const one = await recipients.insertMessage(ctx.accountId, id, [r]);
      const send = (await gw.pool.query<{ id: number; status: string }>('SELECT id::int, status FROM sends WHERE mailing_id = $1', [id])).rows[0]!;
      assert.notEqual(send.status, 'finished');
      assert.deepEqual(one.mailing, { send_id: send.id, status: send.status, transactional: true, dont_close_if_empty: true });
      assert.deepEqual([...one.ids.keys()], [r.tracking_id]);
      assert.equal(await recipients.emailOf(one.ids.get(r.tracking_id)!), r.email);
      // Not a transactional mailing: read, nothing inserted.
      const p = await recipients.insertMessage(ctx.accountId, plain, [row('p@example.org')]);
      assert.deepEqual([p.mailing?.transactional, p.ids.size], [false, 0]);
      // Another account's mailing: none.
      assert.deepEqual(await recipients.insertMessage(other.accountId, id, [row('o@example.org')]), { mailing: undefined, ids: new Map() });
    }
    const { rows } = await gw.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM recipients WHERE mailing_id = ANY($1::bigint[])', [[id, plain]]);
    assert.equal(rows[0]!.n, 1 + 8);
  });
});

/**
 * migrations/20261208510000_variants_header.ts on a database that has mailings already: every variant's
 * header is filled from its stored message as the reads cut it before (through the first blank line, the whole
 * message without one, none without a message), and listings and reads alone answer it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import knexFactory from 'knex';
import { migrate } from '../../src/db/migrate.js';
import { down } from '../../migrations/20261208510000_variants_header.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const NAME = '20261208510000_variants_header.ts';
const CRLF2 = Buffer.from('\r\n\r\n');
const headerOf = (raw: Buffer | null) => {
  if (raw === null) return null;
  const at = raw.indexOf(CRLF2);
  return at < 0 ? raw : raw.subarray(0, at + CRLF2.length);
};
/** A message whose header block ends (its blank line included) at byte `end`, with a body of `body` bytes. */
const messageEndingAt = (end: number, body: Buffer) => {
  const head = `From: news@example.org\r\nSubject: edge\r\nX-Pad: `;
  return Buffer.concat([Buffer.from(head), Buffer.alloc(end - head.length - CRLF2.length, 'a'), CRLF2, body]);
};

let gw: TestGateway;
let ctx: { accountId: number; requestId: string };

before(async () => {
  gw = await startTestGateway();
  ctx = { accountId: (await gw.services.store.accounts.bySlug('acme'))!.id, requestId: 't' };
});
after(async () => {
  await gw?.stop();
});

describe('migration 20261208510000_variants_header: the header of the mailings stored before it', () => {
  it('is filled for every variant, whatever its message, and read alike by list and get', async () => {
    // The schema as it was before the migration, its record gone.
    const knex = knexFactory({ client: 'pg', connection: gw.databaseUrl, pool: { min: 0, max: 1 } });
    try {
      await down(knex);
    } finally {
      await knex.destroy();
    }
    await gw.pool.query('DELETE FROM knex_migrations WHERE name = $1', [NAME]);
    const column = () =>
      gw.pool.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'variants' AND column_name = 'header'`).then((r) => r.rowCount);
    assert.equal(await column(), 0);

    const shapes: [string, Buffer | null | undefined][] = [
      ['as composed', undefined],
      ['none', null],
      ['no blank line', Buffer.from('From: news@example.org\r\nSubject: no body\r\n')],
      ['LF line ends only', Buffer.from('From: news@example.org\nSubject: lf\n\nbody\n')],
      ['header longer than 64 KiB', messageEndingAt(70_000, Buffer.from('body'))],
      ...[65_535, 65_536, 65_537, 65_538, 65_539].map((end): [string, Buffer] => [
        `header ending at ${end}`,
        messageEndingAt(end, Buffer.from('body\r\n\r\nmore')),
      ]),
      ['a megabyte of attachment', messageEndingAt(200, randomBytes(1 << 20))],
      ['100 KB without a blank line', Buffer.concat([Buffer.from('From: news@example.org\r\nX-Big: '), Buffer.alloc(100_000, 'b')])],
    ];
    const ids: number[] = [];
    for (const [what, raw] of shapes) {
      const id = await gw.core.mailings.create(ctx, { dialect: 'cloudmailing', fromEmail: 'news@example.org', subject: what, html: '<p>x</p>' });
      if (raw !== undefined) await gw.pool.query('UPDATE variants SET raw_message = $2 WHERE mailing_id = $1', [id, raw]);
      ids.push(id);
    }
    const club = await gw.core.lists.create(ctx, { name: 'Old readers' });
    // Without a delivery it has no send: mailings.get and list do not show it (its variants are checked).
    const newsletter = await gw.core.newsletters.create(ctx, {
      dialect: 'emailicious',
      listId: club,
      name: 'Old news',
      variants: [
        { fromEmail: 'news@example.org', subject: 'first', text: 'Hello', deliveries: [] },
        { language: 'de', fromEmail: 'news@example.org', subject: 'zweite', text: 'Hallo', deliveries: [] },
      ],
    });

    await migrate(gw.databaseUrl);
    assert.equal(await column(), 1);
    assert.equal((await gw.pool.query('SELECT 1 FROM knex_migrations WHERE name = $1', [NAME])).rowCount, 1);

    const { rows } = await gw.pool.query<{ mailing_id: number; position: number; raw_message: Buffer | null; header: Buffer | null }>(
      'SELECT mailing_id, position, raw_message, header FROM variants WHERE mailing_id = ANY($1::bigint[]) ORDER BY mailing_id, position',
      [[...ids, newsletter]],
    );
    assert.equal(rows.length, ids.length + 2, 'every variant, the newsletter has two');
    for (const r of rows) assert.deepEqual(r.header, headerOf(r.raw_message), `mailing ${r.mailing_id} variant ${r.position}`);
    const header = (i: number) => rows.find((r) => r.mailing_id === ids[i])!.header;
    assert.equal(header(1), null);
    assert.equal(header(2)!.toString(), 'From: news@example.org\r\nSubject: no body\r\n');
    assert.equal(header(3)!.toString(), 'From: news@example.org\nSubject: lf\n\nbody\n');
    assert.equal(header(4)!.length, 70_000);
    assert.deepEqual(
      [5, 6, 7, 8, 9].map((i) => header(i)!.length),
      [65_535, 65_536, 65_537, 65_538, 65_539],
    );
    assert.equal(header(10)!.length, 200);
    assert.equal(header(11)!.length, 100_000 + 'From: news@example.org\r\nX-Big: '.length);

    const listed = await gw.core.mailings.list(ctx, {});
    for (const id of ids) {
      const one = listed.find((m) => m.id === id);
      assert.ok(one, `mailing ${id} listed`);
      assert.deepEqual(one, await gw.core.mailings.get(ctx, id), `mailing ${id}`);
    }
  });
});

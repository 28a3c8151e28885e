/**
 * A listing (`mailings.list`: one statement for the rows, their recipients' counts and their sends' opens and
 * clicks, the header block from variants.header) shows each mailing as it is read alone (`mailings.get`: the
 * whole row, then its totals and engagement): the same view, byte for byte, whatever the stored message, counts
 * and sends. variants.header is the message's header block whichever statement wrote the message.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let gw: TestGateway;
let ctx: { accountId: number; requestId: string };

const CRLF2 = Buffer.from('\r\n\r\n');
/** The header block as the reads answer it: through the first blank line, or the whole message without one. */
const headerOf = (raw: Buffer | null) => {
  if (raw === null) return null;
  const at = raw.indexOf(CRLF2);
  return at < 0 ? raw : raw.subarray(0, at + CRLF2.length);
};
/** A message whose header block ends (its blank line included) at byte `end`, with a body of `body` bytes. */
const messageEndingAt = (end: number, body: Buffer) => {
  const head = `From: news@example.org\r\nSubject: edge\r\nX-Pad: `;
  const pad = end - head.length - CRLF2.length;
  return Buffer.concat([Buffer.from(head), Buffer.alloc(pad, 'a'), CRLF2, body]);
};

before(async () => {
  gw = await startTestGateway();
  ctx = { accountId: (await gw.services.store.accounts.bySlug('acme'))!.id, requestId: 't' };
});
after(async () => {
  await gw?.stop();
});

describe('mailings: a listing shows each mailing as it is read alone', () => {
  it('for stored messages of every shape, html or none, counts and several sends with opens and clicks', async () => {
    const create = (subject: string, html = '<p>x</p>') =>
      gw.core.mailings.create(ctx, { dialect: 'cloudmailing', fromEmail: 'news@example.org', subject, html });
    const ids: number[] = [];
    const setRaw = async (raw: Buffer | null) => {
      const id = await create(`raw ${ids.length}`);
      await gw.pool.query('UPDATE variants SET raw_message = $2 WHERE mailing_id = $1', [id, raw]);
      ids.push(id);
    };
    // As composed; none; no blank line at all; a header block longer than the prefix searched first; a blank line
    // across the prefix's end, and ending at it; a megabyte of incompressible attachment after a short header.
    ids.push(await create('composed'));
    await setRaw(null);
    await setRaw(Buffer.from('From: news@example.org\r\nSubject: no body\r\n'));
    await setRaw(messageEndingAt(70_000, Buffer.from('body')));
    for (const end of [65_535, 65_536, 65_537, 65_538, 65_539]) await setRaw(messageEndingAt(end, Buffer.from('body\r\n\r\nmore')));
    await setRaw(messageEndingAt(200, randomBytes(1 << 20)));
    await setRaw(Buffer.concat([Buffer.from('From: news@example.org\r\nX-Big: '), Buffer.alloc(100_000, 'b')]));

    const plain = await create('no html', '');
    await gw.pool.query('UPDATE variants SET html = NULL WHERE mailing_id = $1', [plain]);
    const empty = await create('empty html', '');
    await gw.pool.query(`UPDATE variants SET html = '' WHERE mailing_id = $1`, [empty]);
    ids.push(plain, empty);

    // Counts of every status, test recipients among them; a second send; opens and clicks of people and machines.
    const counted = ids[0]!;
    await gw.core.recipients.add(
      ctx,
      counted,
      Array.from({ length: 12 }, (_, i) => ({ email: `r${i}@example.org`, fields: {} })),
    );
    await gw.core.recipients.sendTest(ctx, counted, [{ email: 'test@example.org', fields: {} }]);
    await gw.pool.query(
      `UPDATE recipients r SET status = s.status, try_count = 1
         FROM (SELECT id, (ARRAY['warning', 'finished', 'error', 'timeout', 'general_error'])[1 + (row_number() OVER (ORDER BY id))::int % 6] AS status
                 FROM recipients WHERE mailing_id = $1) s
        WHERE r.id = s.id AND s.status IS NOT NULL`,
      [counted],
    );
    const { rows: sends } = await gw.pool.query<{ id: number }>(
      `INSERT INTO sends (account_id, mailing_id, variant_id, status)
       SELECT account_id, mailing_id, variant_id, 'finished' FROM sends WHERE mailing_id = $1
       RETURNING id`,
      [counted],
    );
    const first = (await gw.pool.query<{ id: number }>('SELECT min(id)::int AS id FROM sends WHERE mailing_id = $1', [counted])).rows[0]!.id;
    await gw.pool.query(
      `INSERT INTO send_event_counts (send_id, kind, machine, events, recipients)
       SELECT s, k, m, e, r FROM (VALUES ($1::bigint, 'open', false, 7, 3), ($1, 'open', true, 5, 2), ($1, 'click', false, 4, 1),
                                         ($2::bigint, 'click', true, 9, 4), ($2, 'open', false, 2, 2), ($2, 'unsubscribe', false, 6, 6))
                                   AS v(s, k, m, e, r)`,
      [first, sends[0]!.id],
    );

    const listed = await gw.core.mailings.list(ctx, {});
    for (const id of ids) {
      const one = listed.find((m) => m.id === id);
      assert.ok(one, `mailing ${id} listed`);
      assert.deepEqual(one, await gw.core.mailings.get(ctx, id), `mailing ${id}`);
    }
    const c = listed.find((m) => m.id === counted)!;
    assert.deepEqual(c.totals, { recipients: 13, sent: 3, pending: 4, error: 6, softbounce: 2 });
    assert.deepEqual(c.engagement, {
      opens: 9,
      opens_unique: 5,
      clicks: 4,
      clicks_unique: 1,
      machine_opens: 5,
      machine_opens_unique: 2,
      machine_clicks: 9,
      machine_clicks_unique: 4,
    });
    assert.deepEqual(
      [plain, empty, ids[0]].map((id) => listed.find((m) => m.id === id)!.hasHtml),
      [false, false, true],
    );
    // The headers as cut: through the blank line, or the whole message without one.
    const header = (id: number) => listed.find((m) => m.id === id)!.header;
    assert.equal(header(ids[1]!), null);
    assert.equal(header(ids[2]!)!.toString(), 'From: news@example.org\r\nSubject: no body\r\n');
    assert.equal(header(ids[3]!)!.length, 70_000);
    assert.deepEqual(
      [4, 5, 6, 7, 8].map((i) => header(ids[i]!)!.length),
      [65_535, 65_536, 65_537, 65_538, 65_539],
    );
    assert.equal(header(ids[9]!)!.length, 200);
  });
});

describe('mailings: variants.header follows the stored message, whichever statement writes it', () => {
  it('create, createFromMessage, a newsletter, every edit of the message: the header read is the one cut from raw_message', async () => {
    const stored = async (id: number) =>
      (
        await gw.pool.query<{ raw_message: Buffer | null; header: Buffer | null }>(
          'SELECT raw_message, header FROM variants WHERE mailing_id = $1 ORDER BY position',
          [id],
        )
      ).rows;
    // A newsletter without a delivery has no send: mailings.get and list do not show it (its variants are checked).
    const agrees = async (id: number, what: string, shown = true) => {
      const rows = await stored(id);
      assert.ok(rows.length > 0, what);
      for (const r of rows) {
        assert.ok(r.raw_message, `${what}: a stored message`);
        assert.deepEqual(r.header, headerOf(r.raw_message), what);
      }
      if (!shown) return;
      const listed = (await gw.core.mailings.list(ctx, { ids: [id] }))[0];
      assert.deepEqual(listed, await gw.core.mailings.get(ctx, id), `${what}: listed as read alone`);
      assert.deepEqual(listed.header, rows[0]!.header, `${what}: the header answered`);
    };

    const made = await gw.core.mailings.create(ctx, { dialect: 'cloudmailing', fromEmail: 'news@example.org', subject: 'made', html: '<p>x</p>' });
    await agrees(made, 'create');
    const whole = await gw.core.mailings.createFromMessage(
      ctx,
      'cloudmailing',
      Buffer.from('From: news@example.org\nSubject: whole\nX-Long: ' + 'h'.repeat(70_000) + '\n\nbody\n\nmore\n'),
    );
    await agrees(whole, 'createFromMessage');
    const club = await gw.core.lists.create(ctx, { name: `Header readers ${randomBytes(4).toString('hex')}` });
    const news = await gw.core.newsletters.create(ctx, {
      dialect: 'emailicious',
      listId: club,
      name: `News ${randomBytes(4).toString('hex')}`,
      variants: [
        { fromEmail: 'news@example.org', subject: 'first', text: 'Hello', deliveries: [] },
        { language: 'de', fromEmail: 'news@example.org', subject: 'zweite', text: 'Hallo', deliveries: [] },
      ],
    });
    await agrees(news, 'a newsletter, each variant', false);

    // Each edit that rewrites the message: those of the header change it, those of the body keep it.
    const edits: [string, Parameters<typeof gw.core.mailings.setProperties>[2], 'changes' | 'keeps'][] = [
      ['subject', { subject: 'edited subject' }, 'changes'],
      ['sender', { fromEmail: 'other@example.org', fromName: 'Other' }, 'changes'],
      ['bodies', { html: '<p>new</p>', text: 'new' }, 'keeps'],
      ['header block', { headerBlock: 'From: news@example.org\r\nSubject: replaced\r\nX-Edit: 1\r\n' }, 'changes'],
      ['body', { body: 'a body\r\n\r\nwith a blank line' }, 'keeps'],
    ];
    let before = (await stored(made))[0]!;
    for (const [what, patch, header] of edits) {
      await gw.core.mailings.setProperties(ctx, made, patch);
      await agrees(made, `edit: ${what}`);
      const now = (await stored(made))[0]!;
      assert.notDeepEqual(now.raw_message, before.raw_message, `edit: ${what} rewrote the message`);
      if (header === 'changes') assert.notDeepEqual(now.header, before.header, `edit: ${what} changed the header`);
      else assert.deepEqual(now.header, before.header, `edit: ${what} kept the header`);
      before = now;
    }
    // An edit that leaves the message alone leaves the header as it was.
    await gw.core.mailings.setProperties(ctx, made, { testing: true });
    assert.deepEqual((await stored(made))[0]!.header, before.header);
    await agrees(made, 'edit: not the message');

    // Written directly, set to none: no header.
    await gw.pool.query('UPDATE variants SET raw_message = NULL WHERE mailing_id = $1', [made]);
    assert.deepEqual((await stored(made))[0]!.header, null);
    assert.equal((await gw.core.mailings.list(ctx, { ids: [made] }))[0]!.header, null);
  });
});

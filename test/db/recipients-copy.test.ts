/**
 * The COPY path of adding recipients (generated tracking ids): every value comes back exactly as given,
 * whatever characters COPY's text format gives a meaning to (backslash, tab, newline, carriage return) or
 * JSON escapes; generated tracking ids are time-ordered UUIDs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let gw: TestGateway;
let ctx: { accountId: number; requestId: string };

before(async () => {
  gw = await startTestGateway();
  ctx = { accountId: (await gw.core.accounts.authenticate(gw.key.secret))!.accountId, requestId: 't' };
});
after(async () => {
  await gw?.stop();
});

const AWKWARD = ['a\\b', 'tab\there', 'line\nbreak', 'cr\rlf\r\n', '\\N', '\\\\t', 'quote " and \\"', 'é ü 中 😀', '\u2028\u2029', '\u0001\u001f\u007f', ''];

describe('recipients added by COPY', () => {
  it('keep every field, nested or not, and every attachment exactly as given', async () => {
    const id = await gw.core.mailings.create(ctx, { dialect: 'cloudmailing', name: 'copy', fromEmail: 'a@example.org', subject: 'Hi', html: '<p>Hi</p>' });
    const items = AWKWARD.map((v, i) => ({
      email: `r${i}@example.org`,
      fields: { plain: v, [`key ${v}`]: i, nested: { list: [v, { deeper: v }] } },
      attachments: i % 2 ? [{ filename: 'a.txt', contentType: 'text/plain', data: 'aGVsbG8=' }] : null,
    }));
    const results = await gw.core.recipients.add(ctx, id, items);
    const { rows } = await gw.pool.query<{ tracking_id: string; email: string; fields: unknown; attachments: unknown }>(
      'SELECT tracking_id, email, fields, attachments FROM recipients WHERE mailing_id = $1 ORDER BY id',
      [id],
    );
    assert.equal(rows.length, AWKWARD.length);
    rows.forEach((r, i) => {
      assert.equal(r.tracking_id, (results[i] as { id: string }).id);
      assert.match(r.tracking_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(r.email, items[i]!.email);
      assert.deepEqual(r.fields, items[i]!.fields);
      assert.deepEqual(r.attachments, items[i]!.attachments && [{ filename: 'a.txt', contentType: 'text/plain', data: 'aGVsbG8=' }]);
    });
  });
});

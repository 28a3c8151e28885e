/**
 * With no SMTP_URL, the worker sends to the built-in SMTP capture: every message is kept in Postgres and
 * viewable at /admin/outbox: by operators (test/admin/browser.test.ts), and read-only by an API key of the
 * account whose mailing it is, never by another's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CallContext } from '../../src/core/context.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';

let gw: TestGateway;
let ctx: CallContext;
const auth = (secret: string) => ({ authorization: `Basic ${Buffer.from(`any:${secret}`).toString('base64')}` });

before(async () => {
  gw = await startTestGateway({ worker: true }); // no SMTP_URL: the capture
  ctx = { accountId: (await gw.services.store.accounts.bySlug('acme'))!.id, requestId: 't' };
});
after(async () => {
  await gw.stop();
});

describe('capture: the outbox', () => {
  it('keeps every message sent without a relay, with its envelope, and shows it to its account', async () => {
    assert.match(gw.captureUrl ?? '', /^smtp:\/\/127\.0\.0\.1:\d+$/);
    const id = await gw.core.mailings.create(ctx, {
      dialect: 'test',
      fromEmail: 'news@example.org',
      subject: 'Captured <b>{{ name }}</b>',
      html: '<p>Hi {{ name }}</p>',
    });
    await gw.core.recipients.add(ctx, id, [
      { email: 'a@example.org', fields: { name: 'Ann' } },
      { email: 'b@example.org', fields: { name: 'Bob' } },
    ]);
    await gw.core.mailings.start(ctx, id);
    await waitFor('the mailing finished', async () => (await gw.core.mailings.get(ctx, id)).status === 'finished', 30_000);
    const { rows } = await gw.pool.query<{ id: number; envelope_from: string; envelope_to: string[]; subject: string; account_id: number }>(
      'SELECT id, envelope_from, envelope_to, subject, account_id FROM captured_messages ORDER BY id',
    );
    assert.equal(rows.length, 2);
    for (const r of rows) {
      assert.match(r.envelope_from, /^bounces\+\d+\.[\w-]+@bounces\.mailgate\.test$/);
      assert.equal(r.account_id, ctx.accountId);
    }
    assert.deepEqual(rows.map((r) => r.envelope_to[0]).sort(), ['a@example.org', 'b@example.org']);

    const page = await fetch(`${gw.url}/admin/outbox`, { headers: auth(gw.key.secret) });
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /2 messages kept/);
    assert.match(html, /Captured &lt;b&gt;Ann&lt;\/b&gt;/, 'subjects are escaped in the page');
    assert.match(html, new RegExp(`<a href="/admin/outbox/${rows[0]!.id}">`), 'links work at /admin/outbox/ too');
    const raw = await fetch(`${gw.url}/admin/outbox/${rows[0]!.id}/raw`, { headers: auth(gw.key.secret) });
    assert.equal(raw.status, 200);
    assert.match(raw.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(await raw.text(), /^Message-ID: <r\d+\.m\d+@bounces\.mailgate\.test>/m);
  });

  it("never shows one account's mail to another, nor to anyone without a key", async () => {
    const other = await gw.core.accounts.createKey('other', 'x');
    const page = await fetch(`${gw.url}/admin/outbox`, { headers: auth(other.secret) });
    assert.match(await page.text(), /0 messages kept/);
    const { rows } = await gw.pool.query<{ id: number }>('SELECT id FROM captured_messages LIMIT 1');
    for (const view of ['', '/raw', '/preview'])
      assert.equal((await fetch(`${gw.url}/admin/outbox/${rows[0]!.id}${view}`, { headers: auth(other.secret) })).status, 404);
    const wrong = await fetch(`${gw.url}/admin/outbox`, { headers: auth('not-a-key') });
    assert.equal(wrong.status, 401);
    assert.match(wrong.headers.get('www-authenticate') ?? '', /^Basic/);
    const anonymous = await fetch(`${gw.url}/admin/outbox`, { redirect: 'manual' });
    assert.equal(anonymous.status, 303, 'a browser without a session goes to the login page');
    assert.equal(anonymous.headers.get('location'), '/admin/login?next=%2Fadmin%2Foutbox');
    const purge = await fetch(`${gw.url}/admin/outbox/purge`, { method: 'POST', headers: auth(gw.key.secret), redirect: 'manual' });
    assert.equal(purge.status, 403, 'a key reads the outbox, it never purges it');
    assert.equal((await gw.pool.query('SELECT count(*)::int AS n FROM captured_messages')).rows[0].n, 2);
  });

  it('purges what is older than the retention, and nothing newer', async () => {
    const { rows } = await gw.pool.query<{ id: number }>('SELECT id FROM captured_messages ORDER BY id');
    await gw.pool.query("UPDATE captured_messages SET received_at = now() - interval '31 days' WHERE id = $1", [rows[0]!.id]);
    assert.equal(await gw.core.outbox.purge(30), 1);
    assert.deepEqual(
      (await gw.pool.query<{ id: number }>('SELECT id FROM captured_messages ORDER BY id')).rows.map((r) => r.id),
      rows.slice(1).map((r) => r.id),
    );
    assert.equal(await gw.core.outbox.purge(null), rows.length - 1, 'no days: every message');
  });
});

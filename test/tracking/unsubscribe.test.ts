/**
 * The List-Unsubscribe link of a real message: RFC 8058 one-click POST unsubscribes at once, a GET only shows
 * the page, forged tokens name nobody, and a later mailing skips the address.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CallContext } from '../../src/core/context.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';

let smtp: TestSmtpServer;
let gw: TestGateway;
let ctx: CallContext;

async function sendTo(emails: string[]): Promise<number> {
  const id = await gw.core.mailings.create(ctx, {
    dialect: 'test',
    fromEmail: 'news@example.org',
    subject: 'Hello',
    html: '<p>Hi</p><a href="{{ unsubscribe_link }}">unsubscribe</a>',
  });
  await gw.core.recipients.add(
    ctx,
    id,
    emails.map((email) => ({ email, fields: {} })),
  );
  await gw.core.mailings.start(ctx, id);
  await waitFor('the mailing finished', async () => (await gw.core.mailings.get(ctx, id)).status === 'finished', 30_000);
  return id;
}

/** The https link of the message's List-Unsubscribe header, pointed at the test gateway. */
function unsubscribeUrl(to: string): string {
  const header = smtp.to(to)[0]!.header('List-Unsubscribe')!;
  const link = /<(http[^>]+)>/.exec(header)![1]!;
  return gw.url + new URL(link).pathname;
}

const suppressed = async (email: string) =>
  (await gw.pool.query<{ reason: string }>('SELECT reason FROM suppressions WHERE email = $1', [email])).rows.map((r) => r.reason);

before(async () => {
  smtp = await startTestSmtpServer();
  gw = await startTestGateway({ worker: true, env: { SMTP_URL: smtp.url } });
  ctx = { accountId: (await gw.services.store.accounts.bySlug('acme'))!.id, requestId: 't' };
});
after(async () => {
  await gw.stop();
  await smtp.close();
});

describe('unsubscribe: the List-Unsubscribe link', () => {
  it('GET shows a confirmation page and changes nothing; one-click POST unsubscribes, once', async () => {
    await sendTo(['ann@example.org', 'bob@example.org']);
    const url = unsubscribeUrl('ann@example.org');
    assert.match(smtp.to('ann@example.org')[0]!.header('List-Unsubscribe')!, /<mailto:unsubscribe\+[^@]+@bounces\.mailgate\.test>/);
    assert.equal(smtp.to('ann@example.org')[0]!.header('List-Unsubscribe-Post'), 'List-Unsubscribe=One-Click');

    const get = await fetch(url);
    assert.equal(get.status, 200);
    assert.match(await get.text(), /ann@example\.org/);
    assert.deepEqual(await suppressed('ann@example.org'), [], 'a GET (a link scanner) unsubscribes nobody');

    for (let i = 0; i < 2; i++) {
      const post = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
      assert.equal(post.status, 200);
    }
    assert.deepEqual(await suppressed('ann@example.org'), ['unsubscribe']);
    assert.deepEqual(await suppressed('bob@example.org'), []);
    const { rows } = await gw.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE kind = 'unsubscribe'`);
    assert.equal(rows[0]!.n, 1, 'one event, however often the link is used');
  });

  it('a forged or altered token is refused and changes nothing', async () => {
    const url = unsubscribeUrl('bob@example.org');
    const [, token] = /\/u\/(.+)$/.exec(url)!;
    const [id, mac] = token!.split('.');
    for (const forged of [`${Number(id) - 1}.${mac}`, `${id}.${'A'.repeat(12)}`, 'nonsense', '1.2.3']) {
      const r = await fetch(`${gw.url}/u/${encodeURIComponent(forged)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'List-Unsubscribe=One-Click',
      });
      assert.equal(r.status, 404, forged);
    }
    assert.deepEqual(await suppressed('bob@example.org'), []);
  });

  it('a later mailing skips the unsubscribed address', async () => {
    const before = smtp.to('ann@example.org').length;
    const id = await sendTo(['ann@example.org', 'carl@example.org']);
    assert.equal(smtp.to('ann@example.org').length, before);
    assert.equal(smtp.to('carl@example.org').length, 1);
    const { rows } = await gw.pool.query<{ email: string; status: string; reply_text: string }>(
      'SELECT email, status, reply_text FROM recipients WHERE mailing_id = $1 ORDER BY email',
      [id],
    );
    assert.deepEqual(rows, [
      { email: 'ann@example.org', status: 'error', reply_text: 'not sent: the address is suppressed (it unsubscribed)' },
      { email: 'carl@example.org', status: 'finished', reply_text: rows[1]!.reply_text },
    ]);
  });
});

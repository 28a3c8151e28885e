/**
 * The admin webhook pages in a real browser (Debian's chromium by playwright-core) against a real gateway whose
 * worker sends mailings to the built-in capture and webhooks to a real receiver on 127.0.0.1, which checks each
 * request's Standard Webhooks signature with the reference library (test/webhooks/receiver.ts).
 *
 * Waits are on conditions (what the page shows, what the receiver got, what is stored), never on time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import type { CallContext } from '../../src/core/context.js';
import { LONG, openAdminBrowser, type AdminBrowser } from '../support/admin-browser.js';
import type { TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { startReceiver, type Receiver } from '../webhooks/receiver.js';

let ab: AdminBrowser;
let gw: TestGateway;
let page: Page;
let acme: CallContext;
let receiver: Receiver;
let secret = '';
let endpointId = 0;

const count = async (sql: string, params: unknown[] = []) => (await gw.pool.query<{ n: number }>(sql, params)).rows[0]!.n;
const endpoints = () => count('SELECT count(*)::int AS n FROM webhook_endpoints');
const messages = (state: string) => count('SELECT count(*)::int AS n FROM webhook_messages WHERE endpoint_id = $1 AND state = $2', [endpointId, state]);

/** A mailing of acme's (Mailkit) to these addresses, sent by the gateway's worker to the capture. */
async function sendMailing(subject: string, emails: string[]): Promise<number> {
  const id = await gw.core.mailings.create(acme, { dialect: 'mailkit', name: subject, fromEmail: 'news@example.org', subject, html: '<p>hello</p>' });
  await gw.core.recipients.add(
    acme,
    id,
    emails.map((email) => ({ email, fields: {} })),
  );
  await gw.core.mailings.start(acme, id);
  await waitFor(
    `${subject} sent`,
    async () => (await count(`SELECT count(*)::int AS n FROM recipients WHERE mailing_id = $1 AND status = 'finished'`, [id])) === emails.length,
    LONG,
  );
  return id;
}

before(async () => {
  receiver = await startReceiver(() => secret);
  // One retry, soon: a message refused twice has failed for good within the test.
  ab = await openAdminBrowser({ env: { WEBHOOK_RETRY_SCHEDULE: '0.05', WEBHOOK_TIMEOUT_SECONDS: '10' } });
  ({ gw, page, acme } = ab);
  await ab.logIn();
  await page.waitForURL(/\/admin\/mailings$/);
});
after(async () => {
  await ab?.close();
  await receiver?.close();
});

describe('admin: webhook endpoints, their attempt log and replays', () => {
  it('creates an endpoint; its secret is shown once and signs what the receiver gets', async () => {
    await page.goto(`${gw.url}/admin/webhooks`);
    assert.match((await page.locator('#endpoints tbody').textContent())!, /No webhook endpoints/);
    const form = page.locator('#new-endpoint');
    await form.locator('select[name=account]').selectOption('acme');
    await form.locator('input[name=url]').fill(receiver.url);
    await form.locator('input[name=kinds][value=deferred]').uncheck();
    await form.locator('input[name=description]').fill('ops <receiver>');
    await form.locator('button[type=submit]').click();
    secret = (await page.locator('#secret').textContent())!.trim();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    const { rows } = await gw.pool.query<{ id: number; url: string; kinds: string[]; secret: string; description: string }>(
      'SELECT id, url, kinds, secret, description FROM webhook_endpoints',
    );
    assert.equal(rows.length, 1);
    endpointId = rows[0]!.id;
    assert.deepEqual(
      { ...rows[0], id: 0 },
      { id: 0, url: receiver.url, kinds: ['delivered', 'bounced', 'complained', 'unsubscribed', 'opened', 'clicked'], secret, description: 'ops <receiver>' },
    );

    await page.goto(`${gw.url}/admin/webhooks`);
    const row = page.locator(`tr[data-endpoint="${endpointId}"]`);
    const text = (await row.textContent())!;
    assert.match(text, /acme/);
    assert.match(text, /ops <receiver>/, 'the note is printed as text');
    assert.match(text, /delivered, bounced, complained, unsubscribed, opened, clicked/);
    assert.equal((await row.locator('.state').textContent())!.trim(), 'active');
    assert.ok(!(await page.content()).includes(secret), 'the secret is shown once');
  });

  it('shows failed deliveries in the attempt log (HTTP 500, the answer kept)', async () => {
    receiver.mode = 'fail';
    await sendMailing('failing', ['one@example.org', 'two@example.org']);
    await waitFor('both messages failed for good', async () => (await messages('failed')) === 2, LONG);
    assert.equal(receiver.requests.length, 4, 'each message tried twice');
    assert.ok(
      receiver.requests.every((q) => q.verified?.type === 'delivered'),
      'every request verifies with the secret the page showed',
    );

    await page.goto(`${gw.url}/admin/webhooks/${endpointId}`);
    const rows = page.locator('#attempts tbody tr');
    assert.equal(await rows.count(), 4);
    for (const r of await rows.all()) {
      assert.equal((await r.locator('.result').textContent())!.trim(), 'HTTP 500');
      assert.match((await r.textContent())!, /delivered\s+msg_[0-9a-f]{32}/);
    }
    // Newest first: each message's second attempt above its first.
    const numbers = await page.locator('#attempts tbody tr td:nth-child(5)').allTextContents();
    assert.deepEqual(numbers, ['2', '2', '1', '1']);
    assert.match((await page.locator('dd.state').textContent())!, /failing/);
    assert.equal((await page.locator('dd.backlog').textContent())!.trim(), '0');

    // Keyset paging: the page before the second newest attempt holds the two older ones.
    const ids = (await page.locator('#attempts tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-attempt')))).map(Number);
    await page.goto(`${gw.url}/admin/webhooks/${endpointId}?before=${ids[1]}`);
    assert.deepEqual(
      (await page.locator('#attempts tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-attempt')))).map(Number),
      ids.slice(2),
    );
  });

  it('replays one delivery from its page: the same webhook-id again, validly signed, and the log shows the success', async () => {
    await page.goto(`${gw.url}/admin/webhooks/${endpointId}`);
    await page.locator('#attempts tbody tr').first().locator('a').click();
    await page.waitForURL(/\/admin\/webhooks\/attempts\/\d+$/);
    const msgId = (await page.locator('#msg-id').textContent())!.trim();
    const sent = receiver.requests.find((q) => q.id === msgId)!;
    assert.equal(await page.locator('#payload').textContent(), sent.body, 'the body exactly as sent');
    assert.equal(await page.locator('#response').textContent(), 'receiver is down for maintenance');
    assert.match((await page.locator('.result').first().textContent())!, /HTTP 500/);
    assert.match((await page.locator('.message-state').textContent())!, /failed/);
    assert.equal(await page.locator('#message-attempts tbody tr').count(), 2);

    receiver.mode = 'ok';
    const before = receiver.requests.filter((q) => q.id === msgId).length;
    await page.locator('#replay').click();
    await page.locator('[role=status]').filter({ hasText: 'Replay queued' }).waitFor();
    await waitFor('the replay received', () => receiver.requests.filter((q) => q.id === msgId && q.answer === 200).length === 1, LONG);
    const again = receiver.requests.filter((q) => q.id === msgId);
    assert.equal(again.length, before + 1);
    assert.equal(again.at(-1)!.verified!.type, 'delivered');
    assert.equal(again.at(-1)!.body, sent.body, 'the same payload');
    await waitFor('delivered', async () => (await messages('delivered')) === 1, LONG);

    await page.reload();
    assert.match((await page.locator('.message-state').textContent())!, /delivered/);
    const newest = page.locator('#message-attempts tbody tr').first();
    assert.equal((await newest.locator('.result').textContent())!.trim(), 'HTTP 200');
    assert.equal((await newest.locator('td:nth-child(5)').textContent())!.trim(), '3');
    await page.locator('#message-attempts tbody tr').first().locator('a').click();
    assert.equal(await page.locator('#response').textContent(), 'thanks');
    await ab.shot('webhook-delivery');
  });

  it('replays every failed delivery since a time; failed-only filter', async () => {
    await page.goto(`${gw.url}/admin/webhooks/${endpointId}`);
    // After the failures: nothing to replay.
    await page.locator('#replay-failed input[name=since]').fill(new Date(Date.now() + 3_600_000).toISOString().slice(0, 19));
    await page.locator('#replay-failed button').click();
    await page.locator('[role=status]').filter({ hasText: 'No failed delivery since' }).waitFor();
    assert.equal(await messages('failed'), 1);

    // Not a time: refused with the form's words, nothing queued.
    await page.locator('#replay-failed input[name=since]').evaluate((el) => el.setAttribute('type', 'text'));
    await page.locator('#replay-failed input[name=since]').fill('yesterday');
    const [refused] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.locator('#replay-failed button').click()]);
    assert.equal(refused.status(), 400);
    assert.equal(await page.locator('[role=alert]').textContent(), 'Since: a time as YYYY-MM-DD HH:MM (UTC), seconds optional.');
    assert.equal(await messages('failed'), 1);

    await page.goto(`${gw.url}/admin/webhooks/${endpointId}`);
    await page.locator('#replay-failed input[name=since]').fill(new Date(Date.now() - 3_600_000).toISOString().slice(0, 19));
    await page.locator('#replay-failed button').click();
    await page.locator('[role=status]').filter({ hasText: 'Failed deliveries queued again' }).waitFor();
    await waitFor('every message delivered', async () => (await messages('delivered')) === 2, LONG);
    assert.equal(receiver.delivered().size, 2);
    for (const q of receiver.delivered().values()) assert.ok(q.verified);

    await page.reload();
    assert.equal(await page.locator('#attempts tbody tr').count(), 6);
    assert.equal(await page.locator('#attempts tbody tr.ok').count(), 2);
    assert.equal((await page.locator('dd.state').textContent())!.trim(), 'active');
    await page.locator('input[name=failed]').check();
    await page.locator('form[method=get] button').click();
    await page.waitForURL(/failed=1/);
    assert.equal(await page.locator('#attempts tbody tr').count(), 4);
    assert.equal(await page.locator('#attempts tbody tr.ok').count(), 0);
    await page.goto(`${gw.url}/admin/webhooks/${endpointId}`);
    await ab.shot('webhook-endpoint');
  });

  it('pauses an endpoint: its backlog grows in the page; a rotated secret signs what goes out on resume', async () => {
    await page.goto(`${gw.url}/admin/webhooks`);
    const row = () => page.locator(`tr[data-endpoint="${endpointId}"]`);
    assert.equal((await row().locator('.backlog').textContent())!.trim(), '0');
    await row().locator('button', { hasText: 'Pause' }).click();
    await page.locator('[role=status]').filter({ hasText: 'Endpoint paused' }).waitFor();
    assert.match((await page.locator('dd.state').textContent())!, /paused\s+paused by the operator/);

    const received = receiver.requests.length;
    await sendMailing('while paused', ['three@example.org', 'four@example.org', 'five@example.org']);
    await waitFor('three messages queued', async () => (await messages('pending')) === 3, LONG);
    await page.goto(`${gw.url}/admin/webhooks`);
    assert.equal((await row().locator('.backlog').textContent())!.trim(), '3');
    assert.match((await row().locator('.state').textContent())!, /paused/);
    assert.equal(receiver.requests.length, received, 'nothing sent while paused');

    const old = secret;
    await row().locator('button', { hasText: 'Rotate secret' }).click();
    const rotated = (await page.locator('#secret').textContent())!.trim();
    assert.match(rotated, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.notEqual(rotated, old);
    assert.match((await page.locator('[role=alert]').textContent())!, /The old secret stopped at once/);
    assert.equal((await gw.pool.query<{ secret: string }>('SELECT secret FROM webhook_endpoints WHERE id = $1', [endpointId])).rows[0]!.secret, rotated);
    secret = rotated;

    await page.goto(`${gw.url}/admin/webhooks/${endpointId}`);
    await page.locator('.actions button', { hasText: 'Resume' }).click();
    await page.locator('[role=status]').filter({ hasText: 'Endpoint resumed' }).waitFor();
    await waitFor('the queued messages delivered', async () => (await messages('delivered')) === 5, LONG);
    const late = receiver.requests.slice(received);
    assert.equal(late.length, 3);
    for (const q of late) assert.ok(q.verified, 'signed with the rotated secret');
    assert.deepEqual(late.map((q) => (q.verified!.data.recipient as { email: string }).email).sort(), [
      'five@example.org',
      'four@example.org',
      'three@example.org',
    ]);
    await page.goto(`${gw.url}/admin/webhooks`);
    assert.equal((await row().locator('.backlog').textContent())!.trim(), '0');
  });

  it('refuses a URL that is not http(s), carries credentials or is too long, storing nothing and printing no password', async () => {
    const before = await endpoints();
    const attempt = async (url: string) => {
      await page.goto(`${gw.url}/admin/webhooks`);
      const form = page.locator('#new-endpoint');
      await form.locator('input[name=url]').evaluate((el) => {
        el.removeAttribute('maxlength');
        el.setAttribute('type', 'text');
      });
      await form.locator('input[name=url]').fill(url);
      const [res] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), form.locator('button[type=submit]').click()]);
      return { status: res.status(), text: (await page.locator('[role=alert]').textContent())! };
    };
    assert.deepEqual(await attempt('ftp://files.example.org/in'), { status: 400, text: 'the URL must be http or https: ftp://files.example.org/in' });
    const creds = await attempt('https://user:hunter2@hooks.example.org/in');
    assert.equal(creds.status, 400);
    assert.match(creds.text, /must not carry credentials/);
    assert.ok(!(await page.content()).includes('hunter2'), 'the password is not printed back');
    const long = await attempt(`https://hooks.example.org/${'a'.repeat(2100)}`);
    assert.equal(long.status, 400);
    assert.match(long.text, /^the URL is too long \(2126 characters; at most 2000\)$/);
    assert.equal((await attempt('not a url')).status, 400);
    assert.equal(await endpoints(), before, 'nothing stored');
  });

  it('accepts a loopback or private address on purpose (operators only create endpoints); deletes an endpoint', async () => {
    await page.goto(`${gw.url}/admin/webhooks`);
    const form = page.locator('#new-endpoint');
    await form.locator('input[name=url]').fill('http://10.1.2.3:8080/hooks');
    await form.locator('button[type=submit]').click();
    assert.match((await page.locator('#secret').textContent())!, /^whsec_/);
    const { rows } = await gw.pool.query<{ id: number }>(`SELECT id FROM webhook_endpoints WHERE url = 'http://10.1.2.3:8080/hooks'`);
    assert.equal(rows.length, 1);
    await page.goto(`${gw.url}/admin/webhooks`);
    await ab.shot('webhooks');
    await page.locator(`tr[data-endpoint="${rows[0]!.id}"] button`, { hasText: 'Delete' }).click();
    await page.locator('[role=status]').filter({ hasText: 'Endpoint deleted' }).waitFor();
    assert.equal(await count('SELECT count(*)::int AS n FROM webhook_endpoints WHERE id = $1', [rows[0]!.id]), 0);
    assert.equal(await page.locator(`tr[data-endpoint="${rows[0]!.id}"]`).count(), 0);
    assert.equal(await page.locator(`tr[data-endpoint="${endpointId}"]`).count(), 1);
  });

  it('answers 404 for an endpoint or attempt that does not exist, and an API key 403', async () => {
    const missing = await page.goto(`${gw.url}/admin/webhooks/999999`);
    assert.equal(missing!.status(), 404);
    assert.equal((await page.goto(`${gw.url}/admin/webhooks/attempts/999999`))!.status(), 404);
    const res = await fetch(`${gw.url}/admin/webhooks`, { headers: { authorization: `Basic ${Buffer.from(`x:${gw.key.secret}`).toString('base64')}` } });
    assert.equal(res.status, 403);
  });
});

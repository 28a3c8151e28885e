/**
 * The admin pages of lists, subscribers, CSV imports and transactional campaigns, in a real browser (Debian's
 * chromium through playwright-core) against a real gateway whose worker sends to the built-in capture.
 * Uploads go through the page's own file inputs; the forged post is a real multipart request from node with
 * the session's cookie. Waits are on what the page shows or what is stored, never on time.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import type { CallContext } from '../../src/core/context.js';
import { openAdminBrowser, type AdminBrowser } from '../support/admin-browser.js';
import type { TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';

let ab: AdminBrowser;
let gw: TestGateway;
let page: Page;
let acme: CallContext;
let dir: string;
let listId = 0;

const ROWS = 4000;

/** Rows of a table of the database (what "nothing stored" is checked against). */
const countOf = async (table: 'imports' | 'subscribers' | 'mailings') =>
  (await gw.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;

async function uploadInto(id: number, file: string): Promise<void> {
  await page.goto(`${gw.url}/admin/lists/${id}`);
  await page.setInputFiles('input[type=file][name=file]', file);
  await page.click('form[action$="/import"] button[type=submit]');
}

before(async () => {
  ab = await openAdminBrowser();
  ({ gw, page, acme } = ab);
  dir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-admin-lists-'));
  await ab.logIn();
});
after(async () => {
  await ab?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('admin: lists, subscribers and CSV import', () => {
  it('creates a list from the page, in the account chosen', async () => {
    await page.goto(`${gw.url}/admin/lists`);
    await page.selectOption('select[name=account]', 'acme');
    await page.fill('input[name=name]', 'Browser customers');
    await page.click('form[action="/admin/lists"] button[type=submit]');
    await page.waitForSelector('.notice:has-text("List created.")');
    const row = page.locator('#lists tr', { hasText: 'Browser customers' });
    assert.equal(await row.locator('td').nth(1).textContent(), 'acme');
    const stored = (await gw.core.lists.list(acme)).find((l) => l.name === 'Browser customers');
    assert.ok(stored, 'the list is stored in acme');
    assert.equal(stored.slug, 'browser-customers');
    listId = stored.id;
    await ab.shot('lists');
  });

  it('imports a CSV of several thousand rows uploaded in the page, its progress live until finished, without a reload', async () => {
    const lines = ['email,first_name,city'];
    for (let i = 0; i < ROWS; i++) lines.push(`user${i}@import.example,Name ${i},"City, ${i % 7}"`);
    lines.push('not-an-address,Bad,Row');
    const file = path.join(dir, 'customers.csv');
    await writeFile(file, lines.join('\n') + '\n');

    await uploadInto(listId, file);
    await page.waitForURL(/\/admin\/imports\/\d+$/);
    // A mark on this document: it is still there at the end only if the page was never reloaded.
    await page.evaluate(() => ((globalThis as unknown as { mark: string }).mark = 'same document'));
    await page.waitForSelector('#import-progress .state:has-text("finished")');
    assert.equal(await page.evaluate(() => (globalThis as unknown as { mark?: string }).mark), 'same document');
    assert.equal(await page.textContent('#import-progress .records'), String(ROWS + 1));
    assert.match((await page.textContent('#import-progress .imported'))!, new RegExp(`^${ROWS} \\(${ROWS} new, 0 updated\\)$`));
    assert.equal(await page.textContent('#import-progress .rejected'), '1');
    assert.match((await page.textContent('#rejects'))!, /invalid email address: "not-an-address"/);
    await ab.shot('import-progress');

    assert.equal(await gw.core.lists.count(acme, listId), ROWS);
    const [one] = await gw.core.lists.subscribers(acme, { email: 'user1234@import.example' }, listId);
    assert.deepEqual(one?.params, { first_name: 'Name 1234', city: 'City, 2' });

    // The list's page finds one imported address.
    await page.goto(`${gw.url}/admin/lists/${listId}`);
    await page.fill('form[method=get] input[name=q]', 'user1234@');
    await page.click('form[method=get] button[type=submit]');
    await page.waitForURL(/q=user1234/);
    const rows = page.locator('#subscribers tbody tr');
    assert.equal(await rows.count(), 1);
    assert.equal(await rows.locator('.email').textContent(), 'user1234@import.example');
    assert.match((await rows.textContent())!, /first_name\s*Name 1234/);
    await ab.shot('list-subscribers');
  });

  it('unsubscribes and removes one subscriber from its list page', async () => {
    await page.goto(`${gw.url}/admin/lists/${listId}?q=user7@`);
    await page.click('#subscribers tr:has-text("user7@import.example") button:has-text("Unsubscribe")');
    await page.waitForSelector('.notice:has-text("unsubscribed from this list")');
    const [s] = await gw.core.lists.subscribers(acme, { email: 'user7@import.example' }, listId);
    assert.equal(s?.status, 'unsubscribed');
    await page.goto(`${gw.url}/admin/lists/${listId}?q=user8@`);
    await page.click('#subscribers tr:has-text("user8@import.example") button:has-text("Remove")');
    await page.waitForSelector('.notice:has-text("Subscriber removed")');
    const [r] = await gw.core.lists.subscribers(acme, { email: 'user8@import.example' }, listId);
    assert.equal(r?.status, 'disabled');
    await page.goto(`${gw.url}/admin/lists/${listId}?status=unsubscribed`);
    assert.equal(await page.locator('#subscribers tbody tr').count(), 1);
  });

  it('refuses a malformed CSV (no email column, binary, not UTF-8) with its reason, storing nothing', async () => {
    const cases: [string, Buffer, RegExp][] = [
      ['no-email.csv', Buffer.from('name,phone\nAlice,123\n'), /the header row has no email column \(it has "name", "phone"\)/],
      ['binary.csv', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x08, 0x00, 0xff, 0xfe]), /binary file, not CSV text/],
      ['latin1.csv', Buffer.from('email,name\nzoe@example.org,Jos\xe9\n', 'latin1'), /not UTF-8 text/],
    ];
    const before = { imports: await countOf('imports'), subscribers: await countOf('subscribers') };
    for (const [name, bytes, message] of cases) {
      const file = path.join(dir, name);
      await writeFile(file, bytes);
      await uploadInto(listId, file);
      await page.waitForSelector('.error');
      assert.match((await page.textContent('.error'))!, message, name);
      assert.match(page.url(), new RegExp(`/admin/lists/${listId}/import$`));
    }
    assert.deepEqual({ imports: await countOf('imports'), subscribers: await countOf('subscribers') }, before);
  });

  it('shows an import that the file stops part way (a broken quote) as stopped, with the reason; the records before it are in', async () => {
    const id = await gw.core.lists.create(acme, { name: 'Broken quote' });
    const lines = ['email;name'];
    // The page's imports commit every 1,000 records: the first thousand are in, the 500 after them are not.
    for (let i = 0; i < 1500; i++) lines.push(`q${i}@import.example;Q ${i}`);
    lines.push('q1500@import.example;"never closed');
    const file = path.join(dir, 'broken.csv');
    await writeFile(file, lines.join('\n') + '\nq1501@import.example;x\n');
    await uploadInto(id, file);
    await page.waitForURL(/\/admin\/imports\/\d+$/);
    await page.waitForSelector('#import-progress .state:has-text("stopped")');
    assert.match((await page.textContent('#import-progress .error'))!, /broken\.csv: Quote Not Closed/);
    assert.match((await page.textContent('#import-progress .imported'))!, /^1000 /);
    assert.equal(await gw.core.lists.count(acme, id), 1000);
    await ab.shot('import-stopped');
  });

  it('deletes a list from the page, with its subscribers', async () => {
    const id = await gw.core.lists.create(acme, { name: 'To delete' });
    await gw.core.lists.subscribe(acme, id, [{ email: 'gone@import.example' }]);
    await page.goto(`${gw.url}/admin/lists?q=To+delete`);
    const row = page.locator(`#lists tr[data-list="${id}"]`);
    assert.equal(await row.locator('.total').textContent(), '1');
    assert.match((await row.locator('button.danger').getAttribute('data-confirm'))!, /Delete list To delete \(acme\) and its 1 subscribers\?/);
    await row.locator('button.danger').click();
    await page.waitForSelector('.notice:has-text("List deleted")');
    assert.equal(await page.locator(`#lists tr[data-list="${id}"]`).count(), 0);
    assert.deepEqual(
      (await gw.core.lists.list(acme)).filter((l) => l.id === id),
      [],
    );
    assert.deepEqual(await gw.core.lists.subscribers(acme, { email: 'gone@import.example' }), []);
  });

  it('refuses a multipart post without the session token (or with it after the file), storing nothing', async () => {
    const cookie = (await ab.context.cookies()).find((c) => c.name === 'mailgate_admin');
    assert.ok(cookie);
    const csrf = await (async () => {
      await page.goto(`${gw.url}/admin/lists/${listId}`);
      return (await page.getAttribute('form[action$="/import"] input[name=csrf]', 'value'))!;
    })();
    const before = { imports: await countOf('imports'), subscribers: await countOf('subscribers'), mailings: await countOf('mailings') };
    const csv = new Blob(['email\nforged@import.example\n'], { type: 'text/csv' });
    const post = async (to: string, form: FormData) =>
      await fetch(`${gw.url}${to}`, { method: 'POST', body: form, headers: { cookie: `mailgate_admin=${cookie.value}` }, redirect: 'manual' });

    const none = new FormData();
    none.append('file', csv, 'forged.csv');
    const r1 = await post(`/admin/lists/${listId}/import`, none);
    assert.equal(r1.status, 403);
    assert.match(await r1.text(), /Form refused/);

    const late = new FormData();
    late.append('file', csv, 'forged.csv');
    late.append('csrf', csrf);
    assert.equal((await post(`/admin/lists/${listId}/import`, late)).status, 403);

    const wrong = new FormData();
    wrong.append('csrf', 'guess');
    wrong.append('account', 'acme');
    wrong.append('name', 'forged');
    wrong.append('from', 'a@example.org');
    wrong.append('subject', 'x');
    wrong.append('html', new Blob(['<p>x</p>'], { type: 'text/html' }), 'x.html');
    assert.equal((await post('/admin/campaigns', wrong)).status, 403);

    // With the token, a second file refuses the post all the same.
    const two = new FormData();
    two.append('csrf', csrf);
    two.append('file', csv, 'one.csv');
    two.append('file', csv, 'two.csv');
    const r2 = await post(`/admin/lists/${listId}/import`, two);
    assert.equal(r2.status, 400);
    assert.match(await r2.text(), /One file per form/);
    assert.deepEqual({ imports: await countOf('imports'), subscribers: await countOf('subscribers'), mailings: await countOf('mailings') }, before);

    // The same post with the token first is taken: the refusals were the token's.
    const good = new FormData();
    good.append('csrf', csrf);
    good.append('file', csv, 'forged.csv');
    const ok = await post(`/admin/lists/${listId}/import`, good);
    assert.equal(ok.status, 303);
    assert.deepEqual({ imports: await countOf('imports'), mailings: await countOf('mailings') }, { imports: before.imports + 1, mailings: before.mailings });
    await waitFor('the accepted import', async () => (await gw.core.lists.subscribers(acme, { email: 'forged@import.example' }, listId)).length === 1);
  });
});

describe('admin: transactional campaigns', () => {
  it('creates a campaign from an html file; a Sender transactional send through it shows on the page', async () => {
    const file = path.join(dir, 'welcome.html');
    await writeFile(file, '<html><body><h1>Welcome, {{ name }}</h1><p>Your order is on its way.</p></body></html>');
    await page.goto(`${gw.url}/admin/campaigns`);
    await page.selectOption('select[name=account]', 'acme');
    await page.fill('input[name=name]', 'welcome-mail');
    await page.fill('input[name=from]', 'shop@acme.example');
    await page.fill('input[name=from_name]', 'Acme shop');
    await page.fill('input[name=subject]', 'Welcome {{ name }}');
    await page.setInputFiles('input[type=file][name=html]', file);
    await page.click('form[action="/admin/campaigns"] button[type=submit]');
    await page.waitForSelector('.notice:has-text("Campaign created.")');
    const mailingId = await gw.core.mailings.idByName(acme, 'welcome-mail');
    assert.ok(mailingId);
    const variant = (await gw.services.store.mailings.variants([mailingId]))[0]!;
    assert.match(variant.text ?? '', /WELCOME, \{\{ name \}\}|Welcome, \{\{ name \}\}/i, 'the text part is derived from the html');

    const row = page.locator('#campaigns tr', { hasText: 'welcome-mail' });
    assert.equal(await row.locator('.messages').textContent(), '0');

    const sent = await fetch(`${gw.url}/api/0/acme/transactional/welcome-mail/send`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${gw.key.secret}:`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to_email: 'buyer@example.org', args: { name: 'Ann' }, async: true }),
    });
    assert.equal(sent.status, 200, await sent.clone().text());
    assert.equal(((await sent.json()) as { result: { status: string } }).result.status, 'OK');
    // The page's live part shows the message sent, without a reload.
    await page.waitForSelector(`#campaigns tr[data-campaign="${mailingId}"] .sent:text-is("1")`);
    assert.equal(await row.locator('.messages').textContent(), '1');
    await ab.shot('campaigns');
  });
});

/**
 * The admin pages of the audience in a real browser (Debian's chromium by playwright-core, a real gateway):
 * segments (made in the page, their matches read back against the stored subscribers), unsubscribe lists
 * (addresses added and removed in the page, and Sender's API over real HTTP with Python `requests` agreeing),
 * and an API key's label changed on the accounts page.
 *
 * Waits are on what the page shows (a redirect's notice), never on time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import type { CallContext } from '../../src/core/context.js';
import { openAdminBrowser, type AdminBrowser } from '../support/admin-browser.js';
import type { TestGateway } from '../support/gateway.js';
import { requestsCall } from '../sender/client.js';

let ab: AdminBrowser;
let gw: TestGateway;
let page: Page;
let acme: CallContext;
let listId: number;

/** Subscriber `i`'s fields: cities and plans mixed (a city with a trailing blank, no plan, a number for a plan). */
function paramsOf(i: number): Record<string, unknown> {
  const p: Record<string, unknown> = { city: i % 4 === 1 ? 'Paris' : i % 4 === 2 ? 'Berlin ' : 'Berlin' };
  if (i % 5 !== 0) p.plan = i % 7 === 0 ? 'free' : 'pro';
  if (i === 11) p.plan = 1;
  return p;
}

/** The rows of a table's body as the page shows them: one array of cell texts per row. */
const cells = (p: Page, table: string) =>
  p.locator(`table#${table} tbody tr`).evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())));

before(async () => {
  ab = await openAdminBrowser();
  ({ gw, page, acme } = ab);
  await ab.logIn();
  await page.waitForURL(/\/admin\/mailings$/);
  listId = await gw.core.lists.createWithSlug(acme, { slug: 'members', name: 'Members' });
  // 300 subscribers, a little more than 100 of them Berlin pro ones (two pages); one disabled: a segment is about fields only.
  const made = await gw.core.lists.subscribe(
    acme,
    listId,
    Array.from({ length: 300 }, (_, i) => ({ email: `m${i}@example.org`, params: paramsOf(i) })),
  );
  assert.ok(made.every((r) => !('error' in r)));
  await gw.core.lists.disable(acme, listId, 'm3@example.org');
  // Another account's list of the same name: the operator sees both, each under its account.
  const other = await gw.core.accounts.operatorContext((await gw.core.accounts.createKey('other')).account);
  const otherList = await gw.core.lists.createWithSlug(other, { slug: 'members', name: 'Members' });
  await gw.core.lists.subscribe(other, otherList, [{ email: 'o1@example.org', params: { city: 'Berlin', plan: 'pro' } }]);
});
after(async () => {
  await ab?.close();
});

describe('admin: segments', () => {
  it('a segment made in the page matches exactly the subscribers whose stored fields have its values, a page at a time', async () => {
    await page.goto(`${gw.url}/admin/segments`);
    await page.selectOption('select[name=list]', String(listId));
    await page.fill('input[name=name]', 'Berlin <pro>');
    await page.fill('textarea[name=conditions]', 'city=Berlin\nplan=pro\n');
    await page.click('#new-segment button[type=submit]');
    await page.waitForURL(/\/admin\/segments\/\d+\?notice=segment-created$/);
    const segmentId = Number(/\/segments\/(\d+)/.exec(page.url())![1]);

    const { rows: stored } = await gw.pool.query<{ list_id: number; name: string; conditions: unknown }>(
      'SELECT list_id, name, conditions FROM segments WHERE id = $1',
      [segmentId],
    );
    assert.deepEqual(stored, [{ list_id: listId, name: 'Berlin <pro>', conditions: { city: 'Berlin', plan: 'pro' } }]);
    // What the stored subscribers say, read here without the segment's own SQL: exact values ('Berlin ' and the number 1 are not).
    const { rows: subs } = await gw.pool.query<{ email: string; params: Record<string, unknown> }>('SELECT email, params FROM subscribers WHERE list_id = $1', [
      listId,
    ]);
    const expected = subs
      .filter((s) => s.params.city === 'Berlin' && s.params.plan === 'pro')
      .map((s) => s.email)
      .sort();
    assert.ok(expected.length > 100 && expected.length < 200, `${expected.length} matches: two pages`);
    assert.ok(expected.includes('m3@example.org'), 'the disabled one matches too');

    assert.equal(await page.locator('.notice').textContent(), 'Segment created.');
    assert.equal(await page.locator('h1').textContent(), `Segment ${segmentId}: Berlin <pro>`);
    assert.equal(await page.locator('dd.matching').textContent(), String(expected.length));
    await ab.shot('segment');
    const first = await cells(page, 'members');
    assert.equal(first.length, 100);
    await page.click('a:text-is("Older")');
    await page.waitForURL(/before=\d+/);
    const shown = [...first, ...(await cells(page, 'members'))];
    assert.equal(await page.locator('a:text-is("Older")').count(), 0);
    assert.deepEqual(shown.map((r) => r[1]).sort(), expected);
    assert.deepEqual(shown.find((r) => r[1] === 'm3@example.org')?.[2], 'disabled');

    await page.goto(`${gw.url}/admin/segments`);
    const rows = await cells(page, 'segments');
    assert.deepEqual(
      rows.map((r) => r.slice(0, 6)),
      [[String(segmentId), 'acme', `Members (${listId})`, 'Berlin <pro>', 'city=Berlin, plan=pro', String(expected.length)]],
    );
    const options = await page.locator('select[name=list] option').allTextContents();
    assert.deepEqual(options.filter((o) => o.includes('Members')).length, 2, 'both accounts’ lists, each named with its account');
    await ab.shot('segments');
  });

  it('a bad condition is refused with its message and stores nothing; deleting removes the segment', async () => {
    const count = async () => (await gw.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM segments')).rows[0]!.n;
    const before = await count();
    await page.goto(`${gw.url}/admin/segments`);
    await page.selectOption('select[name=list]', String(listId));
    await page.fill('input[name=name]', 'Broken');
    await page.fill('textarea[name=conditions]', 'city=Paris\ncity Berlin');
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/admin/segments') && r.request().method() === 'POST'),
      page.click('#new-segment button[type=submit]'),
    ]);
    assert.equal(answer.status(), 400);
    // The command line's message for the same condition (`mailgate segments create ... 'city Berlin'`).
    assert.equal(await page.locator('[role=alert]').textContent(), 'city Berlin: a condition is field=value');
    assert.equal(await count(), before);

    // The core's own checks answer the same way: a name the list has already.
    await page.goto(`${gw.url}/admin/segments`);
    await page.selectOption('select[name=list]', String(listId));
    await page.fill('input[name=name]', 'Berlin <pro>');
    await page.fill('textarea[name=conditions]', 'city=Paris');
    await page.click('#new-segment button[type=submit]');
    assert.equal(await page.locator('[role=alert]').textContent(), `list ${listId} has a segment named "Berlin <pro>" already`);
    assert.equal(await count(), before);

    await page.goto(`${gw.url}/admin/segments`);
    await page.click('table#segments button.danger');
    await page.waitForURL(/\/admin\/segments\?notice=segment-deleted$/);
    assert.equal(await count(), before - 1);
    assert.deepEqual(await cells(page, 'segments'), [['No segments.']]);
  });
});

describe('admin: unsubscribe lists', () => {
  const sender = (method: string, path: string, params?: Record<string, string>) =>
    requestsCall(method, `${gw.url}/api/0/acme${path}`, { key: gw.key.secret, ...(params ? { params } : {}) });

  it('made in the page; an address added and removed in the page is what Sender’s API answers, and the other way round', async () => {
    await page.goto(`${gw.url}/admin/unsubscribe-lists`);
    await page.selectOption('select[name=account]', 'acme');
    await page.fill('input[name=slug]', 'PROMO-1');
    await page.fill('input[name=name]', 'Promo & news');
    await page.click('#new-unsubscribe-list button[type=submit]');
    await page.waitForURL(/\/admin\/unsubscribe-lists\/\d+\?notice=unsubscribe-list-created$/);
    const listPage = page.url().replace(/\?.*$/, '');

    await page.fill('#add-address input[name=email]', 'Ann@Example.ORG');
    await page.click('#add-address button[type=submit]');
    await page.waitForURL(/notice=address-added$/);
    assert.deepEqual(
      (await sender('GET', '/unsubscribe/list/PROMO-1/email/Ann@example.org')).body,
      { result: { email: 'Ann@Example.ORG' } },
      'Sender finds the address the page added',
    );
    // Added through Sender as Yandex Pay's client does (params={'email': ...}): the page lists it.
    for (const email of ['bob@example.org', 'carl@example.org']) {
      const r = await sender('PUT', '/unsubscribe/list/PROMO-1', { email });
      assert.deepEqual([r.status, r.body.result.status], [200, 'ok']);
    }
    await page.goto(listPage);
    assert.deepEqual(
      (await cells(page, 'addresses')).map((r) => r[0]),
      ['Ann@Example.ORG', 'bob@example.org', 'carl@example.org'],
    );
    assert.equal(await page.locator('dd.entries').textContent(), '3');
    await page.fill('input[name=q]', 'BOB');
    await page.click('form[method=get] button[type=submit]');
    await page.waitForURL(/q=BOB/);
    assert.deepEqual(
      (await cells(page, 'addresses')).map((r) => r[0]),
      ['bob@example.org'],
    );
    await page.goto(listPage);
    await ab.shot('unsubscribe-list');

    await page.locator('table#addresses tr', { hasText: 'Ann@Example.ORG' }).locator('button').click();
    await page.waitForURL(/notice=address-removed$/);
    const gone = await sender('GET', '/unsubscribe/list/PROMO-1/email/Ann@example.org');
    assert.deepEqual([gone.status, gone.body], [404, { detail: 'Email is not in unsublist.' }]);
    const content = await sender('GET', '/unsubscribe/list/PROMO-1/content');
    assert.deepEqual(
      content.body.result.map((e: { email: string }) => e.email),
      ['bob@example.org', 'carl@example.org'],
    );
    // A bad address is refused with the core's message, nothing added.
    await page.fill('#add-address input[name=email]', 'x@y.example');
    await page.locator('#add-address input[name=email]').evaluate((el) => {
      // The browser's own check of type=email set aside: the server's is the one that counts.
      const input = el as unknown as { type: string; value: string };
      input.type = 'text';
      input.value = 'not an address';
    });
    await page.click('#add-address button[type=submit]');
    assert.equal(await page.locator('[role=alert]').textContent(), 'invalid email address: "not an address"');
    assert.equal((await sender('GET', '/unsubscribe/list/PROMO-1/content')).body.count, 2);

    await page.goto(`${gw.url}/admin/unsubscribe-lists`);
    assert.deepEqual(
      (await cells(page, 'unsubscribe-lists')).map((r) => r.slice(0, 4)),
      [['acme', 'PROMO-1', 'Promo & news', '2']],
    );
    await ab.shot('unsubscribe-lists');

    await page.click('table#unsubscribe-lists button.danger');
    await page.waitForURL(/notice=unsubscribe-list-deleted$/);
    const deleted = await sender('GET', '/unsubscribe/list/PROMO-1/content');
    assert.equal(deleted.status, 404);
  });
});

describe('admin: API key labels', () => {
  it('a key’s label is changed on the accounts page, stored, printed as text, cut to the length creation keeps', async () => {
    const label = '<img src=x onerror=alert(1)> Billing & "co"';
    await page.goto(`${gw.url}/admin/accounts`);
    const row = page.locator(`tr[data-key="${gw.key.id}"]`);
    await row.locator('input[name=label]').fill(label);
    await row.locator('button:text-is("Save label")').click();
    await page.waitForURL(/\/admin\/accounts\?notice=key-relabelled$/);
    assert.equal(await page.locator('.notice').textContent(), 'Key label saved.');
    const stored = async () => (await gw.pool.query<{ label: string | null }>('SELECT label FROM api_keys WHERE id = $1', [gw.key.id])).rows[0]!.label;
    assert.equal(await stored(), label);
    assert.equal(await row.locator('.key-label').textContent(), label);
    assert.equal(await row.locator('img').count(), 0, 'printed as text, not markup');

    // Past the input's maxlength (a form not from this page's browser): cut as creation cuts, not refused.
    const csrf = await page.locator('input[name=csrf]').first().inputValue();
    const r = await ab.context.request.post(`${gw.url}/admin/keys/${gw.key.id}/label`, { form: { csrf, label: ` ${'é'.repeat(300)} ` }, maxRedirects: 0 });
    assert.equal(r.status(), 303);
    assert.equal(await stored(), 'é'.repeat(200));
    // An empty label clears it; the key still works.
    await page.goto(`${gw.url}/admin/accounts`);
    await row.locator('input[name=label]').fill('');
    await row.locator('button:text-is("Save label")').click();
    await page.waitForURL(/notice=key-relabelled$/);
    assert.equal(await stored(), null);
    assert.equal((await gw.core.accounts.authenticate(gw.key.secret))?.keyId, gw.key.id);
  });
});

/**
 * The admin pages in a real browser: Debian's chromium driven by playwright-core (never a downloaded browser),
 * against a real gateway whose worker sends to the built-in SMTP capture on 127.0.0.1, and a Python
 * xmlrpc.client as the API client. Each page's screenshot is kept under test/artifacts/.
 *
 * Waits are on conditions the page shows (the live progress, a notice), never on time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import type { CallContext } from '../../src/core/context.js';
import { LOGIN, LONG, PASSWORD, openAdminBrowser, type AdminBrowser } from '../support/admin-browser.js';
import type { TestGateway } from '../support/gateway.js';
import { runProcess } from '../support/process.js';

let ab: AdminBrowser;
let gw: TestGateway;
let context: BrowserContext;
let page: Page;
let acme: CallContext;

/** CloudMailing through Python's xmlrpc.client, as an integration calls it. */
const CLIENT = `
import json, sys, xmlrpc.client
url, action = sys.argv[1:3]
rpc = xmlrpc.client.ServerProxy(url)
try:
    if action == 'create':
        mailing_id = rpc.create_mailing('news@example.org', 'News', 'Hello from the browser test',
            '<p id="body">static text</p><script>document.getElementById("body").textContent = "script ran"</script>', 'Hello', 'utf-8')
        results = rpc.add_recipients(mailing_id, [{'email': 'r%d@example.org' % i} for i in range(int(sys.argv[3]))])
        assert all('error' not in r for r in results), results
        print(json.dumps({'id': mailing_id}))
    elif action == 'start':
        print(json.dumps({'status': rpc.start_mailing(int(sys.argv[3]))}))
    elif action == 'list':
        print(json.dumps({'count': len(rpc.list_mailings())}))
except xmlrpc.client.Fault as e:
    print(json.dumps({'fault': e.faultCode}))
`;

async function python(secret: string, ...args: string[]): Promise<Record<string, unknown>> {
  const url = `${gw.url.replace('://', `://admin:${secret}@`)}/CloudMailing`;
  const r = await runProcess('python3', ['-c', CLIENT, url, ...args], { timeoutMs: LONG });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

const shot = (name: string, p?: Page) => ab.shot(name, p);
const logIn = (p: Page, login?: string, password?: string) => ab.logIn(p, login, password);

/** The value of the admin session cookie of a browser context. */
const sessionCookie = async (c: BrowserContext) => (await c.cookies()).find((k) => k.name === 'mailgate_admin');

before(async () => {
  ab = await openAdminBrowser();
  ({ gw, context, page, acme } = ab);
});
after(async () => {
  await ab?.close();
});

describe('admin pages in a browser', () => {
  it('sends to the login page first, and in after a login', async () => {
    await page.goto(`${gw.url}/admin/mailings`);
    assert.match(page.url(), /\/admin\/login\?next=%2Fadmin%2Fmailings$/);
    await shot('login');
    await logIn(page, LOGIN, 'not the password');
    assert.equal(await page.locator('[role=alert]').textContent(), 'Wrong login or password.');
    await logIn(page);
    await page.waitForURL(/\/admin\/mailings$/);
    const cookie = await sessionCookie(context);
    assert.ok(cookie);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Lax');
    assert.equal(cookie.secure, false, 'PUBLIC_URL is http here');
    assert.equal(cookie.path, '/admin');
    const { rows } = await gw.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM operator_sessions WHERE id_hash = sha256($1::bytea)', [
      Buffer.from(cookie.value),
    ]);
    assert.equal(rows[0]!.n, 1, 'the table keeps the hash of the session id, not the id');
  });

  let secret = '';
  it('creates a key whose secret is shown once, and a Python client sends a mailing with it while the page watches it reach 100 %', async () => {
    await page.goto(`${gw.url}/admin/accounts`);
    await page.selectOption('select[name=account]', 'acme');
    await page.fill('input[name=label]', 'browser <key>');
    await page.click('form[action="/admin/keys"] button');
    secret = (await page.locator('#secret').textContent())!.trim();
    assert.match(secret, /^[A-Za-z0-9_-]{32}$/);
    await shot('key-created');

    const created = await python(secret, 'create', '20');
    const id = created.id as number;
    await page.goto(`${gw.url}/admin/mailings/${id}`);
    assert.equal(await page.locator('#progress .percent').textContent(), '0 %');
    assert.equal(await page.locator('#progress .pending').textContent(), '20');
    assert.equal(await python(secret, 'start', String(id)).then((r) => r.status), 'READY');
    // The page refreshes its live part by itself: no reload here.
    await page.locator('#progress .percent').filter({ hasText: '100 %' }).waitFor({ timeout: LONG });
    assert.equal(await page.locator('#progress .sent').textContent(), '20');
    await page.locator('#progress .status').filter({ hasText: 'finished' }).waitFor({ timeout: LONG });
    // The recipients' rows follow too.
    // (A string: it runs in the page, where `document` is.)
    await page.waitForFunction(
      `[...document.querySelectorAll('#recipients tbody tr')].filter((tr) => tr.children[1]?.textContent === 'finished').length === 20`,
      null,
      { timeout: LONG },
    );
    await shot('mailing');

    await page.goto(`${gw.url}/admin/mailings`);
    const row = page.locator(`tr[data-mailing="${id}"]`);
    assert.match((await row.textContent())!, /acme/);
    assert.match((await row.textContent())!, /100 %/);
    await shot('mailings');

    // The recipients' filter and search.
    await page.goto(`${gw.url}/admin/mailings/${id}?status=sent&q=r1`);
    assert.equal(await page.locator('#recipients tbody tr').count(), 11, 'r1 and r10..r19');
    await page.goto(`${gw.url}/admin/mailings/${id}?status=failed`);
    assert.match((await page.locator('#recipients tbody').textContent())!, /No recipients/);
  });

  it('revokes a key: the next call with it is refused', async () => {
    assert.equal((await python(secret, 'list')).count, 1);
    await page.goto(`${gw.url}/admin/accounts`);
    const keyId = (await gw.core.accounts.listKeys('acme')).find((k) => k.label === 'browser <key>')!.id;
    assert.match((await page.locator(`tr[data-key="${keyId}"]`).textContent())!, /browser <key>/, 'the label is printed as text');
    await page.click(`tr[data-key="${keyId}"] button`);
    await page.locator('[role=status]').filter({ hasText: 'Key revoked' }).waitFor();
    await shot('accounts');
    assert.equal((await python(secret, 'list')).fault, 401, 'CloudMailing refuses it (Authorization Failed!)');
  });

  it('pauses and resumes another mailing, and cancels it', async () => {
    const id = await gw.core.mailings.create(acme, { dialect: 'test', fromEmail: 'later@example.org', subject: 'Later', html: '<p>later</p>' });
    await gw.core.recipients.add(acme, id, [
      { email: 'x@example.org', fields: {} },
      { email: 'y@example.org', fields: {} },
    ]);
    await gw.core.mailings.setProperties(acme, id, { scheduledStart: new Date(Date.now() + 86_400_000) });
    await gw.core.mailings.start(acme, id);
    await page.goto(`${gw.url}/admin/mailings/${id}`);
    assert.equal(await page.locator('#progress .status').textContent(), 'ready');
    await page.click('form[action$="/pause"] button');
    await page.locator('[role=status]').filter({ hasText: 'Mailing paused' }).waitFor();
    assert.equal(await page.locator('#progress .status').textContent(), 'paused');
    assert.equal((await gw.core.mailings.get(acme, id)).status, 'paused');
    await page.click('form[action$="/resume"] button');
    await page.locator('[role=status]').filter({ hasText: 'resumed' }).waitFor();
    assert.equal((await gw.core.mailings.get(acme, id)).status, 'ready', 'it had not started: ready again, waiting for its start');
    await page.click('form[action$="/cancel"] button');
    await page.locator('[role=status]').filter({ hasText: 'cancelled' }).waitFor();
    const m = await gw.core.mailings.get(acme, id);
    assert.equal(m.status, 'finished');
    assert.equal(m.totals.error, 2, 'its recipients ended TIMEOUT');
  });

  it('lifts a suppression, and resends to the failed recipients only', async () => {
    await gw.core.suppressions.add(acme, 'blocked@example.org');
    const id = await gw.core.mailings.create(acme, { dialect: 'test', fromEmail: 'news@example.org', subject: 'Again', html: '<p>again</p>' });
    await gw.core.recipients.add(acme, id, [
      { email: 'blocked@example.org', fields: {} },
      { email: 'fine@example.org', fields: {} },
    ]);
    await gw.core.mailings.start(acme, id);
    await page.goto(`${gw.url}/admin/mailings/${id}`);
    await page.locator('#progress .status').filter({ hasText: 'finished' }).waitFor({ timeout: LONG });
    assert.equal(await page.locator('#progress .failed').textContent(), '1');

    await page.goto(`${gw.url}/admin/suppressions?q=blocked`);
    const row = page.locator('#suppressions tbody tr', { hasText: 'blocked@example.org' });
    assert.match((await row.textContent())!, /acme.*manual/s);
    await shot('suppressions');
    await row.locator('button').click();
    await page.locator('[role=status]').filter({ hasText: 'Suppression lifted' }).waitFor();
    assert.equal((await gw.core.suppressions.status(acme, 'blocked@example.org')).suppression, null);

    await page.goto(`${gw.url}/admin/mailings/${id}`);
    await page.click('form[action$="/resend"] button');
    await page.locator('[role=status]').filter({ hasText: 'queued again' }).waitFor();
    await page.locator('#progress .sent').filter({ hasText: '2' }).waitFor({ timeout: LONG });
    const { rows } = await gw.pool.query<{ email: string; n: number }>(
      `SELECT e AS email, count(*)::int AS n FROM captured_messages, unnest(envelope_to) e WHERE e IN ('blocked@example.org', 'fine@example.org') GROUP BY e ORDER BY e`,
    );
    assert.deepEqual(
      rows,
      [
        { email: 'blocked@example.org', n: 1 },
        { email: 'fine@example.org', n: 1 },
      ],
      'the failed one sent now, the sent one not again',
    );
  });

  it('shows the bounce log with reasons', async () => {
    const { rows } = await gw.pool.query<{ id: number }>("SELECT id FROM recipients WHERE email = 'r5@example.org'");
    const reason = 'smtp; 550 5.1.1 <r5@example.org>: user unknown';
    const outcome = await gw.core.bounces.recordReport(rows[0]!.id, '<dsn-1@mx.example.org>', [
      {
        finalRecipient: 'r5@example.org',
        originalRecipient: null,
        action: 'failed',
        status: '5.1.1',
        diagnosticCode: reason,
        replyCode: 550,
        remoteMta: 'mx.example.org',
      },
    ]);
    assert.equal(outcome, 'recorded');
    await page.goto(`${gw.url}/admin/bounces?q=r5@`);
    const row = page.locator('tbody tr', { hasText: 'r5@example.org' });
    const cells = await row.locator('td').allTextContents();
    assert.deepEqual(cells.slice(2, 9), ['acme', cells[3]!, 'r5@example.org', 'permanent', 'dsn', '5.1.1', reason], 'the reason printed as text');
    assert.match(cells[3]!, /^\d+$/);
    await shot('bounces');
  });

  it('previews a captured message in a sandboxed iframe where its script does not run, and shows its source as text', async () => {
    await page.goto(`${gw.url}/admin/outbox?q=Hello from the browser`);
    assert.match((await page.locator('#outbox').textContent())!, /20|r1@example\.org/);
    await shot('outbox');
    await page.locator('#outbox tbody tr a').first().click();
    await page.waitForURL(/\/admin\/outbox\/\d+$/);
    const frame = page.locator('iframe.preview');
    assert.equal(await frame.getAttribute('sandbox'), '', 'sandboxed, scripts not allowed');
    const body = page.frameLocator('iframe.preview').locator('#body');
    assert.equal(await body.textContent(), 'static text', 'the message script did not run');
    await shot('outbox-message');

    const src = (await frame.getAttribute('src'))!;
    const preview = await page.request.get(`${gw.url}${src}`);
    assert.equal(preview.status(), 200);
    const csp = preview.headers()['content-security-policy']!;
    for (const d of ["default-src 'none'", 'img-src data: cid:', "style-src 'unsafe-inline'", 'sandbox']) assert.ok(csp.includes(d), csp);
    const raw = await page.request.get(`${gw.url}${src.replace(/preview$/, 'raw')}`);
    assert.match(raw.headers()['content-type']!, /^text\/plain/);
    assert.equal(raw.headers()['content-disposition'], 'inline');
    assert.match(await raw.text(), /^Subject: Hello from the browser test/m);
  });

  it('refuses a form without the session token, and changes nothing', async () => {
    const before = await gw.pool.query('SELECT count(*)::int AS n FROM suppressions');
    const forms: Record<string, string>[] = [
      { account: 'acme', email: 'forged@example.org' },
      { account: 'acme', email: 'forged@example.org', csrf: 'guess' },
    ];
    for (const form of forms) {
      const r = await context.request.post(`${gw.url}/admin/suppressions`, { form, maxRedirects: 0 });
      assert.equal(r.status(), 403);
    }
    const purge = await context.request.post(`${gw.url}/admin/outbox/purge`, { form: { days: '' }, maxRedirects: 0 });
    assert.equal(purge.status(), 403);
    assert.deepEqual((await gw.pool.query('SELECT count(*)::int AS n FROM suppressions')).rows, before.rows);
    assert.ok((await gw.core.outbox.page(null, { limit: 1 })).total > 0, 'nothing purged');
  });

  it('sends an expired session and a forged cookie to the login page', async () => {
    await gw.pool.query(`UPDATE operator_sessions SET expires_at = now() - interval '1 second'`);
    await page.goto(`${gw.url}/admin/suppressions`);
    assert.match(page.url(), /\/admin\/login\?next=%2Fadmin%2Fsuppressions$/);

    const forged = await ab.browser.newContext();
    await forged.addCookies([{ name: 'mailgate_admin', value: 'A'.repeat(43), url: gw.url }]);
    const p = await forged.newPage();
    await p.goto(`${gw.url}/admin/accounts`);
    assert.match(p.url(), /\/admin\/login/);
    const post = await forged.request.post(`${gw.url}/admin/suppressions`, { form: { account: 'acme', email: 'f@example.org', csrf: 'x' }, maxRedirects: 0 });
    assert.equal(post.status(), 303);
    assert.match(post.headers().location!, /^\/admin\/login/);
    await forged.close();

    // Logged in again, and out: the session ends on the server.
    await logIn(page);
    await page.waitForURL(/\/admin\/mailings$/);
    const cookie = (await sessionCookie(context))!;
    await page.click('form[action="/admin/logout"] button');
    await page.waitForURL(/\/admin\/login$/);
    const again = await ab.browser.newContext();
    await again.addCookies([{ name: 'mailgate_admin', value: cookie.value, url: gw.url }]);
    const q = await again.newPage();
    await q.goto(`${gw.url}/admin/mailings`);
    assert.match(q.url(), /\/admin\/login/, 'a logged-out session id opens nothing');
    await again.close();
  });

  it('slows down repeated failed logins from one address, and only that address', async () => {
    await gw.core.operators.create('slow', PASSWORD);
    const guesser = await ab.browser.newContext({ extraHTTPHeaders: { 'X-Forwarded-For': '203.0.113.7' } });
    const p = await guesser.newPage();
    for (let i = 0; i < 5; i++) {
      await logIn(p, 'slow', `wrong ${i}`);
      assert.equal(await p.locator('[role=alert]').textContent(), 'Wrong login or password.');
    }
    await logIn(p, 'slow', PASSWORD);
    assert.match((await p.locator('[role=alert]').textContent())!, /^Too many failed logins; try again in \d+ s\.$/);
    assert.equal(await sessionCookie(guesser), undefined, 'not logged in, even with the right password');
    await shot('login-slowed', p);
    await guesser.close();
    // Another address: the operator is not locked out by someone else's guesses.
    const other = await ab.browser.newContext({ extraHTTPHeaders: { 'X-Forwarded-For': '203.0.113.8' } });
    const o = await other.newPage();
    await logIn(o, 'slow', PASSWORD);
    await o.waitForURL(/\/admin\/mailings$/);
    assert.ok(await sessionCookie(other));
    await other.close();
  });
});

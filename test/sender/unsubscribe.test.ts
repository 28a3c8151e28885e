/**
 * Sender's unsubscribe lists and global unsubscription over real HTTP: the page's own curl lines (host,
 * account and key replaced), Yandex Pay's calls made with Python `requests` (`params={'email': ...}`, no
 * body), the lists made by an operator with the CLI, and sends through a real worker to a real SMTP server:
 * a campaign that honours a list skips its addresses, and its unsubscribe link fills that list instead of
 * suppressing the address for the whole account.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { runProcess } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { curl, pythonClient, type RequestsOptions } from './client.js';

const root = path.resolve(import.meta.dirname, '../..');
const PAGE_HOST = 'https://test.sender.yandex-team.ru';
const PAGE_KEY = '3579418885b9514a437570d420e46926';
const ACCOUNT = 'Yandex.Mail';
const UNSUB = `/api/0/${ACCOUNT}/unsubscribe`;

let gw: TestGateway;
let relay: TestSmtpServer;
let key: string;
let otherKey: string;
let dir: string;

/** One of the page's curl lines, as printed there (`<email>` filled in), run against the gateway. */
const page = (cmd: string, email = '') => curl(cmd.replaceAll(PAGE_HOST, gw.url).replaceAll(PAGE_KEY, key).replaceAll('<email>', email));
const { py, pyAll } = pythonClient(
  () => gw.url,
  () => key,
);
const ctx = () => gw.core.accounts.operatorContext(ACCOUNT);

async function mailgate(...args: string[]): Promise<string> {
  const r = await runProcess(process.execPath, [path.join(root, 'bin/mailgate.js'), ...args], {
    env: { DATABASE_URL: gw.databaseUrl, LOG_LEVEL: 'warn' },
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** A transactional send through `campaign`, and its final status as Sender's status call reports it. */
async function sendVia(campaign: string, email: string): Promise<{ code: number; msg: string }> {
  const r = await py('POST', `/api/0/${ACCOUNT}/transactional/${campaign}/send`, { params: { to_email: email } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const messageId = r.body.result.message_id as string;
  // Waited for in the database (one Python process per poll would be most of this file's time), then asked once.
  await waitFor(`${email} via ${campaign} final`, async () => (await gw.core.transactional.status(await ctx(), messageId))?.status !== 'ready');
  const s = (await py('GET', `/api/0/${ACCOUNT}/transactional/${campaign}/status`, { params: { message_id: messageId } })).body;
  assert.notEqual(s.code, 104, JSON.stringify(s));
  return s;
}

before(async () => {
  relay = await startTestSmtpServer();
  gw = await startTestGateway({ worker: true, env: { SMTP_URL: relay.url } });
  key = (await gw.core.accounts.createKey(ACCOUNT, 'page')).secret;
  otherKey = (await gw.core.accounts.createKey('other', 'other')).secret;
  dir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-unsub-'));
  await writeFile(path.join(dir, 'body.txt'), 'Hello {{ email }}');
  // As an operator sets it up: two unsubscribe lists, a promo campaign honouring one, receipts honouring none.
  assert.match(
    await mailgate('unsubscribe-lists', 'create', 'CRPTD612-XHN1', '--account', ACCOUNT, '--name', 'Promo'),
    /unsubscribe list CRPTD612-XHN1 created/,
  );
  await gw.core.unsubscribeLists.create(await ctx(), { slug: '8QJFEBT3-8OR1' });
  const common = ['--account', ACCOUNT, '--from', 'news@mail.example', '--subject', 'Hi', '--text-file', path.join(dir, 'body.txt')];
  await mailgate('campaigns', 'create', 'promo', ...common, '--unsubscribe-list', 'CRPTD612-XHN1');
  await mailgate('campaigns', 'create', 'receipts', ...common);
});
after(async () => {
  await gw?.stop();
  await relay?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("sender: unsubscribe lists, as the page's examples and Yandex Pay's client call them", () => {
  it("the page's curl lines: add, look up, remove (answers with a lower-case ok); both calls are idempotent", async () => {
    const put = `curl -X PUT -u ${PAGE_KEY}: '${PAGE_HOST}/api/0/${ACCOUNT}/unsubscribe/list/CRPTD612-XHN1?email=<email>'`;
    const del = `curl -X DELETE -u ${PAGE_KEY}: '${PAGE_HOST}/api/0/${ACCOUNT}/unsubscribe/list/CRPTD612-XHN1?email=<email>'`;
    const lookup = `curl -X GET -u ${PAGE_KEY}: '${PAGE_HOST}/api/0/${ACCOUNT}/unsubscribe/list/CRPTD612-XHN1/email/test@test.ru'`;
    const okBody = { params: { email: 'test@test.ru' }, result: { status: 'ok' } };
    for (let i = 0; i < 2; i++) assert.deepEqual(await page(put, 'test@test.ru'), { status: 200, body: okBody, raw: JSON.stringify(okBody) });
    assert.deepEqual((await page(lookup)).body, { result: { email: 'test@test.ru' } });
    for (let i = 0; i < 2; i++) {
      const r = await page(del, 'test@test.ru');
      assert.deepEqual([r.status, r.body], [200, okBody]);
    }
    const gone = await page(lookup);
    assert.deepEqual([gone.status, gone.body], [404, { detail: 'Email is not in unsublist.' }]);
  });

  it("Yandex Pay's call (params={'email': ...}, no body; the @ percent-encoded as Go's client sends it) and the page's content paging", async () => {
    const puts = await pyAll(Array.from({ length: 11 }, (_, i) => ['PUT', `${UNSUB}/list/CRPTD612-XHN1`, { params: { email: `test_${i}@example.com` } }]));
    for (const r of puts) assert.deepEqual([r.status, r.body.result.status], [200, 'ok']);
    const go = await curl(`curl -X PUT -u ${key}: '${gw.url}${UNSUB}/list/CRPTD612-XHN1?email=a1.b2.c3%40yandex.ru'`);
    assert.deepEqual(go.body, { params: { email: 'a1.b2.c3@yandex.ru' }, result: { status: 'ok' } });
    await py('DELETE', `${UNSUB}/list/CRPTD612-XHN1`, { params: { email: 'a1.b2.c3@yandex.ru' } });

    const r = await page(
      `curl -X GET -u ${PAGE_KEY}: '${PAGE_HOST}/api/0/${ACCOUNT}/unsubscribe/list/CRPTD612-XHN1/content?after=2016-01-01T00:00:00&offset=1&limit=1'`,
    );
    const base = `${gw.url}${UNSUB}/list/CRPTD612-XHN1/content`;
    assert.deepEqual(r.body, {
      count: 11,
      next: `${base}?after=2016-01-01T00%3A00%3A00&limit=1&offset=2`,
      previous: `${base}?after=2016-01-01T00%3A00%3A00&limit=1`,
      params: { after: '2016-01-01T00:00:00+00:00', limit: 1, offset: 1 },
      result: [{ email: 'test_1@example.com' }],
    });
    const [all, later] = await pyAll([
      ['GET', `${UNSUB}/list/CRPTD612-XHN1/content`],
      ['GET', `${UNSUB}/list/CRPTD612-XHN1/content`, { params: { after: new Date(Date.now() + 60_000).toISOString() } }],
    ]);
    assert.deepEqual(
      all!.body.result.map((e: { email: string }) => e.email),
      Array.from({ length: 11 }, (_, i) => `test_${i}@example.com`),
    );
    assert.equal(all!.body.next, null);
    assert.deepEqual([later!.body.count, later!.body.result], [0, []]);
    const listed = JSON.parse(await mailgate('unsubscribe-lists', 'list', '--account', ACCOUNT, '--json')) as { slug: string; entries: number; name: string }[];
    assert.deepEqual(
      listed.map((l) => [l.slug, l.entries, l.name]),
      [
        ['8QJFEBT3-8OR1', 0, '8QJFEBT3-8OR1'],
        ['CRPTD612-XHN1', 11, 'Promo'],
      ],
    );
  });

  it('bad input: a wrong address (nothing stored), an unknown list, another account, no key', async () => {
    const before = (await py('GET', `${UNSUB}/list/CRPTD612-XHN1/content`)).body.count;
    const wrongAddresses = ['not-an-address', '', 'a@b@example.com'];
    const replies = await pyAll([
      ...wrongAddresses.map((email) => ['PUT', `${UNSUB}/list/CRPTD612-XHN1`, { params: { email } }] as [string, string, RequestsOptions]),
      ['GET', `${UNSUB}/list/CRPTD612-XHN1/content`],
      ['PUT', `${UNSUB}/list/NOPE`, { params: { email: 'x@example.com' } }],
      ['GET', `${UNSUB}/list/NOPE/email/x@example.com`],
      ['GET', `${UNSUB}/list/NOPE/content`],
      ['GET', `${UNSUB}/list/CRPTD612-XHN1/email/not-an-address`],
      ['PUT', `${UNSUB}/list/CRPTD612-XHN1`, { params: { email: 'x@example.com' }, key: otherKey }],
      ['PUT', `${UNSUB}/list/CRPTD612-XHN1`, { params: { email: 'x@example.com' }, key: null }],
      ['GET', `${UNSUB}/list/CRPTD612-XHN1/email/x@example.com`],
    ]);
    wrongAddresses.forEach((email, i) => assert.deepEqual([replies[i]!.status, replies[i]!.body], [400, { detail: 'Wrong email format' }], email));
    const [count, noList, noListLookup, noListContent, badLookup, other, none, lookup] = replies.slice(wrongAddresses.length);
    assert.equal(count!.body.count, before);
    assert.deepEqual(noList, { status: 404, body: { detail: 'Not found.' } });
    assert.deepEqual(noListLookup, { status: 404, body: { detail: 'Email is not in unsublist.' } });
    assert.deepEqual(noListContent, { status: 404, body: { detail: 'Not found.' } });
    assert.equal(badLookup!.status, 400);
    assert.equal(other!.status, 403);
    assert.equal(none!.status, 401);
    assert.equal(lookup!.status, 404, 'nothing was stored');
  });
});

describe('sender: sends honour unsubscribe lists; unsubscribe links fill them', () => {
  it('a campaign skips the addresses of the lists it honours; one that honours none still sends to them', async () => {
    await py('PUT', `${UNSUB}/list/CRPTD612-XHN1`, { params: { email: 'blocked@example.org' } });
    const skipped = await sendVia('promo', 'blocked@example.org');
    assert.equal(skipped.msg, 'not sent: the address is in unsubscribe list CRPTD612-XHN1');
    assert.ok(skipped.code >= 500, JSON.stringify(skipped));
    assert.equal((await sendVia('receipts', 'blocked@example.org')).code, 250);
    assert.equal((await sendVia('promo', 'free@example.org')).code, 250);
    assert.equal(relay.to('blocked@example.org').length, 1, 'only the receipt reached the relay');
    assert.equal(relay.to('blocked@example.org')[0]!.header('subject'), 'Hi');
  });

  it("the promo's one-click unsubscribe link puts the address in the campaign's list, not in the account's suppressions", async () => {
    const header = relay.to('free@example.org')[0]!.header('List-Unsubscribe')!;
    const link = /<(https?:\/\/[^>]+)>/.exec(header)![1]!;
    // As a mailbox provider makes the RFC 8058 one-click POST, on the gateway instead of PUBLIC_URL.
    const r = await fetch(link.replace('http://mailgate.test', gw.url), { method: 'POST', body: new URLSearchParams({ 'List-Unsubscribe': 'One-Click' }) });
    assert.equal(r.status, 200);
    assert.deepEqual((await py('GET', `${UNSUB}/list/CRPTD612-XHN1/email/free@example.org`)).body, { result: { email: 'free@example.org' } });
    assert.equal((await py('GET', `${UNSUB}/global`, { params: { email: 'free@example.org' } })).body.result.unsubscribed, false);
    assert.equal((await gw.core.suppressions.status(await ctx(), 'free@example.org')).suppression, null);
    assert.match((await sendVia('promo', 'free@example.org')).msg, /unsubscribe list CRPTD612-XHN1/);
    assert.equal((await sendVia('receipts', 'free@example.org')).code, 250);
    const info = await py('GET', `${UNSUB}/info`, { params: { email: 'free@example.org' } });
    const account = await ctx();
    assert.deepEqual(info.body, {
      params: { email: 'free@example.org' },
      result: {
        group: { unsubscribed: false, slug: ACCOUNT, id: String(account.accountId), name: ACCOUNT },
        lists: [
          {
            list: {
              account: ACCOUNT,
              description: null,
              id: info.body.result.lists[0].list.id,
              name: { ru: '8QJFEBT3-8OR1', en: '8QJFEBT3-8OR1' },
              slug: '8QJFEBT3-8OR1',
            },
            unsubscribed: false,
          },
          {
            list: { account: ACCOUNT, description: null, id: info.body.result.lists[1].list.id, name: { ru: 'Promo', en: 'Promo' }, slug: 'CRPTD612-XHN1' },
            unsubscribed: true,
          },
        ],
      },
    });
  });

  it("global: the page's calls unsubscribe from the whole account and take it back; a bounce's suppression stays", async () => {
    const get = `curl -X GET -u ${PAGE_KEY}: '${PAGE_HOST}/api/0/${ACCOUNT}/unsubscribe/global?email=<email>'`;
    const put = `curl -X PUT -u ${PAGE_KEY}: '${PAGE_HOST}/api/0/${ACCOUNT}/unsubscribe/global?email=<email>'`;
    const del = `curl -X DELETE -u ${PAGE_KEY}: '${PAGE_HOST}/api/0/${ACCOUNT}/unsubscribe/global?email=<email>'`;
    assert.deepEqual((await page(put, 'g@example.org')).body, { params: { email: 'g@example.org' }, result: { status: 'ok' } });
    const state = (await page(get, 'g@example.org')).body;
    assert.deepEqual(state, {
      params: { email: 'g@example.org' },
      result: { unsubscribed: true, slug: ACCOUNT, id: String((await ctx()).accountId), name: ACCOUNT },
    });
    assert.match((await sendVia('receipts', 'g@example.org')).msg, /it unsubscribed/);
    const content = await page(
      `curl -X GET -u ${PAGE_KEY}: '${PAGE_HOST}/api/0/${ACCOUNT}/unsubscribe/global/content?after=2016-01-01T00:00:00&offset=0&limit=1'`,
    );
    assert.deepEqual([content.body.count, content.body.result], [1, [{ email: 'g@example.org' }]]);
    assert.deepEqual((await page(del, 'g@example.org')).body, { params: { email: 'g@example.org' }, result: { status: 'ok' } });
    assert.equal((await page(get, 'g@example.org')).body.result.unsubscribed, false);
    assert.equal((await sendVia('receipts', 'g@example.org')).code, 250);

    await gw.core.suppressions.add(await ctx(), 'bounced@example.org', 'hard bounce by hand');
    await page(del, 'bounced@example.org');
    assert.equal((await gw.core.suppressions.status(await ctx(), 'bounced@example.org')).suppression?.reason, 'manual');
  });

  it('an operator changes which lists a mailing honours (mailgate unsubscribe-lists honour)', async () => {
    await py('PUT', `${UNSUB}/list/8QJFEBT3-8OR1`, { params: { email: 'h@example.org' } });
    assert.match(await mailgate('unsubscribe-lists', 'honour', 'receipts', '8QJFEBT3-8OR1', '--account', ACCOUNT), /honours 8QJFEBT3-8OR1$/m);
    assert.match((await sendVia('receipts', 'h@example.org')).msg, /unsubscribe list 8QJFEBT3-8OR1/);
    assert.match(await mailgate('unsubscribe-lists', 'honour', 'receipts', '--account', ACCOUNT), /honours no unsubscribe list/);
    assert.equal((await sendVia('receipts', 'h@example.org')).code, 250);
  });
});

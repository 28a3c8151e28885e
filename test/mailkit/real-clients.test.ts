/**
 * The Mailkit functions real clients call beyond the seed's, driven as those clients drive them, against a
 * started gateway with a worker and a relay on loopback:
 * - igloonet/mailkit-api (XML-RPC as PHP's xmlrpc_encode_request writes it) and mailkit/mailkit-api (JSON):
 *   editUser, flushMailingList / deleteMailingList with keep_list, revalidate (test/mailkit/php_clients.py);
 * - itsmepvr/mailkit_campaign: create a campaign from the account's sender addresses, a list, send, report
 *   (test/mailkit/campaign_client.py);
 * - Keboola's extractor: message links, raw responses and engagement with its paging, unsubscribed addresses
 *   (test/mailkit/keboola.py);
 * - every one of them in both encodings, with bad input (test/mailkit/clients.py, step `more`).
 *
 * The events reported are the system's own where a path writes them today: an unsubscribe by the message's
 * List-Unsubscribe link, a complaint (ARF) received over SMTP by the bounce listener, an unsubscribe by the
 * API. Opens and clicks have no writer yet (tracking comes later): they are recorded through
 * src/db/events.ts's recordEvents, the one function every writer of the table uses.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { CallContext } from '../../src/core/context.js';
import { recordEvents, type NewEvent } from '../../src/db/events.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { runProcess } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { complaintReport } from '../support/reports.js';

const DIR = import.meta.dirname;
let gw: TestGateway;
let relay: TestSmtpServer;
let ctx: CallContext;

before(async () => {
  relay = await startTestSmtpServer();
  gw = await startTestGateway({ worker: true, env: { SMTP_URL: relay.url } });
  ctx = { accountId: (await gw.core.accounts.authenticate(gw.key.secret))!.accountId, requestId: 't' };
});
after(async () => {
  await gw?.stop();
  await relay?.close();
});

async function python(script: string, args: string[], key: { id: number; secret: string } = gw.key): Promise<any> {
  const r = await runProcess('python3', [path.join(DIR, script), gw.url, String(key.id), key.secret, ...args], {
    env: { PYTHONDONTWRITEBYTECODE: '1' },
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, `${script} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

const php = (ops: [client: 'igloonet' | 'official', op: string, args: object][]) => python('php_clients.py', [JSON.stringify(ops)]);

/** Deliver raw bytes to the inbound listener, as a remote MTA would. */
async function deliver(to: string, raw: string): Promise<void> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: gw.bouncePort, secure: false, ignoreTLS: true });
  try {
    await t.sendMail({ envelope: { from: '', to }, raw: raw.replace(/\r?\n/g, '\r\n') });
  } finally {
    t.close();
  }
}

/** A complaint (RFC 5965) about the message sent to `to`, to that message's return path. */

const subscriberOf = async (listId: number, email: string) => (await gw.core.lists.subscribers(ctx, { email }, listId))[0]!;
const suppression = async (email: string) => (await gw.core.suppressions.status(ctx, email)).suppression?.reason ?? null;

const L1 = 'https://shop.example.org/sale';
const L2 = 'https://shop.example.org/new?a=1&b=2';

// The data every test below reads, written once: a list, a mailing sent to three of its subscribers, and the
// responses to it.
let list: number;
let mailing: number;
let send: number;
const message: Record<string, number> = {};
let flushXml: number;
let flushJson: number;

describe('mailkit: the functions real clients call, as they call them', () => {
  before(async () => {
    list = await gw.core.lists.create(ctx, { name: 'Readers' });
    await gw.core.lists.subscribe(
      ctx,
      list,
      ['anna', 'bob', 'cecil', 'dora', 'emil'].map((n) => ({ email: `${n}@example.org`, params: { first_name: n } })),
    );
    flushXml = await gw.core.lists.create(ctx, { name: 'Flush XML' });
    flushJson = await gw.core.lists.create(ctx, { name: 'Flush JSON' });
    for (const l of [flushXml, flushJson]) await gw.core.lists.subscribe(ctx, l, [{ email: 'x@example.org' }, { email: 'y@example.org' }]);

    mailing = await gw.core.mailings.create(ctx, {
      dialect: 'mailkit',
      name: 'Weekly',
      fromEmail: 'news@example.org',
      subject: 'Weekly',
      html: `<p>Hi {{ first_name }}</p><a href="${L1}">sale</a><a href="${L2}">new</a>`,
    });
    for (const n of ['anna', 'bob', 'cecil']) {
      const r = await gw.core.transactional.send(ctx, { mailingId: mailing, listId: list, email: `${n}@example.org`, fields: {} });
      message[n] = r.messageId;
      send = r.sendId;
    }
    await waitFor('the three messages relayed', () => ['anna', 'bob', 'cecil'].every((n) => relay.to(`${n}@example.org`).length === 1));

    const ev = (n: string, kind: 'open' | 'click', link?: string): NewEvent => ({
      accountId: ctx.accountId,
      kind,
      mailingId: mailing,
      recipientId: message[n],
      link: link ?? null,
      ip: '192.0.2.7',
      userAgent: 'Mozilla/5.0 (test)',
    });
    // Opens and clicks: no path writes them yet; the one writer of the table records them.
    await recordEvents(gw.pool, [ev('anna', 'open'), ev('anna', 'click', L1), ev('bob', 'open')]);
    await recordEvents(gw.pool, [ev('anna', 'click', L1), ev('bob', 'click', L1), ev('anna', 'click', L2), ev('anna', 'open')]);
    // bob unsubscribes with his message's List-Unsubscribe link (RFC 8058 one-click).
    const link = /<(http[^>]+)>/.exec(relay.to('bob@example.org')[0]!.header('List-Unsubscribe')!)![1]!;
    const post = await fetch(gw.url + new URL(link).pathname, { method: 'POST', body: new URLSearchParams({ 'List-Unsubscribe': 'One-Click' }) });
    assert.equal(post.status, 200);
    // cecil complains: an ARF report to her message's return path, over SMTP.
    const verp = relay.to('cecil@example.org')[0]!.from;
    await deliver(verp, complaintReport({ verp, to: 'cecil@example.org' }));
    await waitFor('the complaint recorded', async () => (await suppression('cecil@example.org')) === 'complaint');
    await recordEvents(gw.pool, [ev('anna', 'click', L2)]);
    // dora and emil unsubscribe by the API, without a message.
    for (const n of ['dora', 'emil']) await gw.core.suppressions.unsubscribe(ctx, { email: `${n}@example.org` }, 'test');
  });

  describe('Keboola extractor: links, raw responses, engagement, unsubscribed', () => {
    let kb: any;
    let paged: any;
    before(async () => {
      const base = { campaign_ids: [String(mailing)], send_ids: [String(send)], list_ids: [String(list)], date_from: '2000-01-01' };
      // Two campaigns: the extractor asks for the links of every send with every campaign; a send of another
      // campaign has none there.
      kb = await python('keboola.py', [
        JSON.stringify({ ...base, campaign_ids: [String(mailing), '999999'], datasets: ['MSG_LINKS', 'RAW_RESPONSES', 'MLIST_UNSUBSCRIBED', 'ENGAGEMENT'] }),
      ]);
      // Pages of two records, the page size check off: the paging itself is followed to its end.
      paged = await python('keboola.py', [JSON.stringify({ ...base, datasets: ['RAW_RESPONSES', 'ENGAGEMENT'], limit: 2, min_page_size: 0 })]);
    });

    it('raw.responses: every response to a message the system wrote, once, in order, paged by ID_log', async () => {
      const { rows } = await gw.pool.query<{ id: number; kind: string; recipient_id: number; link: string | null }>(
        'SELECT id, kind, recipient_id, link FROM events WHERE account_id = $1 AND recipient_id IS NOT NULL ORDER BY id',
        [ctx.accountId],
      );
      const name = Object.fromEntries(Object.entries(message).map(([n, id]) => [id, n]));
      const type = { open: 'read', click: 'click', unsubscribe: 'unsubscribe', complaint: 'complaint' } as Record<string, string>;
      assert.deepEqual(
        rows.map((r) => [name[r.recipient_id], r.kind, r.link]),
        [
          ['anna', 'open', null],
          ['anna', 'click', L1],
          ['bob', 'open', null],
          ['anna', 'click', L1],
          ['bob', 'click', L1],
          ['anna', 'click', L2],
          ['anna', 'open', null],
          ['bob', 'unsubscribe', null],
          ['cecil', 'complaint', null],
          ['anna', 'click', L2],
        ],
        'the events written: unsubscribe by link and complaint by the system, opens and clicks by recordEvents',
      );
      const want = rows.map((r) => [String(r.id), type[r.kind], `${name[r.recipient_id]}@example.org`, String(r.recipient_id), r.link ?? '']);
      for (const [how, got] of [
        ['one page', kb.RAW_RESPONSES],
        ['pages of two, from the last ID_log', paged.RAW_RESPONSES],
      ] as const)
        assert.deepEqual(
          got.map((x: any) => [x.ID_log, x.type, x.email, x.ID_send_message, x.link_url]),
          want,
          how,
        );
      const first = kb.RAW_RESPONSES[0];
      assert.deepEqual(
        [first.ID_message, first.ID_send, first.ID_user_list, first.ID_email, first.IP, first.user_agent, first.domain, first.tld],
        [
          String(mailing),
          String(send),
          String(list),
          String((await subscriberOf(list, 'anna@example.org')).id),
          '192.0.2.7',
          'Mozilla/5.0 (test)',
          'example.org',
          'org',
        ],
      );
      assert.match(first.date, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      assert.ok(
        kb.RAW_RESPONSES.every((x: any) => Object.values(x).every((v) => typeof v === 'string')),
        'JSON records carry strings',
      );
      // Keboola's paging: every call after the first starts at the last ID_log seen, and the last call
      // returns only that record (its repeat), which ends the loop.
      // Keboola's paging: each call after the first starts at the last ID_log of the page before (inclusive:
      // one new record per page of two), and the last returns only its start, which ends the loop.
      const starts = paged.calls.filter((c: any) => c.function === 'mailkit.report.raw.responses').map((c: any) => c.parameters.ID_log ?? null);
      assert.deepEqual(starts, [null, ...rows.slice(1).map((r) => String(r.id))]);
    });

    it('message.links: the send’s clicked links, clicks and unique clicks, ID_URL matching the responses’ ID_url', () => {
      assert.deepEqual(
        kb.MSG_LINKS.map((l: any) => [l.URL, l.CLICK, l.VISIT, l.CONVERSION]),
        [
          [L1, 3, 2, 0],
          [L2, 2, 1, 0],
        ],
      );
      assert.deepEqual(Object.keys(kb.MSG_LINKS[0]), ['TITLE', 'TITLE_SHORT', 'ANCHOR', 'URL', 'ID_URL', 'AB_VERSION', 'CLICK', 'VISIT', 'CONVERSION']);
      const ids = new Map(kb.MSG_LINKS.map((l: any) => [l.URL, String(l.ID_URL)]));
      assert.equal(typeof kb.MSG_LINKS[0].ID_URL, 'number');
      assert.notEqual(ids.get(L1), ids.get(L2));
      for (const r of kb.RAW_RESPONSES) assert.equal(r.ID_url, r.type === 'click' ? ids.get(r.link_url) : '', `ID_url of ${r.ID_log}`);
    });

    it('engagement: each subscriber of the list once, with its messages, opens and clicks, paged by ID_email', async () => {
      const id = async (n: string) => String((await subscriberOf(list, `${n}@example.org`)).id);
      const want = [
        [await id('anna'), 'anna@example.org', '1', '1', '2', '1', '4', '1'],
        [await id('bob'), 'bob@example.org', '1', '1', '1', '1', '1', '1'],
        [await id('cecil'), 'cecil@example.org', '1', '1', '0', '0', '0', '0'],
        [await id('dora'), 'dora@example.org', '0', '0', '0', '0', '0', '0'],
        [await id('emil'), 'emil@example.org', '0', '0', '0', '0', '0', '0'],
      ];
      for (const rows of [kb.ENGAGEMENT, paged.ENGAGEMENT])
        assert.deepEqual(
          rows.map((e: any) => [e.ID_EMAIL, e.EMAIL, e.SEND_COUNT, e.DELIVERED_COUNT, e.READ_COUNT, e.READ_COUNT_U, e.CLICK_COUNT, e.CLICK_COUNT_U]),
          want,
        );
      assert.match(kb.ENGAGEMENT[0].LAST_READ, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      assert.equal(kb.ENGAGEMENT[2].LAST_READ, '');
      assert.equal(kb.ENGAGEMENT[0].ID_USER_LIST, String(list), 'the extractor adds the list');
    });

    it('mailinglist.unsubscribed: the addresses unsubscribed from the account, by link or by the API', () => {
      assert.deepEqual(
        kb.MLIST_UNSUBSCRIBED.map((u: any) => [u.EMAIL, u.ID_UNSUBSCRIBE_GROUP]),
        [
          ['bob@example.org', ''],
          ['dora@example.org', ''],
          ['emil@example.org', ''],
        ],
      );
      assert.match(kb.MLIST_UNSUBSCRIBED[0].DATE, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    });

    it('report.campaign counts the same events', async () => {
      const [r] = await gw.core.reports.sends(ctx, { mailingId: mailing });
      assert.deepEqual([r!.opens, r!.opens_unique, r!.clicks, r!.clicks_unique, r!.unsubscribed, r!.complained], [3, 2, 5, 2, 1, 1]);
    });
  });

  describe('both encodings: the new functions and their bad input', () => {
    const out: Record<string, any> = {};
    // What no call of this step may change: lists and their members, suppressions, events.
    const state = async () =>
      (
        await gw.pool
          .query(`SELECT (SELECT json_agg(l ORDER BY l.id) FROM (SELECT id, name, (SELECT count(*) FROM subscribers s WHERE s.list_id = lists.id) AS n FROM lists) l) AS lists,
                                    (SELECT json_agg(q ORDER BY q.email) FROM suppressions q) AS suppressions, (SELECT count(*) FROM events) AS events`)
      ).rows[0];
    let initial: unknown;
    before(async () => {
      initial = await state();
      const fourth = (await gw.pool.query('SELECT id FROM events WHERE recipient_id IS NOT NULL ORDER BY id OFFSET 3 LIMIT 1')).rows[0].id;
      const dora = (await subscriberOf(list, 'dora@example.org')).id;
      for (const enc of ['xml', 'json'])
        out[enc] = await python('clients.py', [
          enc,
          'more',
          JSON.stringify({ list_id: list, send_id: send, mailing, from_log: Number(fourth), from_email: dora }),
        ]);
    });

    for (const enc of ['xml', 'json'] as const) {
      const int = (v: number) => (enc === 'json' ? String(v) : v);
      const err = (text: string) => (enc === 'json' ? { error_status: 1, error: text } : text);

      it(`${enc}: links, responses, unsubscribed and engagement typed as the encoding writes them`, async () => {
        const o = out[enc];
        assert.deepEqual(
          o.links.map((l: any) => [l.URL, l.CLICK, l.VISIT]),
          [
            [L1, 3, 2],
            [L2, 2, 1],
          ],
          'CLICK and VISIT are integers in both encodings, as the real reply has them',
        );
        assert.equal(o.responses.length, 10);
        assert.equal(typeof o.responses[0].ID_log, enc === 'json' ? 'string' : 'number');
        assert.deepEqual(
          o.responses_page.map((r: any) => r.ID_log),
          o.responses.slice(3, 5).map((r: any) => r.ID_log),
          'from ID_log (inclusive), narrowed by campaign and send',
        );
        assert.deepEqual(
          o.unsubscribed.map((u: any) => u.EMAIL),
          ['bob@example.org', 'dora@example.org', 'emil@example.org'],
        );
        assert.deepEqual(o.unsubscribed_later, []);
        const dora = (await subscriberOf(list, 'dora@example.org')).id;
        assert.deepEqual(
          o.engagement_page.map((e: any) => e.ID_EMAIL),
          [int(dora), int((await subscriberOf(list, 'emil@example.org')).id)],
        );
        assert.equal(o.engagement.length, 5);
        assert.equal(o.engagement[0].READ_COUNT, int(2));
      });

      it(`${enc}: profile.emails.list and campaigns.create (base64 values, the sender by its ID_ALLOW_EMAIL)`, async () => {
        const o = out[enc];
        assert.deepEqual(
          o.emails.emails.map((e: any) => e.EMAIL),
          ['news@example.org', 'noreply@bounces.mailgate.test'],
          'the addresses the account sends from, then the built-in messages’ one',
        );
        assert.equal(typeof o.emails.emails[0].ID_ALLOW_EMAIL, 'number');
        const id = Number(o.create.ID_message);
        assert.deepEqual(o.create, enc === 'json' ? { ID_message: String(id), error_status: 0 } : { ID_message: id });
        const m = await gw.core.mailings.get(ctx, id);
        assert.deepEqual([m.name, m.subject, m.fromEmail, m.hasHtml], [`Launch ${enc}`, 'Launch day', 'news@example.org', true]);
        assert.deepEqual(o.create_again, err('Campaign exist'));
        assert.deepEqual(o.create_bad_sender, err('Invalid ID_allow_email'));
        assert.deepEqual(o.create_missing_name, err('Missing name'));
        assert.equal(await gw.core.mailings.idByName(ctx, `Other ${enc}`), undefined, 'a refused call creates nothing');
      });

      it(`${enc}: bad input is Mailkit's error and changes nothing`, async () => {
        const o = out[enc];
        assert.deepEqual(await state(), initial, 'lists, members, suppressions and events as they were');
        assert.deepEqual(o.links_unknown, err('Invalid ID_send'));
        assert.deepEqual(o.links_missing, err('Missing ID_send'));
        assert.deepEqual(o.responses_bad_limit, err('Invalid limit: at most 25000'));
        assert.deepEqual(o.responses_bad_start, err('Invalid ID_log'));
        assert.deepEqual(o.unsubscribed_bad, err('Invalid range_from'));
        assert.deepEqual(o.engagement_unknown, err('Invalid ID_user_list'));
        assert.deepEqual(o.engagement_missing, err('Missing ID_user_list'));
        assert.deepEqual(o.revalidate_missing, err('Missing ID_email'));
        assert.deepEqual(o.delete_keep_unknown, err('Invalid ID_user_list'));
      });
    }
  });

  describe('igloonet and the official PHP client: editUser, flushMailingList, revalidate', () => {
    it('editUser: XML answers the bare string OK (igloonet reads getStringValue), JSON the mock’s object', async () => {
      const anna = (await subscriberOf(list, 'anna@example.org')).id;
      const [xml, json, unknown] = await php([
        ['igloonet', 'editUser', { list, user: { email: 'anna@example.org', first_name: 'Anička', custom: { 2: 'silver' } } }],
        ['official', 'editUser', { list, user: { email: 'anna@example.org', last_name: 'Nová' } }],
        ['igloonet', 'editUser', { list, user: { email: 'nobody@example.org', first_name: 'X' } }],
      ]);
      assert.deepEqual(xml, { result: true, error: null, reply: 'OK' });
      assert.deepEqual(json, { result: true, error: null, reply: { error_status: 0, error: 'OK', ID_email: anna } });
      assert.deepEqual(unknown, { result: null, error: 'UserEdit error: Invalid ID_email', reply: 'Invalid ID_email' });
      const p = (await subscriberOf(list, 'anna@example.org')).params;
      assert.deepEqual([p.first_name, p.last_name, p.custom2], ['Anička', 'Nová', 'silver']);
      assert.equal((await gw.core.lists.subscribers(ctx, { email: 'nobody@example.org' })).length, 0);
    });

    it('flushMailingList (keep_list TRUE) empties the list and keeps it, in both clients; FALSE still deletes', async () => {
      const lists = async () => new Map((await gw.core.lists.list(ctx)).map((l) => [l.id, l.subscribers]));
      const before = await lists();
      const [xml, json, unknown] = await php([
        ['igloonet', 'flushMailingList', { list: flushXml }],
        ['official', 'deleteMailingList', { list: flushJson, keep_list: true }],
        ['igloonet', 'flushMailingList', { list: 999999 }],
      ]);
      assert.deepEqual(xml, { result: true, error: null, reply: { data: 'OK' } });
      assert.deepEqual(json, { result: true, error: null, reply: { data: 'OK' } });
      assert.deepEqual(unknown, { result: null, error: 'MailingListDeletion error: Invalid ID_user_list', reply: 'Invalid ID_user_list' });
      const flushed = await lists();
      assert.deepEqual([flushed.get(flushXml), flushed.get(flushJson)], [0, 0], 'both lists kept, empty');
      assert.equal(flushed.get(list), before.get(list), 'other lists untouched');
      const [deleted] = await php([['igloonet', 'deleteMailingList', { list: flushJson, keep_list: false }]]);
      assert.equal(deleted.result, true);
      assert.equal((await lists()).has(flushJson), false);
    });

    it('revalidate: an unsubscribed address is subscribed again (agreement TRUE) or asked to confirm (FALSE)', async () => {
      const emil = (await subscriberOf(list, 'emil@example.org')).id;
      const [bob, again, unknown, cecil, dora, byId] = await php([
        ['igloonet', 'revalidate', { email_id: 'bob@example.org', agreement: true }],
        ['igloonet', 'revalidate', { email_id: 'bob@example.org', agreement: true }],
        ['igloonet', 'revalidate', { email_id: 'doesNotExist', agreement: true }],
        ['official', 'revalidate', { email_id: 'cecil@example.org', agreement: true }],
        ['official', 'revalidate', { email_id: 'dora@example.org', agreement: false }],
        ['official', 'revalidate', { email_id: emil, agreement: true }],
      ]);
      assert.deepEqual(bob, { result: true, error: null, reply: 'Email has been revalidated' });
      assert.deepEqual(again, { result: null, error: 'UserRevalidationNotUnsubscribedException', reply: 'bob@example.org is not unsubscribed' });
      assert.deepEqual(unknown, { result: null, error: 'UserRevalidationNotUnsubscribedException', reply: 'doesNotExist is not unsubscribed' });
      assert.deepEqual(cecil.error, 'UserRevalidationNotUnsubscribedException', 'a complaint is not an unsubscribe');
      assert.deepEqual(cecil.reply, { error_status: 1, error: 'cecil@example.org is not unsubscribed' });
      const doraId = (await subscriberOf(list, 'dora@example.org')).id;
      assert.deepEqual(dora, {
        result: true,
        error: null,
        reply: { email: 'dora@example.org', error_status: 0, ID_email: String(doraId), error: 'Sent subscribe email' },
      });
      assert.deepEqual(byId, {
        result: true,
        error: null,
        reply: { email: 'emil@example.org', error_status: 0, ID_email: String(emil), error: 'Email has been revalidated' },
      });

      const state = async (n: string) => {
        const s = await subscriberOf(list, `${n}@example.org`);
        return [s.status, s.enabled, await suppression(`${n}@example.org`)];
      };
      assert.deepEqual(await state('bob'), ['active', true, null]);
      assert.deepEqual(await state('emil'), ['active', true, null]);
      assert.deepEqual(await state('cecil'), ['complained', false, 'complaint'], 'unchanged');
      assert.deepEqual(await state('dora'), ['unconfirmed', false, null]);
      // dora confirms with the link of the message she was sent.
      await waitFor('the confirmation message', () => relay.to('dora@example.org').length === 1);
      const html = String((await relay.to('dora@example.org')[0]!.parse()).html);
      const confirm = /href="(http:\/\/mailgate\.test\/subscribe\/confirm\/[^"]+)"/.exec(html)![1]!;
      assert.equal((await fetch(gw.url + new URL(confirm).pathname)).status, 200);
      assert.deepEqual(await state('dora'), ['active', true, null]);
      // No longer unsubscribed: gone from mailinglist.unsubscribed.
      assert.deepEqual(
        (await gw.core.reports.unsubscribed(ctx, null)).map((u) => u.email),
        [],
      );
    });
  });

  describe('itsmepvr/mailkit_campaign: create a campaign, a list, send, report', () => {
    const steps = {
      campaign: ['Email_Campaign_2026', 'A campaign about 2026'],
      list: ['Itsmepvr', 'personal_list'],
      mail: ['hr@example.org', 'Assessment', '<h1>Hello</h1>'],
    };

    it('runs its whole flow without crashing, from the account’s first sender address', async () => {
      const r = await python('campaign_client.py', [JSON.stringify(steps)]);
      assert.equal(r.campaign.sender.EMAIL, 'news@example.org');
      const id = Number(r.campaign.created);
      const m = await gw.core.mailings.get(ctx, id);
      assert.deepEqual([m.name, m.subject, m.fromEmail], ['Email_Campaign_2026', 'A campaign about 2026', 'news@example.org']);
      assert.ok(r.list.created, 'its list');
      assert.equal(r.mail.status, '1', 'sendmail: inserted into its list');
      await waitFor('the message relayed', () => relay.to('hr@example.org').length === 1);
      const msg = await relay.to('hr@example.org')[0]!.parse();
      assert.equal(msg.subject, 'Assessment');
      assert.equal(msg.from?.value[0]?.address, 'news@example.org');
      assert.match(String(msg.html), /<h1>Hello<\/h1>/);
      assert.equal(r.report.length, 1, 'report.campaign: its one send');
      // Run again: the campaign is found by its NAME in campaigns.list.
      const again = await python('campaign_client.py', [JSON.stringify({ ...steps, only: ['campaign'] })]);
      assert.equal(again.campaign.existing, id);
    });

    it('on an account that never sent, the built-in messages’ address is offered and a campaign is made from it', async () => {
      const key = await gw.core.accounts.createKey('fresh', 'test');
      const r = await python('campaign_client.py', [JSON.stringify({ ...steps, only: ['campaign'] })], key);
      assert.equal(r.campaign.sender.EMAIL, 'noreply@bounces.mailgate.test');
      const fresh = { accountId: (await gw.core.accounts.authenticate(key.secret))!.accountId, requestId: 't' };
      assert.equal((await gw.core.mailings.get(fresh, Number(r.campaign.created))).fromEmail, 'noreply@bounces.mailgate.test');
    });
  });
});

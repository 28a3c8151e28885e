/**
 * Hosted tracking over real HTTP: real mailings of three dialects sent to a capture SMTP server on 127.0.0.1,
 * the pixel and link URLs of those real recipients built as the messages carry them (hostedOpenUrl /
 * hostedClickUrl) and requested as browsers, mail proxies and scanners request them; every hit stored with its
 * verdict, and each dialect's report read through its real client encoding: CloudMailing's list_mailings and
 * Mailkit's XML-RPC functions by Python's xmlrpc.client, Mailkit's JSON by HTTP, Emailicious' delivery totals
 * by HTTP.
 *
 * Addresses: the app trusts X-Forwarded-For from loopback (`trust proxy`), so Apple's proxy is presented so,
 * from its real network (17.0.0.0/8); a scanner's network by the client socket itself, bound to 127.0.0.3,
 * which the gateway's TRACKING_SCANNER_NETWORKS lists. Time: delivery times are set in the database, and the
 * too-soon and burst windows are configured wide (600 s, 60 s), so no verdict depends on how fast this runs.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { CallContext } from '../../src/core/context.js';
import { hostedClickUrl, hostedOpenUrl } from '../../src/core/delivery/tokens.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { runProcess } from '../support/process.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';
import { call as emailicious } from '../emailicious/client.js';

let gw: TestGateway;
let relay: TestSmtpServer;
let ctx: CallContext;

const L0 = 'https://shop.example.org/sale';
const L1 = 'https://shop.example.org/new?a=1&b=2&c=%C3%A9';
const LINKS = [L0, L1];
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148';
const GMAIL = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';
const PEOPLE = ['reader', 'apple', 'scanned', 'gmail', 'early', 'network'] as const;
type Person = (typeof PEOPLE)[number];

before(async () => {
  relay = await startTestSmtpServer();
  gw = await startTestGateway({
    worker: true,
    env: {
      SMTP_URL: relay.url,
      TRACKING_TOO_SOON_SECONDS: '600',
      TRACKING_BURST_MS: '60000',
      TRACKING_SCANNER_NETWORKS: '127.0.0.3/32,40.107.0.0/16',
    },
  });
  ctx = { accountId: (await gw.core.accounts.authenticate(gw.key.secret))!.accountId, requestId: 't' };
});
after(async () => {
  await gw?.stop();
  await relay?.close();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request as a client makes it: its method, user agent, forwarded address, and socket address. */
function request(url: string, o: { method?: 'GET' | 'HEAD'; ua?: string | null; xff?: string; from?: string } = {}): Promise<Answer> {
  // The URL under PUBLIC_URL, asked of the test gateway.
  const u = new URL(url);
  const target = new URL(u.pathname + u.search, gw.url);
  const headers: Record<string, string> = {};
  if (o.ua !== null) headers['user-agent'] = o.ua ?? CHROME;
  if (o.xff) headers['x-forwarded-for'] = o.xff;
  return new Promise((resolve, reject) => {
    const req = http.request(target, { method: o.method ?? 'GET', headers, localAddress: o.from ?? '127.0.0.1', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The html of the CloudMailing and Mailkit mailings: the two links (the second's `&` escaped, as an editor writes it). */
const HTML = `<html><body><p>Hi</p><p><a href="${L0}">Sale</a> <a href="${L1.replace(/&/g, '&amp;')}">New</a></p></body></html>`;

/** The pixel and the tracked links each recipient's message carries, read from the message the relay got. */
const carried = new Map<number, { pixel: string; links: string[] }>();
const builtPixel = (recipientId: number) => hostedOpenUrl(gw.config.publicUrl, gw.services.secret, recipientId);
const builtLink = (recipientId: number, i: number) => hostedClickUrl(gw.config.publicUrl, gw.services.secret, recipientId, i, LINKS[i]!);
const pixelOf = (recipientId: number) => carried.get(recipientId)?.pixel ?? builtPixel(recipientId);
const linkOf = (recipientId: number, i: number) => carried.get(recipientId)?.links[i] ?? builtLink(recipientId, i);

/** Reads the hosted URLs out of a recipient's message; they are the genuine ones for that recipient and link. */
async function readCarried(recipientId: number, email: string): Promise<void> {
  const html = String((await relay.to(email)[0]!.parse()).html);
  const unescape = (u: string) => u.replace(/&amp;/g, '&');
  const pixel = [...html.matchAll(/<img src="([^"]*\/t\/o\/[^"]*)"/g)].map((m) => unescape(m[1]!));
  const links = [...html.matchAll(/<a href="([^"]*\/t\/c\/[^"]*)"/g)].map((m) => unescape(m[1]!));
  assert.deepEqual(pixel, [builtPixel(recipientId)], `${email}: the pixel`);
  assert.deepEqual(links, [builtLink(recipientId, 0), builtLink(recipientId, 1)], `${email}: the links`);
  carried.set(recipientId, { pixel: pixel[0]!, links });
}

interface EventRow {
  recipient_id: number;
  kind: string;
  verdict: string | null;
  verdict_reason: string | null;
  link: string | null;
  link_index: number | null;
  ip: string | null;
  user_agent: string | null;
  account_id: number;
  mailing_id: number;
}
const eventsOf = async (mailingId: number) =>
  (
    await gw.pool.query<EventRow>(
      `SELECT recipient_id::int, kind, verdict, verdict_reason, link, link_index, host(ip) AS ip, user_agent, account_id::int, mailing_id::int
         FROM events WHERE mailing_id = $1 ORDER BY id`,
      [mailingId],
    )
  ).rows;

/** The messages of a mailing are all with the relay and final; each recipient "delivered a day ago". */
async function delivered(mailingId: number, emails: string[], o: { tracked?: boolean } = {}): Promise<Record<Person, number>> {
  await waitFor('every message relayed', () => emails.every((e) => relay.to(e).length === 1), 30_000);
  await waitFor('every recipient final', async () => {
    const { rows } = await gw.pool.query(`SELECT 1 FROM recipients WHERE mailing_id = $1 AND status <> 'finished'`, [mailingId]);
    return rows.length === 0;
  });
  const { rows } = await gw.pool.query<{ id: number; email: string }>(
    `UPDATE recipients SET last_try = now() - interval '1 day' WHERE mailing_id = $1 RETURNING id::int, email`,
    [mailingId],
  );
  assert.equal(rows.length, emails.length);
  if (o.tracked) for (const r of rows) await readCarried(r.id, r.email);
  return Object.fromEntries(PEOPLE.map((p) => [p, rows.find((r) => r.email.startsWith(`${p}.`))!.id])) as Record<Person, number>;
}

/** Request, check the answer, and wait until its event is stored (recording follows the answer). */
async function hit(mailingId: number, url: string, o: Parameters<typeof request>[1] = {}): Promise<Answer> {
  const before = (await eventsOf(mailingId)).length;
  const a = await request(url, o);
  if (url.includes('/t/o/')) {
    assert.equal(a.status, 200);
    assert.equal(a.headers['content-type'], 'image/gif');
    assert.equal(a.headers['content-length'], '42');
    assert.match(String(a.headers['cache-control']), /no-store/);
    if (o.method !== 'HEAD') assert.equal(a.body.subarray(0, 6).toString(), 'GIF89a');
  } else {
    assert.equal(a.status, 302);
    assert.match(String(a.headers['cache-control']), /no-store/);
  }
  await waitFor('the hit recorded', async () => (await eventsOf(mailingId)).length === before + 1);
  return a;
}

/**
 * The same hits on every dialect's mailing: a person reading and clicking; Apple's proxy then the person;
 * a scanner (HEAD, a discovery probe, then every link in a burst); Gmail's proxy an hour after delivery; a
 * browser and Gmail's proxy right at delivery; a scanner's network.
 */
async function scenario(mailingId: number, r: Record<Person, number>): Promise<void> {
  await hit(mailingId, pixelOf(r.reader));
  await hit(mailingId, pixelOf(r.reader), { ua: IPHONE });
  const clicked = await hit(mailingId, linkOf(r.reader, 0) + '&utm_source=x&next=https%3A%2F%2Fevil.example%2F');
  assert.equal(clicked.headers.location, L0, 'added query parameters are ignored: the redirect goes to the link');

  await hit(mailingId, pixelOf(r.apple), { ua: 'Mozilla/5.0', xff: '17.58.101.7' });
  await hit(mailingId, pixelOf(r.apple), { ua: IPHONE });

  await hit(mailingId, pixelOf(r.scanned), { method: 'HEAD' });
  await hit(mailingId, linkOf(r.scanned, 0), { ua: 'Microsoft Office Existence Discovery' });
  await hit(mailingId, linkOf(r.scanned, 0));
  const last = await hit(mailingId, linkOf(r.scanned, 1));
  assert.equal(last.headers.location, new URL(L1).href);

  await hit(mailingId, pixelOf(r.gmail), { ua: GMAIL, xff: '66.249.84.1' });

  await gw.pool.query('UPDATE recipients SET last_try = now() WHERE id = $1', [r.early]);
  await hit(mailingId, pixelOf(r.early));
  await hit(mailingId, pixelOf(r.early), { ua: GMAIL });

  await hit(mailingId, pixelOf(r.network), { from: '127.0.0.3' });
  await hit(mailingId, linkOf(r.network, 0), { from: '127.0.0.3', method: 'HEAD' });
  await hit(mailingId, linkOf(r.network, 1), { from: '127.0.0.3' });
}

/** [person, kind, verdict or reason, link index] of every event of the scenario, in order. */
const EXPECTED_EVENTS: [Person, string, string, number | null][] = [
  ['reader', 'open', 'human', null],
  ['reader', 'open', 'human', null],
  ['reader', 'click', 'human', 0],
  ['apple', 'open', 'apple-mpp', null],
  ['apple', 'open', 'human', null],
  ['scanned', 'open', 'head', null],
  ['scanned', 'click', 'scanner-ua', 0],
  ['scanned', 'click', 'all-links', 0],
  ['scanned', 'click', 'all-links', 1],
  ['gmail', 'open', 'human', null],
  ['early', 'open', 'too-soon', null],
  ['early', 'open', 'gmail-proxy', null],
  ['network', 'open', 'scanner-network', null],
  ['network', 'click', 'head', 0],
  ['network', 'click', 'scanner-network', 1],
];

// People: opens 4 by 3 recipients, clicks 1 by 1. Machines: opens 5 by 4 (apple, scanned, early, network),
// clicks 5 by 2 (scanned, network).
const HUMAN = { opens: 4, opens_unique: 3, clicks: 1, clicks_unique: 1 };
const MACHINE = { opens: 5, opens_unique: 4, clicks: 5, clicks_unique: 2 };

async function assertEvents(mailingId: number, r: Record<Person, number>): Promise<void> {
  const name = Object.fromEntries(Object.entries(r).map(([p, id]) => [id, p]));
  const rows = await eventsOf(mailingId);
  assert.deepEqual(
    rows.map((e) => [name[e.recipient_id], e.kind, e.verdict === 'human' ? 'human' : e.verdict_reason, e.link_index]),
    EXPECTED_EVENTS,
  );
  assert.ok(
    rows.every((e) => e.account_id === ctx.accountId && e.mailing_id === mailingId),
    'the recipient’s account and mailing',
  );
  assert.deepEqual(
    rows.filter((e) => e.kind === 'click').map((e) => e.link),
    [L0, L0, L0, L1, L0, L1],
  );
  assert.deepEqual(rows.map((e) => e.ip).slice(3, 5), ['17.58.101.7', '127.0.0.1'], 'X-Forwarded-For from a loopback proxy, else the socket');
  assert.equal(rows[12]!.ip, '127.0.0.3');
  assert.equal(rows[5]!.user_agent, CHROME);
}

const XMLRPC = `
import json, sys, xmlrpc.client
proxy = xmlrpc.client.ServerProxy(sys.argv[1], allow_none=True)
out = []
for method, args in json.loads(sys.argv[2]):
    try:
        out.append(getattr(proxy, method)(*args))
    except xmlrpc.client.Fault as f:
        out.append({"fault": [f.faultCode, f.faultString]})
print(json.dumps(out, default=str))
`;

async function xmlrpc(path: string, calls: [string, unknown[]][]): Promise<any[]> {
  const r = await runProcess('python3', ['-c', XMLRPC, gw.url.replace('http://', `http://admin:${gw.key.secret}@`) + path, JSON.stringify(calls)], {
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as any[];
}

async function mailkitJson(fn: string, parameters: Record<string, string>): Promise<any> {
  const res = await fetch(`${gw.url}/json.fcgi`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ function: fn, id: String(gw.key.id), md5: gw.key.secret, parameters }),
  });
  assert.equal(res.status, 200);
  return await res.json();
}

const emailsOf = (dialect: string) => PEOPLE.map((p) => `${p}.${dialect}@example.org`);

describe('tracking: hosted opens and clicks, and every dialect’s report', () => {
  it('cloudmailing: a mailing by xmlrpc.client; list_mailings counts people’s opens and clicks, machines’ apart', async () => {
    const emails = emailsOf('cm');
    const [id] = await xmlrpc('/CloudMailing', [['create_mailing', ['news@example.org', 'News', 'Hello', HTML, 'Hi', 'UTF-8']]]);
    const [, added, started] = await xmlrpc('/CloudMailing', [
      // Clicks are tracked on request (the original's default is off); opens by default.
      ['set_mailing_properties', [id, { click_tracking: true }]],
      ['add_recipients', [id, emails.map((email) => ({ email }))]],
      ['start_mailing', [id]],
    ]);
    assert.equal(added.length, emails.length, JSON.stringify(added));
    assert.ok(typeof started === 'string', JSON.stringify(started));
    const r = await delivered(id as number, emails, { tracked: true });
    await scenario(id as number, r);
    await assertEvents(id as number, r);

    const [[m]] = await xmlrpc('/CloudMailing', [['list_mailings', [{ id: [id] }]]]);
    assert.deepEqual(
      [m.total_opens, m.total_unique_opens, m.total_clicks, m.total_unique_clicks],
      [HUMAN.opens, HUMAN.opens_unique, HUMAN.clicks, HUMAN.clicks_unique],
    );
    assert.deepEqual(
      [m.total_machine_opens, m.total_machine_unique_opens, m.total_machine_clicks, m.total_machine_unique_clicks],
      [MACHINE.opens, MACHINE.opens_unique, MACHINE.clicks, MACHINE.clicks_unique],
    );
    assert.equal(m.total_sent, emails.length, 'the original’s fields as they were');
  });

  describe('mailkit: a campaign sent to a list', () => {
    let mailing: number;
    let send: number;
    let list: number;
    let r: Record<Person, number>;
    before(async () => {
      const emails = emailsOf('mk');
      list = await gw.core.lists.create(ctx, { name: 'Readers' });
      await gw.core.lists.subscribe(
        ctx,
        list,
        emails.map((email) => ({ email })),
      );
      mailing = await gw.core.mailings.create(ctx, { dialect: 'mailkit', name: 'Weekly', fromEmail: 'news@example.org', subject: 'Weekly', html: HTML });
      for (const email of emails) send = (await gw.core.transactional.send(ctx, { mailingId: mailing, listId: list, email, fields: {} })).sendId;
      r = await delivered(mailing, emails, { tracked: true });
      await scenario(mailing, r);
    });

    it('stores every hit with its verdict; a GET changes no subscription', async () => {
      await assertEvents(mailing, r);
      const { rows } = await gw.pool.query<{ status: string }>('SELECT status FROM subscribers WHERE list_id = $1', [list]);
      assert.deepEqual(new Set(rows.map((s) => s.status)), new Set(['active']));
      assert.deepEqual((await gw.pool.query('SELECT * FROM suppressions')).rows, []);
    });

    it('xml-rpc: report, report.campaign, message.links, raw.responses, mailinglist.engagement', async () => {
      const [report, campaign, links, machineLinks, allLinks, responses, machineResponses, engagement] = await xmlrpc('/rpc.fcgi', [
        ['mailkit.report', [String(gw.key.id), gw.key.secret, '2000-01-01', '2100-01-01']],
        ['mailkit.report.campaign', [String(gw.key.id), gw.key.secret, mailing, '', '']],
        ['mailkit.report.message.links', [String(gw.key.id), gw.key.secret, send]],
        ['mailkit.report.message.links', [String(gw.key.id), gw.key.secret, send, 'machine']],
        ['mailkit.report.message.links', [String(gw.key.id), gw.key.secret, send, 'all']],
        ['mailkit.report.raw.responses', [String(gw.key.id), gw.key.secret, mailing, send, 1, 1000]],
        ['mailkit.report.raw.responses', [String(gw.key.id), gw.key.secret, mailing, send, 1, 1000, 'machine']],
        ['mailkit.mailinglist.engagement', [String(gw.key.id), gw.key.secret, list, 0, 100]],
      ]);
      const counts = (x: any) => [x.READ_COUNT, x.READ_COUNT_U, x.CLICK_COUNT, x.CLICK_COUNT_U];
      const machine = (x: any) => [x.READ_COUNT_MACHINE, x.READ_COUNT_U_MACHINE, x.CLICK_COUNT_MACHINE, x.CLICK_COUNT_U_MACHINE];
      const row = report.find((x: any) => x.ID_MESSAGE === mailing);
      for (const x of [row, campaign[0]]) {
        assert.deepEqual(counts(x), [HUMAN.opens, HUMAN.opens_unique, HUMAN.clicks, HUMAN.clicks_unique]);
        assert.deepEqual(machine(x), [MACHINE.opens, MACHINE.opens_unique, MACHINE.clicks, MACHINE.clicks_unique]);
      }
      assert.equal(campaign[0].CLICK_RATE, ((100 * HUMAN.clicks_unique) / PEOPLE.length).toFixed(2), 'rates from people’s clicks');

      const id = (url: string) => allLinks.find((l: any) => l.URL === url).ID_URL;
      assert.deepEqual(
        links.map((l: any) => [l.URL, l.CLICK, l.VISIT]),
        [[L0, 1, 1]],
        'people’s clicks by default',
      );
      assert.deepEqual(
        machineLinks.map((l: any) => [l.URL, l.CLICK, l.VISIT]),
        [
          [L0, 3, 2],
          [L1, 2, 2],
        ],
      );
      assert.deepEqual(
        allLinks.map((l: any) => [l.URL, l.CLICK, l.VISIT, l.ID_URL]),
        [
          [L0, 4, 3, id(L0)],
          [L1, 2, 2, id(L1)],
        ],
      );
      assert.deepEqual(Object.keys(links[0]), ['TITLE', 'TITLE_SHORT', 'ANCHOR', 'URL', 'ID_URL', 'AB_VERSION', 'CLICK', 'VISIT', 'CONVERSION']);

      const name = Object.fromEntries(Object.entries(r).map(([p, i]) => [i, p]));
      const shown = (x: any) => [name[x.ID_send_message], x.type, x.verdict === 'human' ? 'human' : x.verdict_reason];
      assert.deepEqual(responses.map(shown), [
        ['reader', 'read', 'human'],
        ['reader', 'read', 'human'],
        ['reader', 'click', 'human'],
        ['apple', 'read', 'human'],
        ['gmail', 'read', 'human'],
      ]);
      assert.deepEqual(
        machineResponses.map(shown),
        EXPECTED_EVENTS.filter((e) => e[2] !== 'human').map(([p, kind, reason]) => [p, kind === 'open' ? 'read' : kind, reason]),
      );
      assert.ok(responses.every((x: any) => x.ID_log > 0 && typeof x.ID_log === 'number'));

      const byPerson = Object.fromEntries(engagement.map((e: any) => [e.EMAIL.split('.')[0], [...counts(e), ...machine(e)]]));
      assert.deepEqual(byPerson, {
        reader: [2, 1, 1, 1, 0, 0, 0, 0],
        apple: [1, 1, 0, 0, 1, 1, 0, 0],
        scanned: [0, 0, 0, 0, 1, 1, 3, 1],
        gmail: [1, 1, 0, 0, 0, 0, 0, 0],
        early: [0, 0, 0, 0, 2, 1, 0, 0],
        network: [0, 0, 0, 0, 1, 1, 2, 1],
      });
      const scanned = engagement.find((e: any) => e.EMAIL.startsWith('scanned.'));
      assert.deepEqual([scanned.LAST_READ, scanned.LAST_CLICK], ['', ''], 'the last open and click are people’s');
    });

    it('json: the same counts, strings as the JSON encoding writes them', async () => {
      const campaign = await mailkitJson('mailkit.report.campaign', { ID_message: String(mailing) });
      const row = Array.isArray(campaign) ? campaign[0] : campaign.data?.[0];
      assert.deepEqual(
        [row.READ_COUNT, row.READ_COUNT_U, row.CLICK_COUNT, row.CLICK_COUNT_U, row.READ_COUNT_MACHINE, row.CLICK_COUNT_U_MACHINE],
        ['4', '3', '1', '1', '5', '2'],
      );
      const links = await mailkitJson('mailkit.report.message.links', { ID_send: String(send), verdict: 'machine' });
      assert.deepEqual(
        links.map((l: any) => [l.URL, l.CLICK, l.VISIT]),
        [
          [L0, 3, 2],
          [L1, 2, 2],
        ],
      );
      const all = await mailkitJson('mailkit.report.raw.responses', { ID_send: String(send), verdict: 'all', limit: '1000' });
      assert.equal(all.length, EXPECTED_EVENTS.length);
      assert.deepEqual(await mailkitJson('mailkit.report.raw.responses', { verdict: 'robots' }), { error_status: 1, error: 'Invalid verdict' });
      const engagement = await mailkitJson('mailkit.mailinglist.engagement', { ID_user_list: String(list) });
      const scanned = engagement.find((e: any) => e.EMAIL.startsWith('scanned.'));
      assert.deepEqual([scanned.READ_COUNT, scanned.CLICK_COUNT_MACHINE, scanned.CLICK_COUNT_U_MACHINE], ['0', '3', '1']);
    });
  });

  it('emailicious: a delivery’s totals count people’s opens and clicks, machines’ apart', async () => {
    const api = (method: string, p: string, json?: unknown) => emailicious(gw.url, gw.key.secret, method, `/api/v1${p}`, json === undefined ? {} : { json });
    const emails = emailsOf('em');
    const list = (await api('POST', '/lists', { name: 'Nouvelles', default_from_email: 'news@example.org' })).body.id;
    for (const email of emails) assert.equal((await api('POST', `/lists/${list}/subscribers`, { email })).status, 201);
    const m = await api('POST', '/mailings', { list, name: 'Now', variants: [{ subject: 'Hi', layout: { text: 'Bonjour' }, deliveries: [{}] }] });
    assert.equal(m.status, 201, JSON.stringify(m.body));
    const r = await delivered(m.body.id, emails);
    await scenario(m.body.id, r);
    await assertEvents(m.body.id, r);
    const t = (await api('GET', `/mailings/${m.body.id}`)).body.variants[0].deliveries[0].totals;
    assert.deepEqual([t.opens, t.unique_opens, t.clicks, t.unique_clicks], [HUMAN.opens, HUMAN.opens_unique, HUMAN.clicks, HUMAN.clicks_unique]);
    assert.deepEqual(
      [t.machine_opens, t.machine_unique_opens, t.machine_clicks, t.machine_unique_clicks],
      [MACHINE.opens, MACHINE.opens_unique, MACHINE.clicks, MACHINE.clicks_unique],
    );
    assert.equal(t.delivered, emails.length);
  });
});

describe('tracking: forged and altered tokens', () => {
  let mailing: number;
  let id: number;
  before(async () => {
    mailing = await gw.core.mailings.create(ctx, { dialect: 'test', fromEmail: 'news@example.org', subject: 'Hi', html: '<p>Hi</p>' });
    await gw.core.recipients.add(ctx, mailing, [{ email: 'forged@example.org', fields: {} }]);
    await gw.core.mailings.start(ctx, mailing);
    await waitFor('the message relayed', () => relay.to('forged@example.org').length === 1, 30_000);
    await waitFor('the recipient final', async () => (await gw.core.mailings.get(ctx, mailing)).status === 'finished', 30_000);
    const { rows } = await gw.pool.query<{ id: number }>(`UPDATE recipients SET last_try = now() - interval '1 day' WHERE mailing_id = $1 RETURNING id::int`, [
      mailing,
    ]);
    id = rows[0]!.id;
  });

  it('no redirect, no GIF and no event, whatever is changed or added', async () => {
    const good = new URL(linkOf(id, 0));
    const token = good.pathname.split('/').pop()!;
    const flip = (t: string) => t.slice(0, -1) + (t.endsWith('A') ? 'B' : 'A');
    const bad = [
      `/t/c/${flip(token)}?u=${encodeURIComponent(L0)}`,
      `/t/c/${token}?u=${encodeURIComponent('https://evil.example/')}`,
      `/t/c/${token}?u=${encodeURIComponent(L1)}`,
      `/t/c/${token}?u=${encodeURIComponent(L0)}&u=${encodeURIComponent('https://evil.example/')}`,
      `/t/c/${token}?u=${encodeURIComponent(L0 + '/')}`,
      `/t/c/${token}`,
      `/t/c/${token.replace(/^\d+/, String(id + 1))}?u=${encodeURIComponent(L0)}`,
      `/t/c/${token.replace(/\.0\./, '.1.')}?u=${encodeURIComponent(L0)}`,
      `/t/c/${token}x?u=${encodeURIComponent(L0)}`,
    ];
    for (const path of bad) {
      const a = await request(gw.config.publicUrl + path);
      assert.equal(a.status, 404, path);
      assert.equal(a.headers.location, undefined, path);
      assert.match(a.body.toString(), /This link is not valid/);
    }
    const pixel = new URL(pixelOf(id)).pathname;
    for (const path of [pixel.replace(/.\.gif$/, (m) => (m[0] === 'A' ? 'B' : 'A') + '.gif'), pixel.replace('.gif', '.png'), '/t/o/1.abc.gif']) {
      const a = await request(gw.config.publicUrl + path);
      assert.equal(a.status, 404, path);
      assert.match(a.body.toString(), /This link is not valid/);
    }
    // The genuine link still works, and is the only event.
    assert.equal((await hit(mailing, good.href)).headers.location, L0);
    assert.deepEqual(
      (await eventsOf(mailing)).map((e) => [e.kind, e.link]),
      [['click', L0]],
    );
  });
});

describe('tracking: the database unreachable', () => {
  // What happens to the outage's events is not asserted: each is lost when its write fails (logged), which
  // depends on when the pool notices; that the answers do not wait for the database is.
  it('the pixel and a genuine link still answer at once; the process lives on and records again', async () => {
    const mailing = await gw.core.mailings.create(ctx, { dialect: 'test', fromEmail: 'news@example.org', subject: 'Hi', html: '<p>Hi</p>' });
    await gw.core.recipients.add(ctx, mailing, [{ email: 'down@example.org', fields: {} }]);
    const [{ id }] = (await gw.pool.query<{ id: number }>('SELECT id::int FROM recipients WHERE mailing_id = $1', [mailing])).rows as [{ id: number }];
    const db = new URL(gw.databaseUrl).pathname.slice(1);
    const admin = new pg.Client({ connectionString: gw.databaseUrl.replace(/\/[^/?]+(\?|$)/, '/postgres$1') });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE "${db}" ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db]);
      const pixel = await request(pixelOf(id));
      assert.deepEqual([pixel.status, pixel.headers['content-type']], [200, 'image/gif']);
      const link = await request(linkOf(id, 0));
      assert.deepEqual([link.status, link.headers.location], [302, L0]);
      assert.equal((await fetch(`${gw.url}/healthz`)).status, 503, 'the database is unreachable indeed');
    } finally {
      await admin.query(`ALTER DATABASE "${db}" ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    await waitFor('the gateway reaches its database again', async () => (await fetch(`${gw.url}/healthz`)).status === 200);
    await request(pixelOf(id), { ua: IPHONE });
    await waitFor('a later open is recorded', async () => (await eventsOf(mailing)).some((e) => e.user_agent === IPHONE));
  });
});

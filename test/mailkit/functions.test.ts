/**
 * Every Mailkit function in both encodings, called as real clients call them (test/mailkit/clients.py:
 * Python's xmlrpc.client on /rpc.fcgi with client_id as a string, urllib JSON on /json.fcgi), against a
 * gateway with a worker and a relay on loopback that refuses one address and defers another.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import path from 'node:path';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { runProcess } from '../support/process.js';
import { waitFor } from '../support/wait.js';

const CLIENTS = path.join(import.meta.dirname, 'clients.py');
let gw: TestGateway;
let relay: TestSmtpServer;

before(async () => {
  relay = await startTestSmtpServer();
  relay.reject550.add('hard@example.org');
  relay.reject452.add('soft@example.org');
  gw = await startTestGateway({ worker: true, env: { SMTP_URL: relay.url, RETRY_BASE_SECONDS: '60', SEND_BATCH_SIZE: '10' } });
});
after(async () => {
  await gw?.stop();
  await relay?.close();
});

const ctx = async () => ({ accountId: (await gw.core.accounts.authenticate(gw.key.secret))!.accountId, requestId: 't' });

async function clients(encoding: 'xml' | 'json', step: 'setup' | 'reports', args: object): Promise<Record<string, any>> {
  const r = await runProcess('python3', [CLIENTS, gw.url, String(gw.key.id), gw.key.secret, encoding, step, JSON.stringify(args)], {
    env: { PYTHONDONTWRITEBYTECODE: '1' },
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, `clients.py ${encoding} ${step} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

let bounced: number;
let bouncedSend: number;
let campaign: number;
const setup: Record<string, Record<string, any>> = {};
const reports: Record<string, Record<string, any>> = {};

describe('mailkit: every function, both encodings, driven by Python clients', () => {
  // Every test below reads what these calls answered: they are made once, before them.
  before(async () => {
    const c = await ctx();
    bounced = await gw.core.mailings.create(c, { dialect: 'mailkit', fromEmail: 'news@example.org', subject: 'News', text: 'Hi' });
    await gw.core.recipients.add(
      c,
      bounced,
      ['good', 'hard', 'soft'].map((n) => ({ email: `${n}@example.org`, fields: {} })),
    );
    await gw.core.mailings.start(c, bounced);
    campaign = await gw.core.mailings.create(c, {
      dialect: 'mailkit',
      fromEmail: 'shop@example.org',
      subject: 'Hello {{ first_name }}',
      text: 'Hi {{ first_name }}',
      html: '<p>Hi {{ first_name }}</p>',
    });
    await waitFor('hard and soft answered', async () => (await gw.core.bounces.log(c, { mailingId: bounced }, 0, 10)).length === 2);
    const { rows } = await gw.pool.query('SELECT id FROM sends WHERE mailing_id = $1', [bounced]);
    bouncedSend = rows[0].id;
    for (const enc of ['xml', 'json'] as const) setup[enc] = await clients(enc, 'setup', { campaign });
    await waitFor('both transactional messages sent', () => relay.to('carl.xml@example.org').length === 1 && relay.to('carl.json@example.org').length === 1);
    for (const enc of ['xml', 'json'] as const)
      reports[enc] = await clients(enc, 'reports', {
        bounced_mailing: bounced,
        bounced_send: bouncedSend,
        transactional: campaign,
        list_id: setup[enc]!.list_id,
      });
  });

  for (const enc of ['xml', 'json'] as const) {
    const id = (v: number) => (enc === 'json' ? String(v) : v);
    const err = (text: string) => (enc === 'json' ? { error_status: 1, error: text } : text);

    it(`${enc}: lists — create, exist, list, adduser (base64, {'': None}), edituser, import, delete`, () => {
      const s = setup[enc]!;
      const r = reports[enc]!;
      const lid = s.list_id as number;
      assert.deepEqual(s.create, { data: id(lid) }, 'JSON data is a string, XML an i4');
      assert.deepEqual(s.create_again, err('Mailing list exist'));
      assert.deepEqual(s.create_missing, err('Missing name of mailing list'));
      assert.deepEqual(
        s.list.find((l: any) => l.ID_USER_LIST === lid),
        { ID_USER_LIST: lid, NAME: `News ${enc}`, STATUS: 'enabled', DESCRIPTION: `for ${enc}` },
      );
      const annaId = Number(enc === 'json' ? s.adduser.ID_email : s.adduser.data);
      assert.deepEqual(
        s.adduser,
        enc === 'json' ? { data: String(annaId), ID_email: String(annaId), status: '1', error_status: 0 } : { data: annaId, status: 1 },
      );
      assert.deepEqual(
        s.adduser_again,
        enc === 'json' ? { data: String(annaId), ID_email: String(annaId), status: '0', error_status: 0 } : { data: annaId, status: 0 },
      );
      assert.deepEqual(s.adduser_bad, err('Bad email syntax'));
      assert.deepEqual(s.adduser_nolist, err('Invalid ID_mailing_list'));
      assert.deepEqual(s.edituser, enc === 'json' ? { error_status: 0, error: 'OK', ID_email: annaId } : 'OK', 'XML: the bare string igloonet reads');
      const counts = { count_all: 3, count_new: 1, count_updated: 1, count_bad: 1 };
      assert.deepEqual(s.import, {
        ...(enc === 'json' ? Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, String(v)])) : counts),
        invalid_emails: ['broken@'],
      });
      assert.deepEqual(r.delete, { data: 'OK' });
      assert.deepEqual(r.delete_again, err('Invalid ID_user_list'));
    });

    it(`${enc}: getstatus and unsubscribe — one record, base64 decoded, merged updates, suppression`, async () => {
      const s = setup[enc]!;
      const [a] = s.getstatus;
      assert.equal(s.getstatus.length, 1);
      assert.deepEqual(
        [a.EMAIL, a.FIRST_NAME, a.LAST_NAME, a.CITY, a.COMPANY, a.CUSTOM_1, a.STATUS, a.ID_MAILING_LIST],
        [`anna.${enc}@example.org`, 'Anička', 'Nováková', 'Brno', 'ACME', 'gold', 'enabled', s.list_id],
      );
      assert.equal(typeof a.ID_EMAIL, 'number');
      assert.equal(a.CUSTOM_2, enc === 'json' ? null : '');
      assert.match(a.DATE, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      assert.deepEqual(s.getstatus_unknown, err(''), 'an unknown address: the empty error, as Mailkit answers it');
      const bobId = s.getstatus_after[0].ID_EMAIL;
      assert.deepEqual(s.unsubscribe, enc === 'json' ? { error_status: '0', ID_email: String(bobId), status: '1' } : bobId);
      assert.deepEqual(s.unsubscribe_bad, err('Invalid ID_email or email'));
      assert.equal(s.getstatus_after[0].STATUS, 'unsubscribe');
      assert.equal((await gw.core.suppressions.status(await ctx(), `bob.${enc}@example.org`)).suppression?.reason, 'unsubscribe');
    });

    it(`${enc}: sendmail delivers one personalized message with its own subject, body and attachment; raw.messages shows it`, () => {
      const s = setup[enc]!;
      const r = reports[enc]!;
      const [msg] = relay.to(`carl.${enc}@example.org`);
      assert.equal(msg!.header('Subject'), `Your order ${enc}`);
      assert.match(msg!.raw.toString('utf8'), /Order for <b>Carl<\/b>/, 'its html part');
      assert.match(msg!.raw.toString('utf8'), /\r\n\r\nOrder for Carl\r\n/, 'its text part, from its html');
      assert.ok(!Number.isNaN(Date.parse(msg!.header('Date')!)), `a valid Date header: ${msg!.header('Date')}`);
      assert.match(msg!.raw.toString('utf8'), /filename="?order\.txt/);
      assert.match(msg!.raw.toString('utf8'), /b3JkZXIgNDIK/, 'the attachment bytes, base64');
      const v = s.sendmail;
      const nums = enc === 'json' ? [v.data, v.data2, v.data3, v.status].map(Number) : [v.data, v.data2, v.data3, v.status];
      assert.equal(nums[3], 1, 'status 1: inserted into the list');
      if (enc === 'json') assert.equal(v.error_status, 0);
      assert.deepEqual(s.sendmail_nocampaign, err('Invalid ID_message'));
      assert.deepEqual(s.sendmail_noto, err('Missing send_to'));
      const row = r.raw_messages.find((m: any) => m.email === `carl.${enc}@example.org`);
      assert.ok(row, 'in mailkit.report.raw.messages');
      assert.deepEqual([row.ID_send_message, row.ID_send, row.message_status, row.first_name], [id(nums[2]), id(nums[1]), 'delivered', 'Carl']);
      assert.deepEqual(
        r.raw_messages.map((m: any) => Number(m.ID_send_message)),
        [...r.raw_messages.map((m: any) => Number(m.ID_send_message))].sort((x, y) => x - y),
        'ascending',
      );
    });

    it(`${enc}: reports — campaigns.list, report, report.campaign (one row per send), message.bounces, raw.bounces`, () => {
      const r = reports[enc]!;
      assert.deepEqual(
        r.campaign_one.map((c: any) => [c.ID_MESSAGE, c.NAME, c.STATUS, c.USER_LIST]),
        [[bounced, 'News', 'sending', []]],
      );
      assert.ok(r.campaigns.some((c: any) => c.ID_MESSAGE === campaign && c.CAMPAIGN_TYPE === 'transactional'));
      const rep = r.report.find((x: any) => x.ID_MESSAGE === id(bounced));
      assert.deepEqual([rep.SEND_COUNT, rep.DELIVERED_COUNT], [id(3), id(1)]);
      assert.equal(r.report_campaign.length, 1);
      assert.deepEqual(
        [r.report_campaign[0].ID_SEND, r.report_campaign[0].SEND_COUNT, r.report_campaign[0].DELIVERED_COUNT, r.report_campaign[0].BOUNCE_COUNT],
        [id(bouncedSend), id(3), id(1), id(1)],
      );
      assert.deepEqual(
        r.message_bounces.map((b: any) => [b.EMAIL, b.STATUS, b.EMAIL_STATUS]),
        [
          ['hard@example.org', '5.1.1', 'permanent'],
          ['soft@example.org', '4.2.2', 'temporary'],
        ],
      );
      assert.deepEqual(
        r.raw_bounces.map((b: any) => Object.keys(b)),
        r.raw_bounces.map(() => [
          'ID_MESSAGE',
          'TEXT_STATUS',
          'STATUS',
          'ID_EMAIL',
          'ID_SEND',
          'EMAIL',
          'ID_SEND_MESSGE',
          'ID_USER_LIST',
          'REMOTE_MTA',
          'ID_UNDELIVERED_LOG',
          'RECIPIENT_STATUS',
        ]),
      );
      assert.deepEqual(
        r.raw_bounces.map((b: any) => [b.EMAIL, b.STATUS, b.TEXT_STATUS, b.REMOTE_MTA, b.RECIPIENT_STATUS, b.ID_MESSAGE]),
        [
          ['hard@example.org', '5.1.1', 'smtp; 550 5.1.1 user unknown', 'dns; 127.0.0.1', 'permanent', id(bounced)],
          ['soft@example.org', '4.2.2', 'smtp; 452 4.2.2 mailbox full', 'dns; 127.0.0.1', 'temporary', id(bounced)],
        ],
      );
    });

    it(`${enc}: bad input is answered the Mailkit way (never a fault) and stores nothing`, async () => {
      const s = setup[enc]!;
      assert.deepEqual(s.wrong_md5, err('Unauthorized'));
      assert.deepEqual(s.unknown_function, err('Unknown function'));
      assert.deepEqual(s.limit_too_big, err('Invalid limit: at most 25000'));
      assert.deepEqual(s.non_numeric, err('Invalid ID_message'));
      if (enc === 'json') assert.deepEqual(s.malformed, err('Invalid JSON'));
      const { rows } = await gw.pool.query(`SELECT count(*)::int AS n FROM subscribers WHERE email IN ('not-an-address', 'broken@')`);
      assert.equal(rows[0].n, 0);
    });
  }

  it('raw.bounces on the wire: XML members in the seed order with <i4> integers; JSON string values', async () => {
    const call = (body: string, p: string, type: string) =>
      fetch(gw.url + p, { method: 'POST', headers: { 'content-type': type }, body }).then(async (r) => [r.status, await r.text()] as const);
    const [st, xml] = await call(
      `<?xml version="1.0"?><methodCall><methodName>mailkit.report.raw.bounces</methodName><params><param><value><int>${gw.key.id}</int></value></param><param><value><string>${gw.key.secret}</string></value></param><param><value><int>${bounced}</int></value></param><param><value><int>${bouncedSend}</int></value></param><param><value><int>1</int></value></param><param><value><int>1</int></value></param></params></methodCall>`,
      '/rpc.fcgi',
      'text/xml',
    );
    assert.equal(st, 200);
    assert.match(xml, /^<\?xml version="1.0" encoding="utf-8"\?>/);
    assert.match(
      xml,
      new RegExp(
        `<member><name>ID_MESSAGE</name><value><i4>${bounced}</i4></value></member><member><name>TEXT_STATUS</name><value><string>smtp; 550 5.1.1 user unknown</string></value></member><member><name>STATUS</name><value><string>5.1.1</string></value></member><member><name>ID_EMAIL</name><value><i4>\\d+</i4></value></member>`,
      ),
    );
    const [js, json] = await call(
      JSON.stringify({
        function: 'mailkit.report.raw.bounces',
        id: String(gw.key.id),
        md5: gw.key.secret,
        parameters: { ID_message: String(bounced), ID_send: String(bouncedSend), ID_undelivered_log: '1', limit: '1' },
      }),
      '/json.fcgi',
      'application/json',
    );
    assert.equal(js, 200);
    assert.match(
      json,
      new RegExp(
        `^\\[\\{"ID_MESSAGE":"${bounced}","TEXT_STATUS":"smtp; 550 5.1.1 user unknown","STATUS":"5.1.1","ID_EMAIL":"\\d+","ID_SEND":"${bouncedSend}","EMAIL":"hard@example.org","ID_SEND_MESSGE":"\\d+","ID_USER_LIST":"","REMOTE_MTA":"dns; 127.0.0.1","ID_UNDELIVERED_LOG":"\\d+","RECIPIENT_STATUS":"permanent"\\}\\]$`,
      ),
    );
  });

  it('an oversized body: HTTP 413, nothing stored', async () => {
    const big = 'x'.repeat(gw.config.MAX_BODY_BYTES + 10);
    const r = await fetch(gw.url + '/json.fcgi', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ function: 'mailkit.mailinglist.create', id: String(gw.key.id), md5: gw.key.secret, parameters: { name: big } }),
    });
    assert.equal(r.status, 413);
    assert.equal((await gw.core.lists.list(await ctx())).filter((l) => l.name.startsWith('xxx')).length, 0);
  });
});

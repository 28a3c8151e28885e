/**
 * CloudMailing mailing methods: the seed's calls as golden requests, properties, life cycle, listings, isolation.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { accountId, callXml, client, SEED_MAILING, startGateway, type Client, type Gateway } from './helpers.js';

let gw: Gateway;
let cm: Client;
before(async () => {
  gw = await startGateway();
  cm = client(gw);
});
after(async () => gw?.stop());

const ctx = async () => ({ accountId: await accountId(gw), requestId: 't' });

// The request Python's xmlrpc.client sends for the seed's create_mailing call.
const SEED_CREATE_XML = callXml('create_mailing', [
  '<value><string>my-mailing@%example.org</string></value>',
  '<value><string>My Mailing</string></value>',
  '<value><string>The great newsletter</string></value>',
  '<value><string>&lt;h1&gt;Title&lt;/h1&gt;&lt;p&gt;Coucou&lt;/p&gt;</string></value>',
  '<value><string>Title\nCoucou\n</string></value>',
  '<value><string>UTF-8</string></value>',
]);

describe('cloudmailing: create_mailing', () => {
  it('creates the seed mailing and answers its id', async () => {
    const a = await cm.post(SEED_CREATE_XML);
    assert.equal(a.status, 200);
    assert.match(a.body, /^<\?xml version="1.0"\?><methodResponse><params><param><value><int>\d+<\/int><\/value><\/param><\/params><\/methodResponse>$/);
    const m = await gw.core.mailings.get(await ctx(), a.value);
    assert.equal(m.fromEmail, 'my-mailing@example.org', "the seed's '%' after the '@' is dropped");
    assert.equal(m.domainName, 'example.org');
    assert.equal(m.subject, 'The great newsletter');
    assert.equal(m.status, 'filling');
  });
  it('derives plain content when absent and defaults the charset', async () => {
    const id = await cm.call('create_mailing', 'a@example.org', 'A', 'S', '<p>Hello <b>you</b></p>');
    assert.equal(typeof id, 'number');
  });
  it('refuses a sender that is not an address with 406', async () => {
    assert.equal((await cm.fault('create_mailing', 'not an address', 'A', 'S', '<p>x</p>')).faultCode, 406);
  });
  it('keeps SQL metacharacters, unicode and control characters as data', async () => {
    const subject = '\'; DROP TABLE mailings; -- \u00e9\u4e2d\u{1F600} \t"\\ %_';
    const id = await cm.call('create_mailing', 'a@example.org', "O'Brien \u202e", subject, '<p>x</p>');
    const [m] = await cm.call('list_mailings', { id: [id] });
    assert.equal(m.subject, subject);
    assert.equal(m.sender_name, "O'Brien \u202e");
  });
});

describe('cloudmailing: create_mailing_ext', () => {
  it('creates a mailing from a base64 RFC 822 message', async () => {
    const raw = Buffer.from(
      'From: "Shop" <news@shop.example>\r\nTo: x@example.org\r\nSubject: Hi there\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n',
    );
    const id = await cm.call('create_mailing_ext', raw);
    const [m] = await cm.call('list_mailings', { id: [id] });
    assert.equal(m.subject, 'Hi there');
    assert.equal(m.mail_from, 'news@shop.example');
    assert.equal(m.domain_name, 'shop.example');
  });
  it('refuses a message without From (406)', async () => {
    assert.equal((await cm.fault('create_mailing_ext', Buffer.from('Subject: x\r\n\r\nbody'))).faultCode, 406);
  });
});

describe('cloudmailing: set_mailing_properties', () => {
  it('takes the seed properties (dateTime, duration, click_tracking) and answers 0', async () => {
    const id = await cm.call('create_mailing', ...SEED_MAILING);
    const a = await cm.post(
      callXml('set_mailing_properties', [
        `<value><int>${id}</int></value>`,
        '<value><struct>\n<member>\n<name>scheduled_start</name>\n<value><dateTime.iso8601>20300101T12:00:00</dateTime.iso8601></value>\n</member>\n<member>\n<name>scheduled_duration</name>\n<value><int>1440</int></value>\n</member>\n<member>\n<name>click_tracking</name>\n<value><boolean>1</boolean></value>\n</member>\n</struct></value>',
      ]),
    );
    assert.equal(a.value, 0, a.body);
    const [m] = await cm.call('list_mailings', { id: [id] });
    assert.equal(m.scheduled_start.toISOString(), '2030-01-01T12:00:00.000Z');
    assert.equal(m.scheduled_duration, 1440);
    assert.equal(m.click_tracking, true);
    assert.equal(m.read_tracking, true);
  });
  it('maps every property', async () => {
    const id = await cm.call('create_mailing', ...SEED_MAILING);
    await cm.call('set_mailing_properties', id, {
      type: 'OPENED',
      mail_from: 'other@sub.example.com',
      sender_name: 'Other',
      tracking_url: 'https://t.example.com/',
      owner_guid: 'owner-1',
      scheduled_end: new Date(Date.UTC(2031, 0, 1)),
      dont_close_if_empty: true,
      subject: 'New subject',
      html_content: '<p>new</p>',
      plain_content: 'new',
      charset: 'iso-8859-1',
      read_tracking: false,
      backup_customized_emails: false,
      url_encoding: 'base64',
      dkim: { enabled: true, selector: 's1', domain: 'example.com', privkey: '-----BEGIN PRIVATE KEY-----' },
      testing: 1,
      satellite_group: 'eu',
    });
    const [m] = await cm.call('list_mailings', { id: [id] });
    assert.equal(m.type, 'OPENED');
    assert.equal(m.mail_from, 'other@sub.example.com');
    assert.equal(m.domain_name, 'sub.example.com');
    assert.equal(m.sender_name, 'Other');
    assert.equal(m.tracking_url, 'https://t.example.com/');
    assert.equal(m.owner_guid, 'owner-1');
    assert.equal(m.subject, 'New subject');
    assert.equal(m.read_tracking, false);
    assert.equal(m.scheduled_end.toISOString(), '2031-01-01T00:00:00.000Z');
    assert.equal(m.url_encoding, 'base64');
    assert.equal(m.testing, true);
    assert.equal(m.satellite_group, 'eu');
    assert.equal(m.dont_close_if_empty, true);
    assert.deepEqual(m.dkim, { enabled: true, selector: 's1', domain: 'example.com' }, 'the private key is never echoed');
    const header = m.header.toString();
    assert.match(header, /^From: "Other" <other@sub\.example\.com>\r$/m);
    assert.match(header, /^Subject: New subject\r$/m);
  });
  it("clears scheduled_start with ''", async () => {
    const id = await cm.call('create_mailing', ...SEED_MAILING);
    await cm.call('set_mailing_properties', id, { scheduled_start: new Date(Date.UTC(2030, 0, 1)) });
    await cm.call('set_mailing_properties', id, { scheduled_start: '' });
    const [m] = await cm.call('list_mailings', { id: [id] });
    assert.equal(m.scheduled_start, undefined);
  });
  it('refuses an unknown property with 406 naming it, and changes nothing', async () => {
    const id = await cm.call('create_mailing', ...SEED_MAILING);
    const f = await cm.faultAt(406, 'set_mailing_properties', id, { owner_guid: 'x', colour: 'blue' });
    assert.equal(f.faultCode, 406);
    assert.match(f.faultString, /colour/);
    const [m] = await cm.call('list_mailings', { id: [id] });
    assert.equal(m.owner_guid, undefined);
  });
  it('refuses subject / html_content / plain_content without charset (406)', async () => {
    const id = await cm.call('create_mailing', ...SEED_MAILING);
    for (const k of ['subject', 'html_content', 'plain_content']) {
      const f = await cm.faultAt(406, 'set_mailing_properties', id, { [k]: 'x' });
      assert.equal(f.faultCode, 406);
      assert.match(f.faultString, /charset/);
    }
  });
  it('refuses bad values with 406', async () => {
    const id = await cm.call('create_mailing', ...SEED_MAILING);
    for (const props of [
      { owner_guid: 'x'.repeat(51) },
      { type: 'WEIRD' },
      { scheduled_start: 'tomorrow' },
      { scheduled_duration: -1 },
      { scheduled_duration: 'soon' },
      { tracking_url: 'javascript:alert(1)' },
      { header: { 'X-A': 'a struct is not a header block' } },
      { dkim: { enabled: true, secret: 'x' } },
      { dkim: { selector: 's', domain: 'example.com' } },
      { charset: 'utf-8', subject: 'x', body: 42 },
      { scheduled_start: new Date(Date.UTC(2030, 0, 2)), scheduled_end: new Date(Date.UTC(2030, 0, 1)) },
    ]) {
      assert.equal((await cm.faultAt(406, 'set_mailing_properties', id, props)).faultCode, 406, JSON.stringify(props));
    }
  });
  it('takes changes on a started mailing, and refuses them on a FINISHED one with 403 (HTTP 403)', async () => {
    const id = await cm.call('create_mailing', ...SEED_MAILING);
    assert.equal(await cm.call('start_mailing', id), 'READY');
    assert.equal(await cm.call('set_mailing_properties', id, { owner_guid: 'x', dont_close_if_empty: true }), 0);
    const ctx = { accountId: await accountId(gw), requestId: 't' };
    await gw.pool.query(`UPDATE sends SET status = 'finished' WHERE mailing_id = $1`, [id]);
    const f = await cm.faultAt(403, 'set_mailing_properties', id, { owner_guid: 'y' });
    assert.equal(f.faultCode, 403);
    assert.equal((await gw.core.mailings.get(ctx, id)).ownerGuid, 'x');
  });
  it('answers 404 for an unknown mailing, with HTTP status 404', async () => {
    assert.equal((await cm.faultAt(404, 'set_mailing_properties', 987654, { owner_guid: 'x' })).faultCode, 404);
  });
});

describe('cloudmailing: start_mailing / pause_mailing / delete_mailing', () => {
  it('walks the life cycle with the wire status words', async () => {
    const id = await cm.call('create_mailing', ...SEED_MAILING);
    const [m0] = await cm.call('list_mailings', { id: [id] });
    assert.equal(m0.status, 'FILLING_RECIPIENTS');
    assert.equal(await cm.call('start_mailing', id, new Date()), 'READY', 'start_mailing(id, when): READY, `when` ignored');
    assert.equal(await cm.call('pause_mailing', id), 'PAUSED');
    assert.equal(await cm.call('start_mailing', id), 'READY', 'a paused mailing that never ran is READY again');
    await gw.pool.query(`UPDATE sends SET status = 'paused', started_at = now() WHERE mailing_id = $1`, [id]);
    assert.equal(await cm.call('start_mailing', id), 'RUNNING', 'a paused mailing that had started runs again');
    assert.equal(await cm.call('delete_mailing', id), 0);
    assert.equal((await cm.faultAt(404, 'delete_mailing', id)).faultCode, 404);
    assert.equal((await cm.faultAt(404, 'start_mailing', id)).faultCode, 404);
    assert.equal((await cm.faultAt(404, 'pause_mailing', id)).faultCode, 404);
  });
  it('refuses to pause a mailing that has not started with 406 (HTTP 406), as the original', async () => {
    const id = await cm.call('create_mailing', ...SEED_MAILING);
    assert.equal((await cm.faultAt(406, 'pause_mailing', id)).faultCode, 406);
  });
});

describe('cloudmailing: list_mailings / get_mailings_count', () => {
  it('filters by id, status, domain and owner_guid (string or array)', async () => {
    const a = await cm.call('create_mailing', 'a@alpha.example', 'A', 'S', '<p>a</p>');
    const b = await cm.call('create_mailing', 'b@beta.example', 'B', 'S', '<p>b</p>');
    await cm.call('set_mailing_properties', a, { owner_guid: 'guid-a' });
    await cm.call('set_mailing_properties', b, { owner_guid: 'guid-b' });
    await cm.call('start_mailing', b);
    const ids = (l: { id: number }[]) => l.map((m) => m.id);
    assert.deepEqual(ids(await cm.call('list_mailings', { id: [a, b] })), [a, b]);
    assert.deepEqual(ids(await cm.call('list_mailings', { id: [a, b], status: ['READY'] })), [b]);
    assert.deepEqual(ids(await cm.call('list_mailings', { domain: ['alpha.example'] })), [a]);
    assert.deepEqual(ids(await cm.call('list_mailings', { owner_guid: 'guid-b' })), [b]);
    assert.deepEqual(ids(await cm.call('list_mailings', { owner_guid: ['guid-a', 'guid-b'] })), [a, b]);
    assert.equal(await cm.call('get_mailings_count', { owner_guid: ['guid-a', 'guid-b'] }), 2);
    assert.equal(await cm.call('get_mailings_count', { status: ['FILLING_RECIPIENTS'], domain: ['alpha.example'] }), 1);
    const [m] = await cm.call('list_mailings', { id: [b] });
    for (const k of [
      'id',
      'domain_name',
      'mail_from',
      'sender_name',
      'subject',
      'status',
      'type',
      'owner_guid',
      'header',
      'dont_close_if_empty',
      'submit_time',
      'total_recipient',
      'total_sent',
      'total_pending',
      'total_error',
      'total_softbounce',
      'read_tracking',
      'click_tracking',
      'testing',
      'backup_customized_emails',
    ]) {
      assert.ok(k in m, k);
    }
    assert.ok(Buffer.isBuffer(m.header), 'header is a base64 value, as the original answers it');
    for (const k of ['scheduled_duration', 'start_time', 'end_time', 'dkim', 'tracking_url', 'url_encoding', 'satellite_group'])
      assert.ok(!(k in m), `${k} is null: left out`);
    assert.equal(m.type, 'REGULAR');
    assert.ok(m.submit_time instanceof Date);
  });
  it('refuses an unknown filter key or status with 406', async () => {
    assert.equal((await cm.fault('list_mailings', { colour: ['x'] })).faultCode, 406);
    assert.equal((await cm.fault('list_mailings', { status: ['DONE'] })).faultCode, 406);
    assert.equal((await cm.fault('get_mailings_count', { id: 'x' })).faultCode, 406);
  });
  it('keeps SQL metacharacters in filters as data', async () => {
    assert.deepEqual(await cm.call('list_mailings', { domain: ["x' OR '1'='1"], owner_guid: ["'; DELETE FROM mailings; --"] }), []);
  });
});

describe('cloudmailing: delete_all_mailings_for_domain', () => {
  it('removes the mailings of one sender domain and answers how many', async () => {
    await cm.call('create_mailing', 'a@gone.example', 'A', 'S', '<p>a</p>');
    await cm.call('create_mailing', 'b@gone.example', 'B', 'S', '<p>b</p>');
    const keep = await cm.call('create_mailing', 'c@kept.example', 'C', 'S', '<p>c</p>');
    assert.equal(await cm.call('delete_all_mailings_for_domain', 'gone.example'), 2);
    assert.equal(await cm.call('get_mailings_count', { domain: ['gone.example'] }), 0);
    assert.equal((await cm.call('list_mailings', { id: [keep] })).length, 1);
  });
});

describe('cloudmailing: tenant isolation', () => {
  it("answers 404 for another account's mailing and never lists it", async () => {
    const other = await gw.core.accounts.createKey('other-account');
    const theirs = client(gw, other.secret);
    const id = await cm.call('create_mailing', ...SEED_MAILING);
    for (const [method, params] of [
      ['set_mailing_properties', [id, { owner_guid: 'x' }]],
      ['start_mailing', [id]],
      ['pause_mailing', [id]],
      ['delete_mailing', [id]],
      ['add_recipients', [id, [{ email: 'a@example.org' }]]],
      ['send_test', [id, [{ email: 'a@example.org' }]]],
    ] as [string, unknown[]][]) {
      assert.equal((await theirs.faultAt(404, method, ...params)).faultCode, 404, method);
    }
    assert.deepEqual(await theirs.call('list_mailings', { id: [id] }), []);
    assert.equal(await theirs.call('get_mailings_count'), 0);
    assert.equal(await theirs.call('delete_all_mailings_for_domain', 'example.org'), 0);
    assert.equal((await cm.call('list_mailings', { id: [id] })).length, 1);
  });
});

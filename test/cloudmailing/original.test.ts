/**
 * CloudMailing as the original server (ricard33/cloud-mailing) behaves, where its integrators' habits go beyond
 * the seed: text arguments as base64 values, create_mailing_ext payloads, Python-like coercion of properties,
 * whole header / body properties, the old bare-domain filter, the manager and statistics methods, the HTTP
 * statuses it answers faults with.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { callXml, client, SEED_MAILING, startGateway, type Client, type Gateway } from './helpers.js';

let gw: Gateway;
let cm: Client;
before(async () => {
  gw = await startGateway();
  cm = client(gw);
});
after(async () => gw?.stop());

const rawMessage = (from = 'Shop <news@shop-ext.example>') =>
  Buffer.from(`From: ${from}\nTo: someone@example.org\nSubject: Hi {{firstname}}\nContent-Type: text/plain; charset=utf-8\n\nHello {{ firstname }}\n`);

async function mailing(id: number) {
  const [m] = await cm.call('list_mailings', { id: [id] });
  return m;
}

async function storedMessage(id: number): Promise<Buffer> {
  const { rows } = await gw.pool.query<{ raw_message: Buffer }>('SELECT raw_message FROM variants WHERE mailing_id = $1', [id]);
  return rows[0]!.raw_message;
}

describe('cloudmailing: create_mailing as Python clients call it', () => {
  it('takes texts as base64 values (Python 3 bytes), decoded with the charset', async () => {
    const latin1 = (s: string) => Buffer.from(s, 'latin1');
    const id = await cm.call(
      'create_mailing',
      'news@bytes.example',
      latin1('Caf\u00e9'),
      latin1('R\u00e9sum\u00e9'),
      latin1('<p>\u00e9t\u00e9</p>'),
      Buffer.alloc(0),
      'iso-8859-1',
    );
    const m = await mailing(id);
    assert.equal(m.sender_name, 'Caf\u00e9');
    assert.equal(m.subject, 'R\u00e9sum\u00e9');
    const parsed = await simpleParser(await storedMessage(id));
    assert.equal(parsed.subject, 'R\u00e9sum\u00e9');
    assert.equal(parsed.text?.trim(), '\u00e9t\u00e9', 'an empty plain content is made from the HTML');
    assert.equal(parsed.from?.value[0]?.name, 'Caf\u00e9');
    assert.equal((await cm.fault('create_mailing', 'a@bytes.example', 'A', 'S', '<p>x</p>', '', 'no-such-charset')).faultCode, 406);
  });

  it("drops the seed's '%' after the '@', and the bare-domain filter of list_mailings finds it", async () => {
    const id = await cm.call('create_mailing', ...SEED_MAILING);
    const m = await mailing(id);
    assert.equal(m.mail_from, 'my-mailing@example.org');
    assert.equal(m.domain_name, 'example.org');
    assert.ok((await cm.call('list_mailings', 'example.org')).some((x: { id: number }) => x.id === id));
    assert.ok((await cm.call('list_mailings', '%example.org')).some((x: { id: number }) => x.id === id));
    assert.ok((await cm.call('get_mailings_count', 'example.org')) >= 1);
  });
});

describe('cloudmailing: create_mailing_ext payloads', () => {
  it("takes base64 text as a string (Python 2's b64encode), as a base64 value (Python 3's), and the message itself", async () => {
    const raw = rawMessage();
    const asString = await cm.call('create_mailing_ext', raw.toString('base64'));
    const asBytes = await cm.call('create_mailing_ext', Buffer.from(raw.toString('base64')));
    const itself = await cm.call('create_mailing_ext', raw);
    for (const id of [asString, asBytes, itself]) {
      const m = await mailing(id);
      assert.equal(m.mail_from, 'news@shop-ext.example');
      assert.equal(m.sender_name, 'Shop');
      assert.equal(m.subject, 'Hi {{firstname}}');
      assert.match(m.header.toString(), /^From: Shop <news@shop-ext\.example>\r\n/, 'kept as it came, line ends made CRLF');
    }
  });

  it('answers a message without From with fault 406 in an HTTP 200 answer, as the original', async () => {
    const f = await cm.fault('create_mailing_ext', Buffer.from('Subject: x\r\n\r\nbody').toString('base64'));
    assert.equal(f.faultCode, 406);
    assert.match(f.faultString, /^rfc822_string: /, 'the field in the dialect\u2019s own words');
  });
});

describe('cloudmailing: set_mailing_properties as the original reads them', () => {
  it("reads booleans as Python's bool() and integers as int()", async () => {
    const id = await cm.call('create_mailing', ...SEED_MAILING);
    await cm.call('set_mailing_properties', id, {
      click_tracking: 'false',
      read_tracking: 0,
      dont_close_if_empty: [1],
      testing: '',
      scheduled_duration: ' 90 ',
      spread_minutes: 12.9,
    });
    const m = await mailing(id);
    assert.equal(m.click_tracking, true, "bool('false') is True in Python");
    assert.equal(m.read_tracking, false);
    assert.equal(m.dont_close_if_empty, true);
    assert.equal(m.testing, false);
    assert.equal(m.scheduled_duration, 90);
    assert.equal(m.spread_minutes, 12);
    await cm.call('set_mailing_properties', id, { scheduled_duration: 0 });
    assert.equal('scheduled_duration' in (await mailing(id)), false, '0 removes the limit');
    assert.equal((await cm.faultAt(406, 'set_mailing_properties', id, { scheduled_duration: '1.5' })).faultCode, 406);
  });

  it("takes ISO strings for dates (Python's isoformat()), and '' to clear", async () => {
    const id = await cm.call('create_mailing', ...SEED_MAILING);
    await cm.call('set_mailing_properties', id, { scheduled_start: '2031-02-03T04:05:06.789012', scheduled_end: '2031-02-04 00:00:00' });
    let m = await mailing(id);
    assert.equal(m.scheduled_start.toISOString(), '2031-02-03T04:05:06.000Z');
    assert.equal(m.scheduled_end.toISOString(), '2031-02-04T00:00:00.000Z');
    await cm.call('set_mailing_properties', id, { scheduled_start: '', scheduled_end: false });
    m = await mailing(id);
    assert.equal(m.scheduled_start, undefined);
    assert.equal(m.scheduled_end, undefined);
  });

  it('header replaces the whole header block and body the body, as the original; list_mailings answers header as base64', async () => {
    const id = await cm.call('create_mailing', ...SEED_MAILING);
    await cm.call('set_mailing_properties', id, { header: 'Subject: New subject!' });
    let m = await mailing(id);
    assert.ok(Buffer.isBuffer(m.header));
    assert.equal(m.header.toString(), 'Subject: New subject!\r\n\r\n');
    assert.equal(m.subject, 'New subject!');
    await cm.call('set_mailing_properties', id, {
      header: Buffer.from('From: a@header.example\nSubject: {{ firstname }}\nContent-Type: text/plain; charset=utf-8\n'),
      body: 'Bonjour {{ firstname }}\n',
    });
    m = await mailing(id);
    assert.equal(m.header.toString(), 'From: a@header.example\r\nSubject: {{ firstname }}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n');
    assert.equal((await storedMessage(id)).toString(), `${m.header.toString()}Bonjour {{ firstname }}\r\n`);
  });

  it('subject, html_content and plain_content (with charset) edit the message in place; shown_name is sender_name', async () => {
    const id = await cm.call('create_mailing_ext', rawMessage().toString('base64'));
    await cm.call('set_mailing_properties', id, {
      subject: Buffer.from('Caf\u00e9 {{firstname}}', 'latin1'),
      plain_content: 'New text {{ firstname }}',
      charset: 'iso-8859-1',
      shown_name: 'Shown',
    });
    const parsed = await simpleParser(await storedMessage(id));
    assert.equal(parsed.subject, 'Caf\u00e9 {{firstname}}');
    assert.equal(parsed.text?.trim(), 'New text {{ firstname }}');
    assert.equal(parsed.from?.value[0]?.name, 'Shown');
    assert.equal((await mailing(id)).sender_name, 'Shown');
  });
});

describe('cloudmailing: faults as the original answers them', () => {
  it('start_mailing on a FINISHED mailing: fault 403 with HTTP status 403', async () => {
    const id = await cm.call('create_mailing', ...SEED_MAILING);
    await gw.pool.query(`UPDATE sends SET status = 'finished' WHERE mailing_id = $1`, [id]);
    assert.equal((await cm.faultAt(403, 'start_mailing', id)).faultCode, 403);
    assert.equal((await cm.faultAt(403, 'set_mailing_properties', id, { owner_guid: 'x' })).faultCode, 403);
    // add_recipients to it: 400, in an HTTP 200 answer.
    assert.equal((await cm.fault('add_recipients', id, [{ email: 'late@example.org' }])).faultCode, 400);
  });

  it('a wrong parameter type is -32602 in an HTTP 200 answer, whatever the method', async () => {
    const a = await cm.post(callXml('start_mailing', ['<value><string>x</string></value>']));
    assert.equal(a.status, 200);
    assert.equal(a.fault?.faultCode, -32602);
  });
});

describe('cloudmailing: manager, statistics and satellites', () => {
  it('mailing_manager_force_check and update_statistics answer 0; satellites list the live workers', async () => {
    assert.equal(await cm.call('mailing_manager_force_check'), 0);
    assert.equal(await cm.call('update_statistics'), 0);
    // This gateway runs no worker: none is alive.
    assert.equal(await cm.call('cloud_get_satellites_count'), 0);
    assert.deepEqual(await cm.call('cloud_list_satellites'), []);
    await gw.pool.query(`INSERT INTO workers (id, version) VALUES ('w-test-satellite', '9.9.9')`);
    try {
      assert.equal(await cm.call('cloud_get_satellites_count'), 1);
      const [s] = await cm.call('cloud_list_satellites');
      assert.equal(s.serial, 'w-test-satellite');
      assert.equal(typeof s.id, 'number');
      assert.equal(s.enabled, true);
      assert.equal(s.paired, true);
      assert.ok(s.date_paired instanceof Date);
      assert.equal(s.version, '9.9.9');
    } finally {
      await gw.pool.query(`DELETE FROM workers WHERE id = 'w-test-satellite'`);
    }
  });
});

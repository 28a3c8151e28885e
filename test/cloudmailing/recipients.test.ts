/**
 * CloudMailing recipient methods: add_recipients as in the seed, per-item errors, limits, status reads,
 * the status feed, resets, hourly statistics.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { accountId, callXml, client, SEED_MAILING, startGateway, type Client, type Gateway } from './helpers.js';

let gw: Gateway;
let cm: Client;
const MAX = 50;
before(async () => {
  gw = await startGateway({ MAX_RECIPIENTS_PER_CALL: String(MAX) });
  cm = client(gw);
});
after(async () => gw?.stop());

const ctx = async () => ({ accountId: await accountId(gw), requestId: 't' });
const newMailing = () => cm.call('create_mailing', ...SEED_MAILING) as Promise<number>;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const member = (name: string, value: string) => `<member>\n<name>${name}</name>\n<value><string>${value}</string></value>\n</member>\n`;

describe('cloudmailing: add_recipients', () => {
  it("takes the seed's call and answers one {email, id} per item, in order", async () => {
    const id = await newMailing();
    const a = await cm.post(
      callXml('add_recipients', [
        `<value><int>${id}</int></value>`,
        `<value><array><data>\n<value><struct>\n${member('email', 'john.doe@example.org')}${member('firstname', 'John')}${member('lastname', 'DOE')}${member('another_custom_field', 'blabla')}</struct></value>\n<value><struct>\n${member('email', 'wilfred.smith@example.org')}</struct></value>\n</data></array></value>`,
      ]),
    );
    assert.equal(a.status, 200, a.body);
    assert.equal(a.value.length, 2);
    assert.equal(a.value[0].email, 'john.doe@example.org');
    assert.match(a.value[0].id, UUID);
    assert.equal(a.value[0].error, undefined);
    assert.equal(a.value[1].email, 'wilfred.smith@example.org');
    const [m] = await cm.call('list_mailings', { id: [id] });
    assert.equal(m.total_recipient, 2);
    assert.equal(m.total_pending, 2);
    const [st] = await cm.call('get_recipients_status', [a.value[0].id], { with_contact_data: true });
    assert.deepEqual(st.contact, { email: 'john.doe@example.org', firstname: 'John', lastname: 'DOE', another_custom_field: 'blabla' });
  });

  it('answers per-item errors for invalid addresses and non-structs, storing only the valid ones', async () => {
    const id = await newMailing();
    const out = await cm.call('add_recipients', id, [
      { email: 'ok1@example.org' },
      { email: 'not an address' },
      { firstname: 'no email' },
      'just a string',
      { email: `${'x'.repeat(250)}@example.org` },
      { email: 'ok2@example.org', tracking_id: 'my-own-id-1' },
      { email: 'dup@example.org', tracking_id: 'my-own-id-1' },
      { email: 'nested@example.org', data: { a: 1 } },
      { email: 'ok3@example.org', when: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)), n: 3, flag: true },
    ]);
    assert.equal(out.length, 9);
    assert.ok(out[0].id && !out[0].error);
    assert.ok(out[1].error && !out[1].id);
    assert.equal(out[1].email, 'not an address');
    assert.ok(out[2].error);
    assert.ok(out[3].error);
    assert.ok(out[4].error);
    assert.equal(out[5].id, 'my-own-id-1');
    assert.equal(out[5].tracking_id, 'my-own-id-1');
    assert.match(out[6].error, /tracking_id/);
    assert.match(out[7].error, /scalar/);
    assert.ok(out[8].id);
    const [m] = await cm.call('list_mailings', { id: [id] });
    assert.equal(m.total_recipient, 3);
    const [st] = await cm.call('get_recipients_status', [out[8].id], { with_contact_data: true });
    assert.deepEqual(st.contact, { email: 'ok3@example.org', when: '2026-01-02T03:04:05.000Z', n: 3, flag: true });
  });

  it('stores template syntax, SQL metacharacters and unicode in fields as data', async () => {
    const id = await newMailing();
    const fields = {
      email: 'weird@example.org',
      firstname: '{{ constructor }}',
      proto: '{{ constructor.constructor("return process")() }}',
      sql: "Robert'); DROP TABLE recipients;--",
      uni: '\u00e9\u4e2d\u{1F600}\u202e\u200b',
      ctl: 'tab\there\nnewline\r',
      constructor: 'x',
      __proto__field: 'y',
    };
    const [r] = await cm.call('add_recipients', id, [fields]);
    assert.ok(r.id, JSON.stringify(r));
    const [st] = await cm.call('get_recipients_status', [r.id], { with_contact_data: true });
    assert.deepEqual(st.contact, { ...fields });
  });

  it('stores a member named __proto__ as a plain field', async () => {
    const id = await newMailing();
    const a = await cm.post(
      callXml('add_recipients', [`<value><int>${id}</int></value>`, `<value><array><data><value><struct>${member('email', 'p@example.org')}${member('__proto__', 'polluted')}</struct></value></data></array></value>`]),
    );
    assert.ok(a.value[0].id, a.body);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    // (The test's own xmlrpc client drops such a member on decoding: look at the wire.)
    const st = await cm.post(callXml('get_recipients_status', [`<value><array><data><value>${a.value[0].id}</value></data></array></value>`, '<value><struct><member><name>with_contact_data</name><value><boolean>1</boolean></value></member></struct></value>']));
    assert.match(st.body, /<name>__proto__<\/name><value><string>polluted<\/string>/);
  });

  it(`refuses more than MAX_RECIPIENTS_PER_CALL (${MAX}) with fault 400 and stores nothing`, async () => {
    const id = await newMailing();
    const items = Array.from({ length: MAX + 1 }, (_, i) => ({ email: `r${i}@example.org` }));
    assert.equal((await cm.fault('add_recipients', id, items)).faultCode, 400);
    assert.equal(await cm.call('get_recipients_count', { mailings: [id] }), 0);
    assert.equal((await cm.call('add_recipients', id, items.slice(0, MAX))).length, MAX);
  });

  it('refuses adding to a FINISHED mailing with 400', async () => {
    const id = await newMailing();
    await gw.pool.query(`UPDATE mailings SET status = 'finished' WHERE id = $1`, [id]);
    const [m] = await cm.call('list_mailings', { id: [id] });
    assert.equal(m.status, 'FINISHED');
    assert.equal((await cm.fault('add_recipients', id, [{ email: 'late@example.org' }])).faultCode, 400);
    assert.equal(await cm.call('get_recipients_count', { mailings: [id] }), 0);
  });

  it('answers 404 for an unknown mailing', async () => {
    assert.equal((await cm.fault('add_recipients', 424242, [{ email: 'a@example.org' }])).faultCode, 404);
  });

  it('accepts attachments and refuses broken ones per item', async () => {
    const id = await newMailing();
    const out = await cm.call('add_recipients', id, [
      { email: 'a@example.org', attachments: [{ filename: 'a.txt', 'content-type': 'text/plain', charset: 'utf-8', data: Buffer.from('hello') }] },
      { email: 'b@example.org', attachments: [{ filename: '../../etc/passwd', 'content-type': 'text/plain', data: 'aGVsbG8=' }] },
    ]);
    assert.ok(out[0].id, JSON.stringify(out[0]));
    assert.ok(out[1].error);
  });
});

describe('cloudmailing: send_test', () => {
  it('answers like add_recipients and is not counted in the totals', async () => {
    const id = await newMailing();
    const out = await cm.call('send_test', id, [{ email: 'test@example.org' }, { email: 'bad' }]);
    assert.ok(out[0].id);
    assert.ok(out[1].error);
    const [m] = await cm.call('list_mailings', { id: [id] });
    assert.equal(m.total_recipient, 0);
  });
});

describe('cloudmailing: recipient statuses, feed and reset', () => {
  /**
   * The feed right after a write: its horizon is cluster-wide, so a transaction still open in another test
   * file's database holds a fresh change back for a moment (it lags, never skips). Poll, bounded.
   */
  async function feedUntil(cursor: string, filter: unknown, done: (page: { cursor: string; recipients: any[] }) => boolean) {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const page = await cm.call('get_recipients_status_updated_since', cursor, filter, 1000);
      if (done(page) || Date.now() > deadline) return page;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it('reads statuses, follows the feed with the seed loop, resets', async () => {
    const id = await newMailing();
    const out = await cm.call('add_recipients', id, [{ email: 'a@example.org' }, { email: 'b@example.org' }, { email: 'c@example.org' }]);
    const ids: string[] = out.map((r: { id: string }) => r.id);

    const st = await cm.call('get_recipients_status', ids);
    assert.equal(st.length, 3);
    assert.equal(st[0].status, 'READY');
    assert.equal(st[0].id, ids[0]);
    assert.equal(st[0].mailing_id, id);
    assert.equal(st[0].in_progress, false);
    assert.equal(st[0].try_count, 0);
    assert.ok(st[0].modified instanceof Date);
    assert.equal(st[0].contact, undefined);
    assert.equal(st[0].first_try, undefined);

    // The seed: cursor '', filter [] (all but READY), 1000.
    let page = await cm.call('get_recipients_status_updated_since', '', [], 1000);
    assert.equal(typeof page.cursor, 'string');
    assert.deepEqual(page.recipients, []);
    const cursor0 = page.cursor;

    // Two recipients change (as the worker would, through the feed's stamp).
    await gw.pool.query(
      `UPDATE recipients SET status = CASE WHEN tracking_id = $1 THEN 'finished' ELSE 'error' END, try_count = 1,
              reply_code = 550, reply_enhanced_code = '5.1.1', reply_text = 'no such user', first_try = now(), last_try = now(),
              changed_xid = pg_current_xact_id(), change_seq = nextval('recipient_change_seq'), modified_at = now()
        WHERE tracking_id = ANY($2)`,
      [ids[0], [ids[0], ids[1]]],
    );
    page = await feedUntil(cursor0, [], (p) => p.recipients.length > 0);
    assert.deepEqual(page.recipients.map((r: { id: string }) => r.id).sort(), [ids[0], ids[1]].sort());
    const err = page.recipients.find((r: { id: string }) => r.id === ids[1]);
    assert.equal(err.status, 'ERROR');
    assert.equal(err.reply_code, 550);
    assert.equal(err.reply_enhanced_code, '5.1.1');
    assert.equal(err.reply_text, 'no such user');
    assert.equal(err.try_count, 1);
    assert.ok(err.first_try instanceof Date);

    // Nothing new: an empty page; the same change is never returned twice.
    const again = await cm.call('get_recipients_status_updated_since', page.cursor, [], 1000);
    assert.deepEqual(again.recipients, []);

    // Filters: an array of statuses, or a struct with status and mailings.
    const onlyFinished = await cm.call('get_recipients_status_updated_since', cursor0, ['FINISHED'], 1000);
    assert.deepEqual(onlyFinished.recipients.map((r: { id: string }) => r.id), [ids[0]]);
    const byStruct = await cm.call('get_recipients_status_updated_since', cursor0, { status: ['ERROR'], mailings: [id] }, 10, { with_contact_data: true });
    assert.deepEqual(byStruct.recipients.map((r: { id: string }) => r.id), [ids[1]]);
    assert.equal(byStruct.recipients[0].contact.email, 'b@example.org');
    const otherMailing = await cm.call('get_recipients_status_updated_since', cursor0, { mailings: [id + 1000] }, 10);
    assert.deepEqual(otherMailing.recipients, []);
    const byOwner = await cm.call('get_recipients_status_updated_since', cursor0, { owners: ['nobody'] }, 10);
    assert.deepEqual(byOwner.recipients, []);
    const maxOne = await cm.call('get_recipients_status_updated_since', cursor0, [], 1);
    assert.equal(maxOne.recipients.length, 1);

    // Counts.
    assert.equal(await cm.call('get_recipients_count', { mailings: [id] }), 3);
    assert.equal(await cm.call('get_recipients_count', { mailings: [id], status: ['FINISHED', 'ERROR'] }), 2);
    assert.equal(await cm.call('get_recipients_count', { status: ['READY'], mailings: [id] }), 1);
    assert.equal(await cm.call('get_recipients_count', { sender_domains: ['example.org'], mailings: [id] }), 3);

    // Reset: READY again, 0 answered; the feed shows the change only to a filter naming READY.
    assert.equal(await cm.call('reset_recipients_status', [ids[1]]), 0);
    const [reset] = await cm.call('get_recipients_status', [ids[1]]);
    assert.equal(reset.status, 'READY');
    const readyPage = await feedUntil(page.cursor, ['READY'], (p) => p.recipients.length > 0);
    assert.deepEqual(readyPage.recipients.map((r: { id: string }) => r.id), [ids[1]]);

    // Lease held: IN PROGRESS.
    await gw.pool.query(`UPDATE recipients SET lease_until = now() + interval '1 minute' WHERE tracking_id = $1`, [ids[2]]);
    const [leased] = await cm.call('get_recipients_status', [ids[2]]);
    assert.equal(leased.status, 'IN PROGRESS');
    assert.equal(leased.in_progress, true);
  });

  it('refuses a forged cursor (406) and bad filters (406)', async () => {
    assert.equal((await cm.fault('get_recipients_status_updated_since', '1.2.AAAAAAAAAAAAAAAA', [], 10)).faultCode, 406);
    assert.equal((await cm.fault('get_recipients_status_updated_since', '', ['DONE'], 10)).faultCode, 406);
    assert.equal((await cm.fault('get_recipients_status_updated_since', '', { colour: [] }, 10)).faultCode, 406);
    assert.equal((await cm.fault('get_recipients_count', { status: ['NOPE'] })).faultCode, 406);
    assert.equal((await cm.fault('get_recipients_status', [{}])).faultCode, -32602);
  });

  it("never shows another account's recipients", async () => {
    const id = await newMailing();
    const [r] = await cm.call('add_recipients', id, [{ email: 'mine@example.org' }]);
    const other = client(gw, (await gw.core.accounts.createKey('other-account')).secret);
    assert.deepEqual(await other.call('get_recipients_status', [r.id]), []);
    assert.equal(await other.call('get_recipients_count', {}), 0);
    assert.equal(await other.call('reset_recipients_status', [r.id]), 0);
    const page = await other.call('get_recipients_status_updated_since', '', ['READY'], 1000);
    assert.deepEqual(page.recipients, []);
  });
});

describe('cloudmailing: get_hourly_statistics', () => {
  it('answers one struct per hour', async () => {
    const id = await newMailing();
    const out = await cm.call('add_recipients', id, [{ email: 'h1@example.org' }, { email: 'h2@example.org' }]);
    await gw.pool.query(
      `UPDATE recipients SET status = 'finished', try_count = 1, last_try = '2026-03-04T05:06:07Z' WHERE tracking_id = ANY($1)`,
      [out.map((r: { id: string }) => r.id)],
    );
    const a = await cm.post(
      callXml('get_hourly_statistics', [
        '<value><struct><member><name>from_date</name><value><dateTime.iso8601>20260304T00:00:00</dateTime.iso8601></value></member><member><name>to_date</name><value><dateTime.iso8601>2026-03-05T00:00:00Z</dateTime.iso8601></value></member></struct></value>',
      ]),
    );
    assert.equal(a.value.length, 1, a.body);
    assert.equal(a.value[0].sent, 2);
    assert.equal(a.value[0].failed, 0);
    assert.equal(a.value[0].tries, 2);
    assert.equal(a.value[0].date.toISOString(), '2026-03-04T05:00:00.000Z');
    assert.equal(a.value[0].epoch_hour, Math.floor(Date.UTC(2026, 2, 4, 5) / 3_600_000));
    assert.deepEqual(await cm.call('get_hourly_statistics', { from_date: new Date(Date.UTC(2026, 2, 4, 6)), to_date: new Date(Date.UTC(2026, 2, 5)) }), []);
    assert.equal((await cm.fault('get_hourly_statistics', {})).faultCode, 406);
    assert.equal((await cm.fault('get_hourly_statistics', { from_date: new Date(Date.UTC(2026, 2, 4)), to_date: new Date(Date.UTC(2026, 2, 3)) })).faultCode, 400);
  });
});

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
    assert.match(out[6].error, /tracking id already used/);
    assert.ok(out[7].id, 'nested values are personalization data too');
    assert.ok(out[8].id);
    const [m] = await cm.call('list_mailings', { id: [id] });
    assert.equal(m.total_recipient, 4);
    const [nested] = await cm.call('get_recipients_status', [out[7].id], { with_contact_data: true });
    assert.deepEqual(nested.contact, { email: 'nested@example.org', data: { a: 1 } });
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
      callXml('add_recipients', [
        `<value><int>${id}</int></value>`,
        `<value><array><data><value><struct>${member('email', 'p@example.org')}${member('__proto__', 'polluted')}</struct></value></data></array></value>`,
      ]),
    );
    assert.ok(a.value[0].id, a.body);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    // (The test's own xmlrpc client drops such a member on decoding: look at the wire.)
    const st = await cm.post(
      callXml('get_recipients_status', [
        `<value><array><data><value>${a.value[0].id}</value></data></array></value>`,
        '<value><struct><member><name>with_contact_data</name><value><boolean>1</boolean></value></member></struct></value>',
      ]),
    );
    assert.match(st.body, /<name>__proto__<\/name><value><string>polluted<\/string>/);
  });

  it(`refuses more than MAX_RECIPIENTS_PER_CALL (${MAX}) with fault 400 (HTTP 400) and stores nothing`, async () => {
    const id = await newMailing();
    const items = Array.from({ length: MAX + 1 }, (_, i) => ({ email: `r${i}@example.org` }));
    assert.equal((await cm.faultAt(400, 'add_recipients', id, items)).faultCode, 400);
    assert.equal(await cm.call('get_recipients_count', { mailings: [id] }), 0);
    assert.equal((await cm.call('add_recipients', id, items.slice(0, MAX))).length, MAX);
  });

  it('refuses adding to a FINISHED mailing with fault 400 (in an HTTP 200 answer, as the original)', async () => {
    const id = await newMailing();
    await gw.pool.query(`UPDATE sends SET status = 'finished' WHERE mailing_id = $1`, [id]);
    const [m] = await cm.call('list_mailings', { id: [id] });
    assert.equal(m.status, 'FINISHED');
    assert.equal((await cm.fault('add_recipients', id, [{ email: 'late@example.org' }])).faultCode, 400);
    assert.equal(await cm.call('get_recipients_count', { mailings: [id] }), 0);
  });

  it('answers 404 (HTTP 404) for an unknown mailing', async () => {
    assert.equal((await cm.faultAt(404, 'add_recipients', 424242, [{ email: 'a@example.org' }])).faultCode, 404);
    assert.equal((await cm.faultAt(404, 'send_test', 424242, [{ email: 'a@example.org' }])).faultCode, 404);
  });

  it('accepts attachments and refuses broken ones per item', async () => {
    const id = await newMailing();
    const out = await cm.call('add_recipients', id, [
      { email: 'a@example.org', attachments: [{ filename: 'a.txt', 'content-type': 'text/plain', charset: 'utf-8', data: Buffer.from('hello') }] },
      { email: 'b@example.org', attachments: [{ filename: '../../etc/passwd', 'content-type': 'application/octet-stream', data: 'aGVsbG8=' }] },
      { email: 'c@example.org', attachments: [{ filename: 'c.txt', 'content-type': 'text/plain', data: 'aGVsbG8=' }] },
      { email: 'd@example.org', attachments: [{ 'content-type': 'image/png', url: 'https://example.org/x.png' }] },
      { email: 'e@example.org', attachments: [{ 'content-type': 'image/png', data: 'aGVsbG8=' }] },
    ]);
    assert.ok(out[0].id, JSON.stringify(out[0]));
    assert.match(out[1].error, /file name/);
    assert.equal(out[2].error, "Field 'charset' is mandatory for 'text/*' attachments!");
    assert.equal(out[3].error, "'url' not yet supported for attachments!");
    assert.ok(out[4].id, 'filename is optional');
  });
});

describe('cloudmailing: send_test', () => {
  it('answers like add_recipients and counts in the totals, as the original', async () => {
    const id = await newMailing();
    const out = await cm.call('send_test', id, [{ email: 'test@example.org' }, { email: 'bad' }, {}]);
    assert.ok(out[0].id);
    assert.equal(out[1].error, "'email' field is not a regular email address: 'bad'");
    assert.deepEqual(out[2], { error: "'email' field is mandatory but not found in recipient [2]" });
    const [m] = await cm.call('list_mailings', { id: [id] });
    assert.equal(m.total_recipient, 1);
    assert.equal(m.status, 'FILLING_RECIPIENTS');
  });
});

/**
 * The feed right after a write: its horizon is cluster-wide, so a transaction still open in another test
 * file's database holds a fresh change back for a moment (it lags, never skips). Poll, bounded.
 */
async function feedUntil(cursor: unknown, filter: unknown, done: (page: { cursor: string; recipients: any[] }) => boolean) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const page = await cm.call('get_recipients_status_updated_since', cursor, filter, 1000);
    if (done(page) || Date.now() > deadline) return page;
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('cloudmailing: recipient statuses, feed and reset', () => {
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

    // The seed: cursor '', filter [] (all but READY), 1000 — once the feed passes the rows just added (its
    // horizon is cluster-wide), so that the cursor stands after everything this file wrote before.
    await feedUntil('', { status: ['READY'], mailings: [id] }, (p) => p.recipients.length === 3);
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
    assert.deepEqual(
      onlyFinished.recipients.map((r: { id: string }) => r.id),
      [ids[0]],
    );
    const byStruct = await cm.call('get_recipients_status_updated_since', cursor0, { status: ['ERROR'], mailings: [id] }, 10, { with_contact_data: true });
    assert.deepEqual(
      byStruct.recipients.map((r: { id: string }) => r.id),
      [ids[1]],
    );
    assert.equal(byStruct.recipients[0].contact.email, 'b@example.org');
    const otherMailing = await cm.call('get_recipients_status_updated_since', cursor0, { mailings: [id + 1000] }, 10);
    assert.deepEqual(otherMailing.recipients, []);
    const byOwner = await cm.call('get_recipients_status_updated_since', cursor0, { owners: ['nobody'] }, 10);
    assert.deepEqual(byOwner.recipients, []);
    // Pages of at most one, followed as a client does (a page may pass only READY rows and come back empty,
    // its cursor moved on): the first non-empty one holds exactly one of the two changes.
    let maxOne = await cm.call('get_recipients_status_updated_since', cursor0, [], 1);
    for (let i = 0; !maxOne.recipients.length && i < 200; i++) maxOne = await cm.call('get_recipients_status_updated_since', maxOne.cursor, [], 1);
    assert.equal(maxOne.recipients.length, 1);
    assert.ok([ids[0], ids[1]].includes(maxOne.recipients[0].id));

    // Counts.
    assert.equal(await cm.call('get_recipients_count', { mailings: [id] }), 3);
    assert.equal(await cm.call('get_recipients_count', { mailings: [id], status: ['FINISHED', 'ERROR'] }), 2);
    assert.equal(await cm.call('get_recipients_count', { status: ['READY'], mailings: [id] }), 1);
    assert.equal(await cm.call('get_recipients_count', { sender_domains: ['nowhere.example'], mailings: [id] }), 3, 'a union');

    // Reset: READY again, 0 answered; the feed shows the change only to a filter naming READY.
    assert.equal(await cm.call('reset_recipients_status', [ids[1]]), 0);
    const [reset] = await cm.call('get_recipients_status', [ids[1]]);
    assert.equal(reset.status, 'READY');
    const readyPage = await feedUntil(page.cursor, ['READY'], (p) => p.recipients.length > 0);
    assert.deepEqual(
      readyPage.recipients.map((r: { id: string }) => r.id),
      [ids[1]],
    );

    // Lease held: IN PROGRESS.
    await gw.pool.query(`UPDATE recipients SET lease_until = now() + interval '1 minute' WHERE tracking_id = $1`, [ids[2]]);
    const [leased] = await cm.call('get_recipients_status', [ids[2]]);
    assert.equal(leased.status, 'IN PROGRESS');
    assert.equal(leased.in_progress, true);
  });

  it('restarts the feed on an unreadable cursor (the original did), ignores unknown filter keys, refuses bad statuses (406)', async () => {
    const id = await newMailing();
    const out = await cm.call('add_recipients', id, [{ email: 'x1@example.org' }, { email: 'x2@example.org' }]);
    const ids = out.map((r: { id: string }) => r.id);
    const fromStart = await feedUntil('', { status: ['READY'], mailings: [id] }, (p) => p.recipients.length === 2);
    assert.deepEqual(fromStart.recipients.map((r: { id: string }) => r.id).sort(), [...ids].sort());
    // A cursor of the original server (date;count;offset), a forged one of ours, and garbage: all restart.
    for (const cursor of ['2024-05-01T10:00:00.000000;3;1', '1.2.AAAAAAAAAAAAAAAA', '\u00e9\u00e9', 42]) {
      const page = await feedUntil(cursor, { status: ['READY'], mailings: [id], colour: ['ignored'] }, (p) => p.recipients.length === 2);
      assert.deepEqual(page.recipients.map((r: { id: string }) => r.id).sort(), [...ids].sort(), String(cursor));
    }
    assert.equal((await cm.fault('get_recipients_status_updated_since', '', ['DONE'], 10)).faultCode, 406);
    assert.equal((await cm.fault('get_recipients_count', { status: ['NOPE'] })).faultCode, 406);
    assert.equal((await cm.fault('get_recipients_count', { status: 'READY' })).faultCode, 406, "'status' must be an array");
    assert.equal(await cm.call('get_recipients_count', { mailings: [id], colour: 'ignored' }), 2);
    assert.equal((await cm.fault('get_recipients_status', [{}])).faultCode, 406);
  });

  it('owners, sender_domains and mailings select mailings as a union', async () => {
    const a = await cm.call('create_mailing', 'a@union-a.example', 'A', 'S', '<p>a</p>');
    const b = await cm.call('create_mailing', 'b@union-b.example', 'B', 'S', '<p>b</p>');
    const c = await cm.call('create_mailing', 'c@union-c.example', 'C', 'S', '<p>c</p>');
    await cm.call('set_mailing_properties', a, { owner_guid: 'union-owner' });
    for (const m of [a, b, c]) await cm.call('add_recipients', m, [{ email: `r@m${m}.example` }]);
    assert.equal(await cm.call('get_recipients_count', { owners: ['union-owner'] }), 1);
    assert.equal(await cm.call('get_recipients_count', { owners: ['union-owner'], sender_domains: ['union-b.example'] }), 2);
    assert.equal(await cm.call('get_recipients_count', { owners: ['union-owner'], sender_domains: ['union-b.example'], mailings: [String(c)] }), 3);
    assert.equal(await cm.call('get_recipients_count', { owners: ['nobody'] }), 0);
    const page = await feedUntil('', { status: ['READY'], owners: ['union-owner'], sender_domains: ['union-c.example'] }, (p) => p.recipients.length >= 2);
    assert.deepEqual(page.recipients.map((r: { email: string }) => r.email).sort(), [`r@m${a}.example`, `r@m${c}.example`]);
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
  it('answers one struct per hour of the interval, zero-filled, to_date inclusive', async () => {
    const ctx = { accountId: await accountId(gw), requestId: 't' };
    // Tries as the worker records them: counted in the hour they happen.
    await gw.pool.query(
      `INSERT INTO hourly_stats (account_id, hour, sent, failed, tries) VALUES ($1, '2026-03-04T05:00:00Z', 2, 1, 4), ($1, '2026-03-04T07:00:00Z', 1, 0, 1)`,
      [ctx.accountId],
    );
    const a = await cm.post(
      callXml('get_hourly_statistics', [
        '<value><struct><member><name>from_date</name><value><dateTime.iso8601>20260304T04:30:00</dateTime.iso8601></value></member><member><name>to_date</name><value><dateTime.iso8601>2026-03-04T08:00:00Z</dateTime.iso8601></value></member></struct></value>',
      ]),
    );
    assert.deepEqual(
      a.value.map((h: { date: Date; sent: number; failed: number; tries: number }) => [h.date.toISOString().slice(11, 13), h.sent, h.failed, h.tries]),
      [
        ['04', 0, 0, 0],
        ['05', 2, 1, 4],
        ['06', 0, 0, 0],
        ['07', 1, 0, 1],
        ['08', 0, 0, 0],
      ],
      a.body,
    );
    assert.equal(a.value[1].epoch_hour, Math.floor(Date.UTC(2026, 2, 4, 5) / 3_600_000));
    // Without to_date: from_date + 999 hours, so 1000 entries (all in the past here).
    const long = await cm.call('get_hourly_statistics', { from_date: new Date(Date.UTC(2020, 0, 1)) });
    assert.equal(long.length, 1000);
    // Never past the current hour; unknown keys ignored. From two hours before the current one: three entries, the
    // last of them the current hour (asked again should an hour begin during the call).
    const hourOf = (t: number) => Math.floor(t / 3_600_000);
    let recent: { date: Date }[];
    let hour: number;
    do {
      hour = hourOf(Date.now());
      recent = await cm.call('get_hourly_statistics', { from_date: new Date((hour - 2) * 3_600_000), senders: ['x'] });
    } while (hourOf(Date.now()) !== hour);
    assert.equal(recent.length, 3);
    assert.equal(recent[2]!.date.getTime(), hour * 3_600_000);
    assert.equal((await cm.fault('get_hourly_statistics', {})).faultCode, 406);
    assert.equal((await cm.fault('get_hourly_statistics', { from_date: 12 })).faultCode, 406);
    assert.deepEqual(await cm.call('get_hourly_statistics', { from_date: new Date(Date.UTC(2026, 2, 4)), to_date: new Date(Date.UTC(2026, 2, 3)) }), []);
  });
});

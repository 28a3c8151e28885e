/**
 * What an Emailicious delivery sends to whom, through real HTTP, the real worker and a real SMTP server: the
 * list's active and unsuppressed subscribers, snapshotted when the delivery's time comes (not before), narrowed
 * by the mailing's segments (made with `mailgate segments create`), minus the delivery's exclusions, at most
 * its limit; a later delivery of the same variant takes its own snapshot.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { runProcess } from '../support/process.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';
import { call } from './client.js';

const root = path.resolve(import.meta.dirname, '../..');
let gw: TestGateway;
let relay: TestSmtpServer;

const api = (method: string, p: string, json?: unknown) => call(gw.url, gw.key.secret, method, `/api/v1${p}`, json === undefined ? {} : { json });

async function segment(listId: number, name: string, ...conditions: string[]): Promise<number> {
  const r = await runProcess(
    process.execPath,
    [path.join(root, 'bin/mailgate.js'), 'segments', 'create', String(listId), name, ...conditions, '--account', 'acme', '--json'],
    {
      env: { DATABASE_URL: gw.databaseUrl, LOG_LEVEL: 'warn' },
      timeoutMs: 60_000,
    },
  );
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).id;
}

/**
 * The scheduled time of a mailing's waiting deliveries comes: moved to now in the database, then the mailing
 * manager's check (what the worker runs every minute) starts them. Returns that time.
 */
async function startDeliveriesNow(mailingId: number): Promise<Date> {
  const { rows } = await gw.pool.query<{ at: Date }>(
    `UPDATE sends SET scheduled_start = now() WHERE mailing_id = $1 AND status = 'ready' AND scheduled_start > now() RETURNING scheduled_start AS at`,
    [mailingId],
  );
  assert.ok(rows.length > 0, `mailing ${mailingId} has a delivery waiting for its time`);
  await gw.core.mailings.forceCheck(await gw.core.accounts.operatorContext('acme'));
  return rows[0]!.at;
}

/** Deliveries of a mailing started or snapshotted before their scheduled time (the database's clock). */
async function snapshotsBefore(mailingId: number): Promise<number[]> {
  const { rows } = await gw.pool.query<{ id: number }>(
    'SELECT id FROM sends WHERE mailing_id = $1 AND (started_at < scheduled_start OR snapshot_at < scheduled_start)',
    [mailingId],
  );
  return rows.map((r) => r.id);
}

before(async () => {
  relay = await startTestSmtpServer();
  gw = await startTestGateway({ worker: true, env: { SMTP_URL: relay.url } });
});
after(async () => {
  await gw?.stop();
  await relay?.close();
});

describe('emailicious: deliveries', () => {
  it('snapshot at the scheduled time: segments, exclusions, limit, statuses and suppressions; each delivery its own', async () => {
    const list = (await api('POST', '/lists', { name: 'Cities', default_from_email: 'news@acme.example' })).body.id;
    const people: [string, Record<string, string>][] = [
      ['p1@c.example', { city: 'paris' }],
      ['p2@c.example', { city: 'paris', vip: 'yes' }],
      ['p3@c.example', { city: 'paris' }],
      ['p4@c.example', { city: 'paris' }],
      ['p5@c.example', { city: 'paris' }],
      ['l1@c.example', { city: 'lyon' }],
      ['gone@c.example', { city: 'paris' }],
      ['quit@c.example', { city: 'paris' }],
      ['supp@c.example', { city: 'paris' }],
    ];
    const ids: Record<string, number> = {};
    for (const [email, fields] of people) ids[email] = (await api('POST', `/lists/${list}/subscribers`, { email, ...fields })).body.id;
    assert.equal((await api('DELETE', `/lists/${list}/subscribers/${ids['gone@c.example']}`)).status, 204);
    assert.equal((await api('POST', `/lists/${list}/subscribers/${ids['quit@c.example']}/unsubscribe`)).status, 200);
    await gw.core.suppressions.add(await gw.core.accounts.operatorContext('acme'), 'supp@c.example');
    const paris = await segment(list, 'Paris', 'city=paris');
    const vip = await segment(list, 'VIP', 'vip=yes');
    // Scheduled an hour ahead: nothing can happen before the test moves that time to now.
    const soon = new Date(Date.now() + 3_600_000);
    const r = await api('POST', '/mailings', {
      list,
      name: 'Paris only',
      segments: [paris],
      variants: [
        { subject: 'Hi {{ city }}', layout: { text: 'Bonjour' }, deliveries: [{ scheduled_datetime: soon.toISOString(), exclusions: [vip], limit: 3 }] },
      ],
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(r.body.variants[0].deliveries, [{ exclusions: [vip], limit: 3, scheduled_datetime: soon.toISOString().replace('.000Z', 'Z') }]);
    // Before its time nothing is snapshotted; a subscriber added now is in the snapshot.
    const early = (await api('GET', `/mailings/${r.body.id}`)).body.variants[0].deliveries[0];
    assert.deepEqual([early.status, early.totals.recipients], ['scheduled', 0]);
    await api('POST', `/lists/${list}/subscribers`, { email: 'p0@c.example', city: 'paris' });
    const due = await startDeliveriesNow(r.body.id);
    await waitFor('the delivery is sent', async () => (await api('GET', `/mailings/${r.body.id}`)).body.variants[0].deliveries[0].status === 'sent', 30_000);
    const sent = relay.messages.flatMap((m) => m.to);
    // Paris, not VIP, active, unsuppressed, by id, at most 3: p1, p3, p4.
    assert.deepEqual(sent.sort(), ['p1@c.example', 'p3@c.example', 'p4@c.example']);
    assert.ok(relay.messages[0]!.receivedAt >= due, 'not before its scheduled time');
    assert.deepEqual(await snapshotsBefore(r.body.id), [], 'snapshot taken at its scheduled time, not before');
    assert.equal((await relay.to('p1@c.example')[0]!.parse()).subject, 'Hi paris');
    const done = (await api('GET', `/mailings/${r.body.id}`)).body.variants[0].deliveries[0];
    assert.deepEqual([done.totals.recipients, done.totals.delivered], [3, 3]);
    assert.equal(typeof done.start_datetime, 'string');

    // Two deliveries of one variant: each its own snapshot, the second (later) without a limit.
    relay.messages.length = 0;
    const two = await api('POST', '/mailings', {
      list,
      name: 'Twice',
      variants: [
        { subject: 'Again', layout: { text: 'x' }, deliveries: [{ limit: 1 }, { scheduled_datetime: new Date(Date.now() + 3_600_000).toISOString() }] },
      ],
    });
    assert.equal(two.status, 201, JSON.stringify(two.body));
    await waitFor(
      'the first delivery is sent',
      async () => (await api('GET', `/mailings/${two.body.id}`)).body.variants[0].deliveries[0].status === 'sent',
      30_000,
    );
    assert.equal((await api('GET', `/mailings/${two.body.id}`)).body.variants[0].deliveries[1].status, 'scheduled');
    await startDeliveriesNow(two.body.id);
    await waitFor(
      'both deliveries are sent',
      async () => (await api('GET', `/mailings/${two.body.id}`)).body.variants[0].deliveries.every((d: any) => d.status === 'sent'),
      30_000,
    );
    const totals = (await api('GET', `/mailings/${two.body.id}`)).body.variants[0].deliveries.map((d: any) => d.totals.recipients);
    // The whole list but gone, quit and supp: p0..p5 and l1 = 7.
    assert.deepEqual(totals, [1, 7]);
    assert.equal(relay.messages.length, 8);
  });

  it('refuses unknown segments and exclusions, and two variants of one language', async () => {
    const list = (await api('POST', '/lists', { name: 'Checks', default_from_email: 'news@acme.example' })).body.id;
    const other = (await api('POST', '/lists', { name: 'Other', default_from_email: 'news@acme.example' })).body.id;
    const foreign = await segment(other, 'Foreign', 'a=b');
    const v = { subject: 's', layout: { text: 't' } };
    const count = (await api('GET', '/mailings')).body.count;
    assert.deepEqual((await api('POST', '/mailings', { list, name: 'a', segments: [foreign], variants: [v] })).body, {
      segments: [`Invalid pk "${foreign}" - object does not exist.`],
    });
    assert.deepEqual((await api('POST', '/mailings', { list, name: 'b', variants: [{ ...v, deliveries: [{ exclusions: [foreign] }] }] })).body, {
      variants: [{ deliveries: [{ exclusions: [`Invalid pk "${foreign}" - object does not exist.`] }] }],
    });
    assert.deepEqual(
      (
        await api('POST', '/mailings', {
          list,
          name: 'c',
          variants: [
            { ...v, language: 'fr' },
            { ...v, language: 'fr' },
          ],
        })
      ).body,
      { variants: ['Two variants have the language "fr".'] },
    );
    assert.deepEqual((await api('POST', '/mailings', { list, name: 'd', variants: [{ subject: 's' }] })).body, {
      variants: [{ layout: ['A variant needs layout.zip_file or layout.text.'] }],
    });
    const noFrom = (await api('POST', '/lists', { name: 'No sender' })).body.id;
    assert.deepEqual((await api('POST', '/mailings', { list: noFrom, name: 'e', variants: [v] })).body, {
      variants: [{ from_email: ['This field is required (the list has no default_from_email).'] }],
    });
    assert.equal((await api('GET', '/mailings')).body.count, count, 'nothing stored');
  });
});

/**
 * Every path that suppresses an address leaves the same state (src/db/suppressions.ts `suppress`): the
 * suppression row, the status of the address's list members, and what each dialect shows of them.
 *
 * A list made with Sender's maillist API holds two addresses, one subscribed through Sender and one through
 * Emailicious (their clients' own calls); an Emailicious delivery sends to both through a real relay on
 * loopback. The relay refuses one at RCPT (550 5.1.1: the synchronous hard bounce, recorded with the batch's
 * outcomes); it accepts the other, whose mailbox provider then reports it by a DSN delivered over SMTP into
 * the bounce listener (the late hard bounce). Both end the same: suppressed as hard_bounce, their members
 * bounced and disabled, Emailicious' `subscription` and Sender's `_status` both `bounced`.
 *
 * Then the other paths keep the same rule: an unsubscribe replaces a hard bounce's suppression, by the
 * message's link as by Sender's API; an operator's suppression disables the members, and lifting it gives
 * each member back the status it had, or the one a client set since (a deleted member stays deleted).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';
import { call } from '../emailicious/client.js';
import { requestsCall } from '../sender/client.js';
import { fixture } from './fixtures.js';

let gw: TestGateway;
let relay: TestSmtpServer;
let listId: number;
const ids: Record<string, number> = {};

const SLUG = 'bounce-paths';
const SYNC = 'refused@paths.example';
const LATE = 'reported@paths.example';

const emailicious = (method: string, p: string, json?: unknown) => call(gw.url, gw.key.secret, method, `/api/v1${p}`, json === undefined ? {} : { json });
const sender = (method: string, p: string, opts: { json?: unknown; params?: unknown } = {}) =>
  requestsCall(method, `${gw.url}/api/0/${gw.key.account}${p}`, { ...opts, key: gw.key.secret });

/** The suppression of the address, its list members, and the member as Emailicious and Sender show it. */
async function stateOf(email: string) {
  const suppression = await gw.pool.query<{ reason: string }>('SELECT reason FROM suppressions WHERE email = $1', [email]);
  const members = await gw.pool.query<{ status: string; enabled: boolean }>('SELECT status, enabled FROM subscribers WHERE email = $1', [email]);
  const viaEmailicious = await emailicious('GET', `/lists/${listId}/subscribers/${ids[email]}`);
  const viaSender = await sender('GET', `/maillist/${SLUG}/email/${email}`);
  return {
    reasons: suppression.rows.map((r) => r.reason),
    members: members.rows,
    subscription: [viaEmailicious.status, viaEmailicious.body.subscription],
    senderStatus: [viaSender.status, viaSender.body.result?._status, viaSender.body.result?._enabled],
  };
}

/** Deliver raw bytes to the inbound bounce listener, as a remote MTA would. */
async function deliver(to: string, raw: Buffer): Promise<void> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: gw.bouncePort, secure: false, ignoreTLS: true });
  try {
    await t.sendMail({ envelope: { from: '', to }, raw });
  } finally {
    t.close();
  }
}

before(async () => {
  relay = await startTestSmtpServer();
  gw = await startTestGateway({ worker: true, env: { SMTP_URL: relay.url } });
  relay.reject550.add(SYNC);
});
after(async () => {
  await gw?.stop();
  await relay?.close();
});

describe('suppression: one rule for every path', () => {
  it('a hard bounce at RCPT and a late DSN leave the same suppression, members and dialect views', async () => {
    const created = await sender('PUT', `/maillist/${SLUG}`, { params: { title: 'Bounce paths' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const lists = (await emailicious('GET', '/lists')).body.results as { id: number; name: string }[];
    listId = lists.find((l) => l.name === 'Bounce paths')!.id;
    assert.equal((await emailicious('PATCH', `/lists/${listId}`, { default_from_email: 'news@paths.example' })).status, 200);

    assert.equal((await sender('PUT', `/maillist/${SLUG}/subscription`, { json: { email: SYNC } })).status, 200);
    const added = await emailicious('POST', `/lists/${listId}/subscribers`, { email: LATE });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    ids[LATE] = added.body.id;
    ids[SYNC] = (await emailicious('GET', `/lists/${listId}/subscribers?email=${encodeURIComponent(SYNC)}`)).body.results[0].id;

    const mailing = await emailicious('POST', '/mailings', {
      list: listId,
      name: 'Paths',
      variants: [{ subject: 'Hello', layout: { text: 'Hi' }, deliveries: [{}] }],
    });
    assert.equal(mailing.status, 201, JSON.stringify(mailing.body));
    const recipient = async (email: string) =>
      (await gw.pool.query<{ status: string }>('SELECT status FROM recipients WHERE email = $1', [email])).rows[0]?.status;
    await waitFor('the relay refused one and accepted the other', async () => (await recipient(SYNC)) === 'error' && relay.to(LATE).length === 1);

    const sent = relay.to(LATE)[0]!;
    await deliver(sent.from, fixture('postfix-5.1.1.eml', { rcpt: LATE, verp: sent.from, messageId: sent.header('Message-ID')! }));
    assert.equal(await recipient(LATE), 'error');

    const expected = {
      reasons: ['hard_bounce'],
      members: [{ status: 'bounced', enabled: false }],
      subscription: [200, 'bounced'],
      senderStatus: [200, 'bounced', false],
    };
    assert.deepEqual(await stateOf(SYNC), expected, 'the hard bounce at RCPT');
    assert.deepEqual(await stateOf(LATE), expected, 'the late DSN');
  });

  it('an unsubscribe replaces the hard bounce, by the link as by the API: the same state again', async () => {
    const header = relay.to(LATE)[0]!.header('List-Unsubscribe')!;
    const link = gw.url + new URL(/<(http[^>]+)>/.exec(header)![1]!).pathname;
    const post = await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    assert.equal(post.status, 200);
    const put = await sender('PUT', '/unsubscribe/global', { params: { email: SYNC } });
    assert.deepEqual([put.status, put.body.result], [200, { status: 'ok' }]);
    const expected = {
      reasons: ['unsubscribe'],
      members: [{ status: 'unsubscribed', enabled: false }],
      subscription: [200, 'unsubscribed'],
      senderStatus: [200, 'unsubscribed', false],
    };
    assert.deepEqual(await stateOf(LATE), expected, 'by the link');
    assert.deepEqual(await stateOf(SYNC), expected, 'by the API');
    const events = await gw.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE kind = 'unsubscribe'`);
    assert.equal(events.rows[0]!.n, 2, 'one event each');
  });

  it("an operator's suppression disables the members; lifting it gives each its status back", async () => {
    const ctx = await gw.core.accounts.operatorContext(gw.key.account);
    const [kept, deleted, removed] = ['kept@paths.example', 'deleted@paths.example', 'removed@paths.example'];
    for (const email of [kept, deleted, removed]) ids[email] = (await emailicious('POST', `/lists/${listId}/subscribers`, { email })).body.id;
    assert.equal((await emailicious('DELETE', `/lists/${listId}/subscribers/${ids[deleted]}`)).status, 204);
    for (const email of [kept, deleted, removed]) assert.equal(await gw.core.suppressions.add(ctx, email, 'by hand'), true);
    const disabled = { reasons: ['manual'], members: [{ status: 'disabled', enabled: false }], subscription: [200, 'deleted'], senderStatus: [200, '', false] };
    for (const email of [kept, deleted, removed]) assert.deepEqual(await stateOf(email), disabled, email);
    const del = await sender('DELETE', `/maillist/${SLUG}/subscription`, { json: { email: removed } });
    assert.deepEqual(del.body.result, { status: 'OK', disabled: 0, already_disabled: 1 });

    for (const email of [kept, deleted, removed]) assert.equal((await gw.core.suppressions.lift(ctx, email)).reason, 'manual');
    assert.deepEqual(await stateOf(kept), {
      reasons: [],
      members: [{ status: 'active', enabled: true }],
      subscription: [200, 'active'],
      senderStatus: [200, '', true],
    });
    assert.deepEqual(await stateOf(deleted), { ...disabled, reasons: [] }, 'deleted before: deleted again');
    assert.deepEqual(await stateOf(removed), { ...disabled, reasons: [] }, 'removed since: removed');
  });
});

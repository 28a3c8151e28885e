/**
 * Double opt-in and the optout notice, as Mailkit clients ask for them: adduser with double_opt_in "TRUE"
 * (Python's xmlrpc.client) and confirm true (urllib JSON); the confirmation message captured by a real SMTP
 * server on loopback, its link followed over HTTP; email.unsubscribe with send_optout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { runProcess } from '../support/process.js';
import { waitFor } from '../support/wait.js';
import { signConfirmToken } from '../../src/core/delivery/tokens.js';

let gw: TestGateway;
let relay: TestSmtpServer;

before(async () => {
  relay = await startTestSmtpServer();
  gw = await startTestGateway({ worker: true, env: { SMTP_URL: relay.url, CONFIRM_LINK_DAYS: '2' } });
});
after(async () => {
  await gw?.stop();
  await relay?.close();
});

const ctx = async () => ({ accountId: (await gw.core.accounts.authenticate(gw.key.secret))!.accountId, requestId: 't' });

/** One Mailkit call by a real client; prints the decoded reply as JSON. */
async function call(encoding: 'xml' | 'json', fn: string, params: unknown[] | Record<string, unknown>): Promise<unknown> {
  const script = `
import base64, json, sys, urllib.request, xmlrpc.client
url, cid, md5, enc, fn, params = sys.argv[1:7]
params = json.loads(params)
b64 = lambda s: base64.b64encode(s.encode()).decode()
def dec(v):  # the test passes user data as {"b64": "..."} where a client base64-encodes it
    if isinstance(v, dict) and set(v) == {"b64"}: return b64(v["b64"])
    if isinstance(v, dict): return {k: dec(x) for k, x in v.items()}
    if isinstance(v, list): return [dec(x) for x in v]
    return v
params = dec(params)
if enc == "xml":
    proxy = xmlrpc.client.ServerProxy(url + "/rpc.fcgi", allow_none=True)
    print(json.dumps(getattr(proxy, fn)(cid, md5, *params)))
else:
    body = json.dumps({"function": fn, "id": cid, "md5": md5, "parameters": params}).encode()
    req = urllib.request.Request(url + "/json.fcgi", data=body, headers={"Content-Type": "application/json"})
    print(urllib.request.urlopen(req).read().decode())
`;
  const r = await runProcess('python3', ['-c', script, gw.url, String(gw.key.id), gw.key.secret, encoding, fn, JSON.stringify(params)], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** GET a link the way a mail client opens it (Python's urllib), on the gateway instead of PUBLIC_URL. */
async function follow(link: string, method = 'GET'): Promise<{ status: number; body: string }> {
  const local = link.replace('http://mailgate.test', gw.url);
  const script = `
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(urllib.request.Request(sys.argv[1], method=sys.argv[2]))
    print(r.status); print(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); print(e.read().decode())
`;
  const r = await runProcess('python3', ['-c', script, local, method], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  const [status, ...body] = r.stdout.split('\n');
  return { status: Number(status), body: body.join('\n') };
}

async function status(listId: number, email: string): Promise<string | undefined> {
  const rows = await gw.core.lists.subscribers(await ctx(), { email }, listId);
  return rows[0]?.status;
}

/** Messages queued for an address (every message goes out as a recipient row: none queued, none ever sent). */
async function queuedFor(email: string): Promise<number> {
  const { rows } = await gw.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM recipients WHERE email = $1', [email]);
  return rows[0]!.n;
}

async function linkIn(address: string): Promise<string> {
  await waitFor(`confirmation to ${address}`, () => relay.to(address).length === 1);
  const parsed = await relay.to(address)[0]!.parse();
  const link = /href="(http:\/\/mailgate\.test\/subscribe\/confirm\/[^"]+)"/.exec(String(parsed.html))?.[1];
  assert.ok(link, `a confirmation link in ${parsed.html}`);
  assert.ok(String(parsed.text).includes(link), 'the text part carries the link too');
  return link;
}

describe('mailkit: double opt-in and the optout notice', () => {
  let listId: number;
  before(async () => {
    listId = await gw.core.lists.create(await ctx(), { name: 'Weekly news' });
  });

  it('xml: adduser with double_opt_in "TRUE" stores the address unconfirmed and sends the built-in confirmation', async () => {
    const reply = await call('xml', 'mailkit.mailinglist.adduser', [
      listId,
      'TRUE',
      { email: { b64: 'dora@example.org' }, first_name: { b64: 'Dora' } },
      { '': null },
      { '': null },
    ]);
    assert.equal(reply, 'Sent subscribe email');
    assert.equal(await status(listId, 'dora@example.org'), 'unconfirmed');
    const link = await linkIn('dora@example.org');
    const msg = relay.to('dora@example.org')[0]!;
    assert.equal(msg.header('subject'), 'Please confirm your subscription to Weekly news');
    assert.match(msg.header('from') ?? '', /noreply@bounces\.mailgate\.test/);

    // A link checker's HEAD changes nothing; the subscriber's click confirms, once.
    assert.equal((await follow(link, 'HEAD')).status, 200);
    assert.equal(await status(listId, 'dora@example.org'), 'unconfirmed');
    const first = await follow(link);
    assert.equal(first.status, 200);
    assert.match(first.body, /Subscription confirmed/);
    assert.match(first.body, /dora@example\.org/);
    assert.equal(await status(listId, 'dora@example.org'), 'active');
    const second = await follow(link);
    assert.equal(second.status, 200);
    assert.match(second.body, /already confirmed/);
    const { rows } = await gw.pool.query("SELECT count(*)::int AS n FROM events WHERE kind = 'confirm'");
    assert.equal(rows[0].n, 1);

    // Asked again once active: no second message, the plain "updated" reply.
    const again = await call('xml', 'mailkit.mailinglist.adduser', [listId, 'TRUE', { email: { b64: 'dora@example.org' } }, { '': null }, { '': null }]);
    assert.deepEqual(again, { data: (await gw.core.lists.subscribers(await ctx(), { email: 'dora@example.org' }, listId))[0]!.id, status: 0 });
    assert.equal(await queuedFor('dora@example.org'), 1, 'no second message queued');
    assert.equal(relay.to('dora@example.org').length, 1);
  });

  it("json: confirm true sends the list's own confirmation mailing with its fields; forged and expired links show an error page", async () => {
    const c = await ctx();
    const own = await gw.core.mailings.create(c, {
      dialect: 'mailkit',
      fromEmail: 'club@example.org',
      subject: 'Welcome to {{ list_title }}',
      html: '<p>Hi {{ first_name }}, <a href="{{ subscribe_link }}">confirm</a></p>',
    });
    await gw.core.subscriptions.setConfirmMailing(c, listId, own);
    const reply = await call('json', 'mailkit.mailinglist.adduser', {
      ID_user_list: String(listId),
      confirm: true,
      personal: { email: { b64: 'eli@example.org' }, first_name: { b64: 'Eli' } },
    });
    assert.deepEqual(reply, { error: 'Sent subscribe email', error_status: 0 });
    const link = await linkIn('eli@example.org');
    const msg = relay.to('eli@example.org')[0]!;
    assert.equal(msg.header('subject'), 'Welcome to Weekly news');
    assert.match(msg.header('from') ?? '', /club@example\.org/);
    assert.match(String((await msg.parse()).html), /Hi Eli,/);
    // The message went through the pipeline: its recipient row names the subscriber.
    const sub = (await gw.core.lists.subscribers(c, { email: 'eli@example.org' }, listId))[0]!;
    // The relay has the message before the worker records its outcome: wait for the record.
    const recipientRows = async () => (await gw.pool.query('SELECT subscriber_id, status FROM recipients WHERE email = $1', ['eli@example.org'])).rows;
    await waitFor('the confirmation recorded as sent', async () => (await recipientRows()).some((r: { status: string }) => r.status !== 'ready'));
    assert.deepEqual(await recipientRows(), [{ subscriber_id: sub.id, status: 'finished' }]);

    const token = link.split('/').pop()!;
    const forged = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    const bad = await follow(`${gw.url}/subscribe/confirm/${forged}`);
    assert.equal(bad.status, 404);
    assert.match(bad.body, /not valid/);
    const other = await follow(`${gw.url}/subscribe/confirm/${sub.id + 1}.${token.split('.')[1]}.${token.split('.')[2]}`);
    assert.equal(other.status, 404, 'a token moved to another subscriber');
    const old = signConfirmToken(gw.services.secret, sub.id, new Date(Date.now() - 3 * 86_400_000));
    const expired = await follow(`${gw.url}/subscribe/confirm/${old}`);
    assert.equal(expired.status, 404);
    assert.match(expired.body, /expired/);
    assert.equal(await status(listId, 'eli@example.org'), 'unconfirmed', 'none of those confirmed anyone');
    assert.equal((await follow(link)).status, 200);
    assert.equal(await status(listId, 'eli@example.org'), 'active');
  });

  it('a suppressed address gets no confirmation message; an unsubscribed one cannot be confirmed by an old link', async () => {
    const c = await ctx();
    await gw.core.suppressions.add(c, 'gone@example.org', 'test');
    const reply = await call('json', 'mailkit.mailinglist.adduser', {
      ID_user_list: listId,
      confirm: 'TRUE',
      personal: { email: { b64: 'gone@example.org' } },
    });
    assert.deepEqual(reply, {
      data: String((await gw.core.lists.subscribers(c, { email: 'gone@example.org' }, listId))[0]!.id),
      ID_email: String((await gw.core.lists.subscribers(c, { email: 'gone@example.org' }, listId))[0]!.id),
      status: '2',
      error_status: 0,
    });

    assert.equal(
      await call('xml', 'mailkit.mailinglist.adduser', [listId, 'TRUE', { email: { b64: 'fred@example.org' } }, { '': null }, { '': null }]),
      'Sent subscribe email',
    );
    const link = await linkIn('fred@example.org');
    await gw.core.suppressions.unsubscribe(c, { email: 'fred@example.org' }, 'test');
    const r = await follow(link);
    assert.equal(r.status, 404);
    assert.equal(await status(listId, 'fred@example.org'), 'unsubscribed');
  });

  it('email.unsubscribe with send_optout sends the notice to the now suppressed address, once', async () => {
    const c = await ctx();
    await gw.core.lists.subscribe(c, listId, [{ email: 'gina@example.org' }, { email: 'hal@example.org' }]);
    assert.equal(
      await call('xml', 'mailkit.email.unsubscribe', ['gina@example.org', null, true]),
      (await gw.core.lists.subscribers(c, { email: 'gina@example.org' }))[0]!.id,
    );
    await waitFor('optout notice', () => relay.to('gina@example.org').length === 1);
    assert.equal(relay.to('gina@example.org')[0]!.header('subject'), 'You have been unsubscribed');
    // Again: already unsubscribed, no second notice; without send_optout, none.
    await call('json', 'mailkit.email.unsubscribe', { ID_email: 'gina@example.org', ID_send_message: null, send_optout: true });
    await call('json', 'mailkit.email.unsubscribe', { ID_email: 'hal@example.org', ID_send_message: null, send_optout: false });
    assert.deepEqual([await queuedFor('gina@example.org'), await queuedFor('hal@example.org')], [1, 0], 'no second notice queued, none without send_optout');
    assert.equal(relay.to('gina@example.org').length, 1);
    assert.equal(relay.to('hal@example.org').length, 0);
    // An ordinary mailing still skips gina.
    const m = await gw.core.mailings.create(c, { dialect: 'mailkit', fromEmail: 'club@example.org', subject: 'News', text: 'x' });
    await gw.core.recipients.add(c, m, [{ email: 'gina@example.org', fields: {} }]);
    await gw.core.mailings.start(c, m);
    await waitFor('skipped', async () => (await gw.pool.query("SELECT 1 FROM recipients WHERE mailing_id = $1 AND status = 'error'", [m])).rowCount === 1);
    assert.equal(relay.to('gina@example.org').length, 1);
  });
});

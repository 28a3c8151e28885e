/**
 * Webhooks end to end, with real parts: a mailing (Mailkit dialect) to a real SMTP relay that accepts some
 * addresses, refuses one (550 5.1.1) and defers one (452 4.2.2); a late DSN and a complaint mailed to the
 * bounce listener; an unsubscribe by the message's own link (POST); an open and a click recorded through the
 * event log with their verdicts. The receiver fails (500), then hangs past the timeout, then recovers: every
 * event that happened arrives once it recovers, exactly those, once each by webhook-id, signed as the
 * Standard Webhooks reference library verifies, with the same id on every retry. Then a replay, an endpoint
 * disabled after failing, and the CLI over the same database.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import type { CallContext } from '../../src/core/context.js';
import { recordEvents } from '../../src/db/events.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { complaintReport, dsnReport } from '../support/reports.js';
import { runProcess } from '../support/process.js';
import { scrape, value } from '../support/prometheus.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';
import { startReceiver, type Receiver } from './receiver.js';

const root = path.resolve(import.meta.dirname, '../..');
let gw: TestGateway;
let relay: TestSmtpServer;
let receiver: Receiver;
let ctx: CallContext;
let secret = '';
let endpointId = 0;
let mailingId = 0;

const at = (name: string) => `${name}@example.org`;
const NAMES = ['ok1', 'ok2', 'hard', 'soft', 'late', 'complains', 'leaves', 'opener', 'clicker'];

/** What happened, as (kind, address) pairs: the events the receiver must get, each once. */
const EXPECTED = [
  ['delivered', 'ok1'],
  ['delivered', 'ok2'],
  ['bounced', 'hard'],
  ['deferred', 'soft'],
  ['delivered', 'late'],
  ['bounced', 'late'],
  ['delivered', 'complains'],
  ['complained', 'complains'],
  ['delivered', 'leaves'],
  ['unsubscribed', 'leaves'],
  ['delivered', 'opener'],
  ['opened', 'opener'],
  ['delivered', 'clicker'],
  ['clicked', 'clicker'],
]
  .map(([k, n]) => `${k} ${at(n!)}`)
  .sort();

async function deliver(to: string, raw: string): Promise<void> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: gw.bouncePort, secure: false, ignoreTLS: true });
  try {
    await t.sendMail({ envelope: { from: '', to }, raw: raw.replace(/\r?\n/g, '\r\n') });
  } finally {
    t.close();
  }
}

const count = async (sql: string, params: unknown[] = []) => (await gw.pool.query<{ n: number }>(sql, params)).rows[0]!.n;

before(async () => {
  relay = await startTestSmtpServer();
  relay.reject550.add(at('hard'));
  relay.reject452.add(at('soft'));
  receiver = await startReceiver(() => secret);
  gw = await startTestGateway({
    worker: true,
    env: {
      SMTP_URL: relay.url,
      RETRY_BASE_SECONDS: '3600',
      SEND_BATCH_SIZE: '4',
      WEBHOOK_TIMEOUT_SECONDS: '0.5',
      // Short and long enough: a message never runs out of retries during the outage below.
      WEBHOOK_RETRY_SCHEDULE: Array.from({ length: 40 }, () => '0.05').join(','),
    },
  });
  ctx = { accountId: (await gw.core.accounts.authenticate(gw.key.secret))!.accountId, requestId: 't' };
});
after(async () => {
  await gw?.stop();
  await relay?.close();
  await receiver?.close();
});

describe('webhooks: every event of a mailing, through a receiver outage', () => {
  before(async () => {
    receiver.mode = 'fail';
    const r = await gw.core.webhooks.add(ctx, {
      url: receiver.url,
      kinds: ['delivered', 'deferred', 'bounced', 'complained', 'unsubscribed', 'opened', 'clicked'],
    });
    secret = r.secret;
    endpointId = r.endpoint.id;
    mailingId = await gw.core.mailings.create(ctx, {
      dialect: 'mailkit',
      name: 'news-1',
      fromEmail: 'news@example.org',
      subject: 'Hello',
      html: '<p>Hi <a href="https://example.org/a">a</a></p>',
    });
    await gw.core.recipients.add(
      ctx,
      mailingId,
      NAMES.map((n) => ({ email: at(n), fields: {} })),
    );
    await gw.core.mailings.start(ctx, mailingId);
    await waitFor(
      'every recipient answered',
      async () => (await count(`SELECT count(*)::int AS n FROM recipients WHERE mailing_id = $1 AND status <> 'ready'`, [mailingId])) === NAMES.length,
    );

    const late = relay.to(at('late'))[0]!.from;
    await deliver(late, dsnReport({ verp: late, to: at('late'), status: '5.1.1', diagnostic: '550 5.1.1 <late@example.org>: user unknown' }));
    const complains = relay.to(at('complains'))[0]!.from;
    await deliver(complains, complaintReport({ verp: complains, to: at('complains') }));
    const header = relay.to(at('leaves'))[0]!.header('List-Unsubscribe')!;
    const link = gw.url + new URL(/<(http[^>]+)>/.exec(header)![1]!).pathname;
    const post = await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    assert.equal(post.status, 200);
    const ids = new Map(
      (await gw.pool.query<{ id: number; email: string }>('SELECT id, email FROM recipients WHERE mailing_id = $1', [mailingId])).rows.map((r) => [
        r.email,
        r.id,
      ]),
    );
    await recordEvents(gw.pool, [
      { accountId: ctx.accountId, kind: 'open', mailingId, recipientId: ids.get(at('opener'))!, verdict: 'human', userAgent: 'Mozilla/5.0' },
      {
        accountId: ctx.accountId,
        kind: 'click',
        mailingId,
        recipientId: ids.get(at('clicker'))!,
        verdict: 'machine',
        verdictReason: 'scanner-ua',
        link: 'https://example.org/a',
        linkIndex: 0,
      },
    ]);

    // The outage: answers 500 for a while, then none at all (past the timeout), then it recovers.
    await waitFor('three requests answered 500', () => receiver.requests.filter((q) => q.answer === 500).length >= 3);
    receiver.mode = 'hang';
    await waitFor(
      'an attempt timed out',
      async () => (await count(`SELECT count(*)::int AS n FROM webhook_attempts WHERE error LIKE 'no answer within%'`)) > 0,
    );
    receiver.mode = 'ok';
    await waitFor(
      'every event delivered',
      async () =>
        receiver.delivered().size >= EXPECTED.length && (await count(`SELECT count(*)::int AS n FROM webhook_messages WHERE state <> 'delivered'`)) === 0,
      60_000,
    );
  });

  it('delivers exactly the events that happened, once each by webhook-id', () => {
    const got = [...receiver.delivered().values()].map((q) => `${q.verified!.type} ${(q.verified!.data.recipient as { email: string }).email}`).sort();
    assert.deepEqual(got, EXPECTED);
  });

  it('signs every request as the Standard Webhooks reference library verifies it', () => {
    assert.ok(receiver.requests.length > EXPECTED.length);
    for (const q of receiver.requests) {
      assert.ok(q.verified, `request ${q.id} verifies`);
      assert.match(q.id, /^msg_[0-9a-f]{32}$/);
      assert.match(q.timestamp, /^\d{10}$/);
    }
  });

  it('keeps the webhook-id of a message across its retries', async () => {
    const delivered = receiver.delivered();
    const failed = receiver.requests.filter((q) => q.answer !== 200);
    assert.ok(failed.length >= 4);
    for (const q of failed) assert.ok(delivered.has(q.id), `${q.id} failed, then delivered under the same id`);
    assert.equal(await count('SELECT count(*)::int AS n FROM webhook_attempts'), receiver.requests.length, 'every attempt logged');
    const logged = await gw.core.webhooks.attempts(ctx, { endpointId, failedOnly: true, limit: 1000 });
    assert.ok(logged.some((a) => a.status_code === 500 && a.response === 'receiver is down for maintenance' && a.error === 'HTTP 500'));
    assert.ok(logged.some((a) => a.status_code === null && a.error === 'no answer within 0.5 s'));
  });

  it("names the recipient, the mailing and the send by the dialect's ids; the reply, the verdict", async () => {
    const { rows } = await gw.pool.query<{ id: number; email: string; send_id: number }>('SELECT id, email, send_id FROM recipients WHERE mailing_id = $1', [
      mailingId,
    ]);
    const r = new Map(rows.map((x) => [x.email, x]));
    const payload = (kind: string, email: string) =>
      [...receiver.delivered().values()].map((q) => q.verified!).find((v) => v.type === kind && (v.data.recipient as { email: string }).email === email)!;
    const hard = payload('bounced', at('hard'));
    assert.deepEqual(hard.data, {
      dialect: 'mailkit',
      recipient: { email: at('hard'), ID_SEND_MESSAGE: r.get(at('hard'))!.id, ID_EMAIL: r.get(at('hard'))!.id },
      mailing: { ID_MESSAGE: mailingId, name: 'news-1' },
      send: { ID_SEND: r.get(at('hard'))!.send_id },
      status: 'error',
      reply: { code: 550, enhanced_code: '5.1.1', text: 'user unknown', remote_mta: hard.data.reply && (hard.data.reply as { remote_mta: string }).remote_mta },
    });
    assert.match(hard.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(payload('deferred', at('soft')).data.reply, {
      code: 452,
      enhanced_code: '4.2.2',
      text: (payload('deferred', at('soft')).data.reply as { text: string }).text,
      remote_mta: (payload('deferred', at('soft')).data.reply as { remote_mta: string }).remote_mta,
    });
    assert.equal(payload('deferred', at('soft')).data.status, 'warning');
    const late = payload('bounced', at('late')).data;
    assert.deepEqual([late.status, (late.reply as { enhanced_code: string }).enhanced_code], ['error', '5.1.1']);
    const opened = payload('opened', at('opener')).data;
    assert.deepEqual([opened.verdict, opened.verdict_reason, 'reply' in opened], ['human', null, false]);
    const clicked = payload('clicked', at('clicker')).data;
    assert.deepEqual([clicked.verdict, clicked.verdict_reason, clicked.link, clicked.link_index], ['machine', 'scanner-ua', 'https://example.org/a', 0]);
    const complained = payload('complained', at('complains')).data;
    assert.deepEqual(Object.keys(complained).sort(), ['dialect', 'mailing', 'recipient', 'send']);
  });

  it('replays an attempt: the same message again, under the same webhook-id', async () => {
    const attempt = (await gw.core.webhooks.attempts(ctx, { endpointId, limit: 1000 })).find((a) => a.ok && a.kind === 'bounced')!;
    const before = receiver.requests.filter((q) => q.id === attempt.msg_id).length;
    const r = await gw.core.webhooks.replay(ctx, attempt.id);
    assert.deepEqual(r, { msgId: attempt.msg_id, endpointId });
    await waitFor(
      'the replay delivered',
      async () =>
        (await count(`SELECT count(*)::int AS n FROM webhook_messages WHERE msg_id = $1 AND state = 'delivered'`, [attempt.msg_id])) === 1 &&
        receiver.requests.filter((q) => q.id === attempt.msg_id).length === before + 1,
    );
    const again = receiver.requests.filter((q) => q.id === attempt.msg_id).at(-1)!;
    assert.equal(again.answer, 200);
    assert.equal(again.verified!.type, 'bounced');
    await assert.rejects(gw.core.webhooks.replay({ ...ctx, accountId: ctx.accountId + 1000 }, attempt.id), /not found/);
  });

  it('names the address of an unsubscribe made by address alone (an API call naming no message)', async () => {
    const r = await gw.core.suppressions.unsubscribe(ctx, { email: 'api-only@example.org' }, 'by API');
    assert.equal(r.changed, true);
    const mine = () =>
      [...receiver.delivered().values()].filter(
        (q) => q.verified!.type === 'unsubscribed' && (q.verified!.data.recipient as { email: string }).email === 'api-only@example.org',
      );
    await waitFor('its webhook', () => mine().length === 1);
  });

  it('writes nothing for a kind no endpoint wants, nor for an account without an endpoint', async () => {
    const before = await count('SELECT count(*)::int AS n FROM webhook_messages');
    const { account } = await gw.core.accounts.createAccount('silent');
    const c: CallContext = { accountId: account.id, requestId: 't' };
    const id = await gw.core.mailings.create(c, { dialect: 'mailkit', fromEmail: 'news@example.org', subject: 'Hi', text: 'Hi' });
    await gw.core.recipients.add(c, id, [{ email: 'quiet@example.org', fields: {} }]);
    await gw.core.mailings.start(c, id);
    await waitFor('sent', async () => (await count(`SELECT count(*)::int AS n FROM recipients WHERE mailing_id = $1 AND status = 'finished'`, [id])) === 1);
    assert.equal(await count('SELECT count(*)::int AS n FROM webhook_messages'), before);
  });
});

describe('webhooks: an endpoint that keeps failing is disabled', () => {
  it('is disabled with its reason once it has failed for WEBHOOK_DISABLE_AFTER_HOURS; enable delivers what queued', async () => {
    // A port nobody listens on: every attempt is refused.
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const key = await gw.core.accounts.createKey('flaky', 'test');
    const c: CallContext = { accountId: (await gw.core.accounts.authenticate(key.secret))!.accountId, requestId: 't' };
    const { endpoint } = await gw.core.webhooks.add(c, { url: `http://127.0.0.1:${port}/hooks`, kinds: ['delivered'] });
    const id = await gw.core.mailings.create(c, { dialect: 'cloudmailing', fromEmail: 'news@example.org', subject: 'Hi', text: 'Hi' });
    await gw.core.recipients.add(c, id, [{ email: 'one@example.org', fields: {} }]);
    await gw.core.mailings.start(c, id);
    await waitFor('a refused attempt', async () => (await gw.core.webhooks.get(c, endpoint.id)).failures > 0);
    // Stands for five days of failures (no test waits for them): the next failed attempt disables it.
    await gw.pool.query(`UPDATE webhook_endpoints SET failing_since = now() - interval '121 hours' WHERE id = $1`, [endpoint.id]);
    await waitFor('disabled', async () => (await gw.core.webhooks.get(c, endpoint.id)).disabledAt !== null);
    const e = await gw.core.webhooks.get(c, endpoint.id);
    assert.match(e.disabledReason!, /^failing since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+ tries in a row\); last: ECONNREFUSED$/);
    const [row] = await gw.core.webhooks.list(c);
    assert.deepEqual([row!.pending, row!.delivered], [1, 0], 'its message waits');
    // The backlog gauge of /metrics counts what waits, this message among it, as the table does.
    const pending = await count(`SELECT count(*)::int AS n FROM webhook_messages WHERE state = 'pending'`);
    assert.ok(pending >= 1);
    await waitFor('the backlog gauge', async () => value(await scrape(gw.url), 'mailgate_webhook_deliveries_pending') === pending);
  });
});

describe('webhooks: the CLI', () => {
  const cli = (...args: string[]) =>
    runProcess(process.execPath, [path.join(root, 'bin/mailgate.js'), 'webhooks', ...args], { env: { DATABASE_URL: gw.databaseUrl, LOG_LEVEL: 'silent' } });

  it('adds, lists, disables, enables and removes endpoints; shows attempts', async () => {
    const add = await cli('add', 'https://hooks.example.test/in', '--account', 'acme', '--events', 'bounced,opened', '--json');
    assert.equal(add.code, 0, add.stderr);
    const added = JSON.parse(add.stdout) as { endpoint: { id: number; kinds: string[] }; secret: string };
    assert.match(added.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.deepEqual(added.endpoint.kinds, ['bounced', 'opened']);
    const list = await cli('list', '--account', 'acme');
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trim().split('\n');
    assert.match(lines[0]!, /^ID\s+STATE\s+PENDING\s+DELIVERED\s+FAILED\s+EVENTS\s+URL\s+NOTE$/);
    assert.ok(lines.some((l) => l.startsWith(String(added.endpoint.id)) && l.includes('bounced,opened') && l.includes('https://hooks.example.test/in')));
    assert.ok(!list.stdout.includes(added.secret), 'the secret is shown once');
    const disable = await cli('disable', String(added.endpoint.id), '--account', 'acme', '--reason', 'maintenance');
    assert.deepEqual([disable.code, disable.stdout.trim()], [0, `disabled endpoint ${added.endpoint.id}: maintenance`]);
    assert.equal((await cli('enable', String(added.endpoint.id), '--account', 'acme')).stdout.trim(), `enabled endpoint ${added.endpoint.id}`);
    const attempts = await cli('attempts', '--account', 'acme', '--endpoint', String(endpointId), '--failed', '--limit', '5');
    assert.equal(attempts.code, 0, attempts.stderr);
    assert.match(attempts.stdout.split('\n')[0]!, /^ID\s+ENDPOINT\s+AT\s+WEBHOOK-ID\s+KIND\s+RESULT\s+MS\s+MESSAGE\s+RESPONSE$/);
    assert.equal(attempts.stdout.trim().split('\n').length, 6);
    const bad = await cli('add', 'ftp://x.example', '--account', 'acme', '--events', 'opened');
    assert.deepEqual([bad.code, bad.stderr.trim()], [1, 'error: the URL must be http or https: ftp://x.example']);
    const unknown = await cli('add', 'https://x.example', '--account', 'acme', '--events', 'read');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown event kind: read/);
    assert.equal((await cli('remove', String(added.endpoint.id), '--account', 'acme')).code, 0);
    const gone = await cli('remove', String(added.endpoint.id), '--account', 'acme');
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /webhook endpoint \d+ not found/);
  });
});

describe('webhooks: retention', () => {
  it('purges settled messages past their retention, with their attempts, never a pending one', async () => {
    const total = await count('SELECT count(*)::int AS n FROM webhook_messages WHERE endpoint_id = $1', [endpointId]);
    await gw.pool.query(`UPDATE webhook_messages SET created_at = now() - interval '31 days' WHERE endpoint_id = $1 AND kind = 'delivered'`, [endpointId]);
    const old = await count(`SELECT count(*)::int AS n FROM webhook_messages WHERE endpoint_id = $1 AND kind = 'delivered'`, [endpointId]);
    assert.equal(await gw.services.store.webhooks.purge(30), old);
    assert.equal(await count('SELECT count(*)::int AS n FROM webhook_messages WHERE endpoint_id = $1', [endpointId]), total - old);
    assert.equal(
      await count(`SELECT count(*)::int AS n FROM webhook_attempts a WHERE NOT EXISTS (SELECT 1 FROM webhook_messages m WHERE m.id = a.message_id)`),
      0,
    );
  });
});

/**
 * The whole bounce story over real SMTP: a mailing whose relay refuses some addresses (550 5.1.1), defers
 * others (452 4.2.2) and accepts the rest; then, into the inbound listener, a late DSN (RFC 3464) for an
 * accepted address, a delayed-delivery warning, a complaint (RFC 5965), a mailto unsubscribe; forged and
 * foreign addresses refused at RCPT. The bounce log holds every bounce once, the recipients' statuses follow,
 * suppressed addresses are skipped by the next mailing, and the suppressions can be listed and lifted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';
import { FIXTURES, fixture } from './fixtures.js';
import { complaintReport, dsnReport } from '../support/reports.js';

let gw: TestGateway;
let relay: TestSmtpServer;
const BOUNCE_DOMAIN = 'bounces.mailgate.test';

before(async () => {
  relay = await startTestSmtpServer();
  gw = await startTestGateway({ worker: true, env: { SMTP_URL: relay.url, RETRY_BASE_SECONDS: '60', SEND_BATCH_SIZE: '10' } });
  relay.reject550.add('hard@example.org');
  relay.reject452.add('soft@example.org');
});
after(async () => {
  await gw?.stop();
  await relay?.close();
});

const ctx = async () => ({ accountId: (await gw.core.accounts.authenticate(gw.key.secret))!.accountId, requestId: 't' });

/** Deliver raw bytes to the inbound listener, as a remote MTA would. */
async function deliver(to: string, raw: string): Promise<void> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: gw.bouncePort, secure: false, ignoreTLS: true, tls: { rejectUnauthorized: false } });
  try {
    await t.sendMail({ envelope: { from: '', to }, raw: raw.replace(/\r?\n/g, '\r\n') });
  } finally {
    t.close();
  }
}

async function mailing(emails: string[]): Promise<number> {
  const c = await ctx();
  const id = await gw.core.mailings.create(c, { dialect: 'test', fromEmail: 'news@example.org', subject: 'Hello {{ email }}', text: 'Hi' });
  await gw.core.recipients.add(
    c,
    id,
    emails.map((email) => ({ email, fields: {} })),
  );
  await gw.core.mailings.start(c, id);
  return id;
}

async function recipients(mailingId: number) {
  const { rows } = await gw.pool.query<{ id: number; email: string; status: string; reply_text: string | null; reply_enhanced_code: string | null }>(
    'SELECT id, email, status, reply_text, reply_enhanced_code FROM recipients WHERE mailing_id = $1 ORDER BY id',
    [mailingId],
  );
  return new Map(rows.map((r) => [r.email, r]));
}

const verpOf = (email: string) => relay.to(email)[0]!.from;

describe('bounces: the bounce log as the single source', () => {
  // The mailing every test below reads or bounces: sent once, before them.
  let first: number;
  before(async () => {
    first = await mailing([
      'good@example.org',
      'hard@example.org',
      'soft@example.org',
      'late@example.org',
      'complains@example.org',
      'leaves@example.org',
      'delayed@example.org',
    ]);
    await waitFor('the accepted ones sent', () => ['good', 'late', 'complains', 'leaves', 'delayed'].every((n) => relay.to(`${n}@example.org`).length === 1));
    await waitFor('hard and soft answered', async () => {
      const r = await recipients(first);
      return r.get('hard@example.org')!.status === 'error' && r.get('soft@example.org')!.status === 'warning';
    });
  });

  it('records the relay’s answers during sending: 550 5.1.1 permanent (suppressed), 452 4.2.2 temporary', async () => {
    const log = await gw.core.bounces.log(await ctx(), { mailingId: first }, 0, 100);
    const hard = log.find((b) => b.email === 'hard@example.org')!;
    assert.equal(hard.kind, 'permanent');
    assert.equal(hard.source, 'smtp');
    assert.equal(hard.enhanced_status, '5.1.1');
    assert.equal(hard.text_status, 'smtp; 550 5.1.1 user unknown');
    assert.equal(hard.remote_mta, 'dns; 127.0.0.1');
    const soft = log.find((b) => b.email === 'soft@example.org')!;
    assert.deepEqual([soft.kind, soft.enhanced_status], ['temporary', '4.2.2']);
    assert.equal((await gw.core.suppressions.status(await ctx(), 'hard@example.org')).suppression?.reason, 'hard_bounce');
    assert.equal((await gw.core.suppressions.status(await ctx(), 'soft@example.org')).suppression, null);
  });

  it('refuses at RCPT every address but a genuine VERP or unsubscribe token of this domain', async () => {
    const verp = verpOf('good@example.org');
    const token = /^bounces\+(.+)@/.exec(verp)![1]!;
    const [id, mac] = token.split('.');
    for (const to of [
      `bounces+${id}.${'A'.repeat(12)}@${BOUNCE_DOMAIN}`,
      `bounces+${Number(id) + 1}.${mac}@${BOUNCE_DOMAIN}`,
      `bounces+${token}@other.example`,
      `postmaster@${BOUNCE_DOMAIN}`,
      `unsubscribe+garbage@${BOUNCE_DOMAIN}`,
    ]) {
      await assert.rejects(deliver(to, dsnReport({ to: 'good@example.org', verp: to, status: '5.1.1', diagnostic: '550 5.1.1 x' })), /550|Recipient/i, to);
    }
    assert.equal((await recipients(first)).get('good@example.org')!.status, 'finished', 'nothing recorded');
  });

  it('records a late DSN for an accepted address, even one that quotes none of our headers: ERROR, suppressed', async () => {
    const verp = verpOf('late@example.org');
    assert.match(verp, new RegExp(`^bounces\\+\\d+\\.[\\w-]{12}@${BOUNCE_DOMAIN.replace(/\./g, '\\.')}$`));
    await deliver(
      verp,
      dsnReport({
        to: 'late@example.org',
        verp,
        status: '5.1.1',
        diagnostic: '550 5.1.1 <late@example.org>: Recipient address rejected: User unknown',
        quoteHeaders: false,
      }),
    );
    const r = (await recipients(first)).get('late@example.org')!;
    assert.equal(r.status, 'error');
    assert.equal(r.reply_enhanced_code, '5.1.1');
    const log = await gw.core.bounces.log(await ctx(), { mailingId: first }, 0, 100);
    const late = log.filter((b) => b.email === 'late@example.org');
    assert.equal(late.length, 1);
    assert.deepEqual([late[0]!.source, late[0]!.kind, late[0]!.remote_mta], ['dsn', 'permanent', 'dns; mx2.example.net']);
    assert.equal(late[0]!.text_status, 'smtp; 550 5.1.1 <late@example.org>: Recipient address rejected: User unknown');
    assert.equal((await gw.core.suppressions.status(await ctx(), 'late@example.org')).suppression?.reason, 'hard_bounce');
  });

  it('records a delayed-delivery warning as a temporary bounce, the recipient unchanged', async () => {
    const verp = verpOf('delayed@example.org');
    await deliver(verp, dsnReport({ to: 'delayed@example.org', verp, status: '4.4.1', diagnostic: '421 4.4.1 connection timed out', action: 'delayed' }));
    const log = await gw.core.bounces.log(await ctx(), { mailingId: first }, 0, 100);
    assert.deepEqual(
      log.filter((b) => b.email === 'delayed@example.org').map((b) => [b.source, b.kind, b.enhanced_status]),
      [['dsn', 'temporary', '4.4.1']],
    );
    assert.equal((await recipients(first)).get('delayed@example.org')!.status, 'finished');
    assert.equal((await gw.core.suppressions.status(await ctx(), 'delayed@example.org')).suppression, null);
  });

  it('records a complaint (ARF): suppressed, an event, a bounce of source complaint', async () => {
    const verp = verpOf('complains@example.org');
    await deliver(verp, complaintReport({ verp, to: 'complains@example.org' }));
    assert.equal((await gw.core.suppressions.status(await ctx(), 'complains@example.org')).suppression?.reason, 'complaint');
    const log = await gw.core.bounces.log(await ctx(), { mailingId: first }, 0, 100);
    assert.deepEqual(
      log.filter((b) => b.email === 'complains@example.org').map((b) => [b.source, b.text_status]),
      [['complaint', 'feedback-type; abuse']],
    );
    const { rows } = await gw.pool.query(`SELECT count(*)::int AS n FROM events WHERE kind = 'complaint' AND mailing_id = $1`, [first]);
    assert.equal(rows[0].n, 1);
  });

  it('unsubscribes by mail to the List-Unsubscribe mailto: address', async () => {
    const header = relay.to('leaves@example.org')[0]!.header('List-Unsubscribe')!;
    const mailto = /<mailto:([^>]+)>/.exec(header)![1]!;
    await deliver(mailto, 'From: leaves@example.org\nSubject: unsubscribe\n\nplease\n');
    assert.equal((await gw.core.suppressions.status(await ctx(), 'leaves@example.org')).suppression?.reason, 'unsubscribe');
  });

  it('a second mailing skips every suppressed address with a clear reply text, and sends the others', async () => {
    const before = relay.messages.length;
    relay.reject452.delete('soft@example.org');
    const second = await mailing([
      'good@example.org',
      'hard@example.org',
      'soft@example.org',
      'late@example.org',
      'complains@example.org',
      'leaves@example.org',
    ]);
    await waitFor('the second mailing finished', async () => (await gw.core.mailings.get(await ctx(), second)).status === 'finished');
    const r = await recipients(second);
    for (const skipped of ['hard', 'late', 'complains', 'leaves']) {
      const x = r.get(`${skipped}@example.org`)!;
      assert.equal(x.status, 'error', skipped);
      assert.match(x.reply_text ?? '', /^not sent: the address is suppressed/, skipped);
    }
    assert.equal(r.get('good@example.org')!.status, 'finished');
    assert.equal(r.get('soft@example.org')!.status, 'finished');
    assert.deepEqual(
      relay.messages
        .slice(before)
        .map((m) => m.to[0])
        .sort(),
      ['good@example.org', 'soft@example.org'],
    );
  });

  it('lists and lifts suppressions', async () => {
    const c = await ctx();
    const listed = await gw.core.suppressions.list(c);
    assert.deepEqual(
      listed.map((s) => [s.email, s.reason]),
      [
        ['complains@example.org', 'complaint'],
        ['hard@example.org', 'hard_bounce'],
        ['late@example.org', 'hard_bounce'],
        ['leaves@example.org', 'unsubscribe'],
      ],
    );
    assert.deepEqual(
      (await gw.core.suppressions.list(c, { reason: 'hard_bounce' })).map((s) => s.email),
      ['hard@example.org', 'late@example.org'],
    );
    assert.equal((await gw.core.suppressions.lift(c, 'late@example.org')).reason, 'hard_bounce');
    assert.equal((await gw.core.suppressions.status(c, 'late@example.org')).suppression, null);
    await assert.rejects(gw.core.suppressions.lift(c, 'late@example.org'), { code: 'NOT_FOUND' });
  });

  it("never records for another account's recipient: the log and suppressions are per account", async () => {
    const other = await gw.core.accounts.createKey('bounce-other');
    const oc = { accountId: (await gw.core.accounts.authenticate(other.secret))!.accountId, requestId: 't' };
    assert.deepEqual(await gw.core.bounces.log(oc, {}, 0, 100), []);
    assert.deepEqual(await gw.core.suppressions.list(oc), []);
  });
});

describe("bounces: each MTA's report format, over SMTP into the listener", () => {
  // What each fixture must leave in the log: [kind, enhanced status, suppression reason, recipient status after].
  const expected: Record<string, [string, string | null, string | null, string] | null> = {
    'exim-5.0.0.eml': ['permanent', '5.1.1', 'hard_bounce', 'error'],
    'exim-plain.eml': ['permanent', '5.1.1', 'hard_bounce', 'error'],
    'gmail-5.1.1.eml': ['permanent', '5.1.1', 'hard_bounce', 'error'],
    'gmail-over-quota.eml': ['temporary', '5.2.2', null, 'finished'],
    'microsoft-5.1.10.eml': ['permanent', '5.1.10', 'hard_bounce', 'error'],
    'postfix-5.1.1.eml': ['permanent', '5.1.1', 'hard_bounce', 'error'],
    'postfix-delayed.eml': ['temporary', '4.4.1', null, 'finished'],
    'qmail.eml': ['permanent', '5.1.1', 'hard_bounce', 'error'],
    'rfc5965-arf.eml': ['permanent', null, 'complaint', 'finished'],
    'vacation.eml': null,
    'yahoo-arf.eml': ['permanent', null, 'complaint', 'finished'],
    'yahoo-plain.eml': ['permanent', null, null, 'error'],
  };
  const address = (f: string) => `fmt-${f.replace(/\.eml$/, '')}@formats.example`;

  it('records each as its format means it, matched by the VERP token of the envelope', async () => {
    assert.deepEqual(Object.keys(expected).sort(), FIXTURES, 'every fixture has an expectation');
    const id = await mailing(FIXTURES.map(address));
    await waitFor('all sent', () => FIXTURES.every((f) => relay.to(address(f)).length === 1));
    for (const f of FIXTURES) {
      const sent = relay.to(address(f))[0]!;
      await deliver(sent.from, fixture(f, { rcpt: address(f), verp: sent.from, messageId: sent.header('Message-ID')! }).toString('utf8'));
    }
    const c = await ctx();
    const log = await gw.core.bounces.log(c, { mailingId: id }, 0, 100);
    const r = await recipients(id);
    for (const f of FIXTURES) {
      const mine = log.filter((b) => b.email === address(f));
      const want = expected[f]!;
      if (want === null) {
        assert.equal(mine.length, 0, `${f}: not a bounce`);
        assert.equal(r.get(address(f))!.status, 'finished', f);
        continue;
      }
      assert.equal(mine.length, 1, `${f}: one bounce`);
      assert.deepEqual([mine[0]!.kind, mine[0]!.enhanced_status], want.slice(0, 2), f);
      assert.equal(mine[0]!.source, want[2] === 'complaint' ? 'complaint' : 'dsn', f);
      assert.equal((await gw.core.suppressions.status(c, address(f))).suppression?.reason ?? null, want[2], f);
      assert.equal(r.get(address(f))!.status, want[3], f);
    }
    const gmail = log.find((b) => b.email === address('gmail-5.1.1.eml'))!;
    assert.match(gmail.text_status!, /^smtp; 550-5\.1\.1 The email account/);
    assert.match(gmail.remote_mta!, /^dns; gmail-smtp-in\.l\.google\.com\./);
  });
});

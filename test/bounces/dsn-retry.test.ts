/**
 * A report delivered again is recorded once. A sending MTA that does not get the 250 after DATA in time (lost,
 * or later than its timeout while the listener was recording under load) delivers the same message again: the
 * same Message-ID, the same bytes. The copy is answered 250 like the first (the MTA must stop retrying) and
 * changes nothing: one bounce row, one entry in Mailkit's raw bounce log, the counts of Mailkit's campaign
 * report, the recipient's status changed once, one suppression, one complaint event. Copies that arrive while
 * the first is still being recorded (the soak's case) are held here behind a lock on the recipient's row, so
 * all three are inside the listener at once whatever the machine's speed.
 *
 * Two different reports about one recipient (a delayed warning, then the failure: two Message-IDs) are both
 * recorded, and so is one report about two of our recipients, once each. A report without a Message-ID is
 * identified by its bytes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import pg from 'pg';
import { reportKeyOf } from '../../src/bounces/report.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';
import { fixture } from './fixtures.js';
import { complaintReport, dsnReport, type DsnOptions } from '../support/reports.js';

const dsn = (o: DsnOptions) => Buffer.from(dsnReport(o));
const arf = (o: { messageId: string; verp: string; to: string }) => Buffer.from(complaintReport(o));

let gw: TestGateway;
let relay: TestSmtpServer;
let mailingId: number;
let sendId: number;

const ADDRESSES = ['retried', 'together', 'complains', 'noid', 'twice', 'pair-a', 'pair-b'].map((n) => `${n}@retry.example`);

before(async () => {
  relay = await startTestSmtpServer();
  gw = await startTestGateway({ worker: true, env: { SMTP_URL: relay.url } });
  const c = { accountId: (await gw.core.accounts.authenticate(gw.key.secret))!.accountId, requestId: 't' };
  mailingId = await gw.core.mailings.create(c, { dialect: 'test', fromEmail: 'news@example.org', subject: 'Hello', text: 'Hi' });
  await gw.core.recipients.add(
    c,
    mailingId,
    ADDRESSES.map((email) => ({ email, fields: {} })),
  );
  await gw.core.mailings.start(c, mailingId);
  await waitFor('every address sent', () => ADDRESSES.every((a) => relay.to(a).length === 1));
  await waitFor('the mailing finished', async () => (await gw.core.mailings.get(c, mailingId)).status === 'finished');
  const { rows } = await gw.pool.query<{ send_id: number }>('SELECT DISTINCT send_id FROM recipients WHERE mailing_id = $1', [mailingId]);
  sendId = rows[0]!.send_id;
});
after(async () => {
  await gw?.stop();
  await relay?.close();
});

const verpOf = (email: string) => relay.to(email)[0]!.from;
const recipientIdOf = (email: string) => Number(/^bounces\+(\d+)\./.exec(verpOf(email))![1]);

/** Deliver raw bytes to the listener as a remote MTA would, on a connection of its own; the final reply. */
async function deliver(to: string | string[], raw: Buffer): Promise<string> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: gw.bouncePort, secure: false, ignoreTLS: true });
  try {
    return (await t.sendMail({ envelope: { from: '', to }, raw })).response;
  } finally {
    t.close();
  }
}

/** A Mailkit JSON call, as Mailkit's clients make it. */
async function mailkit(fn: string, parameters: Record<string, string>): Promise<unknown> {
  const r = await fetch(`${gw.url}/json.fcgi`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ function: fn, id: String(gw.key.id), md5: gw.key.secret, parameters }),
  });
  assert.equal(r.status, 200);
  return await r.json();
}

/** Everything a report about `email` leaves, as the database and Mailkit's reports show it. */
async function stateOf(email: string) {
  const bounces = await gw.pool.query<{ kind: string; source: string; enhanced_status: string | null }>(
    'SELECT kind, source, enhanced_status FROM bounces WHERE email = $1 ORDER BY id',
    [email],
  );
  const recipient = await gw.pool.query<{ status: string; change_seq: string }>('SELECT status, change_seq::text FROM recipients WHERE email = $1', [email]);
  const suppressions = await gw.pool.query<{ reason: string }>('SELECT reason FROM suppressions WHERE email = $1', [email]);
  const events = await gw.pool.query<{ kind: string }>('SELECT e.kind FROM events e JOIN recipients r ON r.id = e.recipient_id WHERE r.email = $1', [email]);
  const raw = (await mailkit('mailkit.report.raw.bounces', {
    ID_message: String(mailingId),
    ID_send: String(sendId),
    ID_undelivered_log: '1',
    limit: '25000',
  })) as { EMAIL: string; RECIPIENT_STATUS: string; STATUS: string }[];
  return {
    bounces: bounces.rows.map((b) => [b.source, b.kind, b.enhanced_status]),
    rawLog: raw.filter((b) => b.EMAIL === email).map((b) => [b.RECIPIENT_STATUS, b.STATUS]),
    status: recipient.rows[0]!.status,
    changeSeq: recipient.rows[0]!.change_seq,
    suppressions: suppressions.rows.map((s) => s.reason),
    events: events.rows.map((e) => e.kind),
  };
}

/** Mailkit's campaign report of the mailing: the counts a retry must not move. */
async function counts() {
  const [r] = (await mailkit('mailkit.report.campaign', { ID_message: String(mailingId) })) as Record<string, string>[];
  return { bounced: r!.BOUNCE_COUNT, complaints: r!.SPAM_REPORT };
}

/** Backends of this test's database waiting for a lock. */
async function lockWaiters(): Promise<number> {
  const { rows } = await gw.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
  );
  return rows[0]!.n;
}

const FAILED = [['dsn', 'permanent', '5.1.1']];
const ACCEPTED = /^250 /;

describe('bounces: a report delivered again is recorded once', () => {
  it('a DSN retried after its 250 was lost: answered 250, nothing recorded twice', async () => {
    const email = 'retried@retry.example';
    const report = dsn({ messageId: '<20261206101500.A1B2C3@mx.example.net>', verp: verpOf(email), to: [email] });
    const countsBefore = await counts();
    assert.match(await deliver(verpOf(email), report), ACCEPTED);
    const first = await stateOf(email);
    assert.deepEqual(
      { ...first, changeSeq: undefined },
      { bounces: FAILED, rawLog: [['permanent', '5.1.1']], status: 'error', changeSeq: undefined, suppressions: ['hard_bounce'], events: [] },
    );
    const countsAfter = await counts();
    assert.equal(Number(countsAfter.bounced), Number(countsBefore.bounced) + 1);

    assert.match(await deliver(verpOf(email), report), ACCEPTED, 'the retry is accepted: the MTA must stop');
    assert.match(await deliver(verpOf(email), report), ACCEPTED);
    assert.deepEqual(await stateOf(email), first, 'the same state: one row, one raw-log entry, the status changed once');
    assert.deepEqual(await counts(), countsAfter);
  });

  it('copies arriving while the first is still being recorded, on other connections: recorded once, each answered 250', async () => {
    const email = 'together@retry.example';
    const report = dsn({ messageId: '<20261206101600.D4E5F6@mx.example.net>', verp: verpOf(email), to: [email] });
    const countsBefore = await counts();
    const seqBefore = (await stateOf(email)).changeSeq;
    // The recipient's row held: every copy stops inside the listener, in the middle of its recording.
    const holder = new pg.Client({ connectionString: gw.databaseUrl });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM recipients WHERE id = $1 FOR UPDATE', [recipientIdOf(email)]);
      const first = deliver(verpOf(email), report); // its 250 comes too late: the MTA retries meanwhile
      await waitFor('the first copy waits', async () => (await lockWaiters()) === 1);
      const retries = [deliver(verpOf(email), report), deliver(verpOf(email), report)];
      await waitFor('all three copies wait together', async () => (await lockWaiters()) === 3);
      await holder.query('COMMIT');
      for (const reply of await Promise.all([first, ...retries])) assert.match(reply, ACCEPTED);
    } finally {
      await holder.end();
    }
    const after = await stateOf(email);
    assert.deepEqual(after.bounces, FAILED);
    assert.deepEqual(after.rawLog, [['permanent', '5.1.1']]);
    assert.deepEqual([after.status, after.suppressions], ['error', ['hard_bounce']]);
    assert.equal(BigInt(after.changeSeq) > BigInt(seqBefore), true, 'changed by the report');
    const { rows } = await gw.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM recipients WHERE id = $1 AND change_seq = (SELECT max(change_seq) FROM recipients WHERE mailing_id = $2)`,
      [recipientIdOf(email), mailingId],
    );
    assert.equal(rows[0]!.n, 1, 'its change is the last one of the mailing: no copy changed it again');
    assert.equal(Number((await counts()).bounced), Number(countsBefore.bounced) + 1);
  });

  it('a complaint retried: one suppression, one complaint event, one bounce, the spam count once', async () => {
    const email = 'complains@retry.example';
    const report = arf({ messageId: '<1795431600.99.arf@arf.example.net>', verp: verpOf(email), to: email });
    const before = await counts();
    for (let i = 0; i < 3; i++) assert.match(await deliver(verpOf(email), report), ACCEPTED);
    const s = await stateOf(email);
    assert.deepEqual(
      [s.bounces, s.rawLog, s.suppressions, s.events, s.status],
      [[['complaint', 'permanent', null]], [['permanent', '']], ['complaint'], ['complaint'], 'finished'],
    );
    assert.equal(Number((await counts()).complaints), Number(before.complaints) + 1);
  });

  it('a DSN without a Message-ID is identified by its bytes: the same bytes once, other bytes recorded', async () => {
    const email = 'noid@retry.example';
    const delayed = dsn({ messageId: null, verp: verpOf(email), to: [email], action: 'delayed' });
    const failed = dsn({ messageId: null, verp: verpOf(email), to: [email] });
    assert.match(await deliver(verpOf(email), delayed), ACCEPTED);
    assert.match(await deliver(verpOf(email), delayed), ACCEPTED);
    assert.deepEqual((await stateOf(email)).bounces, [['dsn', 'temporary', '4.4.1']]);
    assert.match(await deliver(verpOf(email), failed), ACCEPTED);
    assert.match(await deliver(verpOf(email), failed), ACCEPTED);
    const s = await stateOf(email);
    assert.deepEqual(s.bounces, [['dsn', 'temporary', '4.4.1'], ...FAILED]);
    assert.deepEqual(s.rawLog, [
      ['temporary', '4.4.1'],
      ['permanent', '5.1.1'],
    ]);
    assert.equal(s.status, 'error');
  });

  it('two reports about one recipient (delayed, then failed: two Message-IDs) are both recorded; a late retry of the first is not', async () => {
    const email = 'twice@retry.example';
    const delayed = dsn({ messageId: '<20261206090000.W1@mx.example.net>', verp: verpOf(email), to: [email], action: 'delayed' });
    const failed = dsn({ messageId: '<20261209090000.F1@mx.example.net>', verp: verpOf(email), to: [email] });
    assert.match(await deliver(verpOf(email), delayed), ACCEPTED);
    assert.deepEqual([(await stateOf(email)).bounces, (await stateOf(email)).status], [[['dsn', 'temporary', '4.4.1']], 'finished']);
    assert.match(await deliver(verpOf(email), failed), ACCEPTED);
    const s = await stateOf(email);
    assert.deepEqual(s.bounces, [['dsn', 'temporary', '4.4.1'], ...FAILED]);
    assert.deepEqual([s.status, s.suppressions], ['error', ['hard_bounce']]);
    assert.match(await deliver(verpOf(email), delayed), ACCEPTED);
    assert.deepEqual(await stateOf(email), s);
  });

  it('one report about two of our recipients (two VERP addresses, one transaction): one record each, retried or not', async () => {
    const [a, b] = ['pair-a@retry.example', 'pair-b@retry.example'];
    const report = dsn({ messageId: '<20261206101700.PAIR@mx.example.net>', verp: verpOf(a), to: [a, b] });
    assert.match(await deliver([verpOf(a), verpOf(b)], report), ACCEPTED);
    const [sa, sb] = [await stateOf(a), await stateOf(b)];
    for (const s of [sa, sb]) assert.deepEqual([s.bounces, s.rawLog, s.status], [FAILED, [['permanent', '5.1.1']], 'error']);
    assert.match(await deliver([verpOf(a), verpOf(b)], report), ACCEPTED);
    assert.match(await deliver(verpOf(b), report), ACCEPTED);
    assert.deepEqual([await stateOf(a), await stateOf(b)], [sa, sb]);
  });
});

describe('bounces: what identifies a report (reportKeyOf)', () => {
  const filled = (name: string) =>
    fixture(name, { rcpt: 'someone@recipient.example', verp: 'bounces+1.abc@bounces.mailgate.test', messageId: '<ours.1@bounces.mailgate.test>' });

  it("is the report's own Message-ID, never the quoted original's", () => {
    assert.equal(reportKeyOf(filled('postfix-5.1.1.eml')), '<20261123100005.4Xyz9K1mQz@mx.example.net>');
    assert.equal(reportKeyOf(filled('gmail-5.1.1.eml')), '<6741a8c5.050a0220.1f2a3b.abcdGMR@mx.google.com>');
    assert.equal(reportKeyOf(Buffer.from('Subject: x\r\nMessage-ID:\r\n  (folded, with a comment) <a.b@c.example>\r\n\r\nbody\r\n')), '<a.b@c.example>');
  });

  it('is a digest of the bytes without one (qmail writes none; the quoted original has one): equal bytes, equal key', () => {
    const qmail = filled('qmail.eml');
    assert.match(reportKeyOf(qmail), /^sha256:[0-9a-f]{64}$/);
    assert.equal(reportKeyOf(Buffer.from(qmail)), reportKeyOf(qmail));
    assert.notEqual(reportKeyOf(Buffer.concat([qmail, Buffer.from('\r\n')])), reportKeyOf(qmail));
    for (const unusable of ['Message-ID: no-brackets@x.example', 'Message-ID: <has space@x.example>', `Message-ID: <${'a'.repeat(1000)}@x.example>`]) {
      assert.match(reportKeyOf(Buffer.from(`${unusable}\r\n\r\nbody\r\n`)), /^sha256:/, unusable);
    }
  });
});

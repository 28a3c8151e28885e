/**
 * The report parser on the formats real MTAs write (fixtures in test/bounces/fixtures, written from RFC 3464,
 * RFC 5965 and public samples of each MTA's output), and on what is not a report.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseInboundReport, parseFieldBlocks, replyCodeOf } from '../../src/bounces/report.js';
import { classify, normalizeEnhanced } from '../../src/core/bounces/classify.js';
import { fixture } from './fixtures.js';

const RCPT = 'someone@recipient.example';
const parse = (name: string) =>
  parseInboundReport(fixture(name, { rcpt: RCPT, verp: 'bounces+abc@bounces.mailgate.test', messageId: '<r7.m3@bounces.mailgate.test>' }));

async function dsn(name: string) {
  const r = await parse(name);
  assert.equal(r.kind, 'dsn', `${name} is read as a DSN`);
  if (r.kind !== 'dsn') throw new Error('unreachable');
  return r;
}

const verdict = (e: { replyCode: number | null; status: string | null; action: Parameters<typeof classify>[0]['action'] }) =>
  classify({ replyCode: e.replyCode, enhanced: normalizeEnhanced(e.status), action: e.action });

describe('inbound reports: delivery status notifications', () => {
  it('Postfix: 5.1.1 with a folded diagnostic, remote MTA, the original headers quoted', async () => {
    const r = await dsn('postfix-5.1.1.eml');
    assert.equal(r.standard, 'rfc3464');
    assert.equal(r.reportingMta, 'dns; mx.example.net');
    assert.equal(r.arrivalDate, 'Mon, 23 Nov 2026 10:00:03 +0000 (UTC)');
    assert.equal(r.originalMessageId, '<r7.m3@bounces.mailgate.test>');
    assert.equal(r.recipients.length, 1);
    const [e] = r.recipients;
    assert.deepEqual(
      { ...e },
      {
        finalRecipient: RCPT,
        originalRecipient: RCPT,
        action: 'failed',
        status: '5.1.1',
        diagnosticCode: `smtp; 550 5.1.1 <${RCPT}>: Recipient address rejected: User unknown in virtual mailbox table`,
        replyCode: 550,
        remoteMta: 'dns; mx.recipient.example',
        lastAttemptDate: null,
      },
    );
    assert.deepEqual(verdict(e!), { outcome: 'permanent', suppress: true, category: 'address' });
  });

  it('Postfix delay warning: Action delayed, 4.4.1, an X-Postfix diagnostic without a reply code', async () => {
    const [e] = (await dsn('postfix-delayed.eml')).recipients;
    assert.equal(e!.action, 'delayed');
    assert.equal(e!.status, '4.4.1');
    assert.equal(e!.replyCode, null);
    assert.match(e!.diagnosticCode!, /^X-Postfix; connect to .*Connection timed out$/);
    assert.equal(verdict(e!).outcome, 'temporary');
  });

  it('Exim: the generic Status 5.0.0 gives way to the precise 5.1.1 its diagnostic quotes; original in message/rfc822', async () => {
    const r = await dsn('exim-5.0.0.eml');
    assert.equal(r.originalMessageId, '<r7.m3@bounces.mailgate.test>');
    const [e] = r.recipients;
    assert.deepEqual([e!.finalRecipient, e!.action, e!.status, e!.replyCode, e!.remoteMta], [RCPT, 'failed', '5.1.1', 550, 'dns; mx.recipient.example']);
    assert.equal(verdict(e!).suppress, true);
  });

  it('Gmail: a multi-line 550-5.1.1 diagnostic, nested multiparts before the report, Last-Attempt-Date', async () => {
    const r = await dsn('gmail-5.1.1.eml');
    assert.equal(r.reportingMta, 'dns; googlemail.com');
    assert.equal(r.originalMessageId, '<r7.m3@bounces.mailgate.test>');
    const [e] = r.recipients;
    assert.equal(e!.status, '5.1.1');
    assert.equal(e!.replyCode, 550);
    assert.match(e!.diagnosticCode!, /^smtp; 550-5\.1\.1 The email account .* 550 5\.1\.1 {2}https:\/\/support\.google\.com\/mail\/\?p=NoSuchUser .* - gsmtp$/);
    assert.match(e!.remoteMta!, /^dns; gmail-smtp-in\.l\.google\.com\. \(2a00:1450:400c:c0b::1b, the server for the domain gmail\.com\.\)$/);
    assert.equal(e!.lastAttemptDate, 'Mon, 23 Nov 2026 02:00:05 -0800 (PST)');
  });

  it('Gmail over quota: 552 5.2.2 is failed in the report but counted temporary (the documented exception)', async () => {
    const [e] = (await dsn('gmail-over-quota.eml')).recipients;
    assert.deepEqual([e!.action, e!.status, e!.replyCode], ['failed', '5.2.2', 552]);
    assert.deepEqual(verdict(e!), { outcome: 'temporary', suppress: false, category: 'mailbox' });
  });

  it('Microsoft (Exchange Online): 5.1.10 recipient not found, no Remote-MTA', async () => {
    const r = await dsn('microsoft-5.1.10.eml');
    assert.equal(r.reportingMta, 'dns;AM0PR01MB1234.eurprd01.prod.exchangelabs.com');
    assert.equal(r.originalMessageId, '<r7.m3@bounces.mailgate.test>');
    const [e] = r.recipients;
    assert.deepEqual([e!.finalRecipient, e!.status, e!.replyCode, e!.remoteMta], [RCPT, '5.1.10', 550, null]);
    assert.equal(verdict(e!).suppress, true);
  });

  it('qmail (plain text from MAILER-DAEMON): the recipient and its codes read by their syntax', async () => {
    const r = await dsn('qmail.eml');
    assert.equal(r.standard, 'text');
    const [e] = r.recipients;
    assert.deepEqual([e!.finalRecipient, e!.status, e!.replyCode, e!.action], [RCPT, '5.1.1', 550, null]);
    assert.equal(e!.diagnosticCode, `550 5.1.1 <${RCPT}>... User unknown`);
    assert.deepEqual(verdict(e!), { outcome: 'permanent', suppress: true, category: 'address' });
  });

  it('old Exim plain text: the host named becomes the remote MTA', async () => {
    const [e] = (await dsn('exim-plain.eml')).recipients;
    assert.deepEqual([e!.finalRecipient, e!.status, e!.replyCode, e!.remoteMta], [RCPT, '5.1.1', 550, 'dns; mx.other.example']);
  });

  it('Yahoo plain text: a bare 554 — permanent for the message, no suppression without an enhanced code', async () => {
    const [e] = (await dsn('yahoo-plain.eml')).recipients;
    assert.deepEqual([e!.finalRecipient, e!.status, e!.replyCode], [RCPT, null, 554]);
    assert.deepEqual(verdict(e!), { outcome: 'permanent', suppress: false, category: 'other' });
  });

  it('a report listing several recipients keeps each block', async () => {
    const raw = Buffer.from(
      [
        'From: MAILER-DAEMON@mx.example.net',
        'Content-Type: multipart/report; report-type=delivery-status; boundary=x',
        '',
        '--x',
        'Content-Type: message/delivery-status',
        '',
        'Reporting-MTA: dns; mx.example.net',
        '',
        'Final-Recipient: rfc822; a@example.org',
        'Action: delivered',
        'Status: 2.0.0',
        '',
        'Final-Recipient: rfc822; b@example.org',
        'Action: failed',
        'Status: 5.7.1',
        'Diagnostic-Code: smtp; 554 5.7.1 rejected by policy',
        '--x--',
        '',
      ].join('\r\n'),
    );
    const r = await parseInboundReport(raw);
    assert.equal(r.kind, 'dsn');
    if (r.kind !== 'dsn') return;
    assert.deepEqual(
      r.recipients.map((e) => [e.finalRecipient, e.action, e.status, e.replyCode]),
      [
        ['a@example.org', 'delivered', '2.0.0', null],
        ['b@example.org', 'failed', '5.7.1', 554],
      ],
    );
    assert.deepEqual(verdict(r.recipients[1]!), { outcome: 'permanent', suppress: false, category: 'policy' });
  });
});

describe('inbound reports: feedback reports (complaints)', () => {
  it('Yahoo ARF: feedback type, user agent, original recipient and message id', async () => {
    const r = await parse('yahoo-arf.eml');
    assert.deepEqual(r, {
      kind: 'arf',
      feedbackType: 'abuse',
      userAgent: 'Yahoo!-Mail-Feedback/2.0',
      originalMailFrom: 'bounces+abc@bounces.mailgate.test',
      originalRcptTo: RCPT,
      sourceIp: '192.0.2.10',
      arrivalDate: 'Mon, 23 Nov 2026 10:00:05 +0000',
      reportedDomain: 'example.org',
      originalMessageId: '<r7.m3@bounces.mailgate.test>',
    });
  });

  it('the RFC 5965 example (original headers as text/rfc822-headers)', async () => {
    const r = await parse('rfc5965-arf.eml');
    assert.equal(r.kind, 'arf');
    if (r.kind !== 'arf') return;
    assert.deepEqual(
      [r.feedbackType, r.userAgent, r.sourceIp, r.reportedDomain, r.originalMessageId],
      ['abuse', 'SomeGenerator/1.0', '192.0.2.1', 'example.net', '<r7.m3@bounces.mailgate.test>'],
    );
  });
});

describe('inbound reports: what is not a report', () => {
  it('an auto-reply that quotes codes is not a bounce (only mailer daemons write plain-text bounces)', async () => {
    assert.deepEqual(await parse('vacation.eml'), { kind: 'other', subject: 'Out of office: Hello', autoSubmitted: 'auto-replied' });
  });

  it('garbage never throws', async () => {
    for (const raw of [
      Buffer.alloc(0),
      Buffer.from('\x00\xff\xfe'),
      Buffer.from('Content-Type: multipart/report; boundary=\r\n\r\n--\r\n'),
      Buffer.from('From: MAILER-DAEMON@x\r\n\r\nno codes here'),
    ]) {
      const r = await parseInboundReport(raw);
      assert.equal(r.kind, 'other');
    }
  });

  it('field blocks: folded lines joined, names case-insensitive, the first of a repeated field kept', () => {
    assert.deepEqual(
      parseFieldBlocks('A: 1\r\n  more\r\nb: x\r\nB: y\r\n\r\nC:3\r\n').map((m) => [...m]),
      [
        [
          ['a', '1 more'],
          ['b', 'x'],
        ],
        [['c', '3']],
      ],
    );
    assert.equal(replyCodeOf('smtp; 421-4.7.0 try later'), 421);
    assert.equal(replyCodeOf('X-Postfix; host 10.0.0.550 said nothing'), null);
  });
});

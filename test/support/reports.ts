/**
 * The reports a receiving MTA mails back to a VERP return path, as the tests and the bench send them: a DSN
 * (RFC 3464, laid out as Postfix writes one) and a complaint (RFC 5965 ARF, as feedback loops send one).
 */

export interface DsnOptions {
  /** The return path the report is mailed to. */
  verp: string;
  /** The recipients it reports on, one per-recipient block each. */
  to: string | string[];
  action?: 'failed' | 'delayed';
  /** Enhanced status and diagnostic; by default a user unknown (failed) or a timeout (delayed). */
  status?: string;
  diagnostic?: string;
  /** The report's own Message-ID (a retried report keeps it); none by default. */
  messageId?: string | null;
  /** Quote the original message's headers (text/rfc822-headers), as Postfix does; true by default. */
  quoteHeaders?: boolean;
}

export function dsnReport(o: DsnOptions): string {
  const action = o.action ?? 'failed';
  const status = o.status ?? (action === 'failed' ? '5.1.1' : '4.4.1');
  const diagnostic = o.diagnostic ?? (action === 'failed' ? '550 5.1.1 user unknown' : '421 4.4.1 connection timed out');
  const to = typeof o.to === 'string' ? [o.to] : o.to;
  return [
    'From: MAILER-DAEMON@mx.example.net (Mail Delivery System)',
    `To: ${o.verp}`,
    'Subject: Undelivered Mail Returned to Sender',
    ...(o.messageId ? [`Message-Id: ${o.messageId}`] : []),
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"',
    '',
    '--B1',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    action === 'failed' ? 'Your message could not be delivered.' : 'Your message has not been delivered yet; I keep trying.',
    '',
    '--B1',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.net',
    'Arrival-Date: Mon, 23 Nov 2026 10:00:00 +0000',
    '',
    ...to.flatMap((rcpt) => [
      `Final-Recipient: rfc822; ${rcpt}`,
      `Original-Recipient: rfc822; ${rcpt}`,
      `Action: ${action}`,
      `Status: ${status}`,
      'Remote-MTA: dns; mx2.example.net',
      `Diagnostic-Code: smtp; ${diagnostic}`,
      '',
    ]),
    ...(o.quoteHeaders === false ? [] : ['--B1', 'Content-Type: text/rfc822-headers', '', 'From: news@example.org', `To: ${to[0]}`, 'Subject: Hello', '']),
    '--B1--',
    '',
  ].join('\r\n');
}

/** A complaint about the message sent to `to`, with the original message attached. */
export function complaintReport(o: { verp: string; to: string; messageId?: string }): string {
  return [
    'From: feedback@fbl.example.net',
    `To: ${o.verp}`,
    'Subject: Abuse report',
    ...(o.messageId ? [`Message-ID: ${o.messageId}`] : []),
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report; boundary="F1"',
    '',
    '--F1',
    'Content-Type: text/plain',
    '',
    'This is an email abuse report.',
    '--F1',
    'Content-Type: message/feedback-report',
    '',
    'Feedback-Type: abuse',
    'User-Agent: ExampleFBL/1.0',
    'Version: 1',
    `Original-Rcpt-To: ${o.to}`,
    '',
    '--F1',
    'Content-Type: message/rfc822',
    '',
    'From: news@example.org',
    'To: redacted@example.net',
    'Subject: Hello',
    '',
    'Hello',
    '--F1--',
    '',
  ].join('\r\n');
}

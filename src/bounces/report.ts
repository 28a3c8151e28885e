/**
 * What came back to a VERP address, read as a report: a delivery status notification (RFC 3464, and its
 * UTF-8 form RFC 6533), a feedback report (RFC 5965: a complaint), the plain-text bounces some MTAs still write
 * (qmail, old Exim), or something else (an auto-reply, spam).
 *
 * mailparser reads the message (headers, sender, the decoded text of non-standard bounces). The report parts
 * are taken from mailsplit's tree (the splitter mailparser is built on), because mailparser folds a
 * `message/delivery-status` part into the message's text and loses where one recipient's block ends.
 *
 * Nothing here decides what a bounce means (core/bounces/classify does, by code) and nothing throws: a
 * message that cannot be read is `other`.
 */
import { createHash } from 'node:crypto';
import { simpleParser, type AddressObject } from 'mailparser';
import type { ReportEntry } from '../core/bounces/service.js';
import type { DsnAction } from '../core/bounces/classify.js';
import { charsetDecode, decodeBody, splitMessage, type SplitNode } from '../mime/template.js';

/** One recipient's block of a DSN. */
export interface ReportRecipient extends ReportEntry {
  lastAttemptDate: string | null;
}

export interface DeliveryReport {
  kind: 'dsn';
  /** 'rfc3464' for a multipart/report; 'text' for a plain-text bounce read by the syntax of its codes. */
  standard: 'rfc3464' | 'text';
  reportingMta: string | null;
  arrivalDate: string | null;
  originalEnvelopeId: string | null;
  /** The Message-ID of the message that bounced, when the report quotes its headers. */
  originalMessageId: string | null;
  recipients: ReportRecipient[];
}

export interface FeedbackReport {
  kind: 'arf';
  feedbackType: string;
  userAgent: string | null;
  originalMailFrom: string | null;
  originalRcptTo: string | null;
  sourceIp: string | null;
  arrivalDate: string | null;
  reportedDomain: string | null;
  originalMessageId: string | null;
}

export interface OtherMessage {
  kind: 'other';
  subject: string | null;
  /** RFC 3834's Auto-Submitted (auto-replied for vacation messages), when present. */
  autoSubmitted: string | null;
}

export type InboundReport = DeliveryReport | FeedbackReport | OtherMessage;

const ACTIONS: ReadonlySet<string> = new Set(['failed', 'delayed', 'delivered', 'relayed', 'expanded']);
/** Senders that write bounces: only their plain-text messages are read as non-standard bounces. */
const DAEMON = /^(mailer-daemon|mailerdaemon|mail-daemon|postmaster)$/i;
const ENHANCED = /(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])/;
const REPLY = /(?<![\d.\w])([245]\d\d)(?=[\s-]|$)/m;

/**
 * The blocks of a report body (RFC 3464 §2.1: a per-message block, then one per recipient), each a map of
 * lower-cased field name to its unfolded value (the first occurrence wins).
 */
export function parseFieldBlocks(text: string): Map<string, string>[] {
  const blocks: Map<string, string>[] = [];
  let current: Map<string, string> | null = null;
  let last: string | null = null;
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) {
      current = null;
      last = null;
      continue;
    }
    if (/^[ \t]/.test(line) && current && last) {
      current.set(last, `${current.get(last)!} ${line.trim()}`);
      continue;
    }
    const m = /^([!-9;-~]+)[ \t]*:[ \t]*(.*)$/.exec(line);
    if (!m) continue;
    if (!current) blocks.push((current = new Map<string, string>()));
    last = m[1]!.toLowerCase();
    if (!current.has(last)) current.set(last, m[2]!.trim());
    else last = null; // a repeated field's continuation lines belong to the ignored repeat
  }
  return blocks;
}

/** `rfc822; a@b.c` -> `a@b.c` (the address of a typed field), else the value itself. */
function typedValue(v: string | undefined): string | null {
  if (!v) return null;
  const i = v.indexOf(';');
  const value = (i >= 0 ? v.slice(i + 1) : v).trim().replace(/^<(.*)>$/, '$1');
  return value || null;
}

/** The basic reply code a diagnostic quotes (`smtp; 550-5.1.1 ...`, `X-Postfix; ... said: 550 ...`). */
export function replyCodeOf(text: string | null): number | null {
  if (!text) return null;
  const m = REPLY.exec(text.replace(/^[\w-]+\s*;/, ' '));
  return m ? Number(m[1]) : null;
}

export function enhancedCodeOf(text: string | null): string | null {
  const m = ENHANCED.exec(text ?? '');
  return m ? `${m[1]}.${m[2]}.${m[3]}` : null;
}

function recipientOf(f: Map<string, string>): ReportRecipient {
  const diagnosticCode = f.get('diagnostic-code')?.trim() || null;
  const action = (f.get('action') ?? '').trim().toLowerCase().split(/[\s(]/)[0]!;
  // Exim writes the generic `Status: 5.0.0` and quotes the remote's precise code in the diagnostic: the
  // precise one of the same class is the better reading (it is what decides a suppression).
  const stated = enhancedCodeOf(f.get('status') ?? null);
  const quoted = enhancedCodeOf(diagnosticCode);
  const status = stated && quoted && /^\d\.0\.0$/.test(stated) && quoted[0] === stated[0] ? quoted : (stated ?? quoted);
  return {
    finalRecipient: typedValue(f.get('final-recipient')),
    originalRecipient: typedValue(f.get('original-recipient')),
    action: ACTIONS.has(action) ? (action as DsnAction) : null,
    status,
    diagnosticCode,
    replyCode: replyCodeOf(diagnosticCode),
    remoteMta: f.get('remote-mta')?.trim() || null,
    lastAttemptDate: f.get('last-attempt-date')?.trim() || null,
  };
}

function messageIdIn(headerText: string): string | null {
  const blocks = parseFieldBlocks(headerText.split(/\r?\n\r?\n/)[0] ?? '');
  const id = blocks[0]?.get('message-id');
  return id ? (/<[^>]*>/.exec(id)?.[0] ?? id) : null;
}

interface Part {
  node: SplitNode;
  body: Buffer;
}

/** Every leaf of the message, and the header block of each embedded message (message/rfc822). */
async function partsOf(raw: Buffer): Promise<{ leaves: Part[]; embeddedHeaders: string[] }> {
  const items = await splitMessage(raw);
  const leaves: Part[] = [];
  const embeddedHeaders: string[] = [];
  let node: SplitNode | null = null;
  let previous: SplitNode | null = null;
  for (const item of items) {
    if (item.type === 'node') {
      // A node right after a message/rfc822 node is the embedded message itself.
      if (previous?.contentType === 'message/rfc822' && !item.node!.root) embeddedHeaders.push(item.node!.getHeaders().toString('latin1'));
      previous = node = item.node!;
    } else if (item.type === 'body' && node && !node.multipart) {
      leaves.push({ node, body: item.value! });
      previous = null;
    }
  }
  return { leaves, embeddedHeaders };
}

async function textOf(p: Part): Promise<string> {
  return charsetDecode(await decodeBody(p.node, p.body), p.node.charset || (p.node.contentType === 'message/global-delivery-status' ? 'utf-8' : false));
}

function firstAddress(a: AddressObject | AddressObject[] | undefined): string | null {
  const list = Array.isArray(a) ? a : a ? [a] : [];
  return list.flatMap((x) => x.value)[0]?.address ?? null;
}

/** A plain-text bounce from a mailer daemon (qmail, old Exim): one recipient, its codes found by their syntax. */
function plainTextBounce(text: string): DeliveryReport | null {
  const enhanced = enhancedCodeOf(text);
  // The reply code that opens the line of the remote server's answer, or the one right before the enhanced code.
  const near = enhanced ? new RegExp(`([245]\\d\\d)[ -]${enhanced.replace(/\./g, '\\.')}`).exec(text) : null;
  const replyCode = near
    ? Number(near[1])
    : (() => {
        const m = /^(?:[ \t]*|.*?(?:said|error)[^\n\d]{0,40}?)([45]\d\d)(?=[\s:-])/im.exec(text);
        return m ? Number(m[1]) : null;
      })();
  if (!enhanced && replyCode === null) return null;
  const line = text.split(/\r?\n/).find((l) => (enhanced && l.includes(enhanced)) || (replyCode !== null && l.includes(String(replyCode))));
  const host = /\bhost\s+([A-Za-z0-9.-]+\.[A-Za-z]{2,})\s*\[/.exec(text);
  return {
    kind: 'dsn',
    standard: 'text',
    reportingMta: null,
    arrivalDate: null,
    originalEnvelopeId: null,
    originalMessageId: null,
    recipients: [
      {
        finalRecipient: /<([^<>\s@]+@[^<>\s]+)>:/.exec(text)?.[1] ?? /^\s+([^\s@]+@[^\s@]+\.[A-Za-z]{2,})\s*$/m.exec(text)?.[1] ?? null,
        originalRecipient: null,
        action: null,
        status: enhanced,
        diagnosticCode: line ? line.trim().replace(/^remote host said:\s*/i, '') : null,
        replyCode,
        remoteMta: host ? `dns; ${host[1]}` : null,
        lastAttemptDate: null,
      },
    ],
  };
}

/** A msg-id as RFC 5322 writes it: no space or control character inside the angle brackets. */
const MSG_ID = /<[^<>\s\p{Cc}]+>/u;
/** The longest Message-ID taken as a key (RFC 5322's line limit); a longer one is no identity a retry needs. */
const MAX_MSG_ID_OCTETS = 998;

/**
 * What identifies a report across its deliveries, which a retry keeps identical: the report's own Message-ID
 * (the top-level header, written by the reporting MTA once, when it made the report) as `<...>`, else
 * `sha256:<hex>` of the message bytes. The two forms never collide (a key of the first starts with `<`). Not
 * the quoted original's Message-ID: two reports about one message (delayed, then failed) differ in their own.
 */
export function reportKeyOf(raw: Buffer): string {
  const ends = [raw.indexOf('\r\n\r\n'), raw.indexOf('\n\n')].filter((i) => i >= 0);
  const header = raw.subarray(0, ends.length ? Math.min(...ends) : raw.length).toString('utf8');
  const field = parseFieldBlocks(header)
    .find((b) => b.has('message-id'))
    ?.get('message-id');
  const id = MSG_ID.exec(field ?? '')?.[0];
  if (id && Buffer.byteLength(id) <= MAX_MSG_ID_OCTETS) return id;
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`;
}

/** Read an inbound message as a report. Never throws. */
export async function parseInboundReport(raw: Buffer): Promise<InboundReport> {
  try {
    const mail = await simpleParser(raw, { skipHtmlToText: true, skipTextLinks: true, skipImageLinks: true });
    const subject = mail.subject ?? null;
    const autoSubmitted = (mail.headers.get('auto-submitted') as string | undefined) ?? null;
    const { leaves, embeddedHeaders } = await partsOf(raw);
    // The original's headers: quoted alone, or as the head of the returned message (which mailsplit parses
    // as a nested message when it is inline, and leaves as one body otherwise).
    const quoted = leaves.find((p) => ['text/rfc822-headers', 'message/global-headers', 'message/rfc822', 'message/global'].includes(p.node.contentType || ''));
    const originalHeaders = embeddedHeaders[0] ?? (quoted ? await textOf(quoted) : undefined);
    const originalMessageId = originalHeaders ? messageIdIn(originalHeaders) : null;

    const feedback = leaves.find((p) => p.node.contentType === 'message/feedback-report');
    if (feedback) {
      const f = parseFieldBlocks(await textOf(feedback))[0] ?? new Map<string, string>();
      return {
        kind: 'arf',
        feedbackType: (f.get('feedback-type') ?? 'other').toLowerCase(),
        userAgent: f.get('user-agent') ?? null,
        originalMailFrom: typedValue(f.get('original-mail-from')),
        originalRcptTo: typedValue(f.get('original-rcpt-to')),
        sourceIp: f.get('source-ip') ?? null,
        arrivalDate: f.get('arrival-date') ?? f.get('received-date') ?? null,
        reportedDomain: f.get('reported-domain') ?? null,
        originalMessageId,
      };
    }

    const status = leaves.find((p) => p.node.contentType === 'message/delivery-status' || p.node.contentType === 'message/global-delivery-status');
    if (status) {
      const [perMessage, ...perRecipient] = parseFieldBlocks(await textOf(status));
      // A block with no recipient field is not a recipient's (some MTAs put a blank line inside the first block).
      const recipients = perRecipient.filter((b) => b.has('final-recipient') || b.has('original-recipient') || b.has('action')).map(recipientOf);
      if (perMessage && (perMessage.has('final-recipient') || perMessage.has('action'))) recipients.unshift(recipientOf(perMessage));
      return {
        kind: 'dsn',
        standard: 'rfc3464',
        reportingMta: perMessage?.get('reporting-mta') ?? null,
        arrivalDate: perMessage?.get('arrival-date') ?? null,
        originalEnvelopeId: perMessage?.get('original-envelope-id') ?? null,
        originalMessageId,
        recipients,
      };
    }

    const from = firstAddress(mail.from);
    if (from && DAEMON.test(from.split('@')[0]!) && mail.text) {
      const report = plainTextBounce(mail.text);
      if (report) return { ...report, originalMessageId };
    }
    return { kind: 'other', subject, autoSubmitted };
  } catch {
    return { kind: 'other', subject: null, autoSubmitted: null };
  }
}

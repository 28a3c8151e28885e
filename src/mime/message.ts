/**
 * Whole messages as stored for a mailing (header block + body, CRLF line ends), and the edits the
 * mailing's properties make to them. Every mailing keeps its message this way, as the original CloudMailing
 * server did: create_mailing composes one once; create_mailing_ext stores the client's; set_mailing_properties
 * edits it in place (Subject, From, the text and html bodies, or the whole header block or body).
 *
 * The core reaches these through the MessageCodec interface it is given (it never imports nodemailer).
 */
import { Headers } from '@zone-eu/mailsplit';
import MailComposer from 'nodemailer/lib/mail-composer';
import MimeNode from 'nodemailer/lib/mime-node';
import libmime from 'libmime';
import libqp from 'libqp';
import type { ComposeInput, MessageCodec, MessageSummary } from '../core/mailings/message.js';
import { headerLine, isTextLeaf, normalizeLineEnds, splitMessage } from './template.js';

const CRLF = '\r\n';
const BLANK_LINE = Buffer.from('\r\n\r\n');

export interface RecipientAttachment {
  filename?: string | undefined;
  contentType: string;
  charset?: string | undefined;
  /** base64 */
  data: string;
}

/** Header block (up to and including the blank line) and body of a stored message. */
export function splitHeaderBody(raw: Buffer): { header: Buffer; body: Buffer } {
  const at = raw.indexOf(BLANK_LINE);
  if (at < 0) return { header: Buffer.concat([raw, raw.subarray(-2).equals(Buffer.from(CRLF)) ? Buffer.from(CRLF) : BLANK_LINE]), body: Buffer.alloc(0) };
  return { header: raw.subarray(0, at + 4), body: raw.subarray(at + 4) };
}

export async function composeMessage(m: ComposeInput): Promise<Buffer> {
  const composer = new MailComposer({
    from: m.fromName ? { name: m.fromName, address: m.fromEmail } : m.fromEmail,
    subject: m.subject,
    ...(m.text !== null ? { text: m.text } : {}),
    ...(m.html ? { html: m.html } : {}),
    // Placeholders such as {{ email }} must survive: no file or URL is ever read, no X-Mailer.
    disableFileAccess: true,
    disableUrlAccess: true,
    xMailer: false,
  });
  return normalizeLineEnds(await composer.compile().build());
}

export async function summarizeMessage(raw: Buffer): Promise<MessageSummary> {
  // Imported here: mailparser takes a fifth of a second to load, which commands that never read a whole
  // message (`mailgate keys list`) should not pay.
  const { simpleParser } = await import('mailparser');
  const parsed = await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
  const from = parsed.from?.value[0];
  return {
    fromEmail: from?.address || null,
    fromName: from?.name || null,
    subject: parsed.subject ?? '',
    html: typeof parsed.html === 'string' ? parsed.html : null,
    text: parsed.text ?? null,
  };
}

/** Set (or add) one root header, replacing every existing line of that name; null removes them. */
export function setRootHeader(raw: Buffer, name: string, value: string | null): Buffer {
  const { header, body } = splitHeaderBody(raw);
  const headers = new Headers(header);
  if (value === null) headers.remove(name);
  else {
    const line = headerLine(name, value);
    headers.update(name, line.slice(line.indexOf(':') + 1).trimStart());
  }
  return Buffer.concat([headers.build(CRLF), body]);
}

/** `"Display Name" <address>`, the name quoted or MIME-encoded as it needs; the bare address without a name. */
export function formatAddress(address: string, name?: string | null): string {
  if (!name) return address;
  const clean = name.replace(/[\r\n]+/g, ' ');
  const display = libmime.isPlainText(clean) ? `"${clean.replace(/(["\\])/g, '\\$1')}"` : libmime.encodeWord(clean, 'Q', 52);
  return `${display} <${address}>`;
}

/** A header's value folded as it would be on its line (`name: value`), without the name. */
export function foldedValue(name: string, value: string): string {
  return libmime.foldLines(`${name}: ${value.replace(/[\r\n]+/g, ' ')}`, 76).slice(name.length + 2);
}

/** From: `"Display Name" <address>`, the name quoted or MIME-encoded as it needs. */
export function setFrom(raw: Buffer, name: string | null, address: string): Buffer {
  const { header, body } = splitHeaderBody(raw);
  const headers = new Headers(header);
  const value = formatAddress(address, name);
  headers.update('From', libmime.foldLines(`From: ${value}`, 76).slice(6));
  return Buffer.concat([headers.build(CRLF), body]);
}

/** The `header` property: a whole header block replacing the message's own (as the original server did). */
export function replaceHeaderBlock(raw: Buffer, header: string | Buffer): Buffer {
  const text = normalizeLineEnds(Buffer.isBuffer(header) ? header : Buffer.from(header, 'utf8'))
    .toString('latin1')
    .replace(/(\r\n)*$/, '');
  return Buffer.concat([Buffer.from(text + CRLF + CRLF, 'latin1'), splitHeaderBody(raw).body]);
}

/** The `body` property: a new body under the message's own headers. */
export function replaceBody(raw: Buffer, body: string | Buffer): Buffer {
  return Buffer.concat([splitHeaderBody(raw).header, normalizeLineEnds(Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'))]);
}

/**
 * New text for the message's text/plain and/or text/html bodies (not attachments), as UTF-8 in the part's
 * own transfer encoding (quoted-printable for 7bit ones). A kind of body the message does not have is not
 * added, as in the original server.
 */
export async function replaceTextBodies(raw: Buffer, content: { html?: string | null | undefined; text?: string | null | undefined }): Promise<Buffer> {
  const items = await splitMessage(raw);
  const out: Buffer[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (item.type !== 'node') {
      out.push(item.value!);
      continue;
    }
    const node = item.node!;
    const next = items[i + 1];
    const replacement = isTextLeaf(node) ? (node.contentType === 'text/html' ? content.html : content.text) : undefined;
    if (replacement === undefined || replacement === null || next?.type !== 'body' || !node.headers) {
      out.push(node.getHeaders());
      continue;
    }
    const encoding = node.encoding === 'base64' ? 'base64' : 'quoted-printable';
    node.setCharset('utf-8');
    node.headers.update('Content-Transfer-Encoding', encoding);
    out.push(node.getHeaders());
    const bytes = Buffer.from(replacement, 'utf8');
    out.push(Buffer.from(encoding === 'base64' ? bytes.toString('base64').replace(/.{76}(?=.)/g, `$&${CRLF}`) : libqp.wrap(libqp.encode(bytes), 76), 'ascii'));
    i++;
  }
  return Buffer.concat(out);
}

const ADDRESS_HEADERS = new Set(['from', 'to', 'cc', 'bcc', 'reply-to', 'sender']);

/**
 * A rendered message with a recipient's own attachments: the message becomes the first part of a
 * multipart/mixed whose headers are the message's own (its Content-* headers move into the first part).
 */
export async function withAttachments(message: Buffer, attachments: readonly RecipientAttachment[]): Promise<Buffer> {
  if (!attachments.length) return message;
  const { header, body } = splitHeaderBody(message);
  const headers = new Headers(header);
  const content: string[] = [];
  const root = new MimeNode('multipart/mixed', { keepBcc: true });
  for (const { key, line } of headers.getList()) {
    if (key === 'mime-version') continue;
    if (key === 'content-type' || key === 'content-transfer-encoding') content.push(line.replace(/\r?\n?$/, CRLF));
    else {
      const name = line.slice(0, line.indexOf(':')).trim();
      const value = line
        .slice(line.indexOf(':') + 1)
        .replace(/\r?\n[ \t]+/g, ' ')
        .trim();
      // Address headers MimeNode parses itself (it drops prepared ones); others are already encoded and
      // folded: `prepared` keeps MimeNode from encoding them a second time.
      if (ADDRESS_HEADERS.has(key)) root.setHeader(name, libmime.decodeWords(value));
      // MimeNode formats Date itself (a prepared object would print as "[object Object]").
      else if (key === 'date') root.setHeader(name, value);
      else root.setHeader(name, { prepared: true, value });
    }
  }
  if (!content.length) content.push(`Content-Type: text/plain; charset=us-ascii${CRLF}`);
  root.createChild('text/plain').setRaw(Buffer.concat([Buffer.from(content.join('') + CRLF, 'latin1'), body]));
  for (const a of attachments) {
    const child = root.createChild(a.charset ? `${a.contentType}; charset=${a.charset}` : a.contentType, a.filename ? { filename: a.filename } : {});
    child.setContent(Buffer.from(a.data, 'base64'));
  }
  return normalizeLineEnds(await root.build());
}

/** The MIME implementation the core is given (src/core/mailings/message.ts). */
export const mimeCodec: MessageCodec = {
  compose: composeMessage,
  normalize: normalizeLineEnds,
  summarize: summarizeMessage,
  setHeader: setRootHeader,
  setFrom,
  replaceHeaderBlock,
  replaceBody,
  replaceTextBodies,
};

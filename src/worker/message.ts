/**
 * Building one recipient's message: templates compiled once per mailing (per job), rendered per recipient,
 * composed to bytes before any SMTP conversation so a message that cannot be built fails alone
 * (`general_error`) and never reaches the relay half made.
 *
 * Every message carries a stable Message-ID derived from the recipient (`<r{id}.m{mailing}@BOUNCE_DOMAIN>`:
 * a resend after a crash is recognisable as a duplicate), X-Mailgate-Mailing, List-Unsubscribe (https and
 * mailto) with List-Unsubscribe-Post (RFC 8058), and the VERP return path `bounces+<token>@BOUNCE_DOMAIN`.
 *
 * A whole stored message (create_mailing_ext) is sent with its own content and headers, but To, Message-ID,
 * X-Mailgate-Mailing and List-Unsubscribe(-Post) are replaced by the recipient's (withRecipientHeaders).
 *
 * Known limit: text and html parts are always encoded as UTF-8 (the variant's `charset` is not applied);
 * every Unicode text survives, but a client expecting e.g. iso-8859-1 bytes gets UTF-8.
 */
import MailComposer from 'nodemailer/lib/mail-composer';
import { compileTemplate, escapeHtml, fieldMap, type CompiledTemplate } from '../core/delivery/template.js';
import { signRecipientToken } from '../core/delivery/tokens.js';
import type { ClaimedRecipient, SendContext } from '../db/delivery.js';
import type { OutgoingMessage } from './smtp.js';

export interface MessageSettings {
  bounceDomain: string;
  publicUrl: string;
  secret: Buffer;
  /** DKIM_* of the installation, when configured. */
  dkim: OutgoingMessage['dkim'];
}

export interface CompiledMailing {
  ctx: SendContext;
  subject: CompiledTemplate;
  html: CompiledTemplate | null;
  text: CompiledTemplate | null;
  headers: Record<string, string>;
  dkim: OutgoingMessage['dkim'];
}

/** Headers we set on every message; a mailing's custom header of the same name is ignored. */
const MANAGED_HEADERS = new Set(['message-id', 'x-mailgate-mailing', 'list-unsubscribe', 'list-unsubscribe-post', 'from', 'to', 'reply-to', 'subject', 'date', 'mime-version', 'content-type', 'content-transfer-encoding']);

export function compileMailing(ctx: SendContext, settings: MessageSettings): CompiledMailing {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.headers ?? {})) {
    if (typeof v === 'string' && /^[\x21-\x39\x3b-\x7e]+$/.test(k) && !MANAGED_HEADERS.has(k.toLowerCase())) headers[k] = v;
  }
  const d = ctx.dkim;
  const dkim = d?.enabled && d.domain && d.selector && d.privkey ? { domainName: d.domain, keySelector: d.selector, privateKey: d.privkey } : settings.dkim;
  return {
    ctx,
    subject: compileTemplate(ctx.subject),
    html: ctx.html ? compileTemplate(ctx.html) : null,
    text: ctx.text ? compileTemplate(ctx.text) : null,
    headers,
    dkim,
  };
}

interface StoredAttachment {
  filename: string;
  contentType: string;
  charset?: string;
  data: string;
}

function attachmentsOf(value: unknown) {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) throw new Error('attachments: not an array');
  return value.map((a: Partial<StoredAttachment>, i) => {
    if (typeof a?.filename !== 'string' || typeof a.contentType !== 'string' || typeof a.data !== 'string') {
      throw new Error(`attachments[${i}]: filename, contentType and data are required`);
    }
    return {
      filename: a.filename,
      content: a.data,
      encoding: 'base64',
      contentType: a.charset ? `${a.contentType}; charset=${a.charset}` : a.contentType,
    };
  });
}

/** Headers of a stored whole message (create_mailing_ext) that we replace per recipient. */
const RAW_REPLACED = new Set(['to', 'message-id', 'x-mailgate-mailing', 'list-unsubscribe', 'list-unsubscribe-post']);

/**
 * A whole stored message with our per-recipient headers put in front and the client's versions of them
 * dropped (folded continuation lines included). Bytes are kept as they are (latin1 round-trips every byte);
 * the message's own line ending is reused.
 */
export function withRecipientHeaders(raw: Buffer, headers: [string, string][]): Buffer {
  const text = raw.toString('latin1');
  const crlf = text.indexOf('\r\n\r\n');
  const lf = text.indexOf('\n\n');
  const split = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf : lf;
  const eol = split === crlf ? '\r\n' : '\n';
  const head = split < 0 ? text : text.slice(0, split);
  const rest = split < 0 ? eol : text.slice(split);
  const fields: string[] = [];
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length) fields[fields.length - 1] += eol + line;
    else fields.push(line);
  }
  const kept = fields.filter((f) => !RAW_REPLACED.has(f.slice(0, Math.max(0, f.indexOf(':'))).trim().toLowerCase()));
  return Buffer.from(headers.map(([k, v]) => `${k}: ${v}`).concat(kept).join(eol) + rest, 'latin1');
}

export const messageIdOf = (recipientId: number, mailingId: number, bounceDomain: string) => `<r${recipientId}.m${mailingId}@${bounceDomain}>`;

/** One recipient's message as bytes plus envelope; throws when it cannot be built. */
export async function buildMessage(m: CompiledMailing, r: ClaimedRecipient, settings: MessageSettings): Promise<OutgoingMessage> {
  const token = signRecipientToken(settings.secret, r.id);
  const envelope = { from: `bounces+${token}@${settings.bounceDomain}`, to: r.email };
  const unsubscribeLink = `${settings.publicUrl}/u/${token}`;
  const listUnsubscribe = `<${unsubscribeLink}>, <mailto:unsubscribe+${token}@${settings.bounceDomain}>`;
  if (m.ctx.raw_message) {
    const raw = withRecipientHeaders(m.ctx.raw_message, [
      ['To', r.email],
      ['Message-ID', messageIdOf(r.id, m.ctx.mailing_id, settings.bounceDomain)],
      ['X-Mailgate-Mailing', String(m.ctx.mailing_id)],
      ['List-Unsubscribe', listUnsubscribe],
      ['List-Unsubscribe-Post', 'List-Unsubscribe=One-Click'],
    ]);
    return { raw, envelope, dkim: m.dkim };
  }

  const fields = fieldMap(r.fields ?? {});
  fields.set('email', r.email);
  fields.set('unsubscribe_link', unsubscribeLink);
  const composer = new MailComposer({
    from: m.ctx.from_name ? { name: m.ctx.from_name, address: m.ctx.from_email } : m.ctx.from_email,
    to: r.email,
    ...(m.ctx.replyto_email ? { replyTo: m.ctx.replyto_email } : {}),
    subject: m.subject.render(fields),
    messageId: messageIdOf(r.id, m.ctx.mailing_id, settings.bounceDomain),
    ...(m.text ? { text: m.text.render(fields) } : {}),
    ...(m.html ? { html: m.html.render(fields, escapeHtml) } : {}),
    headers: {
      ...m.headers,
      'X-Mailgate-Mailing': String(m.ctx.mailing_id),
      'List-Unsubscribe': listUnsubscribe,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    },
    attachments: attachmentsOf(r.attachments),
    // Content comes from API callers: never let it make us read a file or fetch a URL.
    disableFileAccess: true,
    disableUrlAccess: true,
    xMailer: false,
  });
  const raw = await composer.compile().build();
  return { raw, envelope, dkim: m.dkim };
}

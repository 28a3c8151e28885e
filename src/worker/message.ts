/**
 * Building one recipient's message: the mailing's stored message compiled once per job into a template
 * (src/mime/template.ts), rendered per recipient by concatenation, before any SMTP conversation, so a
 * message that cannot be built fails alone (`general_error`) and never reaches the relay half made.
 *
 * Every message carries a stable Message-ID derived from the recipient (`<r{id}.m{mailing}@BOUNCE_DOMAIN>`:
 * a resend after a crash is recognisable as a duplicate), To, X-Mailgate-Mailing, List-Unsubscribe (https
 * and mailto) with List-Unsubscribe-Post (RFC 8058), List-Id (RFC 2919) and Feedback-ID (Google's), and the
 * VERP return path `bounces+<token>@BOUNCE_DOMAIN`. The stored message's own versions of those headers are
 * dropped. DKIM signs the finished message, so every one of them is covered (dkim.ts' default list).
 *
 * Tracking (src/core/delivery/links.ts): the html parts are compiled with their tracked links and pixel
 * placed; per recipient only its Tracker is made: the client's own URLs (CloudMailing with a `tracking_url`,
 * which also makes `{{ unsubscribe }}` the client's `{tracking_url}u/{tracking_id}`) or Mailgate's hosted,
 * signed ones. A transactional message's own html (Mailkit's `message_data`) gets the same links and pixel.
 *
 * Values a message's templates may use besides the recipient's own fields (nested ones as they came):
 * `{{ email }}`, `{{ unsubscribe_link }}`, and `{{ unsubscribe }}` / `{{ UNSUBSCRIBE }}` (the original
 * CloudMailing server's names for the same link).
 *
 * Escaping in text/html parts follows each dialect's source: CloudMailing's original renders with Jinja2's
 * default (`jinja2.Template(body)`: nothing escaped unless the template says `|e`), and so does Yandex Sender
 * (Jinja2 too; its pages never mention escaping, and its clients pass text in `args` and flag user content
 * with `has_ugc` rather than count on escaping). The other dialects keep every `{{ }}` HTML-escaped.
 * A template that cannot compile (a mailing stored before templates were checked) fails each recipient
 * alone, as any message that cannot be built.
 */
import { TemplateValues, trackLiteralHtml } from '../core/delivery/template.js';
import {
  callerTracker,
  callerUnsubscribeUrl,
  feedbackIdOf,
  hostedTracker,
  listIdOf,
  partTrackingOf,
  trackingOf,
  type MailingTracking,
  type PartTracking,
  type Tracker,
} from '../core/delivery/links.js';
import { messageIdOf, signRecipientToken } from '../core/delivery/tokens.js';
import type { ClaimedRecipient, SendContext } from '../db/delivery.js';
import type { DkimSettings } from '../db/mailings.js';
import { convert as htmlToText } from 'html-to-text';
import {
  composeMessage,
  foldedValue,
  formatAddress,
  replaceTextBodies,
  setFrom,
  setRootHeader,
  withAttachments,
  type RecipientAttachment,
} from '../mime/message.js';
import { compileMessageTemplate, MessagePartError, type MessageTemplate } from '../mime/template.js';
import type { OutgoingMessage } from './smtp.js';
import { dkimSigner, type DkimKey, type DkimSigner } from './dkim.js';

export interface MessageSettings {
  bounceDomain: string;
  publicUrl: string;
  secret: Buffer;
  /** DKIM_* of the installation, when configured. */
  dkim: DkimSigner | undefined;
}

export interface CompiledMailing {
  ctx: SendContext;
  template: MessageTemplate;
  dkim: DkimSigner | undefined;
  tracking: MailingTracking;
  /** How its html parts are tracked (null: untouched). */
  partTracking: PartTracking | null;
  /** List-Id (folded) and Feedback-ID, the same for every recipient. */
  listId: string;
  feedbackId: string;
}

/**
 * A mailing's own DKIM settings (CloudMailing's `dkim` property) as a signing key: `enabled` defaults to
 * true; `signature_algorithm` picks the hash of an RSA key (an Ed25519 key signs ed25519-sha256);
 * `include_headers` the signed header fields. `identity`, `length` and `canonicalize` are kept but not
 * applied (signatures are relaxed/relaxed over the whole body).
 */
export function mailingDkim(d: DkimSettings | null): DkimKey | undefined {
  if (!d || d.enabled === false || !d.domain || !d.selector || !d.privkey) return undefined;
  return {
    domain: d.domain,
    selector: d.selector,
    privateKey: d.privkey,
    hash: /sha1/i.test(d.signature_algorithm ?? '') ? 'sha1' : 'sha256',
    ...(d.include_headers?.length ? { headers: d.include_headers } : {}),
  };
}

/** Dialects whose source renders html parts with Jinja2's default: no autoescape. */
const UNESCAPED_DIALECTS = new Set(['cloudmailing', 'sender']);

/** A message none of whose recipients can get it: every render throws why. */
function unbuildable(e: MessagePartError): MessageTemplate {
  return {
    fieldNames: [],
    render() {
      throw e;
    },
  };
}

export async function compileMailing(ctx: SendContext, settings: MessageSettings): Promise<CompiledMailing> {
  // A mailing stored before messages were kept whole (first schema) is composed from its fields here.
  const raw =
    ctx.raw_message ?? (await composeMessage({ fromEmail: ctx.from_email, fromName: ctx.from_name, subject: ctx.subject, html: ctx.html, text: ctx.text }));
  const own = mailingDkim(ctx.dkim);
  const tracking = trackingOf(ctx);
  const partTracking = partTrackingOf(tracking);
  let template: MessageTemplate;
  try {
    template = await compileMessageTemplate(raw, {
      autoescape: !UNESCAPED_DIALECTS.has(ctx.dialect),
      encodedUnsubscribe: ctx.dialect === 'cloudmailing',
      tracking: partTracking,
    });
  } catch (e) {
    if (!(e instanceof MessagePartError)) throw e;
    template = unbuildable(e);
  }
  return {
    ctx,
    template,
    dkim: own ? dkimSigner(own) : settings.dkim,
    tracking,
    partTracking,
    listId: foldedValue('List-Id', listIdHeader(listIdTarget(ctx), settings.bounceDomain)),
    feedbackId: feedbackIdOf({ mailingId: ctx.mailing_id, sendId: ctx.send_id, account: ctx.account_slug }),
  };
}

/**
 * What List-Id names, with the id its client knows: a list mailing's list (a Yandex Sender list by its slug,
 * the only name Sender's API gives it; other lists by number), else the mailing (its number, as every
 * dialect returns it when the mailing is made, and its name when it has one).
 */
function listIdTarget(ctx: SendContext): { kind: 'list' | 'mailing'; id: string; name: string | null } {
  if (ctx.list_id !== null)
    return { kind: 'list', id: ctx.dialect === 'sender' && ctx.list_slug ? ctx.list_slug : String(ctx.list_id), name: ctx.list_name || null };
  return { kind: 'mailing', id: String(ctx.mailing_id), name: ctx.name || null };
}

/** `"Name" <list-id>` (the name MIME-encoded when it is not ASCII), or `<list-id>` for a target without a name. */
function listIdHeader(target: { kind: 'list' | 'mailing'; id: string; name: string | null }, bounceDomain: string): string {
  const id = listIdOf(target, bounceDomain);
  return target.name ? formatAddress(id, target.name) : `<${id}>`;
}

function trackerOf(m: CompiledMailing, r: ClaimedRecipient, settings: MessageSettings): Tracker | undefined {
  if (m.tracking.kind === 'caller') return callerTracker(m.tracking, r.tracking_id);
  if (m.tracking.kind === 'hosted') return hostedTracker(settings, r.id);
  return undefined;
}

export { messageIdOf } from '../core/delivery/tokens.js';

function attachmentsOf(value: unknown): RecipientAttachment[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) throw new Error('attachments: not an array');
  return value.map((a: Partial<RecipientAttachment>, i) => {
    if (typeof a?.contentType !== 'string' || typeof a.data !== 'string') throw new Error(`attachment ${i + 1}: contentType and data are required`);
    return { contentType: a.contentType, data: a.data, filename: a.filename, charset: a.charset };
  });
}

/** One recipient's message as bytes plus envelope; throws when it cannot be built. */
/** `eightBit`: the relay it goes to announced 8BITMIME (see MessageTemplate.render). */
export async function buildMessage(
  m: CompiledMailing,
  r: ClaimedRecipient,
  settings: MessageSettings,
  opts: { eightBit?: boolean } = {},
): Promise<OutgoingMessage> {
  const token = signRecipientToken(settings.secret, r.id);
  const unsubscribeLink = `${settings.publicUrl}/u/${token}`;
  // With a tracking_url the original renders the client's own unsubscribe page; List-Unsubscribe stays
  // Mailgate's (its one-click POST suppresses the address here, where the sending is decided).
  const templateUnsubscribe = m.tracking.kind === 'caller' ? callerUnsubscribeUrl(m.tracking.url, r.tracking_id) : unsubscribeLink;
  const tracker = trackerOf(m, r, settings);
  const values = new TemplateValues(
    r.fields ?? {},
    {
      email: r.email,
      unsubscribe_link: templateUnsubscribe,
      unsubscribe: templateUnsubscribe,
      UNSUBSCRIBE: templateUnsubscribe,
    },
    tracker,
  );
  const c = r.content;
  const addresses = (list: { email: string; name?: string | null }[]) => list.map((a) => formatAddress(a.email, a.name)).join(', ');
  const raw = m.template.render(
    values,
    [
      ['To', c?.to?.length ? foldedValue('To', addresses(c.to)) : r.email],
      ...(c?.cc?.length ? [['Cc', foldedValue('Cc', addresses(c.cc))] as const] : []),
      ['Message-ID', c?.messageId ?? messageIdOf(r.id, m.ctx.mailing_id, settings.bounceDomain)],
      ['X-Mailgate-Mailing', String(m.ctx.mailing_id)],
      ['List-Unsubscribe', `<${unsubscribeLink}>, <mailto:unsubscribe+${token}@${settings.bounceDomain}>`],
      ['List-Unsubscribe-Post', 'List-Unsubscribe=One-Click'],
      ['List-Id', m.listId],
      ['Feedback-ID', m.feedbackId],
    ],
    opts,
  );
  let own = raw;
  // A transactional message's own subject, body, From and headers replace the mailing's, for this message only.
  if (c?.from) own = setFrom(own, c.from.name ?? null, c.from.email);
  for (const [name, value] of c?.headers ?? []) own = setRootHeader(own, name, value);
  if (r.content?.subject !== undefined) own = setRootHeader(own, 'Subject', r.content.subject);
  // Its html also becomes the text part (as text), unless it brings its own text.
  if (r.content?.html !== undefined || r.content?.text !== undefined)
    own = await replaceTextBodies(own, {
      html: r.content.html !== undefined && m.partTracking && tracker ? trackLiteralHtml(r.content.html, m.partTracking, tracker) : r.content.html,
      text: r.content.text ?? (r.content.html !== undefined ? htmlToText(r.content.html, { wordwrap: 76 }) : undefined),
    });
  const whole = await withAttachments(own, attachmentsOf(r.attachments));
  return {
    raw: m.dkim ? await m.dkim.sign(whole) : whole,
    envelope: { from: `bounces+${token}@${settings.bounceDomain}`, to: r.email },
    testing: m.ctx.testing,
  };
}

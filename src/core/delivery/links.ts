/**
 * What tracking puts into a message, as pure rules: which links of an html part are rewritten, the pixel, the
 * caller-hosted URLs of the original CloudMailing server, Mailgate's own hosted ones, and the bulk-sender
 * headers (List-Id, Feedback-ID). The compiled message (src/mime/template.ts, template.ts) decides once per
 * mailing where links and the pixel are; a recipient's `Tracker` only says what goes there.
 *
 * Which mailings track (`trackingOf`):
 * - CloudMailing with a `tracking_url`: the client hosts tracking, rendered exactly as the original
 *   (`cloud_mailing/satellite/mail_customizer.py`): `read_tracking` appends
 *   `<img src="{tracking_url}r/{tracking_id}/blank.gif" .../>\n` after the rendered html; `click_tracking`
 *   makes every matched link `{tracking_url}c/{tracking_id}/?o={quote(href as written)}&t={quote(href as
 *   rendered)}` (`c=b64&` first and url-safe base64 without padding with `url_encoding` = `base64`);
 *   `{{ unsubscribe }}` is `{tracking_url}u/{tracking_id}`.
 * - every other mailing: Mailgate hosts it under PUBLIC_URL (tokens.ts), by the mailing's `read_tracking` and
 *   `click_tracking` (defaults per dialect: `trackingDefaults`); the pixel goes just before the last
 *   `</body>`, else at the end.
 * - Mailgate's own messages (dialect `system`: confirmation requests) never track.
 *
 * Which links: those the original's pattern matches in the template as written, `<a ...href="http(s)://...">`
 * (lower-case `<a `, either quote), so `{{ unsubscribe }}`, `mailto:`, a relative link and an href that is
 * only a field (`href="{{ url }}"`) stay as they are. A link in the text between Jinja2 constructs counts,
 * inside `{% if %}` and `{% for %}` bodies too (rendered where and as often as the body is); a match that
 * starts or ends inside a construct (`{{ '<a href="http://...">' }}`, a `{% set %}`) or whose href holds an
 * unclosed one is left as written: the original would have produced a template it cannot compile.
 */
import { hostedClickUrl, hostedOpenUrl } from './tokens.js';

/** The original CloudMailing server's link pattern (`MailCustomizer.re_links`): prefix, href, closing quote. */
export const LINK = /(<a [^>]*href\s*=\s*['"])(https?:\/\/[^'"]*)(['"])/g;

/** How one html part is tracked, decided per mailing. */
export interface PartTracking {
  /** Rewrite the matched links through the recipient's Tracker. */
  links: boolean;
  /** Where the pixel goes: after everything (the original's place), before the last `</body>`, or nowhere. */
  pixel: 'end' | 'body' | null;
}

/** One recipient's tracking: what a link becomes, and the pixel's html. */
export interface Tracker {
  /** `index`: the link's 0-based position among the rewritten links of the rendered part, in document order. */
  link(index: number, written: string, rendered: string): string;
  readonly pixel: string;
}

export type MailingTracking =
  { kind: 'none' } | { kind: 'caller'; url: string; read: boolean; click: boolean; base64: boolean } | { kind: 'hosted'; read: boolean; click: boolean };

/** Dialects whose real service tracks opens and clicks of every campaign by default. */
const TRACKING_BY_DEFAULT = new Set(['mailkit', 'emailicious', 'sender']);

/** A mailing's read/click flags when it is made, per dialect (the stored columns are the per-mailing setting). */
export function trackingDefaults(dialect: string): { readTracking: boolean; clickTracking: boolean } {
  // CloudMailing: the original's defaults. Mailkit, Emailicious and Yandex Sender report opens and clicks of
  // every campaign without being asked (Mailkit's READ_COUNT/CLICK_COUNT and link reports, Emailicious'
  // delivery statistics, Sender's campaign statistics) and their APIs have no switch for it: on.
  // Mailgate's own messages (`system`: a confirmation request) and any other maker (the bench's) track nothing.
  if (dialect === 'cloudmailing') return { readTracking: true, clickTracking: false };
  const on = TRACKING_BY_DEFAULT.has(dialect);
  return { readTracking: on, clickTracking: on };
}

export function trackingOf(m: {
  dialect: string;
  tracking_url: string | null;
  read_tracking: boolean;
  click_tracking: boolean;
  url_encoding: string | null;
}): MailingTracking {
  if (m.dialect === 'system') return { kind: 'none' };
  if (m.dialect === 'cloudmailing' && m.tracking_url)
    return { kind: 'caller', url: m.tracking_url, read: m.read_tracking, click: m.click_tracking, base64: m.url_encoding === 'base64' };
  if (!m.read_tracking && !m.click_tracking) return { kind: 'none' };
  return { kind: 'hosted', read: m.read_tracking, click: m.click_tracking };
}

/** How the html parts of a mailing are compiled for its tracking (null: not touched). */
export function partTrackingOf(t: MailingTracking): PartTracking | null {
  if (t.kind === 'none' || (!t.read && !t.click)) return null;
  return { links: t.click, pixel: t.read ? (t.kind === 'caller' ? 'end' : 'body') : null };
}

// ------------------------------------------------------------------------------------------------ caller-hosted

/** Python's `urllib.parse.quote(s)` (safe '/') of the UTF-8 bytes: `%XX` for every byte but `A-Za-z0-9_.-~/`. */
export function pythonQuote(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    if ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f || b === 0x2e || b === 0x2d || b === 0x7e || b === 0x2f)
      out += String.fromCharCode(b);
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The original's `url_encode` filter: quote, or url-safe base64 without `=` when `url_encoding` is base64. */
export const callerEncode = (s: string, base64: boolean) => (base64 ? Buffer.from(s, 'utf8').toString('base64url') : pythonQuote(s));

/** The caller's unsubscribe link for a recipient (`{{ unsubscribe }}`). */
export const callerUnsubscribeUrl = (trackingUrl: string, trackingId: string) => `${trackingUrl}u/${trackingId}`;

export function callerTracker(t: { url: string; base64: boolean }, trackingId: string): Tracker {
  const click = `${t.url}c/${trackingId}/?${t.base64 ? 'c=b64&' : ''}`;
  return {
    link: (_index, written, rendered) => `${click}o=${callerEncode(written, t.base64)}&t=${callerEncode(rendered, t.base64)}`,
    // The original's line break after it, as this message's line ends are (CRLF; its email package writes
    // the message's own too).
    pixel: `<img src="${t.url}r/${trackingId}/blank.gif" border="0" alt="" width="1" height="1" />\r\n`,
  };
}

// ------------------------------------------------------------------------------------------------ hosted

const ENTITIES: Record<string, string> = { amp: '&', quot: '"', apos: "'", lt: '<', gt: '>', '#39': "'" };

/**
 * An href as the browser reads it: character references decoded (`&amp;` in a written link, and whatever an
 * escaping template wrote around a field's value). Named references beyond the five XML ones stay as written.
 */
export function attributeValue(href: string): string {
  if (!href.includes('&')) return href;
  return href.replace(/&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]+);/g, (all, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : all;
    }
    return ENTITIES[ref] ?? all;
  });
}

/**
 * Mailgate's hosted tracking for one recipient: each link signed for the URL the browser would have gone to,
 * the pixel a 1×1 image. The token binds recipient, link index and URL, so `/t/c/` redirects only to a link
 * of this recipient's message. The href written is html-safe in either quote: encodeURIComponent leaves `'`,
 * which goes as `%27` (the same `u` once decoded).
 */
export function hostedTracker(s: { publicUrl: string; secret: Buffer }, recipientId: number): Tracker {
  return {
    link: (index, _written, rendered) => hostedClickUrl(s.publicUrl, s.secret, recipientId, index, attributeValue(rendered)).replace(/'/g, '%27'),
    pixel: `<img src="${hostedOpenUrl(s.publicUrl, s.secret, recipientId)}" width="1" height="1" alt="" border="0" style="display:block;width:1px;height:1px;border:0" />`,
  };
}

// ------------------------------------------------------------------------------------------------ headers

/** A DNS label of a name: lower case, accents dropped, anything else a hyphen, at most 40 characters. */
export function labelOf(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 40)
    .replace(/^-+|-+$/g, '');
}

/**
 * RFC 2919's list identifier, `label.id.BOUNCE_DOMAIN` (the header is `"Name" <that>`): for a list mailing the
 * list's, else the mailing's, with the id the dialect shows its client (a list's or mailing's number; a Yandex
 * Sender list's slug). `label` is the name as a DNS label; without a name it is `list` or `mailing`.
 */
export function listIdOf(target: { kind: 'list' | 'mailing'; id: string; name: string | null }, bounceDomain: string): string {
  const label = (target.name && labelOf(target.name)) || target.kind;
  const id = labelOf(target.id) || target.kind;
  return `${label === id ? id : `${label}.${id}`}.${bounceDomain}`;
}

/**
 * Google's Feedback-ID, `a:b:c:SenderId`: the mailing (`m<id>`), the send (`s<id>`) and the account's slug,
 * with `mailgate` as the SenderId (the DKIM domain that signs it is what makes it the sender's). The ids have a
 * letter each so that no two fields repeat one value (Google's rule for the fields).
 */
export const feedbackIdOf = (p: { mailingId: number; sendId: number; account: string }) =>
  `m${p.mailingId}:s${p.sendId}:${p.account.replace(/:/g, '-')}:mailgate`;

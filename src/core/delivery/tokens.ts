/**
 * Recipient tokens: the recipient id plus a short HMAC, used in the VERP return path
 * (`bounces+<token>@BOUNCE_DOMAIN`) and the unsubscribe links, so the bounce listener and the unsubscribe
 * endpoint find the recipient from the token alone and nobody can forge one for another recipient.
 *
 * Shape: `<id in decimal>.<12 base64url characters>` (72 bits of HMAC-SHA256). Every character is valid in
 * the local part of an address and in a URL path. Beware: the MAC is case-sensitive, so an MTA that
 * lower-cases the local part of a bounce address breaks it (rare; RFC 5321 says the local part is kept as is).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const MAC_CHARS = 12;

/** Every message's Message-ID: stable per recipient, so a resend after a crash is recognisable. */
export const messageIdOf = (recipientId: number, mailingId: number, bounceDomain: string) => `<r${recipientId}.m${mailingId}@${bounceDomain}>`;

/** The recipient id of one of our Message-IDs (angle brackets optional), else null. */
export function recipientOfMessageId(messageId: string): number | null {
  const m = /^<?r(\d{1,15})\.m\d{1,15}@[^<>\s]+>?$/.exec(messageId.trim());
  return m ? Number(m[1]) : null;
}
const TOKEN = /^(\d{1,16})\.([A-Za-z0-9_-]{12})$/;

function mac(secret: Buffer, recipientId: number): string {
  return createHmac('sha256', secret).update(`recipient:${recipientId}`).digest('base64url').slice(0, MAC_CHARS);
}

export function signRecipientToken(secret: Buffer, recipientId: number): string {
  return `${recipientId}.${mac(secret, recipientId)}`;
}

/** The recipient id of a genuine token, else null. */
export function verifyRecipientToken(secret: Buffer, token: string): number | null {
  const m = TOKEN.exec(token);
  if (!m) return null;
  const id = Number(m[1]);
  if (!Number.isSafeInteger(id)) return null;
  const want = Buffer.from(mac(secret, id));
  const got = Buffer.from(m[2]!);
  return got.length === want.length && timingSafeEqual(got, want) ? id : null;
}

/**
 * Confirmation tokens (the `{{ subscribe_link }}` of a double opt-in): the subscriber id, the time the link
 * was made (seconds since the epoch, base 36) and an HMAC over both, so a link cannot be forged, moved to
 * another subscriber, or made younger. `<id>.<issued>.<16 base64url characters>`.
 */
const CONFIRM_TOKEN = /^(\d{1,16})\.([0-9a-z]{1,10})\.([A-Za-z0-9_-]{16})$/;

function confirmMac(secret: Buffer, subscriberId: number, issued: string): string {
  return createHmac('sha256', secret).update(`confirm:${subscriberId}:${issued}`).digest('base64url').slice(0, 16);
}

export function signConfirmToken(secret: Buffer, subscriberId: number, issuedAt: Date = new Date()): string {
  const issued = Math.floor(issuedAt.getTime() / 1000).toString(36);
  return `${subscriberId}.${issued}.${confirmMac(secret, subscriberId, issued)}`;
}

/** The subscriber id and issue time of a genuine token, else null (expiry is the caller's to judge). */
export function verifyConfirmToken(secret: Buffer, token: string): { subscriberId: number; issuedAt: Date } | null {
  const m = CONFIRM_TOKEN.exec(token);
  if (!m) return null;
  const id = Number(m[1]);
  if (!Number.isSafeInteger(id)) return null;
  const want = Buffer.from(confirmMac(secret, id, m[2]!));
  const got = Buffer.from(m[3]!);
  if (got.length !== want.length || !timingSafeEqual(got, want)) return null;
  return { subscriberId: id, issuedAt: new Date(parseInt(m[2]!, 36) * 1000) };
}

/**
 * Hosted tracking tokens. The pixel: `<recipient id>.<12 base64url>` (an HMAC over "open:<id>"), served as
 * `PUBLIC_URL/t/o/<token>.gif`. A click: `<recipient id>.<link index>.<16 base64url>`, an HMAC over the
 * recipient, the link's position in the html part and the exact URL the recipient is sent to, which travels
 * beside it: `PUBLIC_URL/t/c/<token>?u=<encodeURIComponent(url)>`. So a token is checked without reading the
 * database, and the redirect can only go to a link of that recipient's message (a changed `u` fails the MAC;
 * any other query parameter is ignored). Each kind has its own HMAC prefix, so no token passes for another.
 */
const OPEN_TOKEN = /^(\d{1,16})\.([A-Za-z0-9_-]{12})$/;
const CLICK_TOKEN = /^(\d{1,16})\.(\d{1,5})\.([A-Za-z0-9_-]{16})$/;

const openMac = (secret: Buffer, recipientId: number) => createHmac('sha256', secret).update(`open:${recipientId}`).digest('base64url').slice(0, 12);
const clickMac = (secret: Buffer, recipientId: number, linkIndex: number, url: string) =>
  createHmac('sha256', secret).update(`click:${recipientId}:${linkIndex}:${url}`).digest('base64url').slice(0, 16);

function sameMac(got: string, want: string): boolean {
  const a = Buffer.from(got);
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

export const signOpenToken = (secret: Buffer, recipientId: number) => `${recipientId}.${openMac(secret, recipientId)}`;

/** The recipient id of a genuine pixel token (without `.gif`), else null. */
export function verifyOpenToken(secret: Buffer, token: string): number | null {
  const m = OPEN_TOKEN.exec(token);
  if (!m) return null;
  const id = Number(m[1]);
  return Number.isSafeInteger(id) && sameMac(m[2]!, openMac(secret, id)) ? id : null;
}

export const signClickToken = (secret: Buffer, recipientId: number, linkIndex: number, url: string) =>
  `${recipientId}.${linkIndex}.${clickMac(secret, recipientId, linkIndex, url)}`;

/** The recipient and link of a genuine click token for exactly this `url`, else null. */
export function verifyClickToken(secret: Buffer, token: string, url: string): { recipientId: number; linkIndex: number } | null {
  const m = CLICK_TOKEN.exec(token);
  if (!m) return null;
  const id = Number(m[1]);
  const linkIndex = Number(m[2]);
  if (!Number.isSafeInteger(id)) return null;
  return sameMac(m[3]!, clickMac(secret, id, linkIndex, url)) ? { recipientId: id, linkIndex } : null;
}

/** The hosted pixel's and a hosted click's URLs under `publicUrl` (no trailing slash). */
export const hostedOpenUrl = (publicUrl: string, secret: Buffer, recipientId: number) => `${publicUrl}/t/o/${signOpenToken(secret, recipientId)}.gif`;
export const hostedClickUrl = (publicUrl: string, secret: Buffer, recipientId: number, linkIndex: number, url: string) =>
  `${publicUrl}/t/c/${signClickToken(secret, recipientId, linkIndex, url)}?u=${encodeURIComponent(url)}`;

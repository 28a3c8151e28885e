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

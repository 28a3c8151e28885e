/**
 * Ids of things Mailgate keeps no row for, derived from what names them: a send's link (its URL) and a sender
 * address. Stable (the same input always gives the same id, across restarts and nodes) and positive 31-bit
 * integers, so an XML-RPC `<i4>` always holds them. Distinct inputs may collide (about n² / 2³² for n of
 * them: a few in a million for a hundred); whoever maps an id back takes the first input in its own order.
 */
import { createHash } from 'node:crypto';

function derivedId(...parts: (string | number)[]): number {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest();
  return digest.readUInt32BE(0) & 0x7fffffff || 1;
}

/** A link of one send (Mailkit's ID_URL): another send's same URL is another link. */
export const linkIdOf = (sendId: number, url: string) => derivedId('link', sendId, url);

/** A sender address of an account (Mailkit's ID_ALLOW_EMAIL), by its address key. */
export const senderIdOf = (emailKey: string) => derivedId('sender', emailKey);

/**
 * Generated tracking ids: UUIDs in the version 7 layout (RFC 9562), the creation time in milliseconds in the
 * first 48 bits, then 74 random bits (from a version 4 UUID, whose variant bits version 7 shares).
 *
 * Time-ordered on purpose: a tracking id is a key of the unique index (account_id, tracking_id), and random
 * keys land on any leaf page of it, so a bulk add of a million recipients dirtied (and logged in full after
 * each checkpoint) a page per row; keys of one moment land together at the index's right edge. Every id is
 * still unguessable (74 random bits: an unsubscribe link is `u/{tracking_id}`), and still a UUID of the usual
 * 8-4-4-4-12 lower-case hex spelling.
 */
import { randomUUID } from 'node:crypto';

// The time part of the last millisecond asked for: a bulk add makes a thousand ids in one or two milliseconds,
// and spelling the time costs more than the random part.
let prefixMs = -1;
let prefix = '';

export function newTrackingId(now = Date.now()): string {
  if (now !== prefixMs) {
    const ms = now.toString(16).padStart(12, '0');
    prefix = `${ms.slice(0, 8)}-${ms.slice(8, 12)}-7`;
    prefixMs = now;
  }
  const random = randomUUID(); // xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx
  return prefix + random.slice(15);
}

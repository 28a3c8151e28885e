/**
 * Generated tracking ids: UUIDs in the version 7 layout (RFC 9562), the creation time in milliseconds in the
 * first 48 bits, then the version, 74 random bits and the variant.
 *
 * Time-ordered on purpose: a tracking id is a key of the unique index (account_id, tracking_id), and random
 * keys land on any leaf page of it, so a bulk add of a million recipients dirtied (and logged in full after
 * each checkpoint) a page per row; keys of one moment land together at the index's right edge. Every id is
 * still unguessable (74 random bits from the CSPRNG: an unsubscribe link is `u/{tracking_id}`), and still a
 * UUID of the usual 8-4-4-4-12 lower-case hex spelling.
 */
import { randomFillSync } from 'node:crypto';

const ID_LENGTH = 36;
/** Bytes of randomness per id: 74 bits are used, from 10 bytes (see newTrackingId). */
const RANDOM_BYTES = 10;
const HEX = Buffer.from('0123456789abcdef', 'latin1');
const DASH = 0x2d;

/**
 * Random bytes drawn a thousand ids at a time: one randomFillSync per bulk add instead of a CSPRNG call per
 * id. Each byte is used once, then the pool is refilled.
 */
const random = Buffer.alloc(RANDOM_BYTES * 1024);
let randomAt = random.length;

/**
 * The id is spelt byte by byte here and read out as one flat string: a string made by concatenation is a
 * rope that every later reader (the COPY text, the answer's escape check) flattens again, which cost as much
 * as making the id. The first 15 chars, `tttttttt-tttt-7`, change once per millisecond.
 */
const spelling = Buffer.alloc(ID_LENGTH);
let prefixMs = -1;

export function newTrackingId(now = Date.now()): string {
  if (now !== prefixMs) {
    const ms = now.toString(16).padStart(12, '0');
    spelling.write(`${ms.slice(0, 8)}-${ms.slice(8, 12)}-7`, 0, 'latin1');
    prefixMs = now;
  }
  if (randomAt + RANDOM_BYTES > random.length) {
    randomFillSync(random);
    randomAt = 0;
  }
  const r = random;
  const a = randomAt;
  randomAt += RANDOM_BYTES;
  const s = spelling;
  // xxx after the version: 12 random bits.
  s[15] = HEX[r[a]! >> 4]!;
  s[16] = HEX[r[a]! & 15]!;
  s[17] = HEX[r[a + 1]! & 15]!;
  s[18] = DASH;
  // The variant (binary 10) and 2 random bits, then 12 random bits.
  s[19] = HEX[8 | (r[a + 1]! >> 6)]!;
  s[20] = HEX[r[a + 2]! >> 4]!;
  s[21] = HEX[r[a + 2]! & 15]!;
  s[22] = HEX[r[a + 3]! & 15]!;
  s[23] = DASH;
  // 48 random bits.
  for (let k = 0; k < 6; k++) {
    const b = r[a + 4 + k]!;
    s[24 + 2 * k] = HEX[b >> 4]!;
    s[25 + 2 * k] = HEX[b & 15]!;
  }
  return s.toString('latin1', 0, ID_LENGTH);
}

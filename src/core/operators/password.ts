/**
 * Operator passwords: scrypt (node:crypto; no native module to build), a 16-byte random salt per hash, stored
 * as `scrypt$N$r$p$<salt>$<hash>` so that the cost can be raised later without breaking stored hashes.
 * N=2^15, r=8, p=3: one of OWASP's listed scrypt settings (32 MiB, a fifth of a second of one core here),
 * computed on libuv's thread pool, never on the event loop.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const N = 2 ** 15;
const R = 8;
const P = 3;
const KEY_BYTES = 32;

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password.normalize('NFC'), salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

// 128 * N * r bytes, and room for p's blocks: scrypt refuses a cost above maxmem.
const maxmem = (n: number, r: number) => 256 * n * r;

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_BYTES, { N, r: R, p: P, maxmem: maxmem(N, R) });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Whether `password` is the one `stored` was made from; false for anything not a hash of ours. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  if (!n || !r || !p || !expected.length) return false;
  const key = await scrypt(password, salt, expected.length, { N: n, r, p, maxmem: maxmem(n, r) });
  return timingSafeEqual(key, expected);
}

/** A hash no password matches, verified in place of a missing operator's: a wrong login costs what a wrong password does. */
export const DUMMY_HASH = `scrypt$${N}$${R}$${P}$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(KEY_BYTES).toString('base64')}`;

/** A password for a person to type once and store: 120 random bits, base64url. */
export const newPassword = () => randomBytes(15).toString('base64url');

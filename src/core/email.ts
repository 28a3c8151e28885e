/**
 * E-mail address rules. Addresses are compared with the local part as given and the domain lower-cased
 * (RFC 5321: the local part may be case-sensitive, the domain is not).
 *
 * Accepted: a dot-atom local part (every RFC 5322 atext character: `o'brien+tag#1@example.org`, as the
 * original CloudMailing server's check allowed) at a domain of dot-separated labels ending in a letters-only
 * top-level domain. Quoted local parts and address literals are refused: no relay of ours needs them.
 */
import { z } from 'zod';

// zod's e-mail check is this pattern's test; tested directly, without a parse (and its allocations) per address.
const HTML5_ADDRESS = z.regexes.html5Email;
const DOT_ATOM_LOCAL = /^[^.@](?:[^@]*[^.@])?@/;
const DOTTED_DOMAIN = /@(?:[^@.]+\.)+[A-Za-z]{2,}$/;

/**
 * RFC 5321 section 4.5.3.1: a local part of at most 64 octets, a domain of at most 255, a path of at most 256
 * (`<` and `>` included), so an address of at most 254 octets. Counted in octets: the pattern below admits
 * ASCII only today, but the limits must not loosen if it ever admits more.
 */
const MAX_LOCAL_OCTETS = 64;
const MAX_DOMAIN_OCTETS = 255;
const MAX_ADDRESS_OCTETS = 254;
const NOT_PRINTABLE_ASCII = /[^ -~\t\n\r]/;

function withinLengths(email: string): boolean {
  // Printable ASCII (all the pattern admits today): octets are characters. Anything else is counted exactly.
  if (!NOT_PRINTABLE_ASCII.test(email)) {
    const at = email.lastIndexOf('@');
    return email.length <= MAX_ADDRESS_OCTETS && at <= MAX_LOCAL_OCTETS && email.length - at - 1 <= MAX_DOMAIN_OCTETS;
  }
  if (Buffer.byteLength(email, 'utf8') > MAX_ADDRESS_OCTETS) return false;
  const at = email.lastIndexOf('@');
  return Buffer.byteLength(email.slice(0, at), 'utf8') <= MAX_LOCAL_OCTETS && Buffer.byteLength(email.slice(at + 1), 'utf8') <= MAX_DOMAIN_OCTETS;
}

/**
 * Addresses found valid lately. A bulk add checks each address twice (the dialect, for its own error, then the
 * core), and the five tests cost ten times a look-up here. Bounded: emptied when full.
 */
const recentlyValid = new Set<string>();
const MAX_RECENTLY_VALID = 4096;

export function isValidEmail(email: unknown): email is string {
  if (typeof email !== 'string') return false;
  if (recentlyValid.has(email)) return true;
  const valid =
    email.length <= MAX_ADDRESS_OCTETS &&
    withinLengths(email) &&
    HTML5_ADDRESS.test(email) &&
    DOT_ATOM_LOCAL.test(email) &&
    !email.includes('..') &&
    DOTTED_DOMAIN.test(email);
  if (valid) {
    if (recentlyValid.size >= MAX_RECENTLY_VALID) recentlyValid.clear();
    recentlyValid.add(email);
  }
  return valid;
}

export function emailKey(email: string): string {
  const at = email.lastIndexOf('@');
  return at < 0 ? email : email.slice(0, at) + '@' + email.slice(at + 1).toLowerCase();
}

export function emailDomain(email: string): string {
  const at = email.lastIndexOf('@');
  return at < 0 ? '' : email.slice(at + 1).toLowerCase();
}

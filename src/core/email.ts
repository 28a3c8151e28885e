/**
 * E-mail address rules. Addresses are compared with the local part as given and the domain lower-cased
 * (RFC 5321: the local part may be case-sensitive, the domain is not).
 *
 * Accepted: a dot-atom local part (every RFC 5322 atext character: `o'brien+tag#1@example.org`, as the
 * original CloudMailing server's check allowed) at a domain of dot-separated labels ending in a letters-only
 * top-level domain. Quoted local parts and address literals are refused: no relay of ours needs them.
 */
import { z } from 'zod';

const html5Address = z.email({ pattern: z.regexes.html5Email });
const DOT_ATOM_LOCAL = /^[^.@](?:[^@]*[^.@])?@/;
const DOTTED_DOMAIN = /@(?:[^@.]+\.)+[A-Za-z]{2,}$/;

export function isValidEmail(email: unknown): email is string {
  return (
    typeof email === 'string' &&
    email.length <= 254 &&
    html5Address.safeParse(email).success &&
    DOT_ATOM_LOCAL.test(email) &&
    !email.includes('..') &&
    DOTTED_DOMAIN.test(email)
  );
}

export function emailKey(email: string): string {
  const at = email.lastIndexOf('@');
  return at < 0 ? email : email.slice(0, at) + '@' + email.slice(at + 1).toLowerCase();
}

export function emailDomain(email: string): string {
  const at = email.lastIndexOf('@');
  return at < 0 ? '' : email.slice(at + 1).toLowerCase();
}

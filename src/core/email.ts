/**
 * E-mail address rules. Addresses are compared with the local part as given and the domain lower-cased
 * (RFC 5321: the local part may be case-sensitive, the domain is not).
 */
import { z } from 'zod';

const emailSchema = z.email();

export function isValidEmail(email: unknown): email is string {
  return typeof email === 'string' && email.length <= 254 && emailSchema.safeParse(email).success;
}

export function emailKey(email: string): string {
  const at = email.lastIndexOf('@');
  return at < 0 ? email : email.slice(0, at) + '@' + email.slice(at + 1).toLowerCase();
}

export function emailDomain(email: string): string {
  const at = email.lastIndexOf('@');
  return at < 0 ? '' : email.slice(at + 1).toLowerCase();
}

/**
 * The sender of the built-in messages (double opt-in, the optout notice): `noreply@BOUNCE_DOMAIN`, a domain
 * an address can have.
 *
 * A default install has none: BOUNCE_DOMAIN is then the host of PUBLIC_URL, and `npm start` makes that
 * `localhost` (an IP address when PUBLIC_URL names one). `noreply@localhost` and `noreply@127.0.0.1` are not
 * addresses our own check accepts (a dot-atom at a dotted domain; address literals refused), so the built-in
 * confirmation could not be made at all. Such a host is qualified as mail software qualifies an unqualified
 * host name: postfix appends its default `mydomain`, `localdomain`, to a host name without a dot
 * (`localhost` → `localhost.localdomain`, the name many systems' /etc/hosts give 127.0.0.1), and an address
 * names no host, so it becomes `localhost.localdomain` too. RFC 6761's `.localhost` would be as safe (a
 * reserved name, never delegated); `localhost.localdomain` is the one mail logs and tools already show for
 * mail from the machine itself. Neither is a domain anyone can reply to: an installation that relays mail
 * sets PUBLIC_URL or BOUNCE_DOMAIN to its own domain, or chooses its own confirmation mailing.
 */
import { isValidEmail } from '../email.js';

const LOCAL_PART = 'noreply';
/** postfix's default `mydomain` for a host whose name has no domain part. */
export const UNQUALIFIED_SUFFIX = 'localdomain';

export function builtInSender(bounceDomain: string): string {
  const host = bounceDomain.trim().toLowerCase().replace(/\.$/, '');
  const as = `${LOCAL_PART}@${host}`;
  if (isValidEmail(as)) return as;
  // A single label (`localhost`, an intranet host) is qualified; an IP address, or a name no address can
  // have, names no host we can qualify.
  const label = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(host) && !/^\d+$/.test(host) ? host : 'localhost';
  return `${LOCAL_PART}@${label}.${UNQUALIFIED_SUFFIX}`;
}

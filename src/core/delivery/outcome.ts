/**
 * What an SMTP answer means for a recipient: pure rules, no I/O.
 *
 *  - 2xx: accepted by the relay, the recipient is `finished`.
 *  - 5xx: permanent failure, `error`, a permanent bounce; the address is suppressed for the account when the
 *    enhanced status code says the mailbox (or its domain) does not exist: 5.1.0 (other address status),
 *    5.1.1 (bad destination mailbox), 5.1.2 (bad destination system), 5.1.3 (bad mailbox syntax),
 *    5.1.6 (mailbox moved), 5.1.10 (null MX, RFC 7505). Without an enhanced code, a 550/551/553 whose text
 *    says "user unknown" / "no such user" / "does not exist" counts too. A full mailbox (5.2.2), a policy
 *    refusal (5.7.x) or a message problem (5.6.x) is not a reason to never write to the address again.
 *  - 4xx, or the connection dropped after the relay had answered: temporary failure, `warning`, retried.
 *  - No answer at all (cannot connect): not a try; see `unreachable` in src/worker/smtp.ts.
 */
export interface SmtpReply {
  code: number | null;
  enhanced: string | null;
  text: string;
}

export type AttemptOutcome = 'finished' | 'error' | 'warning';

const MAILBOX_MISSING = new Set(['5.1.0', '5.1.1', '5.1.2', '5.1.3', '5.1.6', '5.1.10']);
const MAILBOX_MISSING_TEXT = /\b(user|mailbox|recipient|address)\b[^.]{0,20}\b(unknown|not found|does not exist|doesn't exist)\b|\bno such (user|mailbox|recipient)\b/i;

/** "550 5.1.1 user unknown" (or a multi-line reply) into its parts. */
export function parseReply(response: string | undefined | null, fallbackCode?: number | null): SmtpReply {
  const text = (response ?? '').replace(/\r?\n/g, ' ').trim();
  const m = /^(\d{3})[ -]?(?:([245]\.\d{1,3}\.\d{1,3})\s*)?(.*)$/s.exec(text);
  if (!m) return { code: fallbackCode ?? null, enhanced: null, text };
  // Multi-line replies repeat "550-5.1.1 " on every line; keep the words only.
  const rest = m[3]!.replace(/\s\d{3}[ -](?:[245]\.\d{1,3}\.\d{1,3}\s*)?/g, ' ').trim();
  return { code: Number(m[1]), enhanced: m[2] ?? null, text: rest || text };
}

export function attemptOutcome(reply: SmtpReply): AttemptOutcome {
  if (reply.code !== null && reply.code >= 200 && reply.code < 300) return 'finished';
  if (reply.code !== null && reply.code >= 500 && reply.code < 600) return 'error';
  return 'warning';
}

/** Does a permanent failure say the mailbox does not exist (so the address is suppressed)? */
export function mailboxMissing(reply: SmtpReply): boolean {
  if (reply.code === null || reply.code < 500 || reply.code >= 600) return false;
  if (reply.enhanced) return MAILBOX_MISSING.has(reply.enhanced);
  return [550, 551, 553].includes(reply.code) && MAILBOX_MISSING_TEXT.test(reply.text);
}

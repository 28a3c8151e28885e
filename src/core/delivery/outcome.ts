/**
 * What an SMTP answer during sending means for a recipient: pure rules, no I/O. The classification is the
 * bounce log's own (../bounces/classify.ts): by enhanced status code, else reply code, never by words.
 *
 *  - delivered (2xx): the recipient is `finished`.
 *  - permanent: `error`, a permanent bounce; suppressed when the code says the address does not exist.
 *  - temporary (4xx, 5.2.2 mailbox full, or the connection dropped after the relay had answered): `warning`,
 *    a temporary bounce, retried.
 *  - No answer at all (cannot connect): not a try; see `unreachable` in src/worker/smtp.ts.
 */
import { classify, normalizeEnhanced, type Classification } from '../bounces/classify.js';

export interface SmtpReply {
  code: number | null;
  enhanced: string | null;
  text: string;
}

export type AttemptOutcome = 'finished' | 'error' | 'warning';

/** "550 5.1.1 user unknown" (or a multi-line reply) into its parts. */
export function parseReply(response: string | undefined | null, fallbackCode?: number | null): SmtpReply {
  const text = (response ?? '').replace(/\r?\n/g, ' ').trim();
  const m = /^(\d{3})[ -]?(?:([245]\.\d{1,3}\.\d{1,3})\s*)?(.*)$/s.exec(text);
  if (!m) return { code: fallbackCode ?? null, enhanced: null, text };
  // Multi-line replies repeat "550-5.1.1 " on every line; keep the words only.
  const rest = m[3]!.replace(/\s\d{3}[ -](?:[245]\.\d{1,3}\.\d{1,3}\s*)?/g, ' ').trim();
  return { code: Number(m[1]), enhanced: normalizeEnhanced(m[2]), text: rest || text };
}

/** The recipient's status after this reply, and whether its address is to be suppressed. */
export function attemptOutcome(reply: SmtpReply): { status: AttemptOutcome; classification: Classification } {
  const classification = classify({ replyCode: reply.code, enhanced: reply.enhanced });
  const status = classification.outcome === 'delivered' ? 'finished' : classification.outcome === 'permanent' ? 'error' : 'warning';
  return { status, classification };
}

/**
 * What an SMTP reply or a delivery report means for an address: pure rules by code, never by words.
 *
 * The enhanced status code (RFC 3463: class.subject.detail) decides when there is one; else the basic reply
 * code (RFC 5321); else (the connection dropped mid-conversation) it is temporary. A DSN's Action decides
 * first: `delayed` is temporary whatever the status; `delivered`, `relayed` and `expanded` are not bounces.
 *
 *   class 2          delivered
 *   class 4 / 4xx    temporary (retried)
 *   class 5 / 5xx    permanent, but for the exceptions below
 *
 * Exceptions (EXCEPTIONS), as most senders count them:
 *   5.2.2  mailbox full           temporary: the mailbox exists; it is retried, never suppressed
 *   552    (no enhanced code)     temporary: RFC 5321's "exceeded storage allocation", the same thing
 *
 * Suppression (never mail the address again) only for permanent failures that say the address itself does
 * not exist (SUPPRESS): 5.1.0 other address status, 5.1.1 bad destination mailbox, 5.1.2 bad destination
 * system, 5.1.3 bad destination mailbox syntax, 5.1.6 mailbox has moved, 5.1.10 null MX (RFC 7505).
 * A policy refusal (5.7.x), a message problem (5.6.x, 5.3.4) or a bare 5xx without an enhanced code is a
 * permanent bounce of that message, not a verdict on the address. Complaints and unsubscribes suppress too,
 * elsewhere.
 */
export type BounceOutcome = 'delivered' | 'permanent' | 'temporary';

export type BounceCategory = 'address' | 'mailbox' | 'system' | 'network' | 'protocol' | 'message' | 'policy' | 'other';

export interface Classification {
  outcome: BounceOutcome;
  suppress: boolean;
  /** From the enhanced code's subject (X.1 address ... X.7 policy); 'other' without one. */
  category: BounceCategory;
}

export type DsnAction = 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';

/** Enhanced codes counted differently from their class. */
export const EXCEPTIONS: Readonly<Record<string, BounceOutcome>> = { '5.2.2': 'temporary' };
/** Basic reply codes (without an enhanced code) counted differently from their class. */
export const REPLY_EXCEPTIONS: Readonly<Record<number, BounceOutcome>> = { 552: 'temporary' };
/** Permanent failures that say the address does not exist. */
export const SUPPRESS: ReadonlySet<string> = new Set(['5.1.0', '5.1.1', '5.1.2', '5.1.3', '5.1.6', '5.1.10']);

const CATEGORIES: Record<string, BounceCategory> = {
  '1': 'address',
  '2': 'mailbox',
  '3': 'system',
  '4': 'network',
  '5': 'protocol',
  '6': 'message',
  '7': 'policy',
};
const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})$/;

/** '5.01.001' -> '5.1.1'; anything that is not an enhanced code -> null. */
export function normalizeEnhanced(code: string | null | undefined): string | null {
  const m = ENHANCED.exec((code ?? '').trim());
  return m ? `${m[1]}.${Number(m[2])}.${Number(m[3])}` : null;
}

export function classify(input: { replyCode: number | null; enhanced: string | null; action?: DsnAction | null }): Classification {
  const enhanced = normalizeEnhanced(input.enhanced);
  const category = enhanced ? (CATEGORIES[enhanced.split('.')[1]!] ?? 'other') : 'other';
  if (input.action === 'delivered' || input.action === 'relayed' || input.action === 'expanded') return { outcome: 'delivered', suppress: false, category };
  if (input.action === 'delayed') return { outcome: 'temporary', suppress: false, category };
  let outcome: BounceOutcome;
  if (enhanced) outcome = EXCEPTIONS[enhanced] ?? (enhanced[0] === '2' ? 'delivered' : enhanced[0] === '4' ? 'temporary' : 'permanent');
  else if (input.replyCode !== null && input.replyCode >= 200 && input.replyCode < 600) {
    const cls = Math.floor(input.replyCode / 100);
    outcome = REPLY_EXCEPTIONS[input.replyCode] ?? (cls === 2 || cls === 3 ? 'delivered' : cls === 4 ? 'temporary' : 'permanent');
  } else outcome = input.action === 'failed' ? 'permanent' : 'temporary';
  return { outcome, suppress: outcome === 'permanent' && enhanced !== null && SUPPRESS.has(enhanced), category };
}

/**
 * When a temporary failure is tried again, and when it is given up: pure rules, no I/O. The outcome write
 * (recordOutcomes in src/db/delivery.ts) applies them in SQL, with these values as its parameters.
 *
 * The n-th retry of a recipient waits RETRY_BASE_SECONDS * RETRY_GROWTH^(n - 1), at most
 * RETRY_DELAY_CAP_SECONDS. A recipient still failing temporarily RETRY_MAX_HOURS after its first try, or
 * whose next try would fall after the send's deadline, ends TIMEOUT instead.
 *
 * A relay that cannot be reached is none of this: what it did not take is given back untried (no try
 * counted, no first try stamped, no back-off) and the send waits for the relay, probing it every 2 s at
 * most; deferrals its outage caused (conversations lost without an answer) are made due on its return
 * (src/worker/send.ts, src/worker/smtp.ts).
 */
import type { RetryPolicy } from '../../db/delivery.js';

/** Each retry waits this many times longer than the one before. */
export const RETRY_GROWTH = 2;

/** No retry waits longer than 6 hours, however many tries came before. */
export const RETRY_DELAY_CAP_SECONDS = 6 * 3600;

export function retryPolicy(config: { RETRY_BASE_SECONDS: number; RETRY_MAX_HOURS: number }, notAfter: Date | null): RetryPolicy {
  return { baseSeconds: config.RETRY_BASE_SECONDS, growth: RETRY_GROWTH, capSeconds: RETRY_DELAY_CAP_SECONDS, maxHours: config.RETRY_MAX_HOURS, notAfter };
}

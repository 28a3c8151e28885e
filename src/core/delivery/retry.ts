/**
 * When a temporary failure is tried again, and when it is given up: pure rules, no I/O. The outcome write
 * (recordOutcomes in src/db/delivery.ts) applies them in SQL, with these values as its parameters.
 *
 * The n-th retry of a recipient waits RETRY_BASE_SECONDS * RETRY_GROWTH^(n - 1), at most
 * RETRY_DELAY_CAP_SECONDS. A recipient still failing temporarily RETRY_MAX_HOURS after its first try, or
 * whose next try would fall after the send's deadline, ends TIMEOUT instead.
 */
import type { RetryPolicy } from '../../db/delivery.js';

/** Each retry waits this many times longer than the one before. */
export const RETRY_GROWTH = 2;

/** No retry waits longer than 6 hours, however many tries came before. */
export const RETRY_DELAY_CAP_SECONDS = 6 * 3600;

export function retryPolicy(config: { RETRY_BASE_SECONDS: number; RETRY_MAX_HOURS: number }, notAfter: Date | null): RetryPolicy {
  return { baseSeconds: config.RETRY_BASE_SECONDS, growth: RETRY_GROWTH, capSeconds: RETRY_DELAY_CAP_SECONDS, maxHours: config.RETRY_MAX_HOURS, notAfter };
}

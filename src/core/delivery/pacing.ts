/**
 * Spreading a send evenly over `spread_minutes` minutes (Mailgate's own pacing): pure arithmetic, no I/O.
 *
 * At elapsed fraction f of the duration since the mailing started, at most ceil(f * total) recipients may
 * have been tried (at least one: the first goes at the start). The quota is computed from the database's counts at each claim, so several workers
 * together stay within it (up to one batch of overshoot while two claim at the same instant).
 */
export interface PaceInput {
  startTime: Date;
  durationMinutes: number;
  /** Recipients of the send (test recipients excluded). */
  total: number;
  /** Recipients already tried or in flight. */
  tried: number;
  now: Date;
}

/** How many may be claimed now, and when the next one is due when none may. */
export function paceQuota(p: PaceInput): { allowed: number; nextDue: Date | null } {
  const durationMs = p.durationMinutes * 60_000;
  if (durationMs <= 0 || p.total <= 0) return { allowed: Number.POSITIVE_INFINITY, nextDue: null };
  const f = Math.min(1, Math.max(0, (p.now.getTime() - p.startTime.getTime()) / durationMs));
  // The first recipient goes at the start itself.
  const allowed = Math.max(1, Math.ceil(f * p.total)) - p.tried;
  if (allowed > 0) return { allowed, nextDue: null };
  if (p.tried >= p.total) return { allowed: 0, nextDue: null };
  // ceil(f * total) > tried as soon as f > tried / total.
  const due = p.startTime.getTime() + Math.floor((durationMs * p.tried) / p.total) + 1;
  return { allowed: 0, nextDue: new Date(Math.max(due, p.now.getTime() + 1)) };
}

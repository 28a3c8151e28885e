/**
 * A send's life cycle, as the original CloudMailing server runs a mailing: pure rules, no I/O.
 *
 *   filling --start--> ready --(scheduled_start reached, the send job or the manager)--> running --> finished
 *   ready | running | paused --pause--> paused --start--> running (if it had started) | ready
 *
 * A send ends FINISHED when nothing is left to send (regular mailings, unless dont_close_if_empty), or when
 * its deadline passes: scheduled_end, or max_duration_minutes after its actual start (CloudMailing's
 * scheduled_duration), whichever comes first; what is left then ends TIMEOUT. A paused send keeps its
 * deadline (the clock does not stop). Properties can change until the send is FINISHED.
 */
import type { MailingStatus } from '../statuses.js';

export const PAUSABLE: readonly MailingStatus[] = ['ready', 'running', 'paused'];

/** The status `start` leads to, or null when the send cannot be started. */
export function statusAfterStart(s: { status: MailingStatus; started_at: Date | null }): MailingStatus | null {
  switch (s.status) {
    case 'filling':
      return 'ready';
    case 'paused':
      return s.started_at ? 'running' : 'ready';
    case 'ready':
    case 'running':
      return s.status;
    default:
      return null;
  }
}

export const canEdit = (status: MailingStatus) => status !== 'finished';

/** When the send must end: the earlier of scheduled_end and started_at + max_duration_minutes (null: never). */
export function deadlineOf(s: { scheduled_end: Date | null; max_duration_minutes: number; started_at: Date | null }): Date | null {
  const byDuration = s.max_duration_minutes > 0 && s.started_at ? new Date(s.started_at.getTime() + s.max_duration_minutes * 60_000) : null;
  if (!byDuration) return s.scheduled_end;
  if (!s.scheduled_end) return byDuration;
  return byDuration < s.scheduled_end ? byDuration : s.scheduled_end;
}

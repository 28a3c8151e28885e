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
 *
 * The deadline is computed in one place, the SQL function send_deadline(sends) (migrations/
 * 20261129100000_send_deadline.ts): the mailing manager's query compares it with now(), and the send job
 * reads it with its send (SendContext.deadline).
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

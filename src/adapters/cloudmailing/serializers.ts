/**
 * Core views to CloudMailing wire structs: the only place where CloudMailing's status words are spelled.
 * Fields the original server leaves out when null are returned as undefined (the codec leaves them out:
 * XML-RPC has no null without allow_none).
 */
import { emailDomain } from '../../core/email.js';
import type { MailingView } from '../../core/mailings/service.js';
import type { SendWorker } from '../../core/workers/service.js';
import type { RecipientRow } from '../../core/recipients/service.js';
import type { MailingStatus, RecipientStatus } from '../../core/statuses.js';

export const MAILING_STATUS_WORDS: Record<MailingStatus, string> = {
  filling: 'FILLING_RECIPIENTS',
  ready: 'READY',
  running: 'RUNNING',
  paused: 'PAUSED',
  finished: 'FINISHED',
};

export const RECIPIENT_STATUS_WORDS: Record<RecipientStatus, string> = {
  ready: 'READY',
  warning: 'WARNING',
  finished: 'FINISHED',
  error: 'ERROR',
  timeout: 'TIMEOUT',
  general_error: 'GENERAL_ERROR',
};

/**
 * `IN PROGRESS` is not a stored status: it is a READY or WARNING recipient whose batch is leased by a worker
 * right now (claimed, message being built or in an SMTP conversation). Final statuses win over a lease that
 * has not expired yet, so a reader never sees a finished recipient go back to IN PROGRESS.
 */
export const IN_PROGRESS = 'IN PROGRESS';

export function mailingStatusFromWire(word: string): MailingStatus | undefined {
  return (Object.keys(MAILING_STATUS_WORDS) as MailingStatus[]).find((s) => MAILING_STATUS_WORDS[s] === word);
}

/** The core statuses a wire word covers (IN PROGRESS: the ones a lease can hold). */
export function recipientStatusesFromWire(word: string): RecipientStatus[] | undefined {
  if (word === IN_PROGRESS) return ['ready', 'warning'];
  const s = (Object.keys(RECIPIENT_STATUS_WORDS) as RecipientStatus[]).find((k) => RECIPIENT_STATUS_WORDS[k] === word);
  return s ? [s] : undefined;
}

export const WIRE_RECIPIENT_STATUSES = [...Object.values(RECIPIENT_STATUS_WORDS), IN_PROGRESS];
export const WIRE_MAILING_STATUSES = Object.values(MAILING_STATUS_WORDS);

export function recipientStatusWord(r: Pick<RecipientRow, 'status' | 'in_progress'>): string {
  if (r.in_progress && (r.status === 'ready' || r.status === 'warning')) return IN_PROGRESS;
  return RECIPIENT_STATUS_WORDS[r.status];
}

/** Every field of the original's mailing serializer, plus testing, backup_customized_emails and the tracking counts. */
export function mailingStruct(m: MailingView) {
  return {
    id: m.id,
    domain_name: m.domainName,
    satellite_group: m.satelliteGroup ?? undefined,
    owner_guid: m.ownerGuid ?? undefined,
    mail_from: m.fromEmail,
    sender_name: m.fromName ?? undefined,
    subject: m.subject,
    status: MAILING_STATUS_WORDS[m.status],
    type: m.type.toUpperCase(),
    tracking_url: m.trackingUrl ?? undefined,
    dkim: m.dkim ?? undefined,
    header: m.header ?? undefined,
    dont_close_if_empty: m.dontCloseIfEmpty,
    submit_time: m.submitTime,
    scheduled_start: m.scheduledStart ?? undefined,
    scheduled_end: m.scheduledEnd ?? undefined,
    // The original stores "no limit" as None, which its serializer leaves out.
    scheduled_duration: m.maxDurationMinutes || undefined,
    spread_minutes: m.spreadMinutes || undefined,
    start_time: m.startTime ?? undefined,
    end_time: m.endTime ?? undefined,
    total_recipient: m.totals.recipients,
    total_sent: m.totals.sent,
    total_pending: m.totals.pending,
    total_error: m.totals.error,
    total_softbounce: m.totals.softbounce,
    // Mailgate's: hosted tracking's opens and clicks (the original hosts none), people's, then machines'.
    total_opens: m.engagement.opens,
    total_unique_opens: m.engagement.opens_unique,
    total_clicks: m.engagement.clicks,
    total_unique_clicks: m.engagement.clicks_unique,
    total_machine_opens: m.engagement.machine_opens,
    total_machine_unique_opens: m.engagement.machine_opens_unique,
    total_machine_clicks: m.engagement.machine_clicks,
    total_machine_unique_clicks: m.engagement.machine_clicks_unique,
    read_tracking: m.readTracking,
    click_tracking: m.clickTracking,
    url_encoding: m.urlEncoding ?? undefined,
    testing: m.testing,
    backup_customized_emails: m.backupCustomizedEmails,
  };
}

/** A kept message as text: UTF-8 when it is, else Latin-1 (XML-RPC strings must be Unicode). */
function messageText(raw: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    return raw.toString('latin1');
  }
}

export function recipientStruct(r: RecipientRow, opts: { contact: boolean; customized?: Buffer | undefined }) {
  return {
    id: r.tracking_id,
    email: r.email,
    mailing_id: r.mailing_id,
    domain_name: emailDomain(r.email),
    status: recipientStatusWord(r),
    reply_code: r.reply_code ?? undefined,
    reply_enhanced_code: r.reply_enhanced_code ?? undefined,
    reply_text: r.reply_text ?? undefined,
    modified: r.modified_at,
    first_try: r.first_try ?? undefined,
    next_try: r.next_try ?? undefined,
    try_count: r.try_count,
    in_progress: r.in_progress,
    cloud_client: r.sent_by ?? undefined,
    contact: opts.contact ? { ...r.fields, email: r.email } : undefined,
    customized_content: opts.customized ? messageText(opts.customized) : undefined,
  };
}

export function hourlyStatStruct(h: { hour: Date; sent: number; failed: number; tries: number }) {
  return { date: h.hour, epoch_hour: Math.floor(h.hour.getTime() / 3_600_000), sent: h.sent, failed: h.failed, tries: h.tries };
}

/** A send worker as the original listed a satellite. */
export function satelliteStruct(s: SendWorker) {
  return {
    id: s.number,
    serial: s.id,
    enabled: true,
    paired: true,
    date_paired: s.startedAt,
    version: s.version ?? undefined,
  };
}

/**
 * The core's status words (lower case). Each dialect spells them in its own serializer.
 */
export const MAILING_STATUSES = ['filling', 'ready', 'running', 'paused', 'finished'] as const;
export type MailingStatus = (typeof MAILING_STATUSES)[number];

export const RECIPIENT_STATUSES = ['ready', 'warning', 'finished', 'error', 'timeout', 'general_error'] as const;
export type RecipientStatus = (typeof RECIPIENT_STATUSES)[number];

/** Recipient statuses that no longer change by themselves. */
export const FINAL_RECIPIENT_STATUSES: readonly RecipientStatus[] = ['finished', 'error', 'timeout', 'general_error'];

/** Mailing properties may change only in these states (CloudMailing's set_mailing_properties rule). */
export const EDITABLE_MAILING_STATUSES: readonly MailingStatus[] = ['filling', 'paused'];
export const STARTABLE_MAILING_STATUSES: readonly MailingStatus[] = ['filling', 'paused'];
export const PAUSABLE_MAILING_STATUSES: readonly MailingStatus[] = ['ready', 'running', 'paused'];

/**
 * The core's status words (lower case). Each dialect spells them in its own serializer.
 * Mailing statuses are those of a mailing's send (see mailings/lifecycle.ts).
 */
export const MAILING_STATUSES = ['filling', 'ready', 'running', 'paused', 'finished'] as const;
export type MailingStatus = (typeof MAILING_STATUSES)[number];

export const RECIPIENT_STATUSES = ['ready', 'warning', 'finished', 'error', 'timeout', 'general_error'] as const;
export type RecipientStatus = (typeof RECIPIENT_STATUSES)[number];

/**
 * The status words as they are stored (lower case; the schema's CHECK constraints hold the same lists). The
 * core speaks them (src/core/statuses.ts re-exports them); each dialect spells them in its own serializer.
 * Mailing statuses are those of a mailing's send (see src/core/mailings/lifecycle.ts).
 */
export const MAILING_STATUSES = ['filling', 'ready', 'running', 'paused', 'finished'] as const;
export type MailingStatus = (typeof MAILING_STATUSES)[number];

export const RECIPIENT_STATUSES = ['ready', 'warning', 'finished', 'error', 'timeout', 'general_error'] as const;
export type RecipientStatus = (typeof RECIPIENT_STATUSES)[number];

export type SubscriberStatus = 'active' | 'unconfirmed' | 'unsubscribed' | 'bounced' | 'complained' | 'disabled';

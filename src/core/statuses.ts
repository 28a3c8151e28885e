/**
 * The core's status words (lower case), as the database stores them (defined in src/db/statuses.ts, beside the
 * schema that checks them). Each dialect spells them in its own serializer.
 */
export { MAILING_STATUSES, RECIPIENT_STATUSES } from '../db/statuses.js';
export type { MailingStatus, RecipientStatus, SubscriberStatus } from '../db/statuses.js';

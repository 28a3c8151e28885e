/**
 * Transactional sends: one personalized message of an existing mailing, sent now through the pipeline
 * (Mailkit's sendmail). The mailing becomes a standing send: the first such message starts it with
 * `dont_close_if_empty`, so it stays open for the next ones; each message is one more recipient of that send,
 * with its own fields, attachments, and optionally its own subject and body.
 *
 * When a list is named, the address is also added to (or updated in) that list, and the message is that
 * subscriber's. A suppressed address is recorded but not sent (its recipient ends ERROR, as in any send).
 */
import type { CallContext } from '../context.js';
import { emailKey } from '../email.js';
import { DomainError, isDomainError } from '../errors.js';
import type { Store } from '../../db/store.js';
import type { MailingsService } from '../mailings/service.js';
import type { ListsService } from '../lists/service.js';
import type { RecipientsService, Attachment } from '../recipients/service.js';

export interface TransactionalInput {
  mailingId: number;
  listId: number | null;
  /** Without a list: the subscriber the message is about (a confirmation request), for the bounce log. */
  subscriberId?: number | null;
  email: string;
  fields: Record<string, unknown>;
  subject?: string | undefined;
  html?: string | undefined;
  attachments?: { filename: string; data: string; contentType?: string }[];
  /** Not sent before / after (Sender's countdown and expires). */
  notBefore?: Date | null;
  expiresAt?: Date | null;
}

export interface TransactionalResult {
  /** The subscriber's id when a list was named, else the message's. */
  emailId: number;
  sendId: number;
  messageId: number;
  /** The list's subscriber was new. */
  inserted: boolean;
  /** False when the address is suppressed: the message is recorded, not sent. */
  sent: boolean;
}

export function transactionalService(deps: { store: Store; mailings: MailingsService; lists: ListsService; recipients: RecipientsService }) {
  const { store } = deps;
  return {
    async send(ctx: CallContext, input: TransactionalInput): Promise<TransactionalResult> {
      const mailing = await deps.mailings.get(ctx, input.mailingId).catch((e: unknown) => {
        throw isDomainError(e) && e.code === 'NOT_FOUND' ? new DomainError('NOT_FOUND', e.message, 'mailingId') : e;
      });
      if (mailing.status === 'finished') throw new DomainError('NOT_FOUND', `mailing ${input.mailingId} is finished`, 'mailingId');
      let subscriberId: number | null = input.subscriberId ?? null;
      let inserted = false;
      if (input.listId !== null) {
        const [r] = await deps.lists.subscribe(ctx, input.listId, [{ email: input.email, params: input.fields }]).catch((e: unknown) => {
          throw isDomainError(e) && e.code === 'NOT_FOUND' ? new DomainError('NOT_FOUND', e.message, 'listId') : e;
        });
        if (!r || 'error' in r) throw new DomainError('INVALID_ARGUMENT', r && 'error' in r ? r.error : 'not added', 'email');
        subscriberId = r.id;
        inserted = r.inserted;
      }
      const attachments: Attachment[] = (input.attachments ?? []).map((a) => ({ filename: a.filename, contentType: a.contentType ?? 'application/octet-stream', data: a.data }));
      const content = input.subject !== undefined || input.html !== undefined ? { subject: input.subject, html: input.html } : null;
      const [added] = await deps.recipients.add(ctx, input.mailingId, [{ email: input.email, fields: input.fields, attachments, subscriberId, content, notBefore: input.notBefore ?? null, expiresAt: input.expiresAt ?? null }]);
      if (!added || 'error' in added) throw new DomainError('INVALID_ARGUMENT', added && 'error' in added ? added.error : 'not added', 'email');
      if (!mailing.dontCloseIfEmpty) await deps.mailings.setProperties(ctx, input.mailingId, { dontCloseIfEmpty: true });
      if (mailing.status === 'filling') await deps.mailings.start(ctx, input.mailingId);
      const [row] = await store.recipients.byTrackingIds(ctx.accountId, [added.id]);
      const suppressed = (await store.suppressions.get(ctx.accountId, emailKey(input.email))) !== undefined;
      return { emailId: subscriberId ?? row!.id, sendId: row!.send_id, messageId: row!.id, inserted, sent: !suppressed };
    },
  };
}
export type TransactionalService = ReturnType<typeof transactionalService>;

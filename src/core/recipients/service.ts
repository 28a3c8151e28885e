/**
 * Recipients of a mailing: bulk add with one result per item, status reads, the status feed, resets.
 */
import type { CallContext } from '../context.js';
import { isValidEmail } from '../email.js';
import { badRequest, notFound } from '../errors.js';
import { RECIPIENT_STATUSES, type RecipientStatus } from '../statuses.js';
import type { Store } from '../../db/store.js';
import type { NewRecipient, RecipientContent, RecipientFilter, RecipientRow } from '../../db/recipients.js';
import type { SendOfRow } from '../../db/mailings.js';
import { FEED_START, cursorCodec } from './cursor.js';
import { newTrackingId } from './tracking-id.js';

export type { RecipientFilter, RecipientRow, SendOfRow };

export interface RecipientsDeps {
  store: Store;
  cursorSecret: Buffer;
  maxPerCall: number;
  sendLanes: number;
}

export interface RecipientInput {
  email: unknown;
  trackingId?: unknown;
  attachments?: Attachment[] | null | undefined;
  /** Personalization fields (everything but email, tracking id, attachments). */
  fields: Record<string, unknown>;
  /** The list subscriber the message is for (transactional sends). */
  subscriberId?: number | null;
  /** The message's own subject / body (transactional sends). */
  content?: RecipientContent | null;
  /** Not sent before this time (a transactional countdown). */
  notBefore?: Date | null;
  /** Not sent after this time: the recipient ends TIMEOUT instead (a transactional expiry). */
  expiresAt?: Date | null;
}

export type AddResult = { email: unknown; id: string } | { email: unknown; error: string };

export interface Attachment {
  filename?: string | undefined;
  contentType: string;
  charset?: string | undefined;
  /** base64 */
  data: string;
}

export const FEED_MAX = 1000;
const FEED_DEFAULT_STATUSES = RECIPIENT_STATUSES.filter((s) => s !== 'ready');
const MIME_TYPE = /^[\w.+-]+\/[\w.+-]+$/;
const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

/** A neutral reason an attachment is refused, or null. */
function attachmentProblem(a: Attachment[]): string | null {
  for (const [i, x] of a.entries()) {
    if (x.filename !== undefined && (!x.filename || /[\\/\0\r\n]/.test(x.filename))) return `attachment ${i + 1}: the file name must be a plain name`;
    if (!MIME_TYPE.test(x.contentType)) return `attachment ${i + 1}: a MIME type is required`;
    if (!BASE64.test(x.data)) return `attachment ${i + 1}: the data must be base64`;
  }
  return null;
}

export function recipientsService(deps: RecipientsDeps) {
  const { store } = deps;
  const cursors = cursorCodec(deps.cursorSecret);

  /**
   * `message` (a transactional message's recipients): `check` may refuse the mailing as read (locked) in the
   * transaction, by throwing, before anything is written (a transactional mailing's rows are written by the
   * statement that reads it, so check may refuse only what that statement does not write for: a mailing
   * missing or finished); the rows go in by INSERT, and `ids` maps each new row's tracking id to its id. A
   * running send of a mailing marked transactional then has its job left for the caller to wake once
   * committed (`wake`: the send id, null: nothing to wake; see src/core/transactional/wake.ts); any other
   * send's job commits with the recipients.
   */
  async function add(
    ctx: CallContext,
    mailingId: number,
    items: RecipientInput[],
    test: boolean,
    message?: { check: (m: SendOfRow | undefined) => void },
  ): Promise<{ results: AddResult[]; wake: number | null; mailing: SendOfRow; ids: Map<string, number> }> {
    if (items.length > deps.maxPerCall) {
      throw badRequest(`too many recipients in one call: ${items.length} (at most ${deps.maxPerCall}); split them over several calls`);
    }
    const results = new Array<AddResult>(items.length);
    const rows: (NewRecipient & { index: number })[] = [];
    let freshIds = true;
    for (let index = 0; index < items.length; index++) {
      const item = items[index]!;
      const { email } = item;
      if (!isValidEmail(email)) {
        results[index] = { email, error: email === undefined ? 'an email address is required' : `invalid email address: ${JSON.stringify(email)}` };
        continue;
      }
      let trackingId: string;
      if (item.trackingId === undefined || item.trackingId === null || item.trackingId === '') trackingId = newTrackingId();
      else if (typeof item.trackingId !== 'string' || item.trackingId.length >= 50) {
        results[index] = { email, error: 'the tracking id must be a string under 50 characters' };
        continue;
      } else {
        trackingId = item.trackingId;
        freshIds = false;
      }
      let attachments: Attachment[] | null = null;
      if (item.attachments?.length) {
        const problem = attachmentProblem(item.attachments);
        if (problem) {
          results[index] = { email, error: problem };
          continue;
        }
        attachments = item.attachments.map((a) => ({ ...a, data: a.data.replace(/\s+/g, '') }));
      }
      // COPY writes the common columns only: a row with a subscriber or its own content goes by INSERT.
      if (item.subscriberId || item.content || item.notBefore || item.expiresAt) freshIds = false;
      rows.push({
        index,
        tracking_id: trackingId,
        email,
        fields: item.fields,
        attachments,
        subscriber_id: item.subscriberId ?? null,
        content: item.content ?? null,
        next_try: item.notBefore ?? null,
        expires_at: item.expiresAt ?? null,
      });
    }
    let wake: number | null = null;
    let ids = new Map<string, number>();
    const report = (inserted: Set<string> | 'all') => {
      if (inserted === 'all') {
        for (const r of rows) results[r.index] = { email: r.email, id: r.tracking_id };
        return;
      }
      for (const r of rows) {
        results[r.index] = inserted.has(r.tracking_id)
          ? { email: r.email, id: r.tracking_id }
          : { email: r.email, error: `tracking id already used: ${r.tracking_id}` };
        inserted.delete(r.tracking_id); // a repeated tracking id within one call is reported on its second use
      }
    };
    if (message) {
      // A transactional mailing's message in one statement (no BEGIN, COMMIT, nor a separate read): the
      // statement's own transaction is what the one below would be, with the send left to wake after it.
      const one = await store.recipients.insertMessage(ctx.accountId, mailingId, rows);
      message.check(one.mailing);
      if (one.mailing?.transactional && one.mailing.status !== 'finished') {
        report(new Set(one.ids.keys()));
        return { results, wake: rows.length && one.mailing.status === 'running' ? one.mailing.send_id : null, mailing: one.mailing, ids: one.ids };
      }
    }
    const mailing = await store.transaction(async (tx) => {
      const m = await tx.mailings.sendOf(ctx.accountId, mailingId, 'FOR SHARE');
      message?.check(m);
      if (!m) throw notFound('mailing', mailingId);
      if (!test && m.status === 'finished') throw badRequest(`mailing ${mailingId} is finished: no recipient can be added`);
      if (message) ids = await tx.recipients.insertReturningIds(ctx.accountId, mailingId, m.send_id, test, rows);
      const inserted = message ? new Set(ids.keys()) : await tx.recipients.insertMany(ctx.accountId, mailingId, m.send_id, test, rows, freshIds);
      report(inserted);
      if (test && rows.length) await tx.jobs.enqueueSend(m.send_id, null, 1, true);
      else if (rows.length && m.status === 'running') {
        if (message && m.transactional) wake = m.send_id;
        else await tx.jobs.enqueueSend(m.send_id, null, deps.sendLanes);
      }
      return m;
    });
    return { results, wake, mailing, ids };
  }

  return {
    add: async (ctx: CallContext, mailingId: number, items: RecipientInput[]) => (await add(ctx, mailingId, items, false)).results,
    /**
     * A transactional message's recipients (see add's `message`): concurrent messages of a transactional
     * mailing never wait on each other's job row. Answers the mailing as read in the transaction too.
     */
    addMessage: (ctx: CallContext, mailingId: number, items: RecipientInput[], check: (m: SendOfRow | undefined) => void) =>
      add(ctx, mailingId, items, false, { check }),
    /** Sent at once, whatever the mailing's state; counted in its totals (as the original server does). */
    sendTest: async (ctx: CallContext, mailingId: number, items: RecipientInput[]) => (await add(ctx, mailingId, items, true)).results,

    count: (ctx: CallContext, filter: RecipientFilter) => store.recipients.count(ctx.accountId, filter),

    async status(ctx: CallContext, trackingIds: string[]): Promise<RecipientRow[]> {
      if (trackingIds.length > FEED_MAX) throw badRequest(`at most ${FEED_MAX} recipient ids per call`);
      const rows = await store.recipients.byTrackingIds(ctx.accountId, trackingIds);
      const byId = new Map(rows.map((r) => [r.tracking_id, r]));
      return trackingIds.map((id) => byId.get(id)).filter((r): r is RecipientRow => r !== undefined);
    },

    /**
     * The recipients whose status changed after the cursor, oldest change first. A cursor this installation
     * did not sign (one saved from another server, or damaged) restarts the feed from its beginning.
     */
    async feed(
      ctx: CallContext,
      cursor: string,
      opts: { statuses?: RecipientStatus[] | undefined; mailingIds?: number[] | undefined; max?: number | undefined },
    ) {
      const after = cursors.decode(cursor) ?? FEED_START;
      const max = Math.min(Math.max(1, opts.max ?? FEED_MAX), FEED_MAX);
      const statuses = opts.statuses?.length ? opts.statuses : FEED_DEFAULT_STATUSES;
      const page = await store.recipients.statusFeed(ctx.accountId, after, statuses, opts.mailingIds ?? null, max, max * 10);
      return { cursor: cursors.encode(page.next), recipients: page.rows };
    },

    /** The messages kept for these recipients (mailings with backup_customized_emails); `remove` frees them once read. */
    customizedMessages: (ctx: CallContext, recipientIds: number[], remove = false) => store.recipients.customizedMessages(ctx.accountId, recipientIds, remove),

    async reset(ctx: CallContext, trackingIds: string[]): Promise<number> {
      if (!trackingIds.length) return 0;
      return await store.transaction(async (tx) => {
        const r = await tx.recipients.reset(ctx.accountId, trackingIds);
        for (const mailingId of r.mailingIds) {
          const m = await tx.mailings.get(ctx.accountId, mailingId, 'FOR UPDATE');
          if (!m) continue;
          if (m.status === 'finished') await tx.mailings.setSendStatus(m.send_id, 'running');
          if (m.status === 'finished' || m.status === 'running') await tx.jobs.enqueueSend(m.send_id, null, deps.sendLanes);
        }
        return r.count;
      });
    },
  };
}
export type RecipientsService = ReturnType<typeof recipientsService>;

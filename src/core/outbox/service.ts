/**
 * The capture outbox: what the built-in SMTP capture kept when no relay is configured (src/capture), each
 * account seeing the messages of its own mailings and never another's.
 */
import type { CallContext } from '../context.js';
import type { CapturedRow } from '../../db/captured.js';
import type { Store } from '../../db/store.js';

export type CapturedMessage = CapturedRow;

export function outboxService(deps: { store: Store }) {
  const { captured } = deps.store;
  return {
    /** The account's newest `limit` messages (older than message `beforeId` when given), and how many it has in all. */
    async page(ctx: CallContext, limit: number, beforeId?: number): Promise<{ messages: CapturedMessage[]; total: number }> {
      const messages = await captured.list(ctx.accountId, limit, beforeId);
      const total = await captured.count(ctx.accountId);
      return { messages, total };
    },
    /** One message as captured, byte for byte; undefined when the account has no such message. */
    raw: (ctx: CallContext, id: number): Promise<Buffer | undefined> => captured.raw(ctx.accountId, id),
  };
}
export type OutboxService = ReturnType<typeof outboxService>;

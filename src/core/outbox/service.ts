/**
 * The capture outbox: what the built-in SMTP capture kept when no relay is configured (src/capture). An
 * operator sees every account's messages, each with its account; an API key (the scripted read) sees those of
 * its own account's mailings and never another's. `scope` says which: an account id, or null for all.
 */
import type { CapturedSummaryRow, Page } from '../../db/overview.js';
import type { Store } from '../../db/store.js';
import type { MessageCodec, MessageSummary } from '../mailings/message.js';

export type CapturedMessage = CapturedSummaryRow;

export function outboxService(deps: { store: Store; messages: MessageCodec }) {
  const { overview, captured } = deps.store;
  return {
    /** The newest messages of the scope (older than `page.beforeId` when given, matching `page.search`), and how many it has in all. */
    async page(scope: number | null, page: Page): Promise<{ messages: CapturedMessage[]; total: number }> {
      const [messages, total] = await Promise.all([overview.captured(scope, page), overview.capturedCount(scope)]);
      return { messages, total };
    },
    /** One message with its bytes as captured; undefined when the scope has no such message. */
    message: (scope: number | null, id: number) => overview.capturedMessage(scope, id),
    /** What a reader of the message would see: its html and text parts (undefined when the scope has no such message). */
    async preview(scope: number | null, id: number): Promise<MessageSummary | undefined> {
      const m = await overview.capturedMessage(scope, id);
      return m && (await deps.messages.summarize(m.raw));
    },
    /** Deletes every captured message, or (with `days`) those received more than `days` days ago. */
    purge: (days: number | null) => captured.purge(days),
  };
}
export type OutboxService = ReturnType<typeof outboxService>;

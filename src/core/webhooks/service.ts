/**
 * Webhook endpoints as an account manages them (the CLI now, the admin pages later): add one (its signing
 * secret is shown once, at its creation), list, remove, disable, enable, the attempt log, replay.
 *
 * What is sent, and when, is not here: the outbox is written by triggers in the transaction of each change
 * (migration 20261207300000_webhooks.ts), and src/worker/webhooks.ts delivers it.
 */
import { randomBytes } from 'node:crypto';
import type { CallContext } from '../context.js';
import { invalid, notFound } from '../errors.js';
import type { Store } from '../../db/store.js';
import type { AttemptRow, EndpointRow } from '../../db/webhooks.js';
import { SECRET_PREFIX, WEBHOOK_KINDS, type WebhookKind } from './payload.js';

export { WEBHOOK_KINDS, type WebhookKind };

/** An endpoint as its account sees it: no secret (it is shown once, by add). */
export interface WebhookEndpoint {
  id: number;
  url: string;
  kinds: WebhookKind[];
  description: string | null;
  createdAt: Date;
  /** Null while enabled. */
  disabledAt: Date | null;
  disabledReason: string | null;
  /** Failed tries in a row (0: healthy; a try is one round of attempts), since when, and when the next may be made. */
  failures: number;
  failingSince: Date | null;
  retryAt: Date | null;
}

export type WebhookAttempt = AttemptRow;

const view = (e: EndpointRow): WebhookEndpoint => ({
  id: e.id,
  url: e.url,
  kinds: e.kinds as WebhookKind[],
  description: e.description,
  createdAt: e.created_at,
  disabledAt: e.disabled_at,
  disabledReason: e.disabled_reason,
  failures: e.failures,
  failingSince: e.failing_since,
  retryAt: e.retry_at,
});

export const ATTEMPTS_MAX = 1000;

function checkUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid(`not a URL: ${url}`, 'url');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid(`the URL must be http or https: ${url}`, 'url');
  if (u.username || u.password) throw invalid('the URL must not carry credentials', 'url');
  return u.href;
}

function checkKinds(kinds: readonly string[]): WebhookKind[] {
  if (!kinds.length) throw invalid(`name at least one event kind (${WEBHOOK_KINDS.join(', ')})`, 'kinds');
  const bad = kinds.filter((k) => !(WEBHOOK_KINDS as readonly string[]).includes(k));
  if (bad.length) throw invalid(`unknown event kind: ${bad.join(', ')} (known: ${WEBHOOK_KINDS.join(', ')})`, 'kinds');
  return WEBHOOK_KINDS.filter((k) => kinds.includes(k));
}

export function webhooksService(deps: { store: Store }) {
  const { webhooks } = deps.store;
  const owned = async (ctx: CallContext, id: number): Promise<EndpointRow> => {
    const e = await webhooks.endpoint(id);
    if (!e || e.account_id !== ctx.accountId) throw notFound('webhook endpoint', id);
    return e;
  };
  return {
    /** A new endpoint for the kinds named, with its signing secret (`whsec_<base64>`): shown here only. */
    async add(
      ctx: CallContext,
      input: { url: string; kinds: readonly string[]; description?: string | null },
    ): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
      const url = checkUrl(input.url);
      const kinds = checkKinds(input.kinds);
      const secret = `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
      const row = await webhooks.createEndpoint({ accountId: ctx.accountId, url, kinds, secret, description: input.description ?? null });
      return { endpoint: view(row), secret };
    },

    async list(ctx: CallContext): Promise<(WebhookEndpoint & { pending: number; delivered: number; failed: number })[]> {
      const rows = await webhooks.endpoints(ctx.accountId);
      return await Promise.all(rows.map(async (r) => ({ ...view(r), ...(await webhooks.backlog(r.id)) })));
    },

    async get(ctx: CallContext, id: number): Promise<WebhookEndpoint> {
      return view(await owned(ctx, id));
    },

    /** The endpoint goes, with its undelivered messages and its attempt log. */
    async remove(ctx: CallContext, id: number): Promise<void> {
      if (!(await webhooks.removeEndpoint(ctx.accountId, id))) throw notFound('webhook endpoint', id);
    },

    /** Nothing is sent to it until it is enabled; what happens meanwhile queues. */
    async disable(ctx: CallContext, id: number, reason = 'disabled by the operator'): Promise<WebhookEndpoint> {
      const e = await webhooks.disableEndpoint(ctx.accountId, id, reason);
      if (!e) throw notFound('webhook endpoint', id);
      return view(e);
    },

    /** Enabled with a clean slate (no failures counted): what queued is sent at once. */
    async enable(ctx: CallContext, id: number): Promise<WebhookEndpoint> {
      const e = await webhooks.enableEndpoint(ctx.accountId, id);
      if (!e) throw notFound('webhook endpoint', id);
      return view(e);
    },

    /** The newest attempts (of one endpoint; only failed ones), newest first. */
    async attempts(ctx: CallContext, f: { endpointId?: number | null; failedOnly?: boolean; limit?: number } = {}): Promise<WebhookAttempt[]> {
      const limit = f.limit ?? 50;
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > ATTEMPTS_MAX) throw invalid(`the limit is 1 to ${ATTEMPTS_MAX}`, 'limit');
      if (f.endpointId != null) await owned(ctx, f.endpointId);
      return await webhooks.attempts(ctx.accountId, { endpointId: f.endpointId ?? null, failedOnly: f.failedOnly ?? false, limit });
    },

    /** Send the message of an attempt again now, under the same webhook-id, with a fresh retry schedule. */
    async replay(ctx: CallContext, attemptId: number): Promise<{ msgId: string; endpointId: number }> {
      const r = await webhooks.replay(ctx.accountId, attemptId);
      if (!r) throw notFound('webhook attempt', attemptId);
      return { msgId: r.msg_id, endpointId: r.endpoint_id };
    },
  };
}
export type WebhooksService = ReturnType<typeof webhooksService>;

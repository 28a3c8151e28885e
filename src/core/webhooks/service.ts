/**
 * Webhook endpoints as an account manages them (the CLI and the admin pages): add one (its signing secret is
 * shown once, at its creation, and at each rotation), list, remove, pause (disable), enable, rotate the secret,
 * the attempt log, replay.
 *
 * What is sent, and when, is not here: the outbox is written by triggers in the transaction of each change
 * (migration 20261207300000_webhooks.ts), and src/worker/webhooks.ts delivers it. A replay only puts a message
 * back in that outbox (pending, due now) and wakes the endpoint's job: no request path ever POSTs to a receiver.
 *
 * Who creates endpoints: operators only (`mailgate webhooks add`, the admin pages); no dialect's API has a call
 * for it. So an endpoint on a private, loopback or link-local address is accepted on purpose (a company's own
 * receivers are often internal); what is checked is that the URL is http(s) with a host, carries no
 * credentials, and is at most URL_MAX characters. Were a tenant's API to create endpoints, those addresses
 * would have to be refused for it, at creation and again at connect time (DNS can change).
 */
import { randomBytes } from 'node:crypto';
import type { CallContext } from '../context.js';
import { invalid, notFound } from '../errors.js';
import type { Store } from '../../db/store.js';
import type { AttemptRow, EndpointOverviewRow, EndpointRow, LogRow } from '../../db/webhooks.js';
import { SECRET_PREFIX, WEBHOOK_KINDS, webhookPayload, type WebhookKind } from './payload.js';

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

/** The longest endpoint URL accepted (what browsers and proxies reliably carry). */
export const URL_MAX = 2000;

/**
 * An endpoint's URL, checked before anything is stored. A refusal never prints back a URL that may carry
 * credentials (nor one too long or unreadable to print): only a URL already known to carry none is quoted.
 */
function checkUrl(url: string): string {
  if (url.length > URL_MAX) throw invalid(`the URL is too long (${url.length} characters; at most ${URL_MAX})`, 'url');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid('not a URL (an endpoint is an http or https URL with a host, such as https://hooks.example.org/in)', 'url');
  }
  if (u.username || u.password) throw invalid('the URL must not carry credentials (user:password@); the signature authenticates each request', 'url');
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid(`the URL must be http or https: ${url}`, 'url');
  if (!u.hostname) throw invalid(`the URL must name a host: ${url}`, 'url');
  if (u.href.length > URL_MAX) throw invalid(`the URL is too long (${u.href.length} characters once normalised; at most ${URL_MAX})`, 'url');
  return u.href;
}

function checkKinds(kinds: readonly string[]): WebhookKind[] {
  if (!kinds.length) throw invalid(`name at least one event kind (${WEBHOOK_KINDS.join(', ')})`, 'kinds');
  const bad = kinds.filter((k) => !(WEBHOOK_KINDS as readonly string[]).includes(k));
  if (bad.length) throw invalid(`unknown event kind: ${bad.join(', ')} (known: ${WEBHOOK_KINDS.join(', ')})`, 'kinds');
  return WEBHOOK_KINDS.filter((k) => kinds.includes(k));
}

/**
 * An endpoint's state: active; paused by a person (the admin's pause, the CLI's disable: their reason is shown);
 * disabled by the circuit after failing for WEBHOOK_DISABLE_AFTER_HOURS (its reason, written by
 * src/db/webhooks.ts recordAttempts, starts with CIRCUIT_REASON). Either way nothing is sent and messages queue.
 */
export type EndpointState = 'active' | 'paused' | 'disabled';
export const CIRCUIT_REASON = 'failing since ';
export const PAUSED_REASON = 'paused by the operator';

export const stateOf = (e: Pick<WebhookEndpoint, 'disabledAt' | 'disabledReason'>): EndpointState =>
  e.disabledAt === null ? 'active' : e.disabledReason?.startsWith(CIRCUIT_REASON) ? 'disabled' : 'paused';

/** An endpoint as an operator's list shows it. */
export interface EndpointOverview extends WebhookEndpoint {
  account: string;
  state: EndpointState;
  /** Messages not delivered yet (waiting for a retry, or for a paused or disabled endpoint, included). */
  pending: number;
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  lastFailure: string | null;
}

const overviewOf = (r: EndpointOverviewRow): EndpointOverview => {
  const v = view(r);
  return {
    ...v,
    account: r.account,
    state: stateOf(v),
    pending: r.pending,
    lastSuccessAt: r.last_success_at,
    lastFailureAt: r.last_failure_at,
    lastFailure: r.last_failure,
  };
};

export type WebhookLogLine = LogRow;

/** One delivery attempt with its message: the body every attempt of it sends, and all its attempts. */
export interface WebhookDelivery {
  attempt: LogRow;
  message: { msgId: string; kind: string; state: string; occurredAt: Date; createdAt: Date; nextAttemptAt: Date; deliveredAt: Date | null };
  /** The request body exactly as the delivery job renders it (from the message's snapshot). */
  body: string;
  attempts: LogRow[];
}

export function webhooksService(deps: { store: Store; bounceDomain: string }) {
  const { webhooks } = deps.store;
  const owned = async (ctx: CallContext, id: number): Promise<EndpointRow> => {
    const e = await webhooks.endpoint(id);
    if (!e || e.account_id !== ctx.accountId) throw notFound('webhook endpoint', id);
    return e;
  };
  const service = {
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

    // --- operators (the admin pages): every account's endpoints; a change is made in the owner's context

    /** Every account's endpoints (an operator's view), with their state, backlog and last success and failure. */
    async overview(): Promise<EndpointOverview[]> {
      return (await webhooks.overview({})).map(overviewOf);
    },

    /** One endpoint as the operator's list shows it, with its delivered and failed counts. */
    async endpointOverview(ctx: CallContext, id: number): Promise<EndpointOverview & { delivered: number; failed: number }> {
      const [row] = await webhooks.overview({ accountId: ctx.accountId, id });
      if (!row) throw notFound('webhook endpoint', id);
      const { delivered, failed } = await webhooks.backlog(id);
      return { ...overviewOf(row), delivered, failed };
    },

    /** The call context of the account endpoint `id` belongs to (NOT_FOUND when there is none). */
    async endpointContext(id: number, requestId: string): Promise<CallContext> {
      const e = await webhooks.endpoint(id);
      if (!e) throw notFound('webhook endpoint', id);
      return { accountId: e.account_id, requestId };
    },

    /** The call context of the account attempt `id` was made for (NOT_FOUND when there is none). */
    async attemptContext(id: number, requestId: string): Promise<CallContext> {
      const accountId = await webhooks.attemptAccount(id);
      if (accountId === undefined) throw notFound('webhook attempt', id);
      return { accountId, requestId };
    },

    /** Nothing is sent until it is resumed (enable); what happens meanwhile queues. */
    pause: (ctx: CallContext, id: number) => service.disable(ctx, id, PAUSED_REASON),

    /** A new signing secret, shown here only; the old one stops at once (no overlap: one secret per endpoint). */
    async rotate(ctx: CallContext, id: number): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
      const secret = `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
      const row = await webhooks.rotateSecret(ctx.accountId, id, secret);
      if (!row) throw notFound('webhook endpoint', id);
      return { endpoint: view(row), secret };
    },

    /** An endpoint's attempt log, newest first; `beforeId` pages to older attempts. */
    async log(ctx: CallContext, endpointId: number, f: { failedOnly?: boolean; beforeId?: number | null; limit?: number } = {}): Promise<LogRow[]> {
      const limit = f.limit ?? 50;
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > ATTEMPTS_MAX) throw invalid(`the limit is 1 to ${ATTEMPTS_MAX}`, 'limit');
      await owned(ctx, endpointId);
      return await webhooks.log(ctx.accountId, endpointId, { failedOnly: f.failedOnly ?? false, beforeId: f.beforeId ?? null, limit });
    },

    /** One attempt with its message's body and every attempt of that message. */
    async delivery(ctx: CallContext, attemptId: number): Promise<WebhookDelivery> {
      const d = await webhooks.attemptDetail(ctx.accountId, attemptId);
      if (!d) throw notFound('webhook attempt', attemptId);
      const m = d.message;
      return {
        attempt: d.attempt,
        message: {
          msgId: m.msg_id,
          kind: m.kind,
          state: m.state,
          occurredAt: m.occurred_at,
          createdAt: m.created_at,
          nextAttemptAt: m.next_attempt_at,
          deliveredAt: m.delivered_at,
        },
        body: JSON.stringify(webhookPayload(m, { bounceDomain: deps.bounceDomain })),
        attempts: await webhooks.messageAttempts(m.id),
      };
    },

    /**
     * Send again every message of the endpoint not delivered that had a failed attempt at or after `since`,
     * each under its webhook-id, through the outbox. How many were queued.
     */
    async replayFailedSince(ctx: CallContext, endpointId: number, since: Date): Promise<number> {
      if (Number.isNaN(since.getTime())) throw invalid('not a time', 'since');
      const n = await webhooks.replayFailedSince(ctx.accountId, endpointId, since);
      if (n === undefined) throw notFound('webhook endpoint', endpointId);
      return n;
    },
  };
  return service;
}
export type WebhooksService = ReturnType<typeof webhooksService>;

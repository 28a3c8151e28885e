/**
 * What a webhook message says and how it is signed (the Standard Webhooks specification). Pure: the delivery
 * job (src/worker/webhooks.ts) renders each message from its outbox snapshot and signs it on every attempt.
 *
 * A payload names the recipient, the mailing and the send only by the ids the mailing's dialect shows its
 * client (never an id that dialect keeps to itself):
 * - cloudmailing: the mailing's id; the recipient's id is its tracking_id; no send (CloudMailing has none).
 * - mailkit: ID_MESSAGE (mailing), ID_SEND (send), ID_SEND_MESSAGE (recipient) and ID_EMAIL (its subscriber,
 *   else the recipient), under their Mailkit names.
 * - emailicious: the mailing's id and name, the delivery's id (the send), the subscriber's id when the
 *   recipient came from a list.
 * - sender: the campaign (its id and slug) and the message's message_id (`<r..m..@bounce-domain>`).
 */
import { createHmac } from 'node:crypto';
import type { MessageRow } from '../../db/webhooks.js';
import { messageIdOf } from '../delivery/tokens.js';

export const WEBHOOK_KINDS = ['delivered', 'deferred', 'bounced', 'complained', 'unsubscribed', 'opened', 'clicked'] as const;
export type WebhookKind = (typeof WEBHOOK_KINDS)[number];

/** The kinds whose payload carries the relay's (or the report's) reply. */
const REPLY_KINDS = new Set(['delivered', 'deferred', 'bounced']);
/** The kinds whose payload carries a verdict. */
const VERDICT_KINDS = new Set(['opened', 'clicked']);

/** An outbox message's snapshot (src/db/webhooks.ts), as much of it as a payload needs. */
export type WebhookSnapshot = Omit<MessageRow, 'id' | 'attempts'>;

type Ids = { recipient: Record<string, unknown>; mailing: Record<string, unknown> | null; send: Record<string, unknown> | null };

function idsOf(m: WebhookSnapshot, bounceDomain: string): Ids {
  const mailing = m.mailing_id === null ? null : { id: m.mailing_id, ...(m.mailing_name !== null ? { name: m.mailing_name } : {}) };
  switch (m.dialect) {
    case 'cloudmailing':
      return { recipient: m.tracking_id !== null ? { id: m.tracking_id } : {}, mailing, send: null };
    case 'mailkit':
      return {
        recipient: m.recipient_id !== null ? { ID_SEND_MESSAGE: m.recipient_id, ID_EMAIL: m.subscriber_id ?? m.recipient_id } : {},
        mailing: m.mailing_id === null ? null : { ID_MESSAGE: m.mailing_id, ...(m.mailing_name !== null ? { name: m.mailing_name } : {}) },
        send: m.send_id === null ? null : { ID_SEND: m.send_id },
      };
    case 'emailicious':
      return { recipient: m.subscriber_id !== null ? { subscriber_id: m.subscriber_id } : {}, mailing, send: m.send_id === null ? null : { id: m.send_id } };
    case 'sender':
      return {
        recipient: m.recipient_id !== null && m.mailing_id !== null ? { message_id: messageIdOf(m.recipient_id, m.mailing_id, bounceDomain) } : {},
        mailing,
        send: null,
      };
    default:
      return { recipient: {}, mailing, send: null };
  }
}

/** The message's JSON body: `{type, timestamp, data}`, as the Standard Webhooks specification suggests. */
export function webhookPayload(m: WebhookSnapshot, o: { bounceDomain: string }): Record<string, unknown> {
  const ids = idsOf(m, o.bounceDomain);
  const data: Record<string, unknown> = {
    dialect: m.dialect,
    recipient: { email: m.email, ...ids.recipient },
    mailing: ids.mailing,
    send: ids.send,
  };
  if (REPLY_KINDS.has(m.kind)) {
    data.status = m.status;
    data.reply = { code: m.reply_code, enhanced_code: m.enhanced_code, text: m.reply_text, remote_mta: m.remote_mta };
  }
  if (VERDICT_KINDS.has(m.kind)) {
    data.verdict = m.verdict;
    data.verdict_reason = m.verdict_reason;
  }
  if (m.kind === 'clicked') {
    data.link = m.link;
    data.link_index = m.link_index;
  }
  return { type: m.kind, timestamp: m.occurred_at.toISOString(), data };
}

/** A new signing secret: `whsec_` and 32 random bytes in base64 (the form the specification's libraries take). */
export const SECRET_PREFIX = 'whsec_';

/**
 * The `webhook-signature` header: `v1,` and the base64 HMAC-SHA256, keyed by the secret's base64-decoded
 * bytes, of `<webhook-id>.<webhook-timestamp>.<body>`.
 */
export function webhookSignature(secret: string, msgId: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${msgId}.${timestampSeconds}.${body}`).digest('base64')}`;
}

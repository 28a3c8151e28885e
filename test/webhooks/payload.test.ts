/**
 * What a webhook says, per dialect: the recipient, the mailing and the send by the ids that dialect shows its
 * client and no other; and the signature, byte for byte the Standard Webhooks reference library's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { webhookPayload, webhookSignature, type WebhookSnapshot } from '../../src/core/webhooks/payload.js';

const base: WebhookSnapshot = {
  msg_id: 'msg_1',
  kind: 'bounced',
  occurred_at: new Date('2026-12-06T17:04:05.123Z'),
  dialect: null,
  mailing_id: 12,
  mailing_name: 'news-1',
  send_id: 13,
  recipient_id: 1041,
  subscriber_id: 77,
  email: 'ann@example.org',
  tracking_id: 'T-1',
  status: 'error',
  reply_code: 550,
  enhanced_code: '5.1.1',
  reply_text: 'user unknown',
  remote_mta: 'mx.example.net:25',
  verdict: null,
  verdict_reason: null,
  link: null,
  link_index: null,
};
const ids = (dialect: string) => {
  const p = webhookPayload({ ...base, dialect }, { bounceDomain: 'bounces.example.org' }) as { data: Record<string, unknown> };
  return { recipient: p.data.recipient, mailing: p.data.mailing, send: p.data.send };
};

describe('webhooks: the payload names things by the dialect’s own ids', () => {
  it('cloudmailing: the tracking_id and the mailing id, no send', () => {
    assert.deepEqual(ids('cloudmailing'), { recipient: { email: 'ann@example.org', id: 'T-1' }, mailing: { id: 12, name: 'news-1' }, send: null });
  });
  it('mailkit: ID_SEND_MESSAGE, ID_EMAIL, ID_MESSAGE, ID_SEND', () => {
    assert.deepEqual(ids('mailkit'), {
      recipient: { email: 'ann@example.org', ID_SEND_MESSAGE: 1041, ID_EMAIL: 77 },
      mailing: { ID_MESSAGE: 12, name: 'news-1' },
      send: { ID_SEND: 13 },
    });
  });
  it('emailicious: the subscriber, the mailing, the delivery', () => {
    assert.deepEqual(ids('emailicious'), { recipient: { email: 'ann@example.org', subscriber_id: 77 }, mailing: { id: 12, name: 'news-1' }, send: { id: 13 } });
  });
  it('sender: the message_id, the campaign', () => {
    assert.deepEqual(ids('sender'), {
      recipient: { email: 'ann@example.org', message_id: '<r1041.m12@bounces.example.org>' },
      mailing: { id: 12, name: 'news-1' },
      send: null,
    });
  });
  it('the reply for delivery kinds, the verdict for opens and clicks, the link for clicks', () => {
    const bounced = webhookPayload({ ...base, dialect: 'mailkit' }, { bounceDomain: 'b' });
    assert.deepEqual(bounced, {
      type: 'bounced',
      timestamp: '2026-12-06T17:04:05.123Z',
      data: {
        dialect: 'mailkit',
        ...ids('mailkit'),
        status: 'error',
        reply: { code: 550, enhanced_code: '5.1.1', text: 'user unknown', remote_mta: 'mx.example.net:25' },
      },
    });
    const clicked = webhookPayload(
      { ...base, kind: 'clicked', verdict: 'machine', verdict_reason: 'scanner-ua', link: 'https://example.org/a', link_index: 2 },
      { bounceDomain: 'b' },
    );
    assert.deepEqual(Object.keys((clicked as { data: object }).data), [
      'dialect',
      'recipient',
      'mailing',
      'send',
      'verdict',
      'verdict_reason',
      'link',
      'link_index',
    ]);
    const opened = webhookPayload({ ...base, kind: 'opened', verdict: 'human' }, { bounceDomain: 'b' });
    assert.deepEqual(Object.keys((opened as { data: object }).data), ['dialect', 'recipient', 'mailing', 'send', 'verdict', 'verdict_reason']);
  });
});

describe('webhooks: the signature', () => {
  it('is the reference library’s, byte for byte', () => {
    const secret = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
    const body = JSON.stringify(webhookPayload(base, { bounceDomain: 'b' }));
    assert.equal(webhookSignature(secret, 'msg_2', 1765040645, body), new Webhook(secret).sign('msg_2', new Date(1765040645 * 1000), body));
  });
});

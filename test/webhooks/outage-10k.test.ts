/**
 * A 10,000-recipient mailing's events through a receiver outage: 9,000 delivered, 500 bounced (550 5.1.1),
 * 500 deferred (452 4.2.2), 1,000 opens and 500 clicks recorded as the hosted pixel and links record them. The receiver answers 500 until the
 * mailing is over, then recovers: it gets every event, once each by webhook-id, and no request twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signClickToken, signOpenToken } from '../../src/core/delivery/tokens.js';
import { setup, type Harness } from '../support/harness.js';
import { waitFor } from '../support/wait.js';
import { startReceiver, type Receiver } from './receiver.js';

const N = 10_000;
const LINK = 'https://example.org/a';
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
let h: Harness;
let receiver: Receiver;
let secret = '';

before(async () => {
  receiver = await startReceiver(() => secret);
  h = await setup({
    SEND_BATCH_SIZE: '200',
    SEND_LANES: '2',
    RETRY_BASE_SECONDS: '3600',
    WEBHOOK_TIMEOUT_SECONDS: '2',
    WEBHOOK_RETRY_SCHEDULE: Array.from({ length: 30 }, () => '0.05').join(','),
  });
});
after(async () => {
  await h?.close();
  await receiver?.close();
});

describe('webhooks: a 10,000-recipient mailing through a receiver outage', () => {
  it('delivers every event once it recovers, each once by webhook-id', async () => {
    const added = await h.core.webhooks.add(h.ctx, { url: receiver.url, kinds: ['delivered', 'bounced', 'deferred', 'opened', 'clicked'] });
    secret = added.secret;
    receiver.mode = 'fail';
    const emails = Array.from({ length: N }, (_, i) => `p${i}@example.org`);
    for (let i = 0; i < 500; i++) h.smtp.reject550.add(emails[i]!);
    for (let i = 500; i < 1000; i++) h.smtp.reject452.add(emails[i]!);
    const id = await h.mailing(emails.map((email) => ({ email, fields: {} })));
    await h.startWorker();
    const t0 = performance.now();
    await h.core.mailings.start(h.ctx, id);
    await waitFor('every recipient answered', async () => (await h.core.mailings.get(h.ctx, id)).totals.pending === 500, 180_000, 200);

    const { rows } = await h.pool.query<{ id: number; email: string }>(
      `SELECT id, email FROM recipients WHERE mailing_id = $1 AND status = 'finished' ORDER BY id`,
      [id],
    );
    // Opens and clicks as the hosted pixel and links record them (core.tracking, behind /t/o and /t/c): the
    // tokens the messages carry, verified, then recorded with their verdict. A browser's, a day after delivery.
    await h.pool.query(`UPDATE recipients SET last_try = now() - interval '1 day' WHERE mailing_id = $1 AND status = 'finished'`, [id]);
    const hitOf = (recipientId: number, userAgent: string) => ({ recipientId, method: 'GET' as const, ip: '192.0.2.1', userAgent, at: new Date() });
    for (const [i, r] of rows.slice(0, 1000).entries()) {
      const recipientId = h.core.tracking.openRecipient(signOpenToken(h.secret, r.id));
      assert.equal(recipientId, r.id);
      await h.core.tracking.recordOpen(hitOf(recipientId, i % 4 ? CHROME : 'Mozilla/5.0'));
    }
    for (const r of rows.slice(0, 500)) {
      const link = h.core.tracking.clickOf(signClickToken(h.secret, r.id, 0, LINK), LINK);
      assert.deepEqual(link, { recipientId: r.id, linkIndex: 0 });
      await h.core.tracking.recordClick(hitOf(r.id, CHROME), link.linkIndex, LINK);
    }
    const { rows: verdicts } = await h.pool.query<{ kind: string; verdict: string; n: number }>(
      `SELECT kind, coalesce(verdict_reason, verdict) AS verdict, count(*)::int AS n FROM events WHERE mailing_id = $1 GROUP BY 1, 2 ORDER BY 1, 2`,
      [id],
    );
    assert.deepEqual(
      verdicts.map((v) => [v.kind, v.verdict, v.n]),
      [
        ['click', 'human', 500],
        ['open', 'apple-mpp', 250],
        ['open', 'human', 750],
      ],
    );
    await waitFor('the outage seen', () => receiver.requests.filter((q) => q.answer === 500).length >= 3);
    receiver.mode = 'ok';
    const t1 = performance.now();
    console.log(`# sent in ${((t1 - t0) / 1000).toFixed(1)} s`);

    const expected = 9000 + 500 + 500 + 1000 + 500;
    await waitFor('every event delivered', () => receiver.delivered().size >= expected, 300_000, 200);
    console.log(`# ${receiver.delivered().size} events delivered ${((performance.now() - t1) / 1000).toFixed(1)} s after the receiver recovered`);
    const byKind = new Map<string, number>();
    for (const q of receiver.delivered().values()) byKind.set(q.verified!.type, (byKind.get(q.verified!.type) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries([...byKind].sort()), { bounced: 500, clicked: 500, deferred: 500, delivered: 9000, opened: 1000 });
    const pairs = new Set([...receiver.delivered().values()].map((q) => `${q.verified!.type} ${(q.verified!.data.recipient as { email: string }).email}`));
    assert.equal(pairs.size, expected, 'one message per event');
    const oks = receiver.requests.filter((q) => q.answer === 200);
    assert.equal(oks.length, expected, 'no message delivered twice');
    const failed = receiver.requests.filter((q) => q.answer === 500);
    for (const q of failed) assert.ok(receiver.delivered().has(q.id), 'retried under the same id');
  });
});

/**
 * A storm of 4xx: the relay answers 451 at RCPT for some addresses for a while, then accepts them. Those are
 * the recipient's own temporary failures (unlike an unreachable relay): each is a try, a temporary bounce and
 * a retry with the growing back-off (RETRY_BASE_SECONDS is small here), until the relay accepts.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { people, setup, waitFor, type Harness } from '../support/harness.js';

const opened: Harness[] = [];
after(async () => {
  await Promise.all(opened.map((h) => h.close()));
});

describe('reliability: a 4xx storm at the relay', () => {
  it('the refused addresses are retried with back-off and finish when the relay accepts them', async () => {
    const h = await setup({ RETRY_BASE_SECONDS: '0.1', SEND_BATCH_SIZE: '10' });
    opened.push(h);
    const n = 40;
    const list = people(n, 'storm');
    const stormy = new Set(list.filter((_, i) => i % 4 === 0).map((p) => p.email));
    const refusals = 3;
    const seen = new Map<string, number>();
    h.smtp.reply = (a) => {
      if (!stormy.has(a)) return undefined;
      const k = (seen.get(a) ?? 0) + 1;
      seen.set(a, k);
      return k <= refusals ? { code: 451, text: '4.7.1 try again later' } : undefined;
    };
    const id = await h.mailing(list);
    await h.startWorker();
    await h.core.mailings.start(h.ctx, id);
    await waitFor('the mailing finished', async () => (await h.mailingStatus(id)) === 'finished', 60_000);

    const rows = await h.recipients(id);
    assert.ok(rows.every((r) => r.status === 'finished' && r.next_try === null));
    for (const r of rows) assert.equal(r.try_count, stormy.has(r.email) ? refusals + 1 : 1, r.email);
    const to = h.smtp.messages.map((m) => m.to[0]);
    assert.equal(to.length, n, 'each delivered once');
    assert.equal(new Set(to).size, n);

    const { rows: bounces } = await h.pool.query<{ email: string; kind: string; created_at: Date }>(
      `SELECT r.email, b.kind, b.created_at FROM bounces b JOIN recipients r ON r.id = b.recipient_id ORDER BY b.id`,
    );
    assert.equal(bounces.length, stormy.size * refusals);
    assert.ok(bounces.every((b) => b.kind === 'temporary' && stormy.has(b.email)));
    // The back-off grows: each recipient's refusals are further apart each time (0.1 s, 0.2 s, ...).
    for (const email of stormy) {
      const at = bounces.filter((b) => b.email === email).map((b) => b.created_at.getTime());
      assert.equal(at.length, refusals);
      for (let i = 1; i < at.length; i++) assert.ok(at[i]! - at[i - 1]! >= 100 * 2 ** (i - 1), `${email}: retry ${i} waited its back-off`);
    }
  });
});

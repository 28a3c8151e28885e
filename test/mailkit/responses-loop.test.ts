/**
 * The raw response loop (Mailkit's mailkit.report.raw.responses, which Keboola's extractor pages by ID_log)
 * is exact while events are being written: four writers record opens and clicks in transactions that commit
 * in any order, and readers follow the log with both paging styles real clients use, from the last id + 1 or
 * from the last id with the repeat dropped (Keboola's). Each ends with every event exactly once, in order:
 * event ids are drawn in commit order (src/db/events.ts), as the bounce log's are.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { recordEvents } from '../../src/db/events.js';
import { setup, type Harness } from '../support/harness.js';
import { followWhileWritten, writeConcurrently } from '../support/log-paging.js';

let h: Harness;
before(async () => {
  h = await setup();
});
after(async () => h.close());

describe('mailkit: the raw response loop while four writers write', () => {
  it('returns every response once, in order, to both paging styles', async () => {
    const ctx = h.ctx;
    const mailingId = await h.mailing([{ email: 'reader@example.org', fields: {} }]);
    const [recipient] = await h.recipients(mailingId);
    const target = 400;
    const { writers, written } = writeConcurrently(h.pool, target, (tx, n, w, i) =>
      recordEvents(
        tx,
        Array.from({ length: n }, (_, k) => ({
          accountId: ctx.accountId,
          kind: k % 2 ? ('click' as const) : ('open' as const),
          mailingId,
          recipientId: recipient!.id,
          link: k % 2 ? `https://example.org/${w}/${i}` : null,
        })),
      ),
    );
    const { next: byNext, repeat: byRepeat } = await followWhileWritten(
      (from, limit) => h.core.reports.responses(ctx, { mailingId: null, sendId: null, messageId: null }, from, limit),
      writers,
    );

    const { rows } = await h.pool.query<{ id: number }>('SELECT id FROM events WHERE account_id = $1 ORDER BY id', [ctx.accountId]);
    const all = rows.map((r) => Number(r.id));
    assert.equal(all.length, written());
    assert.ok(written() >= target, `${written()} events written`);
    for (const [name, seen] of [
      ['last id + 1', byNext],
      ['last id, repeat dropped', byRepeat],
    ] as const) {
      assert.deepEqual(seen, all, `${name}: every response once, in order`);
    }
  });
});

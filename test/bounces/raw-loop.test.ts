/**
 * The raw bounce loop (Mailkit's mailkit.report.raw.bounces) is exact while bounces are being written: four
 * writers add bounces in transactions that commit in any order, and readers follow the log with both paging
 * styles real clients use — resume at the last id + 1 (Mailkit's Java client), or at the last id and drop the
 * repeated row (Keboola's extractor). Each ends with every bounce exactly once, in ascending order.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { insertBounces } from '../../src/db/bounces.js';
import { setup, type Harness } from '../support/harness.js';
import { followWhileWritten, writeConcurrently } from '../support/log-paging.js';

let h: Harness;
before(async () => {
  h = await setup();
});
after(async () => h.close());

describe('bounces: the raw loop while four writers write', () => {
  it('returns every bounce once, in order, to both paging styles', async () => {
    const ctx = h.ctx;
    const target = 400;
    const { writers, written } = writeConcurrently(h.pool, target, (tx, n, w, i) =>
      insertBounces(
        tx,
        Array.from({ length: n }, (_, k) => ({
          accountId: ctx.accountId,
          recipientId: null,
          mailingId: null,
          sendId: null,
          listId: null,
          email: `w${w}-${i}-${k}@example.org`,
          enhancedStatus: '5.1.1',
          textStatus: 'smtp; 550 5.1.1',
          remoteMta: null,
          kind: 'permanent' as const,
          source: 'smtp' as const,
        })),
      ),
    );
    const { next: byNext, repeat: byRepeat } = await followWhileWritten((from, limit) => h.core.bounces.log(ctx, {}, from, limit), writers);

    const { rows } = await h.pool.query<{ id: number }>('SELECT id FROM bounces WHERE account_id = $1 ORDER BY id', [ctx.accountId]);
    const all = rows.map((r) => r.id);
    assert.equal(all.length, written());
    assert.ok(written() >= target, `${written()} bounces written`);
    for (const [name, seen] of [
      ['last id + 1', byNext],
      ['last id, repeat dropped', byRepeat],
    ] as const) {
      assert.deepEqual(seen, all, `${name}: every bounce once, in order`);
    }
  });
});

/**
 * The bad-input corpus (cases.ts) against one real gateway: every case must be answered in the dialect's own
 * shape (its error, or where the input may read as an empty query or be answered per item, its success),
 * never a 5xx, within the deadline, with the gateway still answering and nothing stored changed: a snapshot
 * of every table (row count and md5 of its rows, test/support/snapshot.ts) before and after each case — read
 * only when the case may have written (writeWatcher: a transaction id was given out, or one is still open),
 * since without one no row of any table can have changed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signConfirmToken, signRecipientToken } from '../../src/core/delivery/tokens.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { changedTables, snapshotReader, writeWatcher, type Snapshot } from '../support/snapshot.js';
import { CATEGORIES, corpus, type Case, type Fixtures, type Limits } from './cases.js';
import { DIALECTS, verdict, type Dialect, type Verdict } from './dialects.js';
import { PythonXmlRpc, send, type Outcome } from './wire.js';

const LIMITS: Limits = { maxBodyBytes: 2 * 1024 * 1024, maxRecipientsPerCall: 10_000 };

let gw: TestGateway;
let python: PythonXmlRpc;
let f: Fixtures;
let readState: () => Promise<Snapshot>;
let state: Snapshot;
let writes: Awaited<ReturnType<typeof writeWatcher>>;

interface Result {
  c: Case;
  verdict: Verdict;
  correct: boolean;
  changed: string[];
  status: number | string;
  body: string;
}
const results: Result[] = [];

before(async () => {
  gw = await startTestGateway({ env: { MAX_BODY_BYTES: String(LIMITS.maxBodyBytes), MAX_RECIPIENTS_PER_CALL: String(LIMITS.maxRecipientsPerCall) } });
  python = new PythonXmlRpc();
  f = await fixtures(gw);
  readState = await snapshotReader(gw.pool);
  // The watcher's first reading before the first snapshot: a quiet reading after a case vouches for the rows that snapshot saw.
  writes = await writeWatcher(gw.pool);
  state = await readState();
});
after(async () => {
  python?.close();
  await gw?.stop();
});

async function fixtures(gw: TestGateway): Promise<Fixtures> {
  const { core } = gw;
  const ctx = { accountId: (await core.accounts.authenticate(gw.key.secret))!.accountId, requestId: 'fixtures' };
  const mailing = await core.mailings.create(ctx, { dialect: 'cloudmailing', fromEmail: 'news@example.org', subject: 'News', text: 'Hello' });
  await core.recipients.add(ctx, mailing, [{ email: 'carl@example.org', fields: { name: 'Carl' } }]);
  const { rows } = await gw.pool.query<{ id: number }>('SELECT id FROM recipients WHERE mailing_id = $1', [mailing]);
  const list = await core.lists.createWithSlug(ctx, { slug: 'news', name: 'News' });
  const [sub] = await core.lists.subscribe(ctx, list, [{ email: 'ann@example.org', params: { first_name: 'Ann' } }]);
  assert.ok(sub && !('error' in sub));
  await core.unsubscribeLists.create(ctx, { slug: 'my-unsubs' });
  const campaign = await core.mailings.create(ctx, {
    dialect: 'sender',
    name: 'order',
    fromEmail: 'shop@example.org',
    subject: 'Order',
    text: 'Order {{ n }}',
  });
  const newsletter = await core.newsletters.create(ctx, {
    dialect: 'emailicious',
    listId: list,
    name: 'Letter',
    variants: [{ fromEmail: 'news@example.org', subject: 'Hello', text: 'Hello', deliveries: [] }],
  });
  return {
    account: gw.key.account,
    key: { id: gw.key.id, secret: gw.key.secret },
    mailing,
    list: { id: list, slug: 'news' },
    subscriber: { id: sub.id, email: 'ann@example.org' },
    unsubscribeList: 'my-unsubs',
    campaign: { name: 'order', id: campaign },
    newsletter,
    unsubscribeToken: signRecipientToken(gw.services.secret, rows[0]!.id),
    confirmToken: signConfirmToken(gw.services.secret, sub.id),
  };
}

const show = (o: Outcome) => ('failed' in o ? { status: o.failed, body: o.detail } : { status: o.status, body: o.body.slice(0, 300) });

describe('bad input: every dialect, every endpoint', () => {
  const cases = corpus();
  for (const c of cases) {
    it(c.id, async () => {
      const o = await c.run({ base: gw.url, bouncePort: gw.bouncePort, python, f, limits: LIMITS, send: (r) => send(gw.url, r) });
      const v = verdict(c.dialect, o);
      // Most cases give out no transaction id at all: then nothing can have changed and the snapshot is spared.
      let changed: string[] = [];
      if (await writes.changed()) {
        const now = await readState();
        changed = changedTables(state, now);
        state = now;
      }
      const correct = (c.expect === 'error' ? v === 'error' : v === 'error' || v === 'success') && !changed.length;
      results.push({ c, verdict: v, correct, changed, ...show(o) });
      assert.ok(v === 'error' || c.expect === 'answer', `${c.id}: expected the dialect's error, got ${v}: ${JSON.stringify(show(o))}`);
      assert.ok(v === 'error' || v === 'success', `${c.id}: ${v}: ${JSON.stringify(show(o))}`);
      assert.deepEqual(changed, [], `${c.id}: stored state changed`);
    });
  }

  it('the gateway still answers, and the summary', async (t) => {
    // No worker runs beside this gateway (/healthz is 503 for that): its database check says it still serves.
    const health = await fetch(new URL('/healthz', gw.url));
    assert.equal(((await health.json()) as { database: string }).database, 'ok');
    const rows: string[][] = [['dialect', 'tried', 'answered correctly', '5xx', 'no answer', 'changed state']];
    const line = (name: string, rs: Result[]) =>
      rows.push([
        name,
        String(rs.length),
        String(rs.filter((r) => r.correct).length),
        String(rs.filter((r) => r.verdict === '5xx').length),
        String(rs.filter((r) => r.verdict === 'no answer' || r.verdict === 'connection dropped').length),
        String(rs.filter((r) => r.changed.length).length),
      ]);
    for (const d of DIALECTS)
      line(
        d,
        results.filter((r) => r.c.dialect === d),
      );
    line('all', results);
    const byCategory: string[][] = [['category', 'tried', 'answered correctly']];
    for (const cat of CATEGORIES) {
      const rs = results.filter((r) => r.c.category === cat);
      byCategory.push([cat, String(rs.length), String(rs.filter((r) => r.correct).length)]);
    }
    const table = (t: string[][]) => t.map((r) => '| ' + r.join(' | ') + ' |').join('\n');
    const text = `bad-input corpus\n${table(rows)}\n\n${table(byCategory)}`;
    t.diagnostic(text);
    console.log(text);
    const wrong = results.filter((r) => !r.correct);
    assert.deepEqual(
      wrong.map((r) => r.c.id),
      [],
    );
    assert.equal(results.length, corpus().length);
  });
});

export type { Dialect };

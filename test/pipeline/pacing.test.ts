/**
 * Pacing: scheduled_start (not before), scheduled_end (not after; what is left ends TIMEOUT), pause.
 * The relay answers slowly (one connection, a delay per message) so a mailing is still going when the
 * test acts on it.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { people, setup, waitFor, type Harness } from '../support/harness.js';

let h: Harness;

before(async () => {
  h = await setup({ SEND_BATCH_SIZE: '2', SMTP_MAX_CONNECTIONS: '1' });
  await h.startWorker();
});
after(async () => {
  await h.close();
});
beforeEach(() => {
  h.smtp.dataDelayMs = 0;
});

const count = async (mailingId: number, status: string) => (await h.recipients(mailingId)).filter((r) => r.status === status).length;

describe('pipeline: pacing', () => {
  it('sends nothing before scheduled_start, then everything', async () => {
    const start = new Date(Date.now() + 2500);
    const id = await h.mailing(people(5, 'early'), { scheduledStart: start });
    assert.equal(await h.core.mailings.start(h.ctx, id), 'ready');
    await sleep(800);
    if (Date.now() < start.getTime() - 200) {
      // (only meaningful while the start is still ahead: a slow machine may have got past it)
      assert.equal(h.smtp.messages.filter((m) => m.to[0]!.startsWith('early')).length, 0);
      assert.equal(await h.mailingStatus(id), 'ready');
    }

    await waitFor('the mailing finished', async () => (await h.mailingStatus(id)) === 'finished');
    const got = h.smtp.messages.filter((m) => m.to[0]!.startsWith('early'));
    assert.equal(got.length, 5);
    for (const m of got) assert.ok(m.receivedAt >= start, `received at ${m.receivedAt.toISOString()}, before ${start.toISOString()}`);
    const { rows } = await h.pool.query('SELECT started_at FROM sends WHERE mailing_id = $1', [id]);
    assert.ok(rows[0].started_at >= start);
  });

  it('at scheduled_end, the recipients left end TIMEOUT and the mailing is finished', async () => {
    h.smtp.dataDelayMs = 200;
    const id = await h.mailing(people(30, 'late'), { scheduledEnd: new Date(Date.now() + 1500) });
    await h.core.mailings.start(h.ctx, id);
    await waitFor('the mailing finished', async () => (await h.mailingStatus(id)) === 'finished');
    await waitFor('no recipient pending', async () => (await count(id, 'ready')) + (await count(id, 'warning')) === 0);
    const sent = await count(id, 'finished');
    const timedOut = await count(id, 'timeout');
    assert.ok(sent >= 1, 'some were sent before the end');
    assert.ok(timedOut >= 1, 'some were left at the end');
    assert.equal(sent + timedOut, 30);
    assert.equal(h.smtp.messages.filter((m) => m.to[0]!.startsWith('late')).length, sent);
  });

  it('pause stops sending after the batch in hand; start resumes; nobody is sent twice', async () => {
    h.smtp.dataDelayMs = 40;
    const id = await h.mailing(people(40, 'p'));
    const mine = () => h.smtp.messages.filter((m) => m.to[0]!.startsWith('p'));
    await h.core.mailings.start(h.ctx, id);
    await waitFor('a few sent', () => mine().length >= 4);
    assert.equal(await h.core.mailings.pause(h.ctx, id), 'paused');
    await waitFor('no batch in flight', async () => (await h.recipients(id)).every((r) => !r.lease_until || r.lease_until < new Date()));
    const sentAtPause = mine().length;
    const readyAtPause = await count(id, 'ready');
    assert.ok(readyAtPause > 0, 'some are left');
    await sleep(1200);
    assert.equal(mine().length, sentAtPause, 'nothing sent while paused');
    assert.equal(await count(id, 'ready'), readyAtPause);

    await h.core.mailings.start(h.ctx, id);
    await waitFor('the mailing finished', async () => (await h.mailingStatus(id)) === 'finished');
    assert.equal(await count(id, 'finished'), 40);
    const ids = mine().map((m) => m.header('Message-ID'));
    assert.equal(ids.length, 40);
    assert.equal(new Set(ids).size, 40);
  });

  it('spread_minutes (Mailgate) spreads the mailing: not everything goes out at once', async () => {
    const id = await h.mailing(people(20, 'spread'), { spreadMinutes: 1 });
    await h.core.mailings.start(h.ctx, id);
    await waitFor('a first one sent', () => h.smtp.messages.some((m) => m.to[0]!.startsWith('spread')));
    await sleep(1000);
    // About 20 per minute: within the first seconds only a handful may have gone.
    const early = h.smtp.messages.filter((m) => m.to[0]!.startsWith('spread')).length;
    assert.ok(early <= 5, `${early} sent in the first second of a one-minute spread`);
    assert.ok((await count(id, 'ready')) >= 15);
    await h.core.mailings.pause(h.ctx, id);
  });
});

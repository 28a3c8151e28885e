/**
 * The relay refuses connections in the middle of a mailing (its port closed: connection refused), then listens
 * again on the same port. A relay down for everyone is no recipient's fault: the messages it was taking when
 * it went away and every later one are given back untried, the send waits for the relay, and sending resumes
 * by itself once it answers — not at the first retry (RETRY_BASE_SECONDS is an hour here, so a test that
 * passes cannot have waited for it). A recipient deferred earlier by a lost connection is due again on the
 * relay's return. With two relays, one of them down, messages go to the one that answers.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { people, setup, waitFor, type Harness } from '../support/harness.js';
import { gate } from '../support/gate.js';
import { sendJobs, sendOf } from '../support/jobs.js';
import { startTestSmtpServer } from '../support/smtp.js';
import { startSendWorker } from '../../src/compose.js';

const opened: Harness[] = [];
after(async () => {
  await Promise.all(opened.map((h) => h.close()));
});
async function harness(env: Record<string, string>) {
  const h = await setup(env);
  opened.push(h);
  return h;
}

/** The send is put off (its job waits for later, unlocked) and no recipient is leased: the worker waits for the relay. */
async function waitingForTheRelay(h: Harness, sendId: number, mailingId: number): Promise<void> {
  await waitFor('the send put off while the relay is down', async () => {
    const jobs = await sendJobs(h.pool, sendId);
    if (!jobs.length || !jobs.every((j) => !j.locked && j.later)) return false;
    return (await h.recipients(mailingId)).every((r) => !r.lease_until || r.lease_until < new Date());
  });
}

describe('reliability: the relay refuses connections for a while', () => {
  it('mid-mailing: no recipient fails or is tried twice; sending resumes by itself when the relay is back', async () => {
    const h = await harness({ RETRY_BASE_SECONDS: '3600', SMTP_MAX_CONNECTIONS: '2', SEND_BATCH_SIZE: '10' });
    const g = gate(h.smtp);
    const n = 60;
    const id = await h.mailing(people(n, 'outage'));
    const sendId = await sendOf(h.pool, id);
    await h.startWorker();
    await h.core.mailings.start(h.ctx, id);

    await g.releaseUntil('20 messages accepted', () => h.smtp.messages.length >= 20);
    // Two messages are in the middle of their conversation (DATA sent, unanswered) when the relay goes away.
    await waitFor('two messages in flight', () => g.held().length === 2);
    const inFlight = g.held().flat();
    await h.smtp.down();

    await waitingForTheRelay(h, sendId, id);
    const during = await h.recipients(id);
    const sentBefore = h.smtp.messages.length;
    for (const r of during) {
      if (r.status === 'finished') continue;
      assert.equal(r.status, 'ready', `${r.email} is not failed nor deferred by the outage`);
      assert.equal(r.try_count, 0, `${r.email}: the outage is not a try`);
      assert.equal(r.next_try, null, `${r.email}: no back-off`);
    }
    for (const email of inFlight) {
      const r = during.find((x) => x.email === email)!;
      assert.equal(r.status, 'ready', `${email}, in flight when the relay went away, is given back untried`);
    }
    assert.equal(during.filter((r) => r.status === 'finished').length, sentBefore);

    // The held conversations are gone with the old listener; from now on the relay answers at once.
    h.smtp.beforeAnswer = null;
    await h.smtp.up();
    await waitFor('the mailing finished', async () => (await h.mailingStatus(id)) === 'finished', 60_000);

    const rows = await h.recipients(id);
    assert.deepEqual([...new Set(rows.map((r) => r.status))], ['finished']);
    assert.ok(
      rows.every((r) => r.try_count === 1 && r.reply_code === 250 && r.next_try === null),
      'every recipient tried exactly once: the outage counted for nobody',
    );
    const ids = h.smtp.messages.map((m) => m.to[0]);
    assert.equal(ids.length, n, 'each sent once');
    assert.equal(new Set(ids).size, n);
    for (const email of inFlight) assert.equal(h.smtp.to(email).length, 1);
    const { rows: bounces } = await h.pool.query('SELECT 1 FROM bounces');
    assert.equal(bounces.length, 0, 'no bounce recorded for the outage');
    const { rows: stats } = await h.pool.query<{ tries: number; sent: number; failed: number }>('SELECT tries, sent, failed FROM hourly_stats');
    assert.deepEqual(
      stats.reduce((a, s) => ({ tries: a.tries + Number(s.tries), sent: a.sent + Number(s.sent), failed: a.failed + Number(s.failed) }), {
        tries: 0,
        sent: 0,
        failed: 0,
      }),
      { tries: n, sent: n, failed: 0 },
    );
  });

  it('a recipient deferred by a lost connection before the outage is due again when the relay is back', async () => {
    const h = await harness({ RETRY_BASE_SECONDS: '3600', SMTP_MAX_CONNECTIONS: '1', SEND_BATCH_SIZE: '5' });
    const g = gate(h.smtp);
    const n = 20;
    const list = people(n, 'lost');
    const dropped = list[0]!.email;
    // While the relay is up, it closes the channel on this recipient once (421 at RCPT, then the connection ends):
    // a real try, deferred by the back-off (an hour).
    let closings = 0;
    h.smtp.reply = (a) => (a === dropped && closings++ === 0 ? { code: 421, text: '4.3.2 closing channel' } : undefined);
    const id = await h.mailing(list);
    const sendId = await sendOf(h.pool, id);
    await h.startWorker();
    await h.core.mailings.start(h.ctx, id);

    const deferred = async () => (await h.recipients(id)).find((r) => r.email === dropped)!;
    await g.releaseUntil('the dropped recipient deferred', async () => (await deferred()).status === 'warning');
    const before = await deferred();
    assert.equal(before.try_count, 1);
    assert.equal(before.reply_code, 421);
    assert.ok(before.next_try && before.next_try.getTime() > Date.now() + 1800_000, 'deferred by the back-off');

    await waitFor('a message in flight', () => g.held().length === 1);
    await h.smtp.down();
    await waitingForTheRelay(h, sendId, id);
    h.smtp.beforeAnswer = null;
    await h.smtp.up();
    await waitFor('the mailing finished', async () => (await h.mailingStatus(id)) === 'finished', 60_000);

    const rows = await h.recipients(id);
    assert.ok(rows.every((r) => r.status === 'finished'));
    assert.equal(rows.find((r) => r.email === dropped)!.try_count, 2, 'its lost conversation was a try; the outage was not');
    assert.ok(rows.filter((r) => r.email !== dropped).every((r) => r.try_count === 1));
    const to = h.smtp.messages.map((m) => m.to[0]);
    assert.equal(to.length, n);
    assert.equal(new Set(to).size, n);
  });

  it('with two relays, one refusing connections: every message goes to the one that answers, nobody fails', async () => {
    const h = await harness({ RETRY_BASE_SECONDS: '3600', SEND_BATCH_SIZE: '10' });
    const dead = await startTestSmtpServer();
    await dead.down();
    const n = 40;
    const id = await h.mailing(people(n, 'two'));
    h.workers.push(await startSendWorker(h.services, { relayUrls: [dead.url, h.smtp.url] }));
    await h.core.mailings.start(h.ctx, id);
    await waitFor('the mailing finished', async () => (await h.mailingStatus(id)) === 'finished', 60_000);
    const rows = await h.recipients(id);
    assert.ok(rows.every((r) => r.status === 'finished' && r.try_count === 1));
    assert.equal(new Set(h.smtp.messages.map((m) => m.to[0])).size, n);
    assert.equal(h.smtp.messages.length, n);
    assert.equal(dead.messages.length, 0);
    await dead.close();
  });
});

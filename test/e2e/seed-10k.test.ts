/**
 * Done-when of the spine: a 10,000-recipient mailing driven by the seed's own Python calls (xmlrpc.client,
 * unchanged but for the URL) reaches a real SMTP server personalized, every recipient ends in a final status,
 * and list_mailings totals add up and agree with what the status feed reported.
 */
import assert from 'node:assert/strict';
import { runProcess } from '../support/process.js';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';

const N = 10_000;
let smtp: TestSmtpServer;
let gw: TestGateway;
const tries = new Map<string, number>();

before(async () => {
  smtp = await startTestSmtpServer();
  smtp.reject550.add('user13@example.org');
  smtp.reject550.add('user4242@example.org');
  // Mailbox full twice, then accepted: a retry with backoff must get it through.
  smtp.reply = (address) => {
    if (address !== 'user77@example.org') return undefined;
    const n = (tries.get(address) ?? 0) + 1;
    tries.set(address, n);
    return n <= 2 ? { code: 452, text: '4.2.2 mailbox full' } : undefined;
  };
  gw = await startTestGateway({ worker: true, env: { SMTP_URL: smtp.url, RETRY_BASE_SECONDS: '0.2' } });
});
after(async () => {
  await gw.stop();
  await smtp.close();
});

describe('e2e: the seed integration, 10,000 recipients', () => {
  it('is sent personalized, ends FINISHED/ERROR, and the totals add up', async () => {
    const url = `${gw.url.replace('://', `://admin:${gw.key.secret}@`)}/CloudMailing`;
    const py = await runProcess('python3', [path.join(import.meta.dirname, 'seed_mailing.py'), url, String(N)], { timeoutMs: 300_000 });
    assert.equal(py.code, 0, `seed_mailing.py exited ${py.code}: ${py.stderr}`);
    const out = py.stdout;
    const r = JSON.parse(out) as {
      added: number;
      feed_counts: Record<string, number>;
      feed_recipients: number;
      mailing: { status: string; total_recipient: number; total_sent: number; total_pending: number; total_error: number; total_softbounce: number };
      seconds_add: number;
      seconds_send: number;
    };
    console.log(`# 10,000 recipients: added in ${r.seconds_add} s, start → FINISHED in ${r.seconds_send} s`);

    assert.equal(r.added, N);
    assert.deepEqual(r.mailing, { status: 'FINISHED', total_recipient: N, total_sent: N - 2, total_pending: 0, total_error: 2, total_softbounce: 0 });
    assert.equal(r.mailing.total_sent + r.mailing.total_error + r.mailing.total_pending, r.mailing.total_recipient);
    assert.equal(r.feed_recipients, N, 'the feed reported every recipient');
    assert.deepEqual(r.feed_counts, { FINISHED: N - 2, ERROR: 2 });

    // What reached the relay: each accepted recipient exactly once, personalized.
    const accepted = smtp.messages.map((m) => m.to[0]);
    assert.equal(accepted.length, N - 2);
    assert.equal(new Set(accepted).size, N - 2);
    assert.equal(tries.get('user77@example.org'), 3, 'the 452 address was retried until accepted');
    // The relay announces 8BITMIME: once the pool has seen it (the first connection), the personalized parts
    // go as 8bit instead of quoted-printable; those built before that first connection went quoted-printable.
    const encodings = smtp.messages.map((m) => (/Content-Transfer-Encoding: 8bit/.test(m.raw.toString('latin1')) ? '8bit' : 'qp'));
    const eightBit = encodings.filter((e) => e === '8bit').length;
    assert.ok(eightBit >= N - 2 - 2 * 200, `${eightBit} of ${N - 2} messages 8bit`);
    for (const i of [0, 77, 5000, 9999]) {
      const [m] = smtp.to(`user${i}@example.org`);
      assert.ok(m, `user${i} got nothing`);
      const parsed = await m.parse();
      assert.equal(parsed.subject, `The great newsletter for First${i}`);
      assert.match(String(parsed.html), new RegExp(`Coucou First${i} LAST`));
      assert.match(parsed.text ?? '', new RegExp(`Coucou First${i}\\b`));
      assert.equal(parsed.from?.value[0]?.name, 'My Mailing');
    }
    const { rows } = await gw.pool.query<{ kind: string; n: number }>('SELECT kind, count(*)::int AS n FROM bounces GROUP BY kind ORDER BY kind');
    assert.deepEqual(rows, [
      { kind: 'permanent', n: 2 },
      { kind: 'temporary', n: 2 },
    ]);
  });
});

/**
 * The embedded Postgres killed (kill -9 of the postmaster) in the middle of a mailing, with `mailgate serve` as
 * a real process and a real SMTP relay: the gateway restarts the Postgres it started, the API answers again,
 * the mailing finishes by itself with every recipient final, and the only duplicates are batches that were in
 * flight at the crash. The same when the gateway is stopped while Postgres is down, or right after it is back,
 * and started again.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { freePort } from '../../src/db/embedded.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';
import { databaseUrl, firstKey, mailingState, postmasterPid, query, rpc, startMailing, startServe, type GatewayProcess } from './postgres-gateway.js';

const N = 3000;
const BATCH = 50;
const CONCURRENCY = 4;
/** Waits for what must happen; generous, a safety net only (the machine is shared). */
const LONG = 240_000;

let smtp: TestSmtpServer;
const dirs: string[] = [];
const running = new Set<GatewayProcess>();

async function serve(dataDir: string, port: number): Promise<GatewayProcess> {
  const g = await startServe({
    dataDir,
    port,
    smtpUrl: smtp.url,
    // No sweep of silent workers comes in time to help: recovery is the work of the restarted Postgres, of
    // the worker's replaced runner and of the stop and start themselves.
    extra: { SEND_BATCH_SIZE: String(BATCH), WORKER_CONCURRENCY: String(CONCURRENCY), WORKER_STALE_SECONDS: '3600' },
  });
  running.add(g);
  void g.exited.then(() => running.delete(g));
  return g;
}

async function freshDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'mailgate-pgcrash-'));
  dirs.push(d);
  return d;
}

/** The messages of this mailing's recipients (r<i>@<domain>) the relay took, and how many were sent twice. */
function delivered(domain: string): { addresses: number; duplicates: number } {
  const mine = smtp.messages.filter((m) => m.to[0]!.endsWith(`@${domain}`)).map((m) => m.to[0]!);
  return { addresses: new Set(mine).size, duplicates: mine.length - new Set(mine).size };
}

async function killPostmaster(dataDir: string): Promise<number> {
  const pid = await postmasterPid(dataDir);
  assert.ok(pid, 'the postmaster runs');
  process.kill(pid, 'SIGKILL');
  return pid;
}

async function finished(url: string, id: number): Promise<void> {
  await waitFor(
    'the mailing finished, every recipient final and none leased',
    async () => {
      const s = await mailingState(url, id).catch(() => undefined);
      return s?.status === 'finished' && s.unfinished === 0 && s.leased === 0;
    },
    LONG,
    250,
  );
}

before(async () => {
  smtp = await startTestSmtpServer();
  // Slow enough that the mailing is mid-way at the crash.
  smtp.dataDelayMs = 3;
});
afterEach(async () => {
  await Promise.all(
    [...running].map(async (g) => {
      g.child.kill('SIGTERM');
      await g.exited;
    }),
  );
});
after(async () => {
  await smtp.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('reliability: the embedded Postgres crashes mid-mailing', () => {
  it('kill -9 of the postmaster: the gateway restarts it, the API answers, the mailing finishes by itself', async () => {
    const dataDir = await freshDir();
    const port = await freePort();
    const g = await serve(dataDir, port);
    const secret = firstKey(g.out());
    const id = await startMailing(port, secret, N, 'crash.example');
    const url = await databaseUrl(dataDir);
    await waitFor('a few hundred sent', () => delivered('crash.example').addresses >= 300, LONG);
    const [{ leased }] = (await query<{ leased: number }>(url, 'SELECT count(*)::int AS leased FROM recipients WHERE lease_owner IS NOT NULL')) as [
      { leased: number },
    ];
    const killed = await killPostmaster(dataDir);

    await waitFor(
      'the gateway restarted Postgres',
      async () => {
        const pid = await postmasterPid(dataDir);
        return pid !== undefined && pid !== killed;
      },
      LONG,
    );
    await waitFor(
      'the API answers again',
      () =>
        rpc(port, secret, 'get_mailings_count', []).then(
          () => true,
          () => false,
        ),
      LONG,
      100,
    );
    await finished(url, id);

    const d = delivered('crash.example');
    assert.equal(d.addresses, N, 'everyone got the mailing');
    // In flight at the crash: at most one batch per job the worker runs.
    assert.ok(d.duplicates <= CONCURRENCY * BATCH, `${d.duplicates} duplicates (${leased} leased just before the crash)`);
    assert.match(g.err(), /embedded Postgres exited unexpectedly[^\n]*restarted/, 'the restart is logged');
    console.log(`# ${leased} leased just before the crash; ${d.duplicates} sent twice`);
    g.child.kill('SIGTERM');
    assert.equal(await g.exited, 0, 'SIGTERM after the crash still exits 0');
    assert.equal(await postmasterPid(dataDir), undefined, 'the restarted Postgres is stopped with the gateway');
  });

  for (const when of ['while Postgres is down', 'right after Postgres is back'] as const) {
    it(`the gateway stopped (SIGTERM) ${when} and started again: the mailing finishes`, async () => {
      const dataDir = await freshDir();
      const port = await freePort();
      const domain = when === 'while Postgres is down' ? 'down.example' : 'back.example';
      const g = await serve(dataDir, port);
      const secret = firstKey(g.out());
      const id = await startMailing(port, secret, N, domain);
      const url = await databaseUrl(dataDir);
      await waitFor('a few hundred sent', () => delivered(domain).addresses >= 300, LONG);
      const killed = await killPostmaster(dataDir);
      if (when === 'right after Postgres is back') {
        await waitFor(
          'the gateway restarted Postgres',
          async () => {
            const pid = await postmasterPid(dataDir);
            return pid !== undefined && pid !== killed;
          },
          LONG,
        );
      }
      g.child.kill('SIGTERM');
      assert.equal(await g.exited, 0, `exit 0:\n${g.err()}`);
      assert.equal(await postmasterPid(dataDir), undefined, 'no Postgres left running without the gateway');

      const again = await serve(dataDir, port);
      await finished(url, id);
      const d = delivered(domain);
      assert.equal(d.addresses, N, 'everyone got the mailing');
      assert.ok(d.duplicates <= CONCURRENCY * BATCH, `${d.duplicates} duplicates`);
      again.child.kill('SIGTERM');
      assert.equal(await again.exited, 0);
    });
  }
});

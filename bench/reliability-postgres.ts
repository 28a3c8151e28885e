/**
 * `npm run bench -- reliability`, the parts about the database and the worker processes, each on a real
 * `mailgate serve` with its own embedded Postgres and a real SMTP relay on 127.0.0.1:
 * - Postgres killed under load: kill -9 of the postmaster during a BENCH_RELIABILITY_PG (20,000) recipient
 *   mailing while clients keep calling the API; the calls' answers during the outage by kind, the time until
 *   Postgres is back (restarted by Mailgate), from then to the first message and to the end, duplicates, lost.
 * - kill -9 of the worker (`mailgate worker` beside `serve --no-worker`) mid-mailing, a new one started: time
 *   to finish after the restart, duplicates against the batches in flight.
 * - SIGTERM drain: `serve` stopped mid-mailing; its exit code and time to exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../src/db/embedded.js';
import { startTestSmtpServer, type TestSmtpServer } from '../test/support/smtp.js';
import {
  databaseUrl,
  firstKey,
  mailingState,
  postmasterPid,
  rpc,
  startMailing,
  startServe,
  type GatewayProcess,
} from '../test/reliability/postgres-gateway.js';
import { size } from './scale.js';

type Line = (figure: string, value: string, target: string, ratio?: string) => void;

const root = path.resolve(import.meta.dirname, '..');
const N = size('BENCH_RELIABILITY_PG', 20_000);
const BATCH = 200;
const LANES = 2;

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 600_000, every = 50): Promise<number> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
  return Date.now();
}

/** Messages for `domain`'s recipients: distinct addresses, duplicates, and the addresses of `n` never received. */
function tally(smtp: TestSmtpServer, domain: string, n: number): { addresses: number; duplicates: number; lost: number } {
  const seen = new Map<string, number>();
  for (const m of smtp.messages) {
    const to = m.to[0]!;
    if (to.endsWith(`@${domain}`)) seen.set(to, (seen.get(to) ?? 0) + 1);
  }
  let duplicates = 0;
  for (const c of seen.values()) duplicates += c - 1;
  return { addresses: seen.size, duplicates, lost: n - seen.size };
}

const sentTo = (smtp: TestSmtpServer, domain: string) => smtp.messages.filter((m) => m.to[0]!.endsWith(`@${domain}`)).length;

async function stop(g: GatewayProcess | ChildProcess): Promise<void> {
  const child = 'child' in g ? g.child : g;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function postgresKilledUnderLoad(line: Line, smtp: TestSmtpServer, dataDir: string): Promise<void> {
  const port = await freePort();
  const g = await startServe({ dataDir, port, smtpUrl: smtp.url, extra: { LOG_LEVEL: 'warn' } });
  try {
    const secret = firstKey(g.out());
    const id = await startMailing(port, secret, N, 'pg.example');
    const url = await databaseUrl(dataDir);
    await until('a quarter sent', () => sentTo(smtp, 'pg.example') >= N / 4);

    // API clients during the outage: every answer counted by kind.
    const kinds = new Map<string, number>();
    let outage = false;
    let calling = true;
    const client = async () => {
      while (calling) {
        let kind: string;
        try {
          await rpc(port, secret, 'get_mailings_count', []);
          kind = 'result';
        } catch (e) {
          const m = /^HTTP (\d+)/.exec((e as Error).message);
          kind = m ? `HTTP ${m[1]} error body` : `no answer (${(e as Error).message.slice(0, 40)})`;
        }
        if (outage) kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        await sleep(5);
      }
    };
    const clients = Array.from({ length: 8 }, client);

    const pid = (await postmasterPid(dataDir))!;
    const killedAt = Date.now();
    outage = true;
    process.kill(pid, 'SIGKILL');
    const backAt = await until('Postgres restarted', async () => {
      const p = await postmasterPid(dataDir);
      return (
        p !== undefined &&
        p !== pid &&
        (await rpc(port, secret, 'get_mailings_count', []).then(
          () => true,
          () => false,
        ))
      );
    });
    outage = false;
    const atBack = smtp.messages.length;
    const firstAt = await until('a message after Postgres is back', () => smtp.messages.length > atBack, 600_000, 10);
    const doneAt = await until(
      'the mailing finished',
      async () => {
        const s = await mailingState(url, id).catch(() => undefined);
        return s?.status === 'finished' && s.unfinished === 0 && s.leased === 0;
      },
      600_000,
      250,
    );
    calling = false;
    await Promise.all(clients);
    const t = tally(smtp, 'pg.example', N);
    const answers = [...kinds].map(([k, n]) => `${n} ${k}`).join(', ');
    line(`postgres kill -9: back (restarted)`, secs(backAt - killedAt), 'by itself', 'restarted by Mailgate');
    line('postgres kill -9: back to 1st message', secs(firstAt - backAt), '< 60 s', `${((firstAt - backAt) / 60_000).toFixed(2)}`);
    line('postgres kill -9: back to finished', secs(doneAt - backAt), '-', `${N} recipients`);
    line('postgres kill -9: duplicates', String(t.duplicates), `<= ${LANES * BATCH} (in flight)`, `${(t.duplicates / (LANES * BATCH)).toFixed(2)}`);
    line('postgres kill -9: lost', String(t.lost), '0');
    line('postgres kill -9: calls during outage', answers || 'none', 'dialect errors, no hang');
  } finally {
    await stop(g);
  }
}

async function workerKilled(line: Line, smtp: TestSmtpServer, dataDir: string): Promise<void> {
  const port = await freePort();
  const api = await startServe({ dataDir, port, smtpUrl: smtp.url, args: ['serve', '--no-worker'], extra: { LOG_LEVEL: 'warn' } });
  const worker = () =>
    spawn(process.execPath, [path.join(root, 'bin/mailgate.js'), 'worker'], {
      env: { ...process.env, DATA_DIR: dataDir, SMTP_URL: smtp.url, PUBLIC_URL: 'http://mailgate.test', LOG_LEVEL: 'warn', BOUNCE_SMTP_PORT: '0' },
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  let b: ChildProcess | undefined;
  try {
    const secret = firstKey(api.out());
    const url = await databaseUrl(dataDir);
    const id = await startMailing(port, secret, N, 'worker.example');
    const a = worker();
    await until('a quarter sent', () => sentTo(smtp, 'worker.example') >= N / 4);
    a.kill('SIGKILL');
    await new Promise((r) => a.once('exit', r));
    const restartedAt = Date.now();
    b = worker();
    const doneAt = await until('the mailing finished', async () => {
      const s = await mailingState(url, id).catch(() => undefined);
      return s?.status === 'finished' && s.unfinished === 0 && s.leased === 0;
    });
    const t = tally(smtp, 'worker.example', N);
    line('worker kill -9: restart to finished', secs(doneAt - restartedAt), '< 120 s', `${((doneAt - restartedAt) / 120_000).toFixed(2)}`);
    line('worker kill -9: duplicates', String(t.duplicates), `<= ${LANES * BATCH} (in flight)`, `${(t.duplicates / (LANES * BATCH)).toFixed(2)}`);
    line('worker kill -9: lost', String(t.lost), '0');
  } finally {
    if (b) await stop(b);
    await stop(api);
  }
}

async function sigtermDrain(line: Line, smtp: TestSmtpServer, dataDir: string): Promise<void> {
  const port = await freePort();
  const g = await startServe({ dataDir, port, smtpUrl: smtp.url, extra: { LOG_LEVEL: 'warn' } });
  const secret = firstKey(g.out());
  await startMailing(port, secret, N, 'drain.example');
  await until('a quarter sent', () => sentTo(smtp, 'drain.example') >= N / 4);
  const t0 = Date.now();
  g.child.kill('SIGTERM');
  const code = await g.exited;
  const ms = Date.now() - t0;
  line('SIGTERM drain: exit code', String(code), '0');
  line('SIGTERM drain: time to exit', secs(ms), '<= 30 s', `${(ms / 30_000).toFixed(2)}`);
}

/** The three scenarios, each on a data directory of its own. */
export async function reliabilityPostgres(line: Line): Promise<void> {
  const smtp = await startTestSmtpServer();
  const dirs: string[] = [];
  const dir = async () => {
    const d = await mkdtemp(path.join(os.tmpdir(), 'mailgate-bench-rel-'));
    dirs.push(d);
    return d;
  };
  try {
    await postgresKilledUnderLoad(line, smtp, await dir());
    await workerKilled(line, smtp, await dir());
    await sigtermDrain(line, smtp, await dir());
  } finally {
    await smtp.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  }
}

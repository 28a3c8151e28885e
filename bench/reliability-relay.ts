/**
 * The relay-side scenarios of `npm run bench -- reliability` (quality.md, Reliability; issue 25). Each runs a
 * real `mailgate serve` process (HTTP, worker and bounce listener, as deployed) over a database of its own on
 * the bench's embedded Postgres, and measures from outside, as an operator would:
 * - relay outage: a relay (./reliability-relay.ts run as `--relay`, its own process) closes its port (connection
 *   refused, open connections cut) for BENCH_OUTAGE_SECONDS (60) in the middle of a BENCH_OUTAGE (20,000)
 *   recipient mailing: time from the relay's return to the first message it accepts and to the mailing's end
 *   (beside the rate before the outage), failures, recipients tried more than once, duplicates at the relay.
 * - 4xx storm: the relay answers 451 at RCPT to every tenth address, three times each, then accepts; with
 *   RETRY_BASE_SECONDS=1: every one finishes after its back-off, none fails, none is sent twice.
 * - bounce listener: BENCH_DSNS (2,000) DSNs into the listener from 4 clients that retry a refused or cut
 *   delivery as a sending MTA does; `serve` killed (-9) a third of the way and started again: each bounce
 *   recorded once, none lost.
 * - disk full: a gateway whose Postgres data directory is on a small tmpfs; add_recipients until the disk is
 *   full: the answer (a dialect fault, the process up), the data afterwards (counts, amcheck of the indexes),
 *   and recovery without a restart once space returns.
 * - exact feeds: the status feed and the raw bounce loop with 4 concurrent writers (their tests,
 *   test/feed/status-feed.test.ts and test/bounces/raw-loop.test.ts, run here as they run in `npm test`).
 * - soak: a BENCH_SOAK (1,000,000) recipient mailing into the bench's relay, a DSN for every hundredth
 *   recipient into the bounce listener while it runs, and the API under load (./load-clients.ts, 64 clients)
 *   (BENCH_SOAK_CLIENTS) the whole time: the `serve` process's RSS sampled (start, each quarter, peak, end), calls' errors and p99;
 *   hosted tracking on, and every twentieth sent recipient's pixel and first link requested through /t/o and /t/c
 *   while it sends: every hit recorded once.
 * BENCH_RELIABILITY (a comma list of outage, storm, bounces, disk, feeds, soak, and postgres for
 * ./reliability-postgres.ts) runs some only.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import nodemailer from 'nodemailer';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { buildServices, startGateway, type Services } from '../src/compose.js';
import { loadConfig } from '../src/config.js';
import type { CallContext } from '../src/core/context.js';
import { hostedClickUrl, hostedOpenUrl, signRecipientToken } from '../src/core/delivery/tokens.js';
import { freePort, startEmbedded } from '../src/db/embedded.js';
import { ensureDatabase } from '../src/db/migrate.js';
import { makeLogger } from '../src/logger.js';
import { decodeMethodResponse, encodeMethodCall } from '../src/rpc/xmlrpc.js';
import { size } from './scale.js';
import { dsnReport } from '../test/support/reports.js';

export interface ReliabilityBench {
  /** The bench's embedded Postgres: a database of one's own by name. */
  databaseUrl(name: string): string;
  adminUrl: string;
  /** The bench's relay (a sink accepting everything). */
  sinkPort: number;
  line(figure: string, value: string, target: string, ratio?: string): void;
}

const root = path.resolve(import.meta.dirname, '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BOUNCE_DOMAIN = 'bounces.bench.test';
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mb = (x: number) => `${Math.round(x / 1024 / 1024)} MB`;

// --- the relay, as a process of its own -------------------------------------------------------------

interface RelayStats {
  received: number;
  distinct: number;
  duplicates: number;
  refused: number;
}

/** Run as `--relay <port> <json options>`: accepts everything (or storms), counts per recipient, down/up on stdin. */
async function relayChild(port: number, o: { stormEvery?: number; stormRefusals?: number }): Promise<void> {
  const seen = new Map<string, number>();
  const rcpts = new Map<string, number>();
  let received = 0;
  let refused = 0;
  let duplicates = 0;
  let server: SMTPServer | null = null;
  const sockets = new Set<Socket>();
  const make = () =>
    new SMTPServer({
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      logger: false,
      maxClients: 1000,
      onRcptTo(address, _session, cb) {
        const a = address.address.toLowerCase();
        if (o.stormEvery) {
          const i = Number(/^s(\d+)@/.exec(a)?.[1] ?? -1);
          if (i >= 0 && i % o.stormEvery === 0) {
            const k = (rcpts.get(a) ?? 0) + 1;
            rcpts.set(a, k);
            if (k <= (o.stormRefusals ?? 3)) {
              refused++;
              return cb(Object.assign(new Error('4.7.1 try again later'), { responseCode: 451 }));
            }
          }
        }
        cb();
      },
      onData(stream, session, cb) {
        stream.resume();
        stream.on('end', () => {
          received++;
          for (const r of session.envelope.rcptTo) {
            const a = r.address.toLowerCase();
            const n = (seen.get(a) ?? 0) + 1;
            seen.set(a, n);
            if (n > 1) duplicates++;
          }
          cb();
        });
      },
    });
  const listen = async () => {
    const s = make();
    s.on('error', () => undefined);
    s.server.on('connection', (sock: Socket) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
    });
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.server.address() as { port: number }).port;
    server = s;
  };
  await listen();
  console.log(`port ${port}`);
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    void (async () => {
      const cmd = line.trim();
      if (cmd === 'stats') console.log(JSON.stringify({ received, distinct: seen.size, duplicates, refused } satisfies RelayStats));
      else if (cmd === 'down') {
        // As a crash: the port closes (connection refused) and every open conversation is cut.
        server?.server.close();
        server = null;
        for (const s of sockets) s.destroy();
        console.log('ok');
      } else if (cmd === 'up') {
        await listen();
        console.log('ok');
      }
    })();
  });
  process.stdin.on('end', () => process.exit(0));
}

if (process.argv[2] === '--relay') await relayChild(Number(process.argv[3]), JSON.parse(process.argv[4] ?? '{}') as { stormEvery?: number });

interface Relay {
  port: number;
  url: string;
  stats(): Promise<RelayStats>;
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): void;
}

async function startRelay(o: { stormEvery?: number; stormRefusals?: number } = {}): Promise<Relay> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bench/reliability-relay.ts'), '--relay', '0', JSON.stringify(o)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const rl = readline.createInterface({ input: child.stdout });
  const waiters: ((l: string) => void)[] = [];
  rl.on('line', (l) => waiters.shift()?.(l));
  const next = () => new Promise<string>((r) => waiters.push(r));
  const ask = async (cmd: string) => {
    const p = next();
    child.stdin.write(`${cmd}\n`);
    return await p;
  };
  const port = Number((await next()).split(' ')[1]);
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    stats: async () => JSON.parse(await ask('stats')) as RelayStats,
    down: async () => void (await ask('down')),
    up: async () => void (await ask('up')),
    stop: () => child.stdin.end(),
  };
}

// --- a gateway as deployed: `mailgate serve`, its own process ------------------------------------------

interface Served {
  url: string;
  port: number;
  bouncePort: number;
  pid: number;
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

async function serve(dbUrl: string, env: Record<string, string>, ports?: { port: number; bouncePort: number }): Promise<Served> {
  const port = ports?.port ?? (await freePort());
  const bouncePort = ports?.bouncePort ?? (await freePort());
  const e: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: dbUrl,
    HOST: '127.0.0.1',
    PORT: String(port),
    BOUNCE_SMTP_PORT: String(bouncePort),
    BOUNCE_DOMAIN,
    PUBLIC_URL: 'http://bench.test',
    LOG_LEVEL: 'warn',
    ...env,
  };
  delete e.DATA_DIR;
  const child = spawn(process.execPath, [path.join(root, 'bin/mailgate.js'), 'serve'], { env: e, cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let banner = '';
  child.stdout.on('data', (c: Buffer) => (banner += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mailgate serve exited ${child.exitCode}`);
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    // The banner comes once the worker and the bounce listener run too.
    if (ok && banner.includes('SMTP')) break;
    await sleep(20);
  }
  return {
    url,
    port,
    bouncePort,
    pid: child.pid!,
    child,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
    },
  };
}

/** VmRSS of a process, in bytes. */
async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}

interface Setup {
  dbUrl: string;
  services: Services;
  ctx: CallContext;
  secret: string;
  db: pg.Pool;
  close(): Promise<void>;
}

/** A database of its own, migrated, with the account `bench` and a key. */
async function prepare(b: ReliabilityBench, name: string): Promise<Setup> {
  await ensureDatabase(b.adminUrl, name);
  const dbUrl = b.databaseUrl(name);
  const config = loadConfig({
    DATABASE_URL: dbUrl,
    HOST: '127.0.0.1',
    PORT: '0',
    BOUNCE_SMTP_PORT: '0',
    LOG_LEVEL: 'warn',
    PUBLIC_URL: 'http://bench.test',
    BOUNCE_DOMAIN,
  });
  const services = await buildServices(config, makeLogger('warn'), dbUrl);
  const key = await services.core.accounts.createKey('bench');
  const ctx = { accountId: (await services.store.accounts.bySlug('bench'))!.id, requestId: 'bench' };
  const db = new pg.Pool({ connectionString: dbUrl, max: 2 });
  // The bench's Postgres stops at the end of the run: an idle client it cuts then is no error of the run's.
  db.on('error', () => undefined);
  services.pool.on('error', () => undefined);
  return {
    dbUrl,
    services,
    ctx,
    secret: key.secret,
    db,
    async close() {
      await db.end();
      await services.close();
    },
  };
}

/** The soak's tracked links, in the order the html has them (a click's link index is its position). */
const SOAK_LINKS = ['https://example.org/offer', 'https://example.org/news'];

async function mailingOf(s: Setup, n: number, o: { tracked?: boolean } = {}): Promise<number> {
  const links = o.tracked ? SOAK_LINKS.map((u, i) => `<p><a href="${u}">Link ${i}</a></p>`).join('') : '';
  const id = await s.services.core.mailings.create(s.ctx, {
    dialect: 'bench',
    fromEmail: 'news@example.org',
    fromName: 'Bench',
    subject: 'Hello {{ firstname }}',
    html: `<p>Hello {{ firstname }}</p>${'<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>'.repeat(20)}${links}`,
    text: `Hello {{ firstname }}\n${'Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n'.repeat(20)}`,
  });
  // The bench's dialect tracks nothing by default: the soak turns hosted opens and clicks on, as Mailkit's would be.
  if (o.tracked) await s.services.core.mailings.setProperties(s.ctx, id, { readTracking: true, clickTracking: true });
  for (let i = 0; i < n; i += 10_000)
    await s.services.core.recipients.add(
      s.ctx,
      id,
      Array.from({ length: Math.min(10_000, n - i) }, (_, k) => ({ email: `s${i + k}@example.org`, fields: { firstname: `F${i + k}` } })),
    );
  return id;
}

async function finished(s: Setup, id: number): Promise<boolean> {
  const { rows } = await s.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM sends WHERE mailing_id = $1 AND status <> 'finished'`, [id]);
  return rows[0]!.n === 0;
}

async function outcome(s: Setup, id: number) {
  const { rows } = await s.db.query<{ finished: number; failed: number; other: number; retried: number; tries: number }>(
    `SELECT count(*) FILTER (WHERE status = 'finished')::int AS finished,
            count(*) FILTER (WHERE status IN ('error', 'general_error', 'timeout'))::int AS failed,
            count(*) FILTER (WHERE status NOT IN ('finished', 'error', 'general_error', 'timeout'))::int AS other,
            count(*) FILTER (WHERE try_count > 1)::int AS retried,
            coalesce(sum(try_count), 0)::int AS tries
       FROM recipients WHERE mailing_id = $1`,
    [id],
  );
  return rows[0]!;
}

// --- the scenarios --------------------------------------------------------------------------------------

async function relayOutage(b: ReliabilityBench): Promise<Record<string, unknown>> {
  const n = size('BENCH_OUTAGE', 20_000);
  const outageSeconds = Number(process.env.BENCH_OUTAGE_SECONDS ?? 60);
  const relay = await startRelay();
  const s = await prepare(b, 'rel_outage');
  const gw = await serve(s.dbUrl, { SMTP_URL: relay.url });
  try {
    const id = await mailingOf(s, n);
    await s.services.core.mailings.start(s.ctx, id);
    // The rate before the outage, past the start (the snapshot of the recipients, the first connections).
    while ((await relay.stats()).received < n / 8) await sleep(20);
    const [r8, t8] = [(await relay.stats()).received, performance.now()];
    while ((await relay.stats()).received < n / 4) await sleep(20);
    const beforeRate = ((await relay.stats()).received - r8) / ((performance.now() - t8) / 1000);
    await relay.down();
    await sleep(outageSeconds * 1000);
    const during = await outcome(s, id);
    const atReturn = (await relay.stats()).received;
    await relay.up();
    const tUp = performance.now();
    while ((await relay.stats()).received === atReturn) await sleep(10);
    const resume = (performance.now() - tUp) / 1000;
    while (!(await finished(s, id))) await sleep(50);
    const finish = (performance.now() - tUp) / 1000;
    const o = await outcome(s, id);
    const st = await relay.stats();
    const alone = (n - atReturn) / beforeRate;
    b.line(`relay outage ${outageSeconds} s: resume`, `${resume.toFixed(2)} s after return`, '<= 5 s (probe: 27 s)', `${(resume / 5).toFixed(2)} of 5 s`);
    b.line(
      `relay outage: finish after return`,
      `${finish.toFixed(1)} s (${fmt(n - atReturn)} left)`,
      'the rest at the pre-outage rate',
      `${(finish / alone).toFixed(2)} of ${alone.toFixed(1)} s at ${fmt(beforeRate)}/s (probe: 242 s)`,
    );
    b.line(
      `relay outage: ${fmt(n)} recipients`,
      `${o.failed} failed, ${st.duplicates} duplicates`,
      '0 failed, 0 duplicates',
      `${o.retried} tried twice; during the outage ${during.failed} failed, ${during.other} waiting`,
    );
    return { n, outageSeconds, resume, finish, beforeRate, atReturn, outcome: o, relay: st };
  } finally {
    await gw.stop();
    relay.stop();
    await s.close();
  }
}

async function storm(b: ReliabilityBench): Promise<Record<string, unknown>> {
  const n = size('BENCH_STORM', 20_000);
  const every = 10;
  const refusals = 3;
  const relay = await startRelay({ stormEvery: every, stormRefusals: refusals });
  const s = await prepare(b, 'rel_storm');
  const gw = await serve(s.dbUrl, { SMTP_URL: relay.url, RETRY_BASE_SECONDS: '1' });
  try {
    const id = await mailingOf(s, n);
    const t0 = performance.now();
    await s.services.core.mailings.start(s.ctx, id);
    while (!(await finished(s, id))) await sleep(50);
    const seconds = (performance.now() - t0) / 1000;
    const o = await outcome(s, id);
    const st = await relay.stats();
    const stormy = Math.ceil(n / every);
    const { rows } = await s.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM bounces WHERE mailing_id = $1 AND kind = 'temporary'`, [id]);
    b.line(
      `4xx storm: ${fmt(stormy)} refused ${refusals}x`,
      `${o.finished}/${n} finished in ${seconds.toFixed(1)} s`,
      'all finish with back-off, 0 failed, 0 dup.',
      `${o.failed} failed, ${st.duplicates} duplicates, ${o.retried} retried, ${fmt(o.tries)} tries (expected ${fmt(n + stormy * refusals)}), ${rows[0]!.n} temporary bounces; back-off 1+2+4 s`,
    );
    return { n, stormy, refusals, seconds, outcome: o, relay: st, temporaryBounces: rows[0]!.n };
  } finally {
    await gw.stop();
    relay.stop();
    await s.close();
  }
}

/** DSNs for `targets` into the listener at `port()`, `clients` at a time, each retried until accepted (as an MTA would). */
async function sendDsns(
  targets: { id: number; email: string }[],
  secret: Buffer,
  port: () => number,
  clients: number,
  onAccepted?: (n: number) => void,
): Promise<{ accepted: number; retries: number }> {
  let next = 0;
  let accepted = 0;
  let retries = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < targets.length; i = next++) {
        const t = targets[i]!;
        const verp = `bounces+${signRecipientToken(secret, t.id)}@${BOUNCE_DOMAIN}`;
        for (;;) {
          const tr = nodemailer.createTransport({
            host: '127.0.0.1',
            port: port(),
            secure: false,
            ignoreTLS: true,
            connectionTimeout: 2000,
            socketTimeout: 5000,
          });
          try {
            await tr.sendMail({ envelope: { from: '', to: verp }, raw: dsnReport({ verp, to: t.email }) });
            accepted++;
            onAccepted?.(accepted);
            break;
          } catch {
            retries++;
            await sleep(200);
          } finally {
            tr.close();
          }
        }
      }
    }),
  );
  return { accepted, retries };
}

async function bounceListener(b: ReliabilityBench): Promise<Record<string, unknown>> {
  const n = size('BENCH_DSNS', 2_000, 200);
  const relay = await startRelay();
  const s = await prepare(b, 'rel_bounces');
  let gw = await serve(s.dbUrl, { SMTP_URL: relay.url });
  try {
    const id = await mailingOf(s, n);
    await s.services.core.mailings.start(s.ctx, id);
    while (!(await finished(s, id))) await sleep(50);
    const { rows: targets } = await s.db.query<{ id: number; email: string }>('SELECT id::int, email FROM recipients WHERE mailing_id = $1 ORDER BY id', [id]);
    const kill: { done: Promise<void> | null } = { done: null };
    let down = 0;
    const ports = { port: gw.port, bouncePort: gw.bouncePort };
    const r = await sendDsns(
      targets,
      s.services.secret,
      () => ports.bouncePort,
      4,
      (k) => {
        if (k >= n / 3 && !kill.done)
          kill.done = (async () => {
            const t = performance.now();
            await gw.stop('SIGKILL');
            await sleep(2000);
            gw = await serve(s.dbUrl, { SMTP_URL: relay.url }, ports);
            down = (performance.now() - t) / 1000;
          })();
      },
    );
    await kill.done;
    const { rows } = await s.db.query<{ rows: number; distinct: number }>(
      `SELECT count(*)::int AS rows, count(DISTINCT recipient_id)::int AS distinct FROM bounces WHERE mailing_id = $1 AND source = 'dsn'`,
      [id],
    );
    const { rows: failed } = await s.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM recipients WHERE mailing_id = $1 AND status = 'error'`, [id]);
    const rec = rows[0]!;
    b.line(
      `bounce listener killed, restarted`,
      `${rec.distinct}/${n} recorded, ${rec.rows - rec.distinct} twice`,
      'each DSN counted once, none lost',
      `${r.retries} client retries over ${down.toFixed(1)} s down; ${failed[0]!.n} recipients ERROR`,
    );
    return { dsns: n, accepted: r.accepted, retries: r.retries, downSeconds: down, recorded: rec.rows, distinct: rec.distinct, failedRecipients: failed[0]!.n };
  } finally {
    await gw.stop();
    relay.stop();
    await s.close();
  }
}

async function diskFull(b: ReliabilityBench): Promise<Record<string, unknown>> {
  const mount = '/mnt/mailgate-bench-full';
  const sizeMb = Number(process.env.BENCH_DISK_MB ?? 160);
  await mkdir(mount, { recursive: true });
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0755`, 'tmpfs', mount], { encoding: 'utf8' });
  if (m.status !== 0) {
    b.line('disk full', 'not run', '-', `mount tmpfs: ${m.stderr.trim()}`);
    return { skipped: m.stderr.trim() };
  }
  const pgh = await startEmbedded({ dataDir: path.join(mount, 'data'), ephemeral: true });
  const result: Record<string, unknown> = { tmpfsMb: sizeMb, clusterDir: pgh.dir };
  try {
    await ensureDatabase(pgh.url, 'full');
    const dbUrl = pgh.databaseUrl('full');
    const config = loadConfig({
      DATABASE_URL: dbUrl,
      HOST: '127.0.0.1',
      PORT: '0',
      BOUNCE_SMTP_PORT: '0',
      LOG_LEVEL: 'fatal',
      PUBLIC_URL: 'http://bench.test',
    });
    const services = await buildServices(config, makeLogger('fatal'), dbUrl);
    const gateway = await startGateway(services, { worker: false, http: true });
    const key = await services.core.accounts.createKey('bench');
    const headers = { authorization: `Basic ${Buffer.from(`admin:${key.secret}`).toString('base64')}`, 'content-type': 'text/xml' };
    const call = async (method: string, params: unknown[]) => {
      const res = await fetch(`${gateway.url}/CloudMailing`, { method: 'POST', headers, body: encodeMethodCall(method, params) });
      return { status: res.status, answer: decodeMethodResponse(await res.text()) };
    };
    const created = await call('create_mailing', ['full@example.org', 'Bench', 'Hi', '<p>Hi</p>', 'Hi', 'utf-8']);
    if ('fault' in created.answer) throw new Error(`create_mailing: ${created.answer.fault.faultString}`);
    const id = created.answer.value as number;
    // Ballast leaves a few MB: the table then fills the rest.
    const free = () => {
      const d = spawnSync('df', ['-B1', '--output=avail', mount], { encoding: 'utf8' });
      return Number(d.stdout.trim().split('\n')[1]);
    };
    const ballast = path.join(mount, 'ballast');
    await writeFile(ballast, Buffer.alloc(Math.max(0, free() - 24 * 1024 * 1024)));
    let acked = 0;
    let calls = 0;
    let fault: string | null = null;
    let httpStatus = 0;
    const batch = (c: number) => Array.from({ length: 1000 }, (_, i) => ({ email: `f${c}-${i}@example.org`, firstname: `F${i}`, note: 'x'.repeat(200) }));
    for (; calls < 2000 && !fault; calls++) {
      const r = await call('add_recipients', [id, batch(calls)]);
      httpStatus = r.status;
      if ('fault' in r.answer) fault = `${r.answer.fault.faultCode} ${r.answer.fault.faultString}`;
      else acked += 1000;
    }
    const healthz = await fetch(`${gateway.url}/healthz`).then(
      (r) => r.status,
      (e: Error) => e.message,
    );
    const listAnswer = await call('list_mailings', [{}]).catch((e: Error) => ({ status: 0, answer: { fault: { faultCode: 0, faultString: e.message } } }));
    await rm(ballast);
    // Recovery by itself: the same call again, until it is answered (no restart of anything).
    const t = performance.now();
    let recovered = false;
    for (let k = 0; k < 300 && !recovered; k++) {
      const r = await call('add_recipients', [id, batch(100_000 + k)]);
      if (!('fault' in r.answer)) {
        recovered = true;
        acked += 1000;
      } else await sleep(100);
    }
    const recoverySeconds = (performance.now() - t) / 1000;
    const db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    const stored = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM recipients WHERE mailing_id = $1', [id])).rows[0]!.n);
    let amcheck = 'not available';
    try {
      await db.query('CREATE EXTENSION IF NOT EXISTS amcheck');
      const { rows } = await db.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
          WHERE i.indrelid = 'recipients'::regclass AND a.amname = 'btree'`,
      );
      for (const r of rows) await db.query(`SELECT bt_index_check($1::regclass, true)`, [r.name]);
      amcheck = `${rows.length} indexes of recipients ok`;
    } catch (e) {
      amcheck = `failed: ${(e as Error).message}`;
    }
    await db.end();
    await gateway.stop();
    await services.close();
    b.line(
      `disk full (${sizeMb} MB tmpfs)`,
      `fault after ${fmt(acked - (recovered ? 1000 : 0))} rows`,
      'a clear error, nothing corrupt, recovers',
      `HTTP ${httpStatus}: ${fault ?? 'never full'}; healthz ${healthz}; list_mailings ${'fault' in listAnswer.answer ? 'fault' : 'answered'} while full`,
    );
    b.line(
      'disk full: after space returns',
      recovered ? `answered again in ${recoverySeconds.toFixed(2)} s` : 'not recovered',
      'by itself, no restart',
      `stored ${fmt(stored)} = acknowledged ${fmt(acked)}: ${stored === acked ? 'exact' : 'MISMATCH'}; amcheck ${amcheck}`,
    );
    Object.assign(result, { acked, stored, fault, httpStatus, healthz, recovered, recoverySeconds, amcheck });
    return result;
  } finally {
    await pgh.stop().catch(() => undefined);
    spawnSync('umount', [mount]);
  }
}

async function feeds(b: ReliabilityBench): Promise<Record<string, unknown>> {
  const files = ['test/feed/status-feed.test.ts', 'test/bounces/raw-loop.test.ts'];
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'test/support/run.ts'), ...files], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  const count = (k: string) => Number(new RegExp(`^# ${k} (\\d+)`, 'm').exec(out)?.[1] ?? NaN);
  b.line(
    'status feed + raw bounce loop, 4 writers',
    `${count('pass')}/${count('tests')} pass`,
    'every change / bounce exactly once',
    `${files.join(', ')} (exit ${code})`,
  );
  return { tests: count('tests'), pass: count('pass'), fail: count('fail'), exit: code };
}

async function soak(b: ReliabilityBench): Promise<Record<string, unknown>> {
  const n = size('BENCH_SOAK', 1_000_000, 20_000);
  const clients = Number(process.env.BENCH_SOAK_CLIENTS ?? 64);
  const s = await prepare(b, 'rel_soak');
  const id = await mailingOf(s, n, { tracked: true });
  const gw = await serve(s.dbUrl, { SMTP_URL: `smtp://127.0.0.1:${b.sinkPort}` });
  try {
    // What the load's calls need (as ./load.ts sets up): a maillist and a transactional campaign.
    const sender = { authorization: `Basic ${Buffer.from(`${s.secret}:`).toString('base64')}`, 'content-type': 'application/json' };
    await fetch(`${gw.url}/api/0/bench/maillist/load`, { method: 'PUT', headers: sender, body: JSON.stringify({ title: 'Load' }) });
    await s.services.core.mailings.create(s.ctx, {
      dialect: 'bench',
      name: 'load-campaign',
      fromEmail: 'load@example.org',
      subject: 'Order {{ n }}',
      html: '<p>Order {{ n }}</p>',
    });
    await sleep(2000);
    const start = await rssOf(gw.pid);
    let peak = start;
    const samples: number[] = [];
    const sampler = setInterval(
      () =>
        void rssOf(gw.pid).then(
          (r) => {
            peak = Math.max(peak, r);
            samples.push(r);
          },
          () => undefined,
        ),
      250,
    );
    const t0 = performance.now();
    await s.services.core.mailings.start(s.ctx, id);
    let done = false;
    // The API under load the whole time: rounds of 30 s of ./load-clients.ts (BENCH_SOAK_CLIENTS, 64) until the mailing ends.
    const load = { calls: 0, errors: 0, p99: [] as number[], firstError: '' };
    const loading = (async () => {
      while (!done) {
        const settings = JSON.stringify({
          url: gw.url,
          secret: s.secret,
          seconds: 30,
          clients,
          listBody: encodeMethodCall('list_mailings', [{ owner_guid: 'none' }]),
        });
        const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bench/load-clients.ts'), settings], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        await once(child, 'exit');
        const r = JSON.parse(out) as { times: number[][]; errors: number; firstError: string };
        const all = r.times.flat().sort((x, y) => x - y);
        load.calls += all.length;
        load.errors += r.errors;
        load.p99.push(all[Math.floor(all.length * 0.99)] ?? 0);
        load.firstError ||= r.firstError;
      }
    })();
    // A DSN for every hundredth recipient once it is sent, into the bounce listener, while the mailing runs;
    // and for every twentieth (another residue) the hosted pixel and its first link's click, as a mail client
    // would request them (GET, a browser's user agent), through the gateway's own /t/o and /t/c.
    let dsnsSent = 0;
    let dsnRetries = 0;
    const hits = { opens: 0, clicks: 0, failed: 0, firstError: '' };
    const quarters: number[] = [];
    let cursor = 0;
    let trackCursor = 0;
    const browser = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36' };
    const hit = async (url: string, status: number, kind: 'opens' | 'clicks') => {
      try {
        const r = await fetch(url, { headers: browser, redirect: 'manual' });
        await r.arrayBuffer();
        if (r.status === status) hits[kind]++;
        else {
          hits.failed++;
          hits.firstError ||= `${kind}: HTTP ${r.status}`;
        }
      } catch (e) {
        hits.failed++;
        hits.firstError ||= `${kind}: ${(e as Error).message}`;
      }
    };
    // Recipients finish out of id order: the loop's cursor passes some still in flight; the final pass hits those.
    const tracked = new Set<number>();
    const hitAll = async (ids: number[]) => {
      const todo = ids.filter((rid) => !tracked.has(rid));
      for (const rid of todo) tracked.add(rid);
      for (let i = 0; i < todo.length; i += 8)
        await Promise.all(
          todo
            .slice(i, i + 8)
            .flatMap((rid) => [
              hit(hostedOpenUrl(gw.url, s.services.secret, rid), 200, 'opens'),
              hit(hostedClickUrl(gw.url, s.services.secret, rid, 0, SOAK_LINKS[0]!), 302, 'clicks'),
            ]),
        );
    };
    while (!(await finished(s, id))) {
      const { rows } = await s.db.query<{ id: number; email: string }>(
        `SELECT id::int, email FROM recipients WHERE mailing_id = $1 AND id > $2 AND status = 'finished' AND id % 100 = 0 ORDER BY id LIMIT 500`,
        [id, cursor],
      );
      const { rows: sent } = await s.db.query<{ id: number }>(
        `SELECT id::int FROM recipients WHERE mailing_id = $1 AND id > $2 AND status = 'finished' AND id % 20 = 7 ORDER BY id LIMIT 2000`,
        [id, trackCursor],
      );
      if (sent.length) {
        trackCursor = sent[sent.length - 1]!.id;
        await hitAll(sent.map((r) => r.id));
      }
      if (rows.length) {
        cursor = rows[rows.length - 1]!.id;
        const r = await sendDsns(rows, s.services.secret, () => gw.bouncePort, 4);
        dsnsSent += r.accepted;
        dsnRetries += r.retries;
      } else if (!sent.length) await sleep(500);
      const { rows: st } = await s.db.query<{ n: string }>('SELECT coalesce(sum(tries), 0) AS n FROM hourly_stats WHERE account_id = $1', [s.ctx.accountId]);
      while (quarters.length < 3 && Number(st[0]!.n) >= ((quarters.length + 1) * n) / 4) quarters.push(await rssOf(gw.pid));
    }
    const seconds = (performance.now() - t0) / 1000;
    done = true;
    await loading;
    clearInterval(sampler);
    const end = await rssOf(gw.pid);
    const o = await outcome(s, id);
    const { rows: bounces } = await s.db.query<{ rows: number; distinct: number }>(
      `SELECT count(*)::int AS rows, count(DISTINCT recipient_id)::int AS distinct FROM bounces WHERE mailing_id = $1 AND source = 'dsn'`,
      [id],
    );
    // The final pass: every sent recipient of the residue the loop's cursor passed while it was in flight.
    const { rows: rest } = await s.db.query<{ id: number }>(
      `SELECT id::int FROM recipients WHERE mailing_id = $1 AND status = 'finished' AND id % 20 = 7 ORDER BY id`,
      [id],
    );
    await hitAll(rest.map((r) => r.id));
    // A hit is answered first and recorded after (src/adapters/tracking): wait for the last recordings (bounded).
    const counted = async () =>
      (
        await s.db.query<{ opens: number; clicks: number; recipients: number }>(
          `SELECT count(*) FILTER (WHERE kind = 'open')::int AS opens, count(*) FILTER (WHERE kind = 'click')::int AS clicks,
                  count(DISTINCT recipient_id)::int AS recipients
             FROM events WHERE mailing_id = $1`,
          [id],
        )
      ).rows;
    let ev = await counted();
    for (let waited = 0; (ev[0]!.opens < hits.opens || ev[0]!.clicks < hits.clicks) && waited < 60_000; waited += 250) {
      await sleep(250);
      ev = await counted();
    }
    const expected = await s.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM recipients WHERE mailing_id = $1 AND status = 'finished' AND id % 20 = 7`,
      [id],
    );
    b.line(
      `soak: ${fmt(n)} mailing, RSS of serve`,
      `peak ${mb(peak)}`,
      '<= 300 MB, flat',
      `start ${mb(start)}, at 1/4 1/2 3/4 ${quarters.map(mb).join(' ')}, end ${mb(end)}; ${Math.round(n / seconds)}/s over ${Math.round(seconds)} s`,
    );
    b.line(
      'soak: mailing, DSNs, API under load',
      `${o.finished}/${n} sent, ${bounces[0]!.distinct}/${dsnsSent} DSNs recorded`,
      '0 errors, every DSN once',
      `${o.failed - bounces[0]!.distinct} failed otherwise; ${bounces[0]!.rows - bounces[0]!.distinct} DSNs twice; API (${clients} clients) ${fmt(load.calls)} calls, ${load.errors} errors, p99 per 30 s ${load.p99.map((x) => x.toFixed(0)).join('/')} ms`,
    );
    b.line(
      'soak: hosted tracking while it sends',
      `${ev[0]!.opens}/${hits.opens} opens, ${ev[0]!.clicks}/${hits.clicks} clicks recorded`,
      `every hit once, ${expected.rows[0]!.n} recipients hit`,
      `${hits.failed} requests failed${hits.firstError ? ` (first: ${hits.firstError})` : ''}; ${ev[0]!.recipients} recipients with events`,
    );
    if (load.firstError) console.log(`# soak: first API error: ${load.firstError}`);
    return {
      n,
      seconds,
      rss: { start, peak, quarters, end, samples: samples.length },
      outcome: o,
      dsns: { sent: dsnsSent, retries: dsnRetries, recorded: bounces[0]!.rows, distinct: bounces[0]!.distinct },
      api: load,
      tracking: { ...hits, recorded: ev[0], expected: expected.rows[0]!.n },
    };
  } finally {
    await gw.stop();
    await s.close();
  }
}

/** Every relay-side reliability scenario (or those BENCH_RELIABILITY names); the figures' details, for the results file. */
export async function reliabilityRelay(b: ReliabilityBench): Promise<Record<string, unknown>> {
  const only = new Set((process.env.BENCH_RELIABILITY ?? '').split(',').filter(Boolean));
  const run = (k: string) => only.size === 0 || only.has(k);
  const out: Record<string, unknown> = {};
  if (run('outage')) out.outage = await relayOutage(b);
  if (run('storm')) out.storm = await storm(b);
  if (run('bounces')) out.bounces = await bounceListener(b);
  if (run('feeds')) out.feeds = await feeds(b);
  if (run('disk')) out.disk = await diskFull(b);
  if (run('soak')) out.soak = await soak(b);
  return out;
}

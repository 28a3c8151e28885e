/**
 * Two figures of quality.md's speed table that need a running gateway and nothing else:
 * - load: 64 concurrent clients for BENCH_LOAD_SECONDS (30) mixing CloudMailing `list_mailings` (XML-RPC),
 *   Sender `PUT .../subscription`, Emailicious `GET /api/v1/mailings` and Sender transactional sends, each
 *   client waiting for its answer before the next call, all in a process of their own (./load-clients.ts):
 *   errors (any non-2xx or failure) and p50/p99 latency. BENCH_LOAD_SPLIT=1 then runs each kind alone (16
 *   clients, 5 s) and prints the gateway's and Postgres's CPU per call (and, with BENCH_PG_STATS, statements
 *   per call); BENCH_LOAD_SPLIT=only skips the mixed run; BENCH_LOAD_KIND=<0-3> splits one kind only.
 *   BENCH_PROCESSES=N: the calls go to a `mailgate serve
 *   --no-worker --processes N` of its own on the bench's database instead of the bench's in-process gateway (the
 *   bench's worker still sends), to compare 1 and N HTTP processes started alike. Then the floor under the figure:
 *   the same clients against floorServer (BENCH_LOAD_FLOOR=0 skips it).
 * - memory: the peak RSS of a `mailgate worker` process while a BENCH_MEMORY (1,000,000) recipient mailing
 *   is sent, and the status feed over that mailing (see memoryPeak).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { emailKey } from '../src/core/email.js';
import { newTrackingId } from '../src/core/recipients/tracking-id.js';
import { sendWaker } from '../src/core/transactional/wake.js';
import type { Bench } from './sender.js';
import { SCALE, size } from './scale.js';

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

export async function apiLoad(b: Bench, o: { xmlrpcBody: (method: string, params: unknown[]) => string }): Promise<void> {
  const seconds = Number(process.env.BENCH_LOAD_SECONDS ?? Math.max(5, Math.round(30 * Math.min(1, SCALE * 4))));
  const clients = 64;
  const sender = { authorization: `Basic ${Buffer.from(`${b.secret}:`).toString('base64')}`, 'content-type': 'application/json' };
  // What the calls need: a maillist, a transactional campaign, a few more mailings to list.
  await fetch(`${b.url}/api/0/bench/maillist/load`, { method: 'PUT', headers: sender, body: JSON.stringify({ title: 'Load' }) });
  await b.services.core.mailings.create(b.ctx, {
    dialect: 'bench',
    name: 'load-campaign',
    fromEmail: 'load@example.org',
    subject: 'Order {{ n }}',
    html: '<p>Order {{ n }}</p>',
  });
  for (let i = 1; i <= 8; i++)
    await b.services.core.mailings.create(b.ctx, {
      dialect: 'bench',
      name: `load-list-${i}`,
      fromEmail: 'load@example.org',
      subject: `List ${i}`,
      html: `<p>${i}</p>`,
    });
  const names = ['list_mailings', 'sender PUT subscription', 'REST GET mailings', 'transactional send'];
  // Every mailing of the account (the transactional campaign growing under the load among them), with its totals.
  const listBody = o.xmlrpcBody('list_mailings', [{}]);
  const processes = process.env.BENCH_PROCESSES;
  const served = processes ? await serveProcesses(b.dbUrl, processes) : undefined;
  const url = served?.url ?? b.url;
  const r = await (
    process.env.BENCH_LOAD_SPLIT === 'only'
      ? Promise.resolve({ times: names.map(() => [0]), errors: 0, firstError: '', cpuMs: 0 })
      : runClients({ url, secret: b.secret, seconds, clients, listBody })
  ).finally(() => served?.stop());
  const all = r.times.flat().sort((x, y) => x - y);
  for (const t of r.times) t.sort((x, y) => x - y);
  b.line(
    `API under load: ${clients} clients, ${seconds} s`,
    `${r.errors} errors, p99 ${pct(all, 99).toFixed(1)} ms`,
    'zero errors, p99 <= 50 ms',
    `p50 ${pct(all, 50).toFixed(1)} ms, ${Math.round(all.length / seconds)} calls/s; clients in their own process (${(r.cpuMs / all.length).toFixed(2)} ms of CPU per call)${processes ? `; serve --processes ${processes}` : ''}`,
  );
  console.log(
    `# load per call: ${names.map((k, i) => `${k} p50 ${pct(r.times[i]!, 50).toFixed(1)} / p99 ${pct(r.times[i]!, 99).toFixed(1)} ms (${r.times[i]!.length})`).join('; ')}`,
  );
  if (r.firstError) console.log(`# load: first error: ${r.firstError}`);
  // The floor under the figure: the same clients against a bare server that runs each call's statements and nothing
  // else (see floorServer), in this process beside the same worker. What the gateway adds is the difference.
  if (process.env.BENCH_LOAD_FLOOR !== '0' && process.env.BENCH_LOAD_SPLIT !== 'only' && !processes) {
    const floor = await floorServer(b);
    const f = await runClients({ url: floor.url, secret: b.secret, seconds, clients, listBody }).finally(() => floor.stop());
    const fall = f.times.flat().sort((x, y) => x - y);
    console.log(
      `# load floor (bare node:http running each call's statements, no express, auth, checks or answer encoding): ${f.errors} errors, p50 ${pct(fall, 50).toFixed(1)} / p99 ${pct(fall, 99).toFixed(1)} ms, ${Math.round(fall.length / seconds)} calls/s; clients ${(f.cpuMs / fall.length).toFixed(2)} ms of CPU per call${f.firstError ? `; first error: ${f.firstError}` : ''}`,
    );
  }
  // Where each kind's cost lies: each alone for a few seconds, the CPU this process (the gateway) and the
  // cluster's Postgres processes spent per call. CPU per call holds on a busy machine where latencies do not.
  if (process.env.BENCH_LOAD_SPLIT) {
    const db = new pg.Client({ connectionString: b.dbUrl });
    await db.connect();
    // The cluster's CPU: the postmaster's own and its reaped children's (cutime, cstime), plus every live child's.
    // Summing the backends in pg_stat_activity lost the CPU of those that exited between two samples (a pool's
    // idle connections closing), which could make a kind's figure negative.
    const fieldsOf = (stat: string) => stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticksOf = (stat: string, withChildren: boolean) => {
      const f = fieldsOf(stat);
      return Number(f[11] ?? 0) + Number(f[12] ?? 0) + (withChildren ? Number(f[13] ?? 0) + Number(f[14] ?? 0) : 0);
    };
    const { rows: me } = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const postmaster = fieldsOf(await readFile(`/proc/${me[0]!.pid}/stat`, 'utf8'))[1]!;
    const pgCpu = async () => {
      let ticks = ticksOf(await readFile(`/proc/${postmaster}/stat`, 'utf8'), true);
      for (const pid of await readdir('/proc')) {
        if (!/^\d+$/.test(pid)) continue;
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
        if (stat && fieldsOf(stat)[1] === postmaster) ticks += ticksOf(stat, false);
      }
      return ticks * 10;
    };
    // With BENCH_PG_STATS, the statements each call runs (BEGIN and COMMIT count too).
    const statements = async () =>
      process.env.BENCH_PG_STATS
        ? Number(
            (
              await db.query<{ n: string }>(
                'SELECT coalesce(sum(calls), 0) AS n FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())',
              )
            ).rows[0]!.n,
          )
        : NaN;
    // The worker sends what the calls before queued: wait until the gateway is quiet, then take its background
    // CPU over 3 s to subtract.
    const background = async () => {
      const [c0, p0] = [process.cpuUsage(), await pgCpu()];
      await new Promise((r) => setTimeout(r, 3000));
      const c = process.cpuUsage(c0);
      return { node: (c.user + c.system) / 1000 / 3, pg: ((await pgCpu()) - p0) / 3 };
    };
    for (const [only, name] of names.entries()) {
      if (process.env.BENCH_LOAD_KIND && process.env.BENCH_LOAD_KIND !== String(only)) continue;
      let idle = await background();
      for (let i = 0; i < 20 && idle.node > 50; i++) idle = await background();
      const [cpu0, pg0, st0] = [process.cpuUsage(), await pgCpu(), await statements()];
      const k = await runClients({ url: b.url, secret: b.secret, seconds: 5, clients: 16, listBody, only });
      const cpu = process.cpuUsage(cpu0);
      const calls = k.times[only]!.length;
      const pgMs = (await pgCpu()) - pg0 - idle.pg * 5;
      cpu.user -= idle.node * 5 * 1000;
      const st = ((await statements()) - st0 - 1) / calls;
      console.log(
        `# load split: ${name} alone, 16 clients: ${Math.round(calls / 5)} calls/s, gateway CPU ${((cpu.user + cpu.system) / 1000 / calls).toFixed(2)} ms/call, Postgres CPU ${(pgMs / calls).toFixed(2)} ms/call, clients ${(k.cpuMs / calls).toFixed(2)} ms/call${Number.isNaN(st) ? '' : `, ${st.toFixed(1)} statements/call`}, ${k.errors} errors; background ${idle.node.toFixed(0)} ms/s of gateway CPU, ${idle.pg.toFixed(0)} of Postgres subtracted`,
      );
    }
    await db.end();
  }
}

/** The clients in a process of their own (./load-clients.ts), not on the gateway's event loop. */
async function runClients(settings: { url: string; secret: string; seconds: number; clients: number; listBody: string; only?: number }) {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'load-clients.ts'), JSON.stringify(settings)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let s = '';
    child.stdout.on('data', (c) => (s += c));
    child.on('exit', (code) => (code === 0 ? resolve(s) : reject(new Error(`load-clients.ts exited ${code}`))));
  });
  return JSON.parse(out) as { times: number[][]; errors: number; firstError: string; cpuMs: number };
}

/**
 * The load's floor: a node:http server making, per call, the database calls the gateway makes for it (read with
 * pg_stat_statements: list_mailings one statement, PUT subscription the list by slug and the one-item upsert, GET
 * mailings one statement, a transactional send the campaign by name and the message's insert, then the same
 * debounced wake of its send) and answering a fixed body. No express, no key check (the key cache makes it no
 * statement), no validation, no answer encoding. Call it after a load has run: the campaign is then transactional
 * and running, so the worker sends these messages too, as it sends the gateway's.
 */
async function floorServer(b: Bench): Promise<{ url: string; stop(): Promise<void> }> {
  const { store, config } = b.services;
  const accountId = b.ctx.accountId;
  const waker = sendWaker({ enqueue: (sendId) => store.jobs.wakeSend(sendId, config.SEND_LANES), failed: () => undefined });
  const answer = async (url: string, body: string): Promise<void> => {
    if (url === '/CloudMailing') await store.mailings.list(accountId, {});
    else if (url.startsWith('/api/v1/mailings')) await store.mailings.summaries(accountId, { listId: null }, 0, 10);
    else if (url.endsWith('/subscription')) {
      const { email, params } = JSON.parse(body) as { email: string; params: Record<string, unknown> };
      const list = await store.lists.bySlug(accountId, 'load');
      await store.lists.upsert(accountId, list!.id, [{ email, emailKey: emailKey(email), params, status: 'active' }]);
    } else if (url.endsWith('/send')) {
      const { to_email: email, args } = JSON.parse(body) as { to_email: string; args: Record<string, unknown> };
      const id = await store.mailings.idByName(accountId, 'load-campaign');
      const { mailing } = await store.recipients.insertMessage(accountId, id!, [{ tracking_id: newTrackingId(), email, fields: args, attachments: null }]);
      if (mailing?.status === 'running') await waker.wake(mailing.send_id);
    } else throw new Error(`no floor for ${url}`);
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      answer(req.url ?? '', body).then(
        () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"result":"ok"}'),
        (e: unknown) => res.writeHead(500).end(String(e)),
      );
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** `mailgate serve --no-worker --processes n` on `dbUrl`, until its banner names its URL. */
async function serveProcesses(dbUrl: string, n: string): Promise<{ url: string; stop(): Promise<void> }> {
  const root = path.resolve(import.meta.dirname, '..');
  const env = { ...process.env, DATABASE_URL: dbUrl, PORT: '0', BOUNCE_SMTP_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', PUBLIC_URL: 'http://bench.test' };
  const child = spawn(process.execPath, [path.join(root, 'bin/mailgate.js'), 'serve', '--no-worker', '--processes', n], {
    env,
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let banner = '';
    child.stdout.on('data', (c) => {
      banner += c;
      const m = /Mailgate is listening on (\S+)/.exec(banner);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`serve --processes ${n} exited ${code}`)));
  });
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface MemoryOptions {
  addRecipients: (mailingId: number, n: number) => Promise<void>;
  /** Stops the bench's own in-process worker: the worker process spawned here sends the mailing alone. */
  stopInProcessWorker: () => Promise<void>;
  /** `mailgate worker` as its own process, relaying to the bench's sink. */
  spawnWorker: () => ChildProcess;
  waitFinal: (id: number) => Promise<unknown>;
  /** One `get_recipients_status_updated_since` call over XML-RPC: its answer's cursor and row count. */
  feedPage: (cursor: string, mailingId: number) => Promise<{ cursor: string; rows: number; ms: number }>;
}

/** VmRSS and VmHWM (the kernel's high-water mark of RSS) of a process, in bytes. */
async function procMemory(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/**
 * Memory: a BENCH_MEMORY (1,000,000) recipient mailing sent by `mailgate worker` as its own process (the
 * process of a production worker node: no HTTP, no bench in it), its RSS sampled every 100 ms and its peak
 * read from the kernel (VmHWM), with the RSS at a quarter, half and three quarters of the send to show
 * whether it grows with the mailing. Then the status feed over that mailing of a million changed rows:
 * `get_recipients_status_updated_since` pages of 1000 over XML-RPC from random places of the feed.
 */
export async function memoryPeak(b: Bench, o: MemoryOptions): Promise<void> {
  const n = size('BENCH_MEMORY', 1_000_000, 20_000);
  const id = await b.services.core.mailings.create(b.ctx, {
    dialect: 'bench',
    fromEmail: 'mem@example.org',
    fromName: 'Bench',
    subject: 'Hello {{ firstname }}',
    html: '<p>Hello {{ firstname }}</p>'.repeat(100),
    text: 'Hello {{ firstname }}\n'.repeat(100),
  });
  await o.addRecipients(id, n);
  await o.stopInProcessWorker();
  const db = new pg.Client({ connectionString: b.dbUrl });
  await db.connect();
  // Progress from the hourly statistics (one row per account and hour, written with each batch's outcomes):
  // counting a million recipients by status every half second would load the database being measured.
  const tries = async () =>
    Number((await db.query<{ n: string }>('SELECT coalesce(sum(tries), 0) AS n FROM hourly_stats WHERE account_id = $1', [b.ctx.accountId])).rows[0]!.n);
  const tries0 = await tries();
  const worker = o.spawnWorker();
  const pid = worker.pid!;
  await new Promise((r) => setTimeout(r, 3000));
  const base = (await procMemory(pid)).rss;
  let peak = base;
  const marks: number[] = [];
  const sampler = setInterval(
    () =>
      void procMemory(pid).then(
        (m) => (peak = Math.max(peak, m.rss)),
        () => undefined,
      ),
    100,
  );
  const t0 = performance.now();
  await b.services.core.mailings.start(b.ctx, id);
  const progress = setInterval(() => {
    void (async () => {
      const done = (await tries()) - tries0;
      while (marks.length < 3 && done >= ((marks.length + 1) * n) / 4) marks.push((await procMemory(pid)).rss);
    })().catch(() => undefined);
  }, 500);
  await o.waitFinal(id);
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  clearInterval(progress);
  const hwm = (await procMemory(pid)).hwm;
  worker.kill('SIGTERM');
  await new Promise((r) => worker.once('exit', r));
  const mb = (x: number) => `${Math.round(x / 1024 / 1024)} MB`;
  b.line(
    `memory: peak RSS, ${n / 1000}k mailing`,
    mb(Math.max(peak, hwm)),
    '<= 300 MB, flat',
    `worker process; RSS at 1/4, 1/2, 3/4 sent: ${marks.map(mb).join(', ')}; at start ${mb(base)}; ${Math.round(n / seconds)}/s`,
  );

  // The status feed over the million: a first walk to the end (pages may be empty while the cursor moves past
  // other mailings' changes), keeping the cursors whose page holds this mailing's rows; then pages from random
  // places among those.
  const cursors: string[] = [];
  let cursor = '';
  let walked = 0;
  for (let pages = 0; pages < Math.ceil(n / 1000) * 3 + 50; pages++) {
    const page = await o.feedPage(cursor, id);
    if (page.cursor === cursor && !page.rows) break;
    walked += page.rows;
    if (page.rows) cursors.push(cursor);
    cursor = page.cursor;
  }
  if (walked !== n) throw new Error(`the feed walk gave ${walked} changes of the mailing's ${n} recipients`);
  const times: number[] = [];
  for (let k = 0; k < Math.min(300, cursors.length * 2); k++) {
    const page = await o.feedPage(cursors[Math.floor(Math.random() * cursors.length)]!, id);
    times.push(page.ms);
  }
  times.sort((x, y) => x - y);
  await db.end();
  b.line(
    `feed: page of 1000 over ${n / 1000}k`,
    `p50 ${pct(times, 50).toFixed(1)} ms, p99 ${pct(times, 99).toFixed(1)} ms`,
    'p50 <= 25 ms, p99 <= 100 ms',
    `${times.length} XML-RPC calls from random places; the walk: ${cursors.length} pages, ${walked} changes`,
  );
}

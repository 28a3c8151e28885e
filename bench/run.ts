/**
 * `npm run bench [-- scenario ...]`: the figures of ../shared/spec/quality.md that exist so far, each printed
 * as one line: figure, target, and the ratio to a limit measured in the same run on the same machine.
 *
 * Scenarios: startup (`serve` on an existing data dir until /healthz; `mailgate --help`; `mailgate keys list`
 * beside a running serve, and cold), seed10k (the seed's Python client,
 * 10,000 recipients, end to end), ingest (add_recipients over XML-RPC vs raw COPY), send (a personalized
 * mailing until every recipient is final vs nodemailer alone), feed (status feed page latency), bounces
 * (mailkit.report.raw.bounces pages of 25,000 from a log of BENCH_BOUNCES), sender-bulk (Yandex Sender bulk PUT
 * calls of 1,000 until their tasks are done vs raw COPY), import (`mailgate import` of a 1,000,000-line CSV vs
 * raw COPY) and transactional (Sender transactional sends during a big mailing, until the sink has them): see
 * ./sender.ts; tracking-report (mailkit.report.campaign over BENCH_TRACKING_EVENTS (1000000) events: see
 * ./tracking.ts); load (64 clients mixing four dialects' calls; BENCH_PROCESSES=N: against a `serve --processes N`)
 * and memory (peak RSS over a BENCH_MEMORY (1000000) recipient mailing): see ./load.ts. Default: all. Sizes: BENCH_INGEST (200000), BENCH_SEND
 * (100000), BENCH_BOUNCES (1000000), BENCH_BULK_CALLS (1000), BENCH_IMPORT (1000000),
 * BENCH_TRANSACTIONAL_BULK (200000). encoding: what quoted-printable and base64 cost per message beside 8bit.
 * send also runs the same mailing with an html of conditions, a loop and filters (the Jinja2 engine), and
 * one with 10 links and hosted open and click tracking (a signed pixel and 10 signed links per message),
 * beside the plain one, and a ~100 KB mailing (html + a file attached, BENCH_SEND_LARGE (20000) recipients) beside
 * smtp-source sending that message. Each send figure is the median of BENCH_ROUNDS (3) rounds, a ratio the
 * median of each round's ratio to the limit measured in that round; the results file keeps every round. smtp-source
 * opens as many connections as Mailgate's relay pool (SMTP_MAX_CONNECTIONS) for as many messages each
 * (SMTP_MAX_MESSAGES; BENCH_SOURCE_SESSIONS overrides the count) and sends the message Mailgate sends. An
 * unknown scenario name is refused. templates: the Jinja2 engines compared (./templates.ts), no database. fuzz:
 * the decoders' property-based fuzz (./fuzz.ts), BENCH_FUZZ_RUNS (20000) runs per property, a new seed each run.
 * BENCH_CPU_PROF=<dir> and BENCH_PG_STATS=1 profile the ingest and sender-bulk scenarios too (./profile.ts).
 * reliability (only when named): Postgres killed under load, a worker killed, SIGTERM drain
 * (./reliability-postgres.ts); the relay side (./reliability-relay.ts). BENCH_CPU_PROF=<dir>: a CPU profile of
 * each send (see cpuProfile).
 * Never run inside `npm test`: these are measurements, not assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import libqp from 'libqp';
import { decodeMethodResponse, encodeMethodCall } from '../src/rpc/xmlrpc.js';
import { loadConfig } from '../src/config.js';
import { buildServices, startGateway, type Gateway } from '../src/compose.js';
import { freePort, startEmbedded } from '../src/db/embedded.js';
import { ensureDatabase } from '../src/db/migrate.js';
import { makeLogger } from '../src/logger.js';
import type { DkimSettings } from '../src/db/mailings.js';
import { generateKeyPairSync } from 'node:crypto';
import { dkimSigner } from '../src/worker/dkim.js';
import { readFile } from 'node:fs/promises';
import { csvImport, senderBulk, transactional, type Bench } from './sender.js';
import { SCALE, size } from './scale.js';
import { apiLoad, memoryPeak } from './load.js';
import { postfixTools, smtpSourceRate, startSmtpSink, type PostfixTools } from './postfix.js';
import { compareTemplates } from './templates.js';
import { composeMessage } from '../src/mime/message.js';
import { compileMessageTemplate } from '../src/mime/template.js';
import { TemplateValues } from '../src/core/delivery/template.js';
import { hostedTracker } from '../src/core/delivery/links.js';
import { fuzzBench } from './fuzz.js';
import { reliabilityPostgres } from './reliability-postgres.js';
import { reliabilityRelay } from './reliability-relay.js';
import { trackingReport } from './tracking.js';
import { pgStatsSettings, profiled } from './profile.js';

const root = path.resolve(import.meta.dirname, '..');
const SCENARIOS = [
  'startup',
  'templates',
  'reliability',
  'seed10k',
  'ingest',
  'encoding',
  'send',
  'feed',
  'bounces',
  'sender-bulk',
  'import',
  'transactional',
  'tracking-report',
  'fuzz',
  'load',
  'memory',
];
const wanted = new Set(process.argv.slice(2).filter((a) => !a.startsWith('-')));
// A misspelt name would otherwise run nothing of what was asked (and no default either): refused before anything starts.
const unknown = [...wanted].filter((s) => !SCENARIOS.includes(s));
if (unknown.length) {
  console.error(`bench: unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.join(' ')}`);
  process.exit(2);
}
const want = (s: string) => wanted.size === 0 || wanted.has(s);
const INGEST_N = size('BENCH_INGEST', 200_000);
const SEND_N = size('BENCH_SEND', 100_000);
const BOUNCES_N = size('BENCH_BOUNCES', 1_000_000, 25_000);
/** Recipients of the ~100 KB send (html + a file attached). */
const LARGE_N = size('BENCH_SEND_LARGE', 20_000);
/** The attached file: its base64 lines and the html and text parts make a message of about 100 KB. */
const ATTACHMENT_BYTES = 68 * 1024;
/** Rounds of the send group: each figure is the median of its rounds. */
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));

/** One round's value of a figure measured over rounds, and the limit (`of`) it was compared with in that round. */
interface RoundRecord {
  round: number;
  value: number;
  limit?: number;
  ratio?: number;
  of?: string;
}
interface Figure {
  figure: string;
  value: string;
  target: string;
  ratio?: string | undefined;
  rounds?: RoundRecord[];
}
const figures: Figure[] = [];
function line(figure: string, value: string, target: string, ratio?: string, rounds?: RoundRecord[]) {
  figures.push({ figure, value, target, ratio, ...(rounds?.length ? { rounds } : {}) });
  console.log(`${figure.padEnd(34)} ${value.padEnd(26)} target ${target.padEnd(26)}${ratio ? ` ratio ${ratio}` : ''}`);
}

/** Every figure of the run as JSON under bench/results/ (one file per run). */
async function saveResults(extra: Record<string, unknown>): Promise<string> {
  const dir = path.join(root, 'bench/results');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(
    file,
    JSON.stringify(
      {
        at: new Date().toISOString(),
        cores: os.cpus().length,
        node: process.version,
        scale: SCALE,
        scenarios: [...wanted],
        sizes: { ingest: INGEST_N, send: SEND_N, sendLarge: LARGE_N, bounces: BOUNCES_N },
        rounds: ROUNDS,
        ...extra,
        figures,
      },
      null,
      2,
    ) + '\n',
  );
  return file;
}

// --- the SMTP sink, in its own process -------------------------------------------------------------
export interface Sink {
  port: number;
  count(): Promise<number>;
  /** When a message for `rcpt` was received (epoch ms), 0 while none was. */
  arrived(rcpt: string): Promise<number>;
  stop(): void;
}
async function startSink(): Promise<Sink> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bench/sink.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const rl = readline.createInterface({ input: child.stdout! });
  const waiters: ((l: string) => void)[] = [];
  rl.on('line', (l) => waiters.shift()?.(l));
  const next = () => new Promise<string>((r) => waiters.push(r));
  const port = Number((await next()).split(' ')[1]);
  return {
    port,
    async count() {
      const p = next();
      child.stdin!.write('count\n');
      return Number((await p).split(' ')[1]);
    },
    async arrived(rcpt) {
      const p = next();
      child.stdin!.write(`arrived ${rcpt}\n`);
      return Number((await p).split(' ')[1]);
    },
    stop: () => child.stdin!.end(),
  };
}

const HTML = `<html><body><h1>Hello {{ firstname }}</h1>${'<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. {{ city }}</p>'.repeat(20)}</body></html>`;
/**
 * The same page with logic, rendered by the Jinja2 engine: a condition, a loop with loop.index, filters
 * (upper, default, length, map, sum); the text part stays `{{ field }}` (the fast path).
 */
const LOGIC_HTML = `<html><body><h1>Hello {{ firstname|upper }}</h1>
{% if vip %}<p>Thank you for staying with us, {{ firstname }}.</p>{% else %}<p>Welcome, {{ firstname|default('friend') }}.</p>{% endif %}
<ul>{% for q in quotas %}<li>{{ loop.index }}. {{ q.name }}: {{ q.used }}/{{ q.limit }}{% if q.used >= q.limit %} (full){% endif %}</li>{% endfor %}</ul>
<p>{{ quotas|length }} quotas, {{ quotas|map(attribute='used')|sum }} units used.</p>
${'<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. {{ city }}</p>'.repeat(18)}</body></html>`;
/** The plain page with 10 links (two of them personalized), sent with hosted open and click tracking. */
const TRACKED_HTML = HTML.replace(
  '</h1>',
  `</h1>${Array.from({ length: 10 }, (_, i) => `<p><a href="https://shop.example/offer/${i}${i < 2 ? '?for={{ firstname }}' : ''}">Offer ${i}</a></p>`).join('')}`,
);
const TEXT = `Hello {{ firstname }}\n${'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore. {{ city }}\n'.repeat(20)}`;

/**
 * BENCH_CPU_PROF=<dir>: a CPU profile of this process (the gateway and its worker) over one send, from its start
 * until every recipient is final (what `node --cpu-prof` gives for the whole run, the adding of recipients and
 * the limits included), saved as <dir>/<label>-<time>.cpuprofile for Chrome DevTools or `speedscope`.
 */
async function cpuProfile(): Promise<{ save(label: string): Promise<void> } | null> {
  const dir = process.env.BENCH_CPU_PROF;
  if (!dir) return null;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async save(label) {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      await mkdir(dir, { recursive: true });
      const file = path.join(dir, `${label}-${Date.now()}.cpuprofile`);
      await writeFile(file, JSON.stringify(profile));
      console.log(`# cpu profile: ${file}`);
    },
  };
}

/** CPU seconds the whole machine spent busy so far (/proc/stat: every state but idle and iowait). */
async function machineCpu(): Promise<{ busy: number }> {
  const cpu = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: (total - cpu[3]! - cpu[4]!) / 100 };
}

// --- XML-RPC on the wire, as a client would -------------------------------------------------------
function rpcClient(url: string, secret: string) {
  const authorization = 'Basic ' + Buffer.from(`admin:${secret}`).toString('base64');
  return async (method: string, params: unknown[]) => {
    const res = await fetch(`${url}/CloudMailing`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'text/xml' },
      body: encodeMethodCall(method, params),
    });
    const answer = decodeMethodResponse(await res.text());
    if ('fault' in answer) throw new Error(`${method}: fault ${answer.fault.faultCode} ${answer.fault.faultString}`);
    return answer.value;
  };
}

/** `mailgate ...args` run to its end: wall seconds (exit code 0 required). */
async function commandSeconds(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [path.join(root, 'bin/mailgate.js'), ...args], { env, cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const code = await new Promise((r) => child.on('exit', r));
  if (code !== 0) throw new Error(`mailgate ${args.join(' ')} exited ${String(code)}`);
  return (performance.now() - t0) / 1000;
}

/**
 * Start-up, on one DATA_DIR: `serve` until /healthz answers (restarts: the first start initialises the cluster);
 * `keys list` while that serve runs (joining its embedded Postgres), and with nothing running (starting and
 * stopping the cluster itself); `--help`.
 */
async function startup(): Promise<{ serve: number[]; help: number[]; keysWarm: number[]; keysCold: number[] }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-bench-startup-'));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: String(port), BOUNCE_SMTP_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
  delete env.DATABASE_URL;
  delete env.SMTP_URL;
  const serve: number[] = [];
  const keysWarm: number[] = [];
  for (let run = 0; run < 4; run++) {
    const t0 = performance.now();
    const child = spawn(process.execPath, [path.join(root, 'bin/mailgate.js'), 'serve'], { env, cwd: root, stdio: ['ignore', 'pipe', 'ignore'] });
    let banner = '';
    child.stdout.on('data', (c) => (banner += c));
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (child.exitCode !== null) throw new Error('serve exited during start-up');
      await new Promise((r) => setTimeout(r, 20));
    }
    if (run > 0) serve.push((performance.now() - t0) / 1000);
    if (run === 3) {
      // HTTP answers before the worker has started: wait for the banner, printed once everything runs.
      while (!banner.includes('SMTP')) await new Promise((r) => setTimeout(r, 20));
      for (let i = 0; i < 5; i++) keysWarm.push(await commandSeconds(['keys', 'list'], env));
    }
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  const keysCold: number[] = [];
  for (let i = 0; i < 3; i++) keysCold.push(await commandSeconds(['keys', 'list'], env));
  const help: number[] = [];
  for (let i = 0; i < 5; i++) help.push(await commandSeconds(['--help'], env));
  await rm(dataDir, { recursive: true, force: true });
  return { serve, help, keysWarm, keysCold };
}

/** The middle value; of an even count, the mean of the two middle ones. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Figures measured once a round, each beside the limit it is compared with in that same round. */
class Rounds {
  private readonly by = new Map<string, { value: number; limit: number }[]>();
  add(key: string, value: number, limit = NaN): void {
    this.by.set(key, [...(this.by.get(key) ?? []), { value, limit }]);
  }
  /** Medians of the values, of the limits, and of the rounds' own ratios value / limit. */
  summary(key: string): { value: number; limit: number; ratio: number } {
    const xs = this.by.get(key) ?? [];
    return { value: median(xs.map((x) => x.value)), limit: median(xs.map((x) => x.limit)), ratio: median(xs.map((x) => x.value / x.limit)) };
  }
  /** Every round of `key` as the results file keeps it; `of` names the limit. */
  rounds(key: string, of: string): RoundRecord[] {
    return (this.by.get(key) ?? []).map((x, i) =>
      Number.isNaN(x.limit) ? { round: i + 1, value: x.value } : { round: i + 1, value: x.value, limit: x.limit, ratio: x.value / x.limit, of },
    );
  }
  words(n: number): string {
    return n > 1 ? `; medians of ${n} rounds` : '';
  }
}

const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} KB`;

/**
 * What one DKIM signature of a ~5 KB message costs our signer (canonicalization, body hash, signature; process
 * CPU, so an RSA signature on the thread pool counts), with the key the send is signed with.
 */
async function dkimCost(kind: 'rsa' | 'ed25519'): Promise<{ kind: 'rsa' | 'ed25519'; privkey: string; signMs: number }> {
  const key = kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey : generateKeyPairSync('ed25519').privateKey;
  const privkey = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  const signer = dkimSigner({ domain: 'example.org', selector: 'cost', privateKey: privkey });
  const sample = Buffer.from(
    `From: Bench <send@example.org>\r\nTo: s1@example.org\r\nSubject: Hello F1\r\nMessage-ID: <r1.m1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${(HTML + TEXT).replace(/\n/g, '\r\n')}`,
  );
  const signs = kind === 'rsa' ? 500 : 3000;
  const c0 = process.cpuUsage();
  for (let i = 0; i < signs; i++) await signer.sign(sample);
  const c1 = process.cpuUsage(c0);
  return { kind, privkey, signMs: (c1.user + c1.system) / 1000 / signs };
}

const middle = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const seconds = (xs: number[]) => `${middle(xs).toFixed(2)} s (median of ${xs.length}, worst ${Math.max(...xs).toFixed(2)})`;

async function main() {
  if (want('templates')) {
    // The Jinja2 engines compared (bench/templates.ts): constructs, attacks, cost. No database needed.
    const r = await compareTemplates((l) => console.log(l));
    line('templates: ~5 KB html with logic', `${r.mailgateUs.toFixed(1)} µs/recipient`, '-', `fast path ({{ field }} only) ${r.fastPathUs.toFixed(1)} µs`);
    if (wanted.size === 1) {
      console.log(`# results: ${path.relative(root, await saveResults({ templates: r.table }))}`);
      return;
    }
  }
  // reliability: only when named. Postgres and worker processes killed or stopped (./reliability-postgres.ts),
  // each on a server of its own; the relay side runs further down, beside the shared sink.
  // BENCH_RELIABILITY (a comma list) picks scenarios; `postgres` names these.
  const reliabilityOnly = (process.env.BENCH_RELIABILITY ?? '').split(',').filter(Boolean);
  if (wanted.has('reliability') && (!reliabilityOnly.length || reliabilityOnly.includes('postgres'))) await reliabilityPostgres(line);
  if (want('startup')) {
    const t = await startup();
    line('start-up: serve until /healthz', `${Math.max(...t.serve).toFixed(2)} s (worst of ${t.serve.length})`, '<= 3 s');
    line('start-up: mailgate --help', seconds(t.help), '< 0.5 s');
    line('start-up: keys list, cluster up', seconds(t.keysWarm), '< 0.5 s');
    line('start-up: keys list, cold', seconds(t.keysCold), '-', 'starts and stops the embedded Postgres');
    // Wall times of short commands follow the machine's load (other work on a shared machine): said beside them.
    console.log(
      `# load average during start-up: ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(', ')} on ${os.cpus().length} cores`,
    );
    if (wanted.size === 1) {
      console.log(`# results: ${path.relative(root, await saveResults({}))}`);
      return;
    }
  }
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'mailgate-bench-'));
  // The messages smtp-source sends (files), beside the database's directory.
  const mailDir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-bench-mail-'));
  const pgh = await startEmbedded({ dataDir: tmp, ephemeral: true, settings: pgStatsSettings() });
  await ensureDatabase(pgh.url, 'bench');
  const dbUrl = pgh.databaseUrl('bench');
  // The relay: postfix's smtp-sink when it can be had (BENCH_RELAY=node forces the Node sink).
  let postfix: PostfixTools | null = null;
  if (process.env.BENCH_RELAY !== 'node') {
    const got = await postfixTools();
    if ('tools' in got) postfix = got.tools;
    else console.log(`# postfix's smtp-sink unavailable (${got.reason}): the Node sink is the relay`);
  }
  let sink: Sink;
  if (postfix) {
    const ps = startSmtpSink(postfix, await freePort());
    const pool = new pg.Pool({ connectionString: dbUrl, max: 1 });
    sink = {
      ...ps,
      // smtp-sink keeps nothing: a recipient's arrival is when the relay accepted it (its last try).
      async arrived(rcpt) {
        const { rows } = await pool.query<{ at: number }>(
          `SELECT extract(epoch FROM last_try) * 1000 AS at FROM recipients WHERE lower(email) = lower($1) AND status = 'finished' ORDER BY last_try DESC LIMIT 1`,
          [rcpt],
        );
        return Number(rows[0]?.at ?? 0);
      },
      stop() {
        ps.stop();
        void pool.end();
      },
    };
    await new Promise((r) => setTimeout(r, 200));
  } else sink = await startSink();
  const config = loadConfig({
    DATABASE_URL: dbUrl,
    HOST: '127.0.0.1',
    PORT: '0',
    BOUNCE_SMTP_PORT: '0',
    LOG_LEVEL: 'warn',
    SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
    PUBLIC_URL: 'http://bench.test',
  });
  const logger = makeLogger(config.LOG_LEVEL);
  const services = await buildServices(config, logger, dbUrl);
  // HTTP and the worker as two parts, so that the memory scenario can leave the sending to a worker process.
  const gateway: Gateway = await startGateway(services, { worker: false, http: true });
  let inProcessWorker: Gateway | null = await startGateway(services, { worker: true, http: false });
  const key = await services.core.accounts.createKey('bench');
  const ctx = { accountId: (await services.store.accounts.bySlug('bench'))!.id, requestId: 'bench' };
  console.log(
    `# mailgate bench: ${os.cpus().length} cores, node ${process.version}, scale ${SCALE}, relay ${postfix ? "postfix's smtp-sink" : 'the Node sink'}`,
  );

  // Until the send is FINISHED: polled on the sends row alone (a get_mailing every 100 ms would count the
  // mailing's recipients by status each time, a load of the bench's own on the database it measures).
  const statusPool = new pg.Pool({ connectionString: dbUrl, max: 1 });
  const waitFinal = async (mailingId: number) => {
    for (;;) {
      const { rows } = await statusPool.query<{ unfinished: number }>(
        `SELECT count(*)::int AS unfinished FROM sends WHERE mailing_id = $1 AND status <> 'finished'`,
        [mailingId],
      );
      if (rows[0]!.unfinished === 0) return await services.core.mailings.get(ctx, mailingId);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  if (want('seed10k')) {
    const url = `${gateway.url.replace('://', `://admin:${key.secret}@`)}/CloudMailing`;
    const out = await new Promise<string>((resolve, reject) => {
      const py = spawn('python3', [path.join(root, 'test/e2e/seed_mailing.py'), url, '10000'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let s = '';
      py.stdout.on('data', (c) => (s += c));
      py.on('exit', (code) => (code === 0 ? resolve(s) : reject(new Error(`seed_mailing.py exited ${code}`))));
    });
    const r = JSON.parse(out) as { seconds_add: number; seconds_send: number; mailing: Record<string, number | string> };
    line('seed10k: add 10,000 (Python)', `${r.seconds_add.toFixed(2)} s`, '-');
    line('seed10k: start → FINISHED', `${r.seconds_send.toFixed(2)} s (${Math.round(10_000 / r.seconds_send)}/s)`, '-');
    console.log(`# seed10k totals: ${JSON.stringify(r.mailing)}`);
  }

  if (want('ingest')) {
    // Shared machines are noisy: three rounds, each the XML-RPC ingest then the raw COPY right after it, and the
    // median of each (and of the rounds' ratios).
    const rounds: { rate: number; copyRate: number }[] = [];
    await profiled('ingest', dbUrl, async () => {
      for (let round = 0; round < 3; round++) rounds.push(await ingestRound(round));
    });
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
    const rate = median(rounds.map((r) => r.rate));
    const copyRate = median(rounds.map((r) => r.copyRate));
    const ratio = median(rounds.map((r) => r.rate / r.copyRate));
    line(
      `ingest: add_recipients ${INGEST_N / 1000}k`,
      `${Math.round(rate)} recipients/s`,
      '>= 40000/s, >= 0.7 of COPY',
      `${ratio.toFixed(3)} of COPY ${Math.round(copyRate)}/s`,
    );
    console.log(`# ingest rounds: ${rounds.map((r) => `${Math.round(r.rate)}/${Math.round(r.copyRate)}`).join(', ')} (XML-RPC/COPY recipients/s)`);
  }

  /** One round: add_recipients over XML-RPC, 1,000 per call, 4 concurrent clients; then raw COPY of as many rows. */
  async function ingestRound(round: number): Promise<{ rate: number; copyRate: number }> {
    const call = rpcClient(gateway.url, key.secret);
    const id = (await call('create_mailing', ['ingest@example.org', 'Bench', 'Hi {{ firstname }}', HTML, TEXT, 'utf-8'])) as number;
    const calls = Math.ceil(INGEST_N / 1000);
    // The client's own cost stays out of the figure: 8 distinct request bodies are serialized up front and
    // sent round robin (addresses repeat across calls, which the server does not mind), responses are read
    // as text, not parsed.
    const bodies = Array.from({ length: 8 }, (_, b) =>
      encodeMethodCall('add_recipients', [
        id,
        Array.from({ length: 1000 }, (_, i) => ({ email: `u${b * 1000 + i}@example.org`, firstname: `F${i}`, city: 'Paris' })),
      ]),
    );
    const headers = { authorization: `Basic ${Buffer.from(`admin:${key.secret}`).toString('base64')}`, 'content-type': 'text/xml' };
    let nextCall = 0;
    const t0 = performance.now();
    await Promise.all(
      [0, 1, 2, 3].map(async () => {
        for (let c = nextCall++; c < calls; c = nextCall++) {
          const r = await fetch(`${gateway.url}/CloudMailing`, { method: 'POST', headers, body: bodies[c % bodies.length] });
          const text = await r.text();
          if (r.status !== 200 || text.includes('<fault>')) throw new Error(`add_recipients failed: ${text.slice(0, 300)}`);
        }
      }),
    );
    const rate = INGEST_N / ((performance.now() - t0) / 1000);
    // The limit: raw COPY of the same rows into the same table.
    const client = new pg.Client({ connectionString: dbUrl });
    await client.connect();
    const m2 = await services.core.mailings.create(ctx, { dialect: 'bench', fromEmail: 'copy@example.org', subject: 's', html: 'h' });
    const sendId = (await client.query<{ id: number }>('SELECT id FROM sends WHERE mailing_id = $1', [m2])).rows[0]!.id;
    const t1 = performance.now();
    const copy = client.query(copyStreams.from('COPY recipients (account_id, mailing_id, send_id, tracking_id, email, fields) FROM STDIN'));
    function* rows() {
      for (let i = 0; i < INGEST_N; i += 1000) {
        let chunk = '';
        for (let k = i; k < Math.min(INGEST_N, i + 1000); k++)
          chunk += `${ctx.accountId}\t${m2}\t${sendId}\tc${round}-${k}\tu${k}@example.org\t{"firstname": "F${k}", "city": "Paris"}\n`;
        yield chunk;
      }
    }
    await pipeline(Readable.from(rows()), copy);
    const copyRate = INGEST_N / ((performance.now() - t1) / 1000);
    await client.end();
    await services.core.mailings.delete(ctx, id);
    await services.core.mailings.delete(ctx, m2);
    return { rate, copyRate };
  }

  /** The fields of recipient i: a name and a city, and (`logic`) a VIP flag and three quotas. */
  const fieldsOf = (i: number, logic: boolean): Record<string, unknown> =>
    logic
      ? {
          firstname: `F${i}`,
          city: 'Lyon',
          vip: i % 3 === 0,
          quotas: [
            { name: 'vCPU', used: i % 11, limit: 10 },
            { name: 'RAM', used: 8, limit: 64 },
            { name: 'Disks', used: i % 6, limit: 5 },
          ],
        }
      : { firstname: `F${i}`, city: 'Lyon' };

  async function addRecipients(id: number, n: number, logic = false) {
    for (let i = 0; i < n; i += 10_000) {
      await services.core.recipients.add(
        ctx,
        id,
        Array.from({ length: Math.min(10_000, n - i) }, (_, k) => ({ email: `s${i + k}@example.org`, fields: fieldsOf(i + k, logic) })),
      );
    }
  }

  /**
   * A personalized mailing of `n` recipients (its own mailing, `dkim` its key) from start until every recipient
   * is final; `logic`: its html is LOGIC_HTML (the Jinja2 engine) instead of HTML (`{{ field }}` only);
   * `tracked`: TRACKED_HTML with hosted open and click tracking (the others track nothing: dialect `bench`).
   */
  async function sendRun(n: number, dkim: DkimSettings | null, logic = false, tracked = false) {
    const id = await services.core.mailings.create(ctx, {
      dialect: 'bench',
      fromEmail: 'send@example.org',
      fromName: 'Bench',
      subject: 'Hello {{ firstname }}',
      html: logic ? LOGIC_HTML : tracked ? TRACKED_HTML : HTML,
      text: TEXT,
    });
    if (dkim) await services.core.mailings.setProperties(ctx, id, { dkim });
    if (tracked) await services.core.mailings.setProperties(ctx, id, { readTracking: true, clickTracking: true });
    await addRecipients(id, n, logic);
    const before = await sink.count();
    const cpu0 = await machineCpu();
    const profile = await cpuProfile();
    const t0 = performance.now();
    await services.core.mailings.start(ctx, id);
    const m = await waitFinal(id);
    const rate = n / ((performance.now() - t0) / 1000);
    const cpu = await machineCpu();
    await profile?.save(`send${dkim ? `-${dkim.selector}` : ''}${logic ? '-logic' : ''}${tracked ? '-tracked' : ''}`);
    const cpuMsPerMessage = ((cpu.busy - cpu0.busy) * 1000) / n;
    console.log(
      `# send${dkim ? ` (${dkim.selector})` : ''}${logic ? ' (html with logic)' : ''}${tracked ? ' (tracked)' : ''} totals: sent ${m.totals.sent}, error ${m.totals.error}, pending ${m.totals.pending}; sink received ${(await sink.count()) - before}`,
    );
    return { id, rate, cpuMsPerMessage };
  }

  /**
   * One recipient's message as the worker renders it from `raw` (the headers it adds, with sample values),
   * written with LF line ends for `smtp-source -F` (which sends each line with CRLF): its size on the wire and
   * the file.
   */
  async function sampleMessage(raw: Buffer, name: string): Promise<{ bytes: number; file: string }> {
    const t = await compileMessageTemplate(Buffer.from(raw.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1'), { tracking: null });
    const rendered = t.render(new TemplateValues({ firstname: 'F1', city: 'Lyon' }, { email: 's1@example.org' }), [
      ['To', 's1@example.org'],
      ['Message-ID', '<0f6c2a7e-3d5b-4c1e-9a8f-2b7d6e5c4a31.1@bench.test>'],
      ['X-Mailgate-Mailing', '1'],
      ['List-Unsubscribe', '<http://bench.test/u/0f6c2a7e-3d5b-4c1e-9a8f-2b7d6e5c4a31.abcdefghijklmnop>, <mailto:unsubscribe+abcdefghijklmnop@bench.test>'],
      ['List-Unsubscribe-Post', 'List-Unsubscribe=One-Click'],
    ]);
    const file = path.join(mailDir, `${name}.eml`);
    await writeFile(file, rendered.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
    return { bytes: rendered.length, file };
  }

  /** Messages per second nodemailer alone sends: pooled as Mailgate's relay pool, the same kind of messages, no database. */
  async function nodemailerAlone(): Promise<number> {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: sink.port,
      pool: true,
      maxConnections: config.SMTP_MAX_CONNECTIONS,
      maxMessages: config.SMTP_MAX_MESSAGES,
      secure: false,
      ignoreTLS: true,
    });
    const n = Math.min(SEND_N, Number(process.env.BENCH_ALONE ?? 20_000));
    const t1 = performance.now();
    let inflight: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      inflight.push(
        transport.sendMail({
          from: 'Bench <send@example.org>',
          to: `s${i}@example.org`,
          subject: `Hello F${i}`,
          html: HTML.replaceAll('{{ firstname }}', `F${i}`).replaceAll('{{ city }}', 'Lyon'),
          text: TEXT.replaceAll('{{ firstname }}', `F${i}`).replaceAll('{{ city }}', 'Lyon'),
        }),
      );
      if (inflight.length >= 200) {
        await Promise.all(inflight);
        inflight = [];
      }
    }
    await Promise.all(inflight);
    const rate = n / ((performance.now() - t1) / 1000);
    transport.close();
    return rate;
  }

  /**
   * The ~100 KB send: a mailing made as a CloudMailing client makes one with a file attached (Python's email
   * package builds text, html and an application/pdf attachment of ATTACHMENT_BYTES; xmlrpc.client sends it to
   * create_mailing_ext as Python 3 clients do, base64 of the bytes, and turns the default read tracking off so
   * that the message is the one smtp-source sends), LARGE_N recipients, from start until every one is final.
   * CloudMailing's per-recipient `attachments`, Mailkit's sendmail attachment and Sender's transactional ones
   * are a file per message; a mailing's one file is in its message.
   */
  async function largeRun(): Promise<{ rate: number; sample: { bytes: number; file: string } }> {
    const file = path.join(mailDir, 'large-source.eml');
    const url = `${gateway.url.replace('://', `://admin:${key.secret}@`)}/CloudMailing`;
    const script = `
import base64, os, sys, xmlrpc.client
from email.message import EmailMessage
url, out, html, text, size = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
m = EmailMessage()
m['From'] = 'Bench <send@example.org>'
m['Subject'] = 'Hello {{ firstname }}'
m.set_content(text)
m.add_alternative(html, subtype='html')
m.add_attachment(os.urandom(size), maintype='application', subtype='pdf', filename='report.pdf')
raw = m.as_bytes()
with open(out, 'wb') as f:
    f.write(raw)
rpc = xmlrpc.client.ServerProxy(url)
mailing = rpc.create_mailing_ext(base64.b64encode(raw))
rpc.set_mailing_properties(mailing, {'read_tracking': False})
print(mailing)
`;
    const out = await new Promise<string>((resolve, reject) => {
      const py = spawn('python3', ['-c', script, url, file, HTML, TEXT, String(ATTACHMENT_BYTES)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let s = '';
      py.stdout.on('data', (c) => (s += c));
      py.on('exit', (code) => (code === 0 ? resolve(s) : reject(new Error(`the Python client exited ${code}`))));
    });
    const id = Number(out.trim());
    await addRecipients(id, LARGE_N);
    const before = await sink.count();
    const t0 = performance.now();
    await services.core.mailings.start(ctx, id);
    const m = await waitFinal(id);
    const rate = LARGE_N / ((performance.now() - t0) / 1000);
    console.log(
      `# send (~100 KB) totals: sent ${m.totals.sent}, error ${m.totals.error}, pending ${m.totals.pending}; sink received ${(await sink.count()) - before}`,
    );
    return { rate, sample: await sampleMessage(await readFile(file), 'large') };
  }

  if (want('encoding')) {
    // What the per-recipient encoding of the two personalized parts costs (the ~5 KB html + text of the send
    // scenario, a non-ASCII name): quoted-printable (what a personalized 7bit part becomes), base64, and 8bit
    // (no encoding; it needs a relay announcing 8BITMIME). Beside the machine's CPU per sent message.
    const n = 20_000;
    const parts = (i: number) => [HTML, TEXT].map((t) => Buffer.from(t.replaceAll('{{ firstname }}', `Zoë${i}`).replaceAll('{{ city }}', 'Lyon'), 'utf8'));
    const time = (encode: (b: Buffer) => unknown) => {
      const t = performance.now();
      for (let i = 0; i < n; i++) for (const b of parts(i)) encode(b);
      return ((performance.now() - t) * 1000) / n;
    };
    const none = time((b) => b);
    const qp = time((b) => libqp.wrap(libqp.encode(b), 76)) - none;
    const b64 = time((b) => b.toString('base64').replace(/.{76}(?=.)/g, '$&\r\n')) - none;
    line('encoding: per message, html+text', `QP ${qp.toFixed(1)} µs, base64 ${b64.toFixed(1)} µs, 8bit 0 µs`, '-');
  }

  if (want('send') || want('feed')) {
    // Shared machines are noisy: BENCH_ROUNDS rounds (3), each measuring every send figure right beside its
    // limit; a figure is the median of its rounds and a ratio the median of the rounds' own ratios, each taken
    // against the limit of the same round. The feed alone needs one send.
    const rounds = want('send') ? ROUNDS : 1;
    const r = new Rounds();
    // The relay pool Mailgate sends with in this run: the limit's sessions are as many, as long
    // (BENCH_SOURCE_SESSIONS overrides the count, for a look at what smtp-source's lack of pipelining costs it).
    const pool = { sessions: Number(process.env.BENCH_SOURCE_SESSIONS ?? config.SMTP_MAX_CONNECTIONS), perConnection: config.SMTP_MAX_MESSAGES };
    const poolWords = `${pool.sessions} connections${pool.sessions === config.SMTP_MAX_CONNECTIONS ? ' as Mailgate' : ` (Mailgate ${config.SMTP_MAX_CONNECTIONS})`} of <= ${pool.perConnection} messages, no pipelining`;
    const plainSample = await sampleMessage(
      await composeMessage({ fromEmail: 'send@example.org', fromName: 'Bench', subject: 'Hello {{ firstname }}', html: HTML, text: TEXT }),
      'plain',
    );
    const sourceN = Math.min(SEND_N * 2, 200_000);
    const dkimKeys: Awaited<ReturnType<typeof dkimCost>>[] = [];
    if (want('send')) for (const kind of ['rsa', 'ed25519'] as const) dkimKeys.push(await dkimCost(kind));
    let id = 0;
    let large: { bytes: number; file: string } | null = null;
    for (let round = 0; round < rounds; round++) {
      if (rounds > 1) console.log(`# send: round ${round + 1} of ${rounds}`);
      const plain = await sendRun(SEND_N, null);
      if (round === 0) id = plain.id;
      console.log(`# send: ${plain.cpuMsPerMessage.toFixed(3)} ms of CPU per message, machine-wide (worker, Postgres, relay, kernel)`);
      r.add('cpu', plain.cpuMsPerMessage);
      // Limit (a): nodemailer alone, pooled, the same kind of messages to the same sink, no database.
      r.add('plain/alone', plain.rate, await nodemailerAlone());
      // Limit (b): postfix's smtp-source into the same sink (the physical limit): the same message, as many connections.
      r.add('plain/source', plain.rate, postfix ? await smtpSourceRate(postfix, sink.port, sourceN, plainSample.file, pool) : NaN);
      if (!want('send')) break;

      // ~100 KB messages: a mailing made as a CloudMailing client makes one with a file attached, beside
      // smtp-source sending that message as it is.
      const big = await largeRun();
      large = big.sample;
      r.add('large/source', big.rate, postfix ? await smtpSourceRate(postfix, sink.port, LARGE_N, big.sample.file, pool) : NaN);

      // Webhooks on the send path. Before: the outbox triggers off (the schema without webhooks). After: with no
      // endpoint, and with one endpoint of this account wanting every kind: each batch's
      // outcome write also writes its messages and wakes the endpoint's job, which POSTs them to a receiver in
      // this process while the send goes on (the same worker, the same machine); and with the endpoint disabled,
      // the messages written and none delivered.
      const admin = new pg.Client({ connectionString: dbUrl });
      await admin.connect();
      await admin.query('ALTER TABLE recipients DISABLE TRIGGER webhooks_recipients');
      const off = await sendRun(SEND_N, null);
      await admin.query('ALTER TABLE recipients ENABLE TRIGGER webhooks_recipients');
      // Measured again beside the two others: each run's database holds the recipients of the runs before it.
      const none = await sendRun(SEND_N, null);
      const received = new Set<string>();
      const receiver = http.createServer((req, res) => {
        received.add(String(req.headers['webhook-id']));
        req.resume();
        req.on('end', () => res.writeHead(204).end());
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      const hook = await services.core.webhooks.add(ctx, {
        url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`,
        kinds: ['delivered', 'deferred', 'bounced', 'complained', 'unsubscribed', 'opened', 'clicked'],
      });
      // Disabled, its messages queue: the outbox writes alone, no delivery beside the send.
      await services.core.webhooks.disable(ctx, hook.endpoint.id, 'bench');
      const queued = await sendRun(SEND_N, null);
      await services.core.webhooks.enable(ctx, hook.endpoint.id);
      while (received.size < SEND_N) await new Promise((r) => setTimeout(r, 100));
      received.clear();
      const on = await sendRun(SEND_N, null);
      const t0 = performance.now();
      while (received.size < SEND_N) await new Promise((r) => setTimeout(r, 100));
      r.add('drained', (performance.now() - t0) / 1000);
      await services.core.webhooks.remove(ctx, hook.endpoint.id);
      await new Promise((resolve) => receiver.close(resolve));
      await admin.end();
      r.add('none/off', none.rate, off.rate);
      r.add('queued/none', queued.rate, none.rate);
      r.add('on/none', on.rate, none.rate);

      // The same send, its html with conditions, a loop and filters (the Jinja2 engine, compiled once per job).
      const logic = await sendRun(SEND_N, null, true);
      console.log(`# send (html with logic): ${logic.cpuMsPerMessage.toFixed(3)} ms of CPU per message, machine-wide`);
      r.add('logic/plain', logic.rate, plain.rate);
      // The plain page with 10 links, every link and the pixel signed per recipient (hosted tracking).
      const tracked = await sendRun(SEND_N, null, false, true);
      console.log(`# send (html tracked, 10 links): ${tracked.cpuMsPerMessage.toFixed(3)} ms of CPU per message, machine-wide`);
      r.add('tracked/plain', tracked.rate, plain.rate);

      // DKIM: the same mailing signed with an RSA-2048 and with an Ed25519 key (its own dkim property).
      for (const k of dkimKeys) {
        const { rate } = await sendRun(SEND_N, { enabled: true, domain: 'example.org', selector: `bench-${k.kind}`, privkey: k.privkey });
        r.add(`dkim-${k.kind}/plain`, rate, plain.rate);
      }
    }

    const plain = r.summary('plain/alone');
    const cpuMsPerMessage = r.summary('cpu').value;
    const ratios = [`${plain.ratio.toFixed(3)} of nodemailer alone ${Math.round(plain.limit)}/s`];
    const source = r.summary('plain/source');
    if (postfix)
      ratios.push(`${source.ratio.toFixed(3)} of smtp-source ${Math.round(source.limit)}/s (${poolWords}, the same ${kb(plainSample.bytes)} message)`);
    line(
      `send: ${SEND_N / 1000}k personalized ~5 KB`,
      `${Math.round(plain.value)} messages/s`,
      '>= 3000/s, >= 2.0 x alone, >= 0.2 x source',
      ratios.join(', ') + r.words(rounds),
      [...r.rounds('plain/alone', 'nodemailer alone'), ...r.rounds('plain/source', 'smtp-source')],
    );
    if (want('send')) {
      const big = r.summary('large/source');
      const mbs = (perSecond: number) => `${((perSecond * large!.bytes) / 1e6).toFixed(1)} MB/s`;
      line(
        `send: ${LARGE_N / 1000}k ~100 KB, html + attachment`,
        `${Math.round(big.value)} messages/s, ${mbs(big.value)}`,
        '-',
        postfix
          ? `${big.ratio.toFixed(3)} of smtp-source ${Math.round(big.limit)}/s, ${mbs(big.limit)} (${poolWords}, the same ${kb(large!.bytes)} message)${r.words(rounds)}`
          : 'no smtp-source here',
        r.rounds('large/source', 'smtp-source'),
      );
      line(
        `send: ${SEND_N / 1000}k, outbox triggers, no endpoint`,
        `${Math.round(r.summary('none/off').value)} messages/s`,
        '>= 0.95 x without the triggers',
        `${r.summary('none/off').ratio.toFixed(3)} of the send without the triggers ${Math.round(r.summary('none/off').limit)}/s`,
        r.rounds('none/off', 'without the triggers'),
      );
      const none = r.summary('queued/none').limit;
      line(
        `send: ${SEND_N / 1000}k, one webhook endpoint, delivery paused`,
        `${Math.round(r.summary('queued/none').value)} messages/s`,
        '>= 0.9 x no endpoint',
        `${r.summary('queued/none').ratio.toFixed(3)} of the send with no endpoint ${Math.round(none)}/s`,
        r.rounds('queued/none', 'no endpoint'),
      );
      line(
        `send: ${SEND_N / 1000}k, one webhook endpoint`,
        `${Math.round(r.summary('on/none').value)} messages/s; every webhook received ${r.summary('drained').value.toFixed(1)} s after the send finished`,
        '>= 0.8 x no endpoint',
        `${r.summary('on/none').ratio.toFixed(3)} of the send with no endpoint ${Math.round(none)}/s`,
        r.rounds('on/none', 'no endpoint'),
      );
      line(
        `send: ${SEND_N / 1000}k, html with logic`,
        `${Math.round(r.summary('logic/plain').value)} messages/s`,
        '>= 0.8 x the plain send',
        `${r.summary('logic/plain').ratio.toFixed(3)} of the plain send ${Math.round(plain.value)}/s`,
        r.rounds('logic/plain', 'plain send'),
      );
      line(
        `send: ${SEND_N / 1000}k, html tracked (open + 10 links)`,
        `${Math.round(r.summary('tracked/plain').value)} messages/s`,
        '-',
        `${r.summary('tracked/plain').ratio.toFixed(3)} of the plain send ${Math.round(plain.value)}/s`,
        r.rounds('tracked/plain', 'plain send'),
      );
      // The same two messages built in this process alone (the step tracking changes: one render per
      // recipient, its CPU time), which a loaded machine disturbs far less than the end-to-end rates.
      const renderCost = async (html: string, tracking: boolean) => {
        const raw = await composeMessage({ fromEmail: 'send@example.org', fromName: 'Bench', subject: 'Hello {{ firstname }}', html, text: TEXT });
        const t = await compileMessageTemplate(raw, { tracking: tracking ? { links: true, pixel: 'body' } : null });
        const settings = { publicUrl: 'https://mailgate.example', secret: Buffer.alloc(32, 7) };
        const n = 20_000;
        const cpu = process.cpuUsage();
        for (let i = 0; i < n; i++)
          t.render(
            new TemplateValues({ firstname: `Zoë${i}`, city: 'Lyon' }, { email: `s${i}@example.org` }, tracking ? hostedTracker(settings, i) : undefined),
            [['To', `s${i}@example.org`]],
          );
        const used = process.cpuUsage(cpu);
        return (used.user + used.system) / n;
      };
      const plainUs = await renderCost(HTML, false);
      const trackedUs = await renderCost(TRACKED_HTML, true);
      line(
        'tracking: one message built, in process',
        `${trackedUs.toFixed(1)} µs tracked (open + 10 links)`,
        '-',
        `${(plainUs / trackedUs).toFixed(3)} of the plain message's rate (${plainUs.toFixed(1)} µs untracked)`,
      );
      for (const k of dkimKeys) {
        const s = r.summary(`dkim-${k.kind}/plain`);
        // At most every core busy: cores / (unsigned CPU + signing CPU) messages per second, as a share of the
        // unsigned rate (1 when the unsigned send left enough idle CPU to sign everything it sent).
        const ceiling = Math.min(1, (os.cpus().length * 1000) / ((cpuMsPerMessage + k.signMs) * plain.value));
        line(
          `send with DKIM ${k.kind === 'rsa' ? 'RSA-2048' : 'Ed25519'}`,
          `${Math.round(s.value)} messages/s`,
          `>= ${k.kind === 'rsa' ? 0.6 : 0.9} x unsigned`,
          `${s.ratio.toFixed(3)} of unsigned ${Math.round(s.limit)}/s; signing ${k.signMs.toFixed(3)} ms beside ${cpuMsPerMessage.toFixed(3)} ms of CPU a message: ceiling ${ceiling.toFixed(3)} x`,
          r.rounds(`dkim-${k.kind}/plain`, 'unsigned'),
        );
      }
    }

    if (want('feed')) {
      const times: number[] = [];
      let cursor = '';
      for (;;) {
        const t = performance.now();
        const page = await services.core.recipients.feed(ctx, cursor, { max: 1000, mailingIds: [id] });
        times.push(performance.now() - t);
        // A page may hold no match while the cursor still moves past non-matching changes: follow it to the end.
        if (!page.recipients.length && page.cursor === cursor) break;
        cursor = page.cursor;
      }
      times.sort((a, b) => a - b);
      const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!.toFixed(1);
      line(`feed: page of 1000 over ${SEND_N / 1000}k`, `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms (${times.length} calls)`, 'p50 <= 25 ms, p99 <= 100 ms');
    }
  }

  if (want('bounces')) {
    // A log of BOUNCES_N bounces of one mailing, written as the pipeline writes them (ids from the sequence,
    // in order), then JSON pages of 25,000 from random places, over HTTP as a Mailkit client asks.
    const m = await services.core.mailings.create(ctx, { dialect: 'bench', fromEmail: 'bounces@example.org', subject: 's', html: 'h' });
    const client = new pg.Client({ connectionString: dbUrl });
    await client.connect();
    const sendId = (await client.query<{ id: number }>('SELECT id FROM sends WHERE mailing_id = $1', [m])).rows[0]!.id;
    for (let i = 0; i < BOUNCES_N; i += 100_000) {
      await client.query(
        `INSERT INTO bounces (id, account_id, mailing_id, send_id, email, enhanced_status, text_status, remote_mta, kind, source)
         SELECT nextval('bounce_id_seq'), $1, $2, $3, 'b' || g || '@example.org', '5.1.1', 'smtp; 550 5.1.1 <b' || g || '@example.org>: user unknown',
                'dns; mx.example.org', CASE WHEN g % 3 = 0 THEN 'temporary' ELSE 'permanent' END, 'smtp'
           FROM generate_series($4::bigint, $5::bigint) AS g`,
        [ctx.accountId, m, sendId, i, Math.min(BOUNCES_N, i + 100_000) - 1],
      );
    }
    await client.query('ANALYZE bounces');
    const { rows } = await client.query<{ lo: number; hi: number }>('SELECT min(id)::bigint AS lo, max(id)::bigint AS hi FROM bounces WHERE mailing_id = $1', [
      m,
    ]);
    await client.end();
    const times: number[] = [];
    for (let run = 0; run < 12; run++) {
      const from = Math.floor(rows[0]!.lo + Math.random() * Math.max(1, rows[0]!.hi - rows[0]!.lo - 25_000));
      const t0 = performance.now();
      const res = await fetch(`${gateway.url}/json.fcgi`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          function: 'mailkit.report.raw.bounces',
          id: String(key.id),
          md5: key.secret,
          parameters: { ID_message: String(m), ID_send: '', ID_undelivered_log: String(from), limit: '25000' },
        }),
      });
      const page = (await res.json()) as unknown[];
      if (!Array.isArray(page) || page.length !== 25_000) throw new Error(`raw.bounces answered ${JSON.stringify(page).slice(0, 200)}`);
      if (run > 1) times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    line(
      `bounces: raw page of 25k of ${BOUNCES_N / 1000}k`,
      `p50 ${times[Math.floor(times.length / 2)]!.toFixed(0)} ms, max ${times[times.length - 1]!.toFixed(0)} ms`,
      '<= 400 ms',
    );
  }

  const bench: Bench = { url: gateway.url, secret: key.secret, dbUrl, services, ctx, sink, line };
  if (want('sender-bulk')) await profiled('sender-bulk', dbUrl, () => senderBulk(bench));
  if (want('import')) await csvImport(bench);
  if (want('transactional')) await transactional(bench);
  if (want('tracking-report')) await trackingReport({ ...bench, keyId: key.id });
  if (want('fuzz')) await fuzzBench({ url: gateway.url, key: { id: key.id, secret: key.secret, account: 'bench' } }, line);
  if (want('load')) await profiled('load', dbUrl, () => apiLoad(bench, { xmlrpcBody: encodeMethodCall }));
  if (want('memory')) {
    const authorization = 'Basic ' + Buffer.from(`admin:${key.secret}`).toString('base64');
    await memoryPeak(bench, {
      addRecipients,
      waitFinal,
      async stopInProcessWorker() {
        await inProcessWorker?.stop();
        inProcessWorker = null;
      },
      spawnWorker: () =>
        spawn(process.execPath, [path.join(root, 'bin/mailgate.js'), 'worker'], {
          env: { ...process.env, DATABASE_URL: dbUrl, LOG_LEVEL: 'warn', SMTP_URL: config.SMTP_URL, PUBLIC_URL: config.PUBLIC_URL, BOUNCE_SMTP_PORT: '0' },
          stdio: ['ignore', 'ignore', 'inherit'],
        }),
      async feedPage(cursor, mailingId) {
        // Timed to the last byte of the answer, as the ingest's calls; decoded afterwards.
        const t = performance.now();
        const res = await fetch(`${gateway.url}/CloudMailing`, {
          method: 'POST',
          headers: { authorization, 'content-type': 'text/xml' },
          body: encodeMethodCall('get_recipients_status_updated_since', [cursor, { mailings: [mailingId] }, 1000]),
        });
        const text = await res.text();
        const ms = performance.now() - t;
        const answer = decodeMethodResponse(text);
        if ('fault' in answer) throw new Error(`get_recipients_status_updated_since: fault ${answer.fault.faultString}`);
        const v = answer.value as { cursor: string; recipients: unknown[] };
        return { cursor: v.cursor, rows: v.recipients.length, ms };
      },
    });
  }

  // reliability: only when named (it stops relays, kills processes, mounts a tmpfs).
  const relayScenarios = wanted.has('reliability')
    ? await reliabilityRelay({ adminUrl: pgh.url, databaseUrl: (n) => pgh.databaseUrl(n), sinkPort: sink.port, line })
    : null;
  console.log(
    `# results: ${path.relative(root, await saveResults({ relay: postfix ? "postfix's smtp-sink" : 'the Node sink', ...(relayScenarios ? { relayScenarios } : {}) }))}`,
  );
  await inProcessWorker?.stop();
  await gateway.stop();
  await statusPool.end();
  await services.close();
  sink.stop();
  await pgh.stop();
  await rm(tmp, { recursive: true, force: true });
  await rm(mailDir, { recursive: true, force: true });
}

await main();
process.exit(0);

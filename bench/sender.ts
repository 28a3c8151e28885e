/**
 * The Yandex Sender scenarios of `npm run bench` (called from ./run.ts, which owns the database, the sink and
 * the gateway):
 * - sender-bulk: BENCH_BULK_CALLS (1000) bulk PUT calls of 1,000 subscribers each over HTTP, 4 clients, one
 *   maillist, until every task is `success`; the limit is a raw COPY of the same rows into a copy of
 *   `subscribers` (its indexes included).
 * - import: `mailgate import` of a BENCH_IMPORT (1,000,000) line CSV, new then again, vs raw COPY.
 * - transactional: while a BENCH_TRANSACTIONAL_BULK (200000) recipient mailing is being sent, 20
 *   transactional sends one after another, each timed from the call until the sink received it.
 */
import { size } from './scale.js';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import type { Services } from '../src/compose.js';
import type { CallContext } from '../src/core/index.js';

export interface Bench {
  url: string;
  secret: string;
  dbUrl: string;
  services: Services;
  ctx: CallContext;
  sink: { count(): Promise<number>; arrived(rcpt: string): Promise<number> };
  line(figure: string, value: string, target: string, ratio?: string): void;
}

const root = path.resolve(import.meta.dirname, '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** The account `bench` of ./run.ts, as a Sender client calls it: the key's secret as user name, no password. */
function senderClient(b: Bench) {
  const headers = { authorization: `Basic ${Buffer.from(`${b.secret}:`).toString('base64')}`, 'content-type': 'application/json' };
  return async (method: string, path: string, body: string, expect = 200) => {
    const r = await fetch(`${b.url}/api/0/bench${path}`, { method, headers, body });
    const text = await r.text();
    if (r.status !== expect) throw new Error(`${method} ${path}: HTTP ${r.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as { result: Record<string, unknown> };
  };
}

export async function senderBulk(b: Bench): Promise<void> {
  const calls = size('BENCH_BULK_CALLS', 1000, 10);
  const n = calls * 1000;
  const call = senderClient(b);
  await call('PUT', '/maillist/bench-bulk', JSON.stringify({ title: 'Bench bulk' }), 201);
  // The client's own cost stays out of the figure: every body (1,000,000 distinct addresses) is serialized first.
  const bodies = Array.from({ length: calls }, (_, c) =>
    JSON.stringify({
      items: Array.from({ length: 1000 }, (_, k) => ({
        email: `b${c * 1000 + k}@bulk.example`,
        params: { name: `Name ${c * 1000 + k}`, n: String(c * 1000 + k) },
      })),
    }),
  );
  const taskIds: string[] = [];
  let nextCall = 0;
  const t0 = performance.now();
  await Promise.all(
    [0, 1, 2, 3].map(async () => {
      for (let c = nextCall++; c < calls; c = nextCall++)
        taskIds.push(String((await call('PUT', '/maillist/bench-bulk/subscription/bulk', bodies[c]!)).result.task_id));
    }),
  );
  const answered = performance.now();
  // Done when the worker has applied every task (tasks of one list run one after another, in call order).
  for (;;) {
    const { rows } = await b.services.pool.query<{ ok: number; failed: number }>(
      `SELECT count(*) FILTER (WHERE status = 'success')::int AS ok, count(*) FILTER (WHERE status = 'failure')::int AS failed FROM tasks WHERE id = ANY($1::uuid[])`,
      [taskIds],
    );
    if (rows[0]!.failed) throw new Error(`sender-bulk: ${rows[0]!.failed} tasks failed`);
    if (rows[0]!.ok === calls) break;
    await sleep(50);
  }
  const seconds = (performance.now() - t0) / 1000;
  const rate = n / seconds;
  // Where the time goes: the worker's pace (between consecutive task ends) against the HTTP side's.
  const { rows: span } = await b.services.pool.query<{ spread: number; stored: number }>(
    `SELECT extract(epoch FROM max(updated_at) - min(updated_at))::float AS spread, (SELECT count(*)::int FROM subscribers s JOIN lists l ON l.id = s.list_id WHERE l.slug = 'bench-bulk') AS stored
       FROM tasks WHERE id = ANY($1::uuid[])`,
    [taskIds],
  );

  const copyRate = await copyLimit(b, n, (k) => `b${k}@bulk.example`);
  b.line(`sender bulk: ${fmt(calls)} calls of 1,000`, `${fmt(rate)}/s`, '>= 50,000/s', `${(rate / copyRate).toFixed(3)} of COPY ${fmt(copyRate)}/s`);
  console.log(
    `# sender-bulk: ${fmt(n)} subscribers (${fmt(span[0]!.stored)} stored) in ${seconds.toFixed(1)} s; calls answered after ${((answered - t0) / 1000).toFixed(1)} s ` +
      `(${fmt(n / ((answered - t0) / 1000))}/s over HTTP); the worker's tasks ended ${((span[0]!.spread * 1000) / Math.max(1, calls - 1)).toFixed(1)} ms apart`,
  );
}

/**
 * The limit beside a subscriber figure: raw COPY of `n` rows like ours (address, params {name, n}) into a
 * fresh table shaped like `subscribers` (its indexes, no foreign keys), in rows/s.
 */
async function copyLimit(b: Bench, n: number, address: (k: number) => string): Promise<number> {
  const client = new pg.Client({ connectionString: b.dbUrl });
  await client.connect();
  await client.query('CREATE TABLE bench_subscribers (LIKE subscribers INCLUDING ALL)');
  const t1 = performance.now();
  function* rows() {
    for (let i = 0; i < n; i += 1000) {
      let chunk = '';
      for (let k = i; k < Math.min(n, i + 1000); k++)
        chunk += `${b.ctx.accountId}\t1\t${address(k)}\t${address(k)}\t{"name": "Name ${k}", "n": "${k}"}\tactive\tt\t1\n`;
      yield chunk;
    }
  }
  await pipeline(
    Readable.from(rows()),
    client.query(copyStreams.from('COPY bench_subscribers (account_id, list_id, email, email_key, params, status, enabled, rev) FROM STDIN')),
  );
  const rate = n / ((performance.now() - t1) / 1000);
  await client.query('DROP TABLE bench_subscribers');
  await client.end();
  return rate;
}

/**
 * import: `mailgate import` (the CLI, its own process, as an operator runs it) of a BENCH_IMPORT (1,000,000)
 * line CSV into a new list, then the same file again (every record an update); the figure is the import's
 * own time (records/s), beside raw COPY of the same rows.
 */
export async function csvImport(b: Bench): Promise<void> {
  const n = size('BENCH_IMPORT', 1_000_000, 10_000);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-bench-import-'));
  const file = path.join(dir, 'subscribers.csv');
  const out = createWriteStream(file);
  out.write('email,name,n\n');
  for (let i = 0; i < n; i += 10_000) {
    let chunk = '';
    for (let k = i; k < Math.min(n, i + 10_000); k++) chunk += `i${k}@import.example,"Name ${k}",${k}\n`;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())));
  await b.services.core.lists.createWithSlug(b.ctx, { slug: 'bench-import' });
  const run = async () => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [path.join(root, 'bin/mailgate.js'), 'import', 'bench-import', file, '--account', 'bench', '--json'], {
      env: { ...process.env, DATABASE_URL: b.dbUrl, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let text = '';
    child.stdout.on('data', (c) => (text += c));
    const [code] = (await once(child, 'exit')) as [number];
    if (code !== 0) throw new Error(`mailgate import exited ${code}`);
    const r = JSON.parse(text) as { records: number; inserted: number; updated: number; seconds: number };
    if (r.records !== n || r.inserted + r.updated !== n) throw new Error(`import: ${text}`);
    return { ...r, wall: (performance.now() - t0) / 1000 };
  };
  const first = await run();
  const again = await run();
  const copyRate = await copyLimit(b, n, (k) => `i${k}@import.example`);
  const ratio = (r: number) => `${(r / copyRate).toFixed(3)} of COPY ${fmt(copyRate)}/s`;
  b.line(`import: ${fmt(n / 1000)}k-line CSV, new`, `${fmt(n / first.seconds)}/s`, '>= 50,000/s', ratio(n / first.seconds));
  b.line(`import: the same file again`, `${fmt(n / again.seconds)}/s`, '>= 50,000/s', ratio(n / again.seconds));
  console.log(
    `# import: ${first.seconds.toFixed(1)} s and ${again.seconds.toFixed(1)} s importing; the command ran ${first.wall.toFixed(1)} s and ${again.wall.toFixed(1)} s (start-up included)`,
  );
  await rm(dir, { recursive: true, force: true });
}

const BODY = `<html><body><h1>Hello {{ firstname }}</h1>${'<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.</p>'.repeat(20)}</body></html>`;

export async function transactional(b: Bench): Promise<void> {
  const N = size('BENCH_TRANSACTIONAL_BULK', 200_000, 10_000);
  const { core } = b.services;
  // The campaign, as `mailgate campaigns create` makes it (a named Sender mailing; the first send marks it transactional).
  const campaign = await core.mailings.create(b.ctx, {
    dialect: 'sender',
    name: 'bench-urgent',
    fromEmail: 'shop@bench.example',
    subject: 'Order {{ order }}',
    html: '<p>Your order {{ order }} is ready.</p>',
  });
  const bulk = await core.mailings.create(b.ctx, { dialect: 'bench', fromEmail: 'news@bench.example', subject: 'News for {{ firstname }}', html: BODY });
  for (let i = 0; i < N; i += 10_000) {
    await core.recipients.add(
      b.ctx,
      bulk,
      Array.from({ length: Math.min(10_000, N - i) }, (_, k) => ({ email: `t${i + k}@bulk.example`, fields: { firstname: `F${i + k}` } })),
    );
  }
  const before = await b.sink.count();
  await core.mailings.start(b.ctx, bulk);
  const started = performance.now();
  while ((await b.sink.count()) - before < 1000) {
    if (performance.now() - started > 120_000) throw new Error('transactional: the bulk mailing did not start sending');
    await sleep(50);
  }

  // 20 sends one after another, 300 ms apart; each timed from the call until the sink received it (the
  // sink's clock, the same machine's). The API's own answer time is kept apart.
  const call = senderClient(b);
  const latencies: number[] = [];
  const answers: number[] = [];
  const bulkOut: number[] = [];
  for (let i = 0; i < 20; i++) {
    const rcpt = `urgent${i}@shop.example`;
    const t0 = Date.now();
    await call('POST', '/transactional/bench-urgent/send', JSON.stringify({ to_email: rcpt, args: { order: `A-${i}` } }));
    answers.push(Date.now() - t0);
    let at: number;
    while (!(at = await b.sink.arrived(rcpt))) {
      if (Date.now() - t0 > 120_000) throw new Error(`transactional: ${rcpt} not delivered in 120 s`);
      await sleep(2);
    }
    latencies.push(Math.round(at - t0));
    bulkOut.push((await b.sink.count()) - before - (i + 1));
    await sleep(300);
  }
  const q = (xs: number[], p: number) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  b.line(
    `transactional during ${fmt(N / 1000)}k mailing`,
    `p50 ${q(latencies, 0.5)} ms, max ${Math.max(...latencies)} ms`,
    '-',
    `bulk ${fmt(bulkOut.at(-1)!)} of ${fmt(N)} out`,
  );
  console.log(
    `# transactional: API answered p50 ${q(answers, 0.5)} ms, max ${Math.max(...answers)} ms; bulk out ${fmt(bulkOut[0]!)} at the first, ${fmt(bulkOut.at(-1)!)} at the last; latencies ${latencies.join(' ')} ms`,
  );
  // Deleting a mailing stops its sending: the bench ends without waiting for the rest of the bulk. Its send
  // jobs end after the batch in hand: wait until the sink is quiet, so the worker is idle when run.ts stops it.
  await core.mailings.delete(b.ctx, bulk);
  await core.mailings.delete(b.ctx, campaign);
  for (let last = -1, now = await b.sink.count(); now !== last; last = now, now = await b.sink.count()) await sleep(500);
}

/**
 * /metrics and /healthz as an operator's Prometheus and load balancer see them: scraped over real HTTP after
 * real mailings to a real SMTP relay, parsed by a Prometheus text-format parser, and held to what the
 * database says happened. A `mailgate worker` process serves them on METRICS_PORT.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { buildServices, startGateway } from '../../src/compose.js';
import { startEmbedded } from '../../src/db/embedded.js';
import { ensureDatabase, migrate } from '../../src/db/migrate.js';
import { makeLogger } from '../../src/logger.js';
import nodemailer from 'nodemailer';
import { basicAuthHeader } from '../support/auth.js';
import { complaintReport, dsnReport } from '../support/reports.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { labelValues, observations, samples, scrape, value } from '../support/prometheus.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';

const root = path.resolve(import.meta.dirname, '../..');
const TOKEN = 'scrape-token-0123456789';

interface Health {
  status: string;
  database: string;
  migrations: string;
  workers: string;
  workers_alive: number | null;
  relay: string;
  detail?: string;
}

async function health(baseUrl: string): Promise<{ status: number; body: Health }> {
  const res = await fetch(`${baseUrl}/healthz`);
  return { status: res.status, body: (await res.json()) as Health };
}

/** One CloudMailing JSON-RPC call (the second encoding of its table), as a client sends it. */
async function rpc(baseUrl: string, secret: string, method: string, params: unknown[]): Promise<unknown> {
  const res = await fetch(`${baseUrl}/jsonrpc`, {
    method: 'POST',
    headers: { authorization: basicAuthHeader(secret), 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

/** A mailing of `emails` created, filled and (unless `start` is false) started over JSON-RPC. */
async function mailing(baseUrl: string, secret: string, emails: string[], start = true): Promise<number> {
  const id = (await rpc(baseUrl, secret, 'create_mailing', ['news@example.org', 'News', 'Hello {{ n }}', '<p>{{ n }}</p>'])) as number;
  await rpc(baseUrl, secret, 'add_recipients', [id, emails.map((email, n) => ({ email, n: String(n) }))]);
  if (start) await rpc(baseUrl, secret, 'start_mailing', [id]);
  return id;
}

async function sendStatus(gw: TestGateway, mailingId: number): Promise<string> {
  const { rows } = await gw.pool.query<{ status: string }>('SELECT status FROM sends WHERE mailing_id = $1 ORDER BY id LIMIT 1', [mailingId]);
  return rows[0]!.status;
}

async function recipientCount(gw: TestGateway, mailingId: number, status: string): Promise<number> {
  const { rows } = await gw.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM recipients WHERE mailing_id = $1 AND status = $2', [mailingId, status]);
  return rows[0]!.n;
}

describe('metrics: an HTTP node running its worker', () => {
  let smtp: TestSmtpServer;
  let gw: TestGateway;
  let relay: string;

  before(async () => {
    smtp = await startTestSmtpServer();
    relay = `127.0.0.1:${smtp.port}`;
    gw = await startTestGateway({ worker: true, env: { SMTP_URL: smtp.url, METRICS_TOKEN: TOKEN } });
  });
  after(async () => {
    await gw?.stop();
    await smtp?.close();
  });

  it('/metrics wants the bearer token of METRICS_TOKEN', async () => {
    const none = await fetch(`${gw.url}/metrics`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    const wrong = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}x` } });
    assert.equal(wrong.status, 401);
    assert.equal((await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
  });

  it('healthy: database, migrations, a worker, its relay', async () => {
    const h = await health(gw.url);
    assert.equal(h.status, 200);
    assert.deepEqual(h.body, { status: 'ok', database: 'ok', migrations: 'ok', workers: 'ok', workers_alive: 1, relay: 'ok' });
  });

  it('a migration not applied: 503 saying which', async () => {
    const name = '20261207500000_worker_relay_state.ts';
    await gw.pool.query(`UPDATE knex_migrations SET name = name || '.hidden' WHERE name = $1`, [name]);
    try {
      const h = await health(gw.url);
      assert.equal(h.status, 503);
      assert.deepEqual(h.body, {
        status: 'unavailable',
        database: 'ok',
        migrations: 'down',
        workers: 'ok',
        workers_alive: 1,
        relay: 'ok',
        detail: `migrations not applied: ${name}`,
      });
    } finally {
      await gw.pool.query(`UPDATE knex_migrations SET name = $1 WHERE name = $1 || '.hidden'`, [name]);
    }
    assert.equal((await health(gw.url)).status, 200);
  });

  it('a mailing: messages by outcome and relay agree with the recipients, the refusal is a bounce, API calls by dialect and function', async () => {
    smtp.reject550.add('refused@example.org');
    const emails = ['ann@example.org', 'bob@example.org', 'cy@example.org', 'refused@example.org'];
    const id = await mailing(gw.url, gw.key.secret, emails);
    await assert.rejects(rpc(gw.url, gw.key.secret, 'no_such_method', []), /not supported|not found|Method/i);
    const lists = await fetch(`${gw.url}/api/v1/lists/`, { headers: { authorization: basicAuthHeader(gw.key.secret) } });
    assert.equal(lists.status, 200);
    const missing = await fetch(`${gw.url}/api/v1/lists/987654/`, { headers: { authorization: basicAuthHeader(gw.key.secret) } });
    assert.equal(missing.status, 404);
    const xml = await fetch(`${gw.url}/CloudMailing`, {
      method: 'POST',
      headers: { authorization: basicAuthHeader(gw.key.secret), 'content-type': 'text/xml' },
      body: '<?xml version="1.0"?><methodCall><methodName>system.listMethods</methodName><params></params></methodCall>',
    });
    assert.match(await xml.text(), /create_mailing/);
    const mailkit = (fn: string) =>
      fetch(`${gw.url}/json.fcgi`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ function: fn, id: String(gw.key.id), md5: gw.key.secret }),
      }).then((r) => r.status);
    assert.equal(await mailkit('mailkit.mailinglist.list'), 200);
    assert.equal(await mailkit('mailkit.no.such.function'), 200);
    await waitFor(`mailing ${id} finished`, async () => (await sendStatus(gw, id)) === 'finished');

    const s = await scrape(gw.url, TOKEN);
    const sent = await recipientCount(gw, id, 'finished');
    assert.equal(sent, 3);
    assert.equal(value(s, 'mailgate_messages_total', { outcome: 'sent', relay }), sent, 'sent = recipients finished');
    assert.equal(value(s, 'mailgate_messages_total', { outcome: 'failed', relay }), await recipientCount(gw, id, 'error'));
    assert.equal(value(s, 'mailgate_messages_total'), emails.length, 'every recipient counted once');
    const { rows: bounced } = await gw.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM bounces WHERE mailing_id = $1 AND source = 'smtp' AND kind = 'permanent'`,
      [id],
    );
    assert.equal(bounced[0]!.n, 1);
    assert.equal(value(s, 'mailgate_bounces_total', { source: 'smtp', kind: 'permanent', category: 'address' }), 1, '550 5.1.1: an address bounce');
    assert.equal(value(s, 'mailgate_bounces_total'), 1);
    assert.ok(observations(s, 'mailgate_send_batch_duration_seconds') >= 1);

    for (const fn of ['create_mailing', 'add_recipients', 'start_mailing'])
      assert.equal(value(s, 'mailgate_api_requests_total', { dialect: 'cloudmailing', function: fn, status: '200' }), 1, fn);
    assert.equal(value(s, 'mailgate_api_requests_total', { dialect: 'cloudmailing', function: 'unknown' }), 1, 'a made-up method name is no label');
    assert.equal(value(s, 'mailgate_api_requests_total', { dialect: 'cloudmailing', function: 'system.listMethods', status: '200' }), 1, 'XML-RPC');
    assert.equal(value(s, 'mailgate_api_requests_total', { dialect: 'mailkit', function: 'mailkit.mailinglist.list', status: '200' }), 1);
    assert.equal(value(s, 'mailgate_api_requests_total', { dialect: 'mailkit', function: 'unknown', status: '200' }), 1);
    assert.equal(value(s, 'mailgate_api_requests_total', { dialect: 'emailicious', function: '/api/v1/lists', status: '200' }), 1);
    assert.equal(
      value(s, 'mailgate_api_requests_total', { dialect: 'emailicious', function: '/api/v1/lists/:list', status: '404' }),
      1,
      'a route pattern, not the path',
    );
    assert.equal(observations(s, 'mailgate_api_request_duration_seconds', { dialect: 'cloudmailing', function: 'create_mailing' }), 1);
    assert.equal(value(s, 'mailgate_api_requests_total', { function: '/healthz' }), 0, 'only the dialects are counted');

    assert.equal(value(s, 'mailgate_queue_recipients', { state: 'ready' }), 0);
    assert.equal(value(s, 'mailgate_queue_recipients', { state: 'retry' }), 0);
    assert.equal(value(s, 'mailgate_queue_oldest_ready_age_seconds'), 0);
    assert.equal(samples(s, 'mailgate_status_feed_lag_seconds').length, 1);
    assert.equal(value(s, 'mailgate_workers_alive'), 1);
    assert.equal(value(s, 'mailgate_database_up'), 1);
    assert.equal(value(s, 'mailgate_relay_up', { relay }), 1);
    assert.ok(samples(s, 'process_cpu_user_seconds_total').length === 1, "Node's default process metrics");

    // No account data in a label, nor the key anywhere.
    for (const v of labelValues(s)) assert.ok(!v.includes('@'), `an address in a label: ${v}`);
    assert.ok(!s.text.includes(gw.key.secret));
  });

  it('late reports into the bounce listener: a DSN counts as a dsn bounce, a complaint by its feedback type, each once', async () => {
    const deliver = async (to: string, raw: string) => {
      const t = nodemailer.createTransport({ host: '127.0.0.1', port: gw.bouncePort, secure: false, ignoreTLS: true });
      try {
        await t.sendMail({ envelope: { from: '', to }, raw });
      } finally {
        t.close();
      }
    };
    const annVerp = smtp.to('ann@example.org')[0]!.from;
    const bobVerp = smtp.to('bob@example.org')[0]!.from;
    const dsn = dsnReport({ to: 'ann@example.org', verp: annVerp, status: '5.1.1', diagnostic: '550 5.1.1 user unknown', messageId: '<dsn-1@mx.example.net>' });
    await deliver(annVerp, dsn);
    await deliver(annVerp, dsn); // the same report again: recorded once
    await deliver(bobVerp, complaintReport({ to: 'bob@example.org', verp: bobVerp, messageId: '<fbl-1@fbl.example.net>' }));

    const { rows } = await gw.pool.query<{ source: string; n: number }>(
      `SELECT source, count(*)::int AS n FROM bounces WHERE source <> 'smtp' GROUP BY source`,
    );
    const stored = Object.fromEntries(rows.map((r) => [r.source, r.n]));
    assert.deepEqual(stored, { dsn: 1, complaint: 1 });
    const s = await scrape(gw.url, TOKEN);
    assert.equal(value(s, 'mailgate_bounces_total', { source: 'dsn', kind: 'permanent', category: 'address' }), stored.dsn);
    assert.equal(value(s, 'mailgate_bounces_total', { source: 'dsn' }), stored.dsn);
    assert.equal(value(s, 'mailgate_complaints_total', { feedback_type: 'abuse' }), stored.complaint);
    assert.equal(value(s, 'mailgate_complaints_total'), stored.complaint);
  });

  it('the queue: recipients waiting, and how long the oldest due one has waited', async () => {
    const id = await mailing(gw.url, gw.key.secret, ['q1@example.org', 'q2@example.org', 'q3@example.org'], false);
    // A reading is kept for a moment: the gauge is seen once a fresh one is taken.
    await waitFor('3 recipients ready', async () => value(await scrape(gw.url, TOKEN), 'mailgate_queue_recipients', { state: 'ready' }) === 3);
    assert.equal(value(await scrape(gw.url, TOKEN), 'mailgate_queue_oldest_ready_age_seconds'), 0, 'not started: nobody is due');
    await gw.pool.query('DELETE FROM mailings WHERE id = $1', [id]);
  });

  it('the relay down: /healthz 503 with the reason, throttling and relay_up 0 on /metrics; back up: 200 and the mailing finishes', async () => {
    await smtp.down();
    const id = await mailing(gw.url, gw.key.secret, ['d1@example.org', 'd2@example.org']);
    await waitFor('healthz says the relay is down', async () => (await health(gw.url)).status === 503);
    const h = await health(gw.url);
    assert.deepEqual(h.body, {
      status: 'unavailable',
      database: 'ok',
      migrations: 'ok',
      workers: 'ok',
      workers_alive: 1,
      relay: 'down',
      detail: 'relay unreachable from 1 of 1 workers',
    });
    await waitFor('the waiting recipients are seen', async () => value(await scrape(gw.url, TOKEN), 'mailgate_queue_recipients', { state: 'ready' }) === 2);
    const s = await scrape(gw.url, TOKEN);
    assert.equal(value(s, 'mailgate_relay_up', { relay }), 0);
    assert.ok(value(s, 'mailgate_send_throttled_total', { reason: 'relay_down' }) >= 1);
    assert.ok(value(s, 'mailgate_queue_oldest_ready_age_seconds') > 0, 'due since the send started');

    await smtp.up();
    await waitFor(`mailing ${id} finished`, async () => (await sendStatus(gw, id)) === 'finished');
    await waitFor('healthz ok again', async () => (await health(gw.url)).status === 200);
    assert.equal(value(await scrape(gw.url, TOKEN), 'mailgate_messages_total', { outcome: 'sent', relay }), 3 + 2);
  });
});

describe('metrics: a worker process on METRICS_PORT beside an HTTP-only node', () => {
  let smtp: TestSmtpServer;
  let gw: TestGateway;
  let child: ChildProcess | undefined;

  before(async () => {
    smtp = await startTestSmtpServer();
    gw = await startTestGateway({ worker: false });
  });
  after(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await gw?.stop();
    await smtp?.close();
  });

  it('no worker alive: 503 with the reason', async () => {
    const h = await health(gw.url);
    assert.equal(h.status, 503);
    assert.deepEqual(h.body, {
      status: 'unavailable',
      database: 'ok',
      migrations: 'ok',
      workers: 'down',
      workers_alive: 0,
      relay: 'unknown',
      detail: `no send worker alive (none heard from within ${gw.config.WORKER_STALE_SECONDS} s)`,
    });
  });

  it('a schema too far behind to read the workers: 503, migrations down, workers unknown', async () => {
    await gw.pool.query('ALTER TABLE workers RENAME COLUMN relay_up TO relay_up_hidden');
    try {
      const h = await health(gw.url);
      assert.equal(h.status, 503);
      assert.deepEqual(h.body, {
        status: 'unavailable',
        database: 'ok',
        migrations: 'down',
        workers: 'unknown',
        workers_alive: null,
        relay: 'unknown',
        detail: 'migrations not applied: (the schema is behind)',
      });
    } finally {
      await gw.pool.query('ALTER TABLE workers RENAME COLUMN relay_up_hidden TO relay_up');
    }
  });

  it("the worker's own /metrics counts what it sent, as the database says; the HTTP node counts the calls", async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: gw.databaseUrl,
      SMTP_URL: smtp.url,
      HOST: '127.0.0.1',
      METRICS_PORT: '0',
      LOG_LEVEL: 'warn',
      PUBLIC_URL: 'http://mailgate.test',
    };
    delete env.METRICS_TOKEN;
    const proc = spawn(process.execPath, [path.join(root, 'bin/mailgate.js'), 'worker'], { env, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let out = '';
    let err = '';
    proc.stdout.on('data', (c) => (out += c));
    proc.stderr.on('data', (c) => (err += c));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
    await waitFor('the worker banner', () => /health, metrics +GET +http:\/\/127\.0\.0\.1:\d+\/healthz/.test(out) || proc.exitCode !== null, 60_000);
    const metricsUrl = /GET +(http:\/\/127\.0\.0\.1:\d+)\/healthz/.exec(out)?.[1];
    assert.ok(metricsUrl, `no metrics URL in: ${out}\n${err}`);

    assert.equal((await health(metricsUrl)).status, 200, 'the worker serves /healthz too');
    assert.equal((await health(gw.url)).status, 200, "the HTTP node sees the worker's heartbeat");

    const id = await mailing(gw.url, gw.key.secret, ['w1@example.org', 'w2@example.org', 'w3@example.org']);
    await waitFor(`mailing ${id} finished`, async () => (await sendStatus(gw, id)) === 'finished');

    const w = await scrape(metricsUrl);
    const sent = await recipientCount(gw, id, 'finished');
    assert.equal(sent, 3);
    assert.equal(value(w, 'mailgate_messages_total', { outcome: 'sent', relay: `127.0.0.1:${smtp.port}` }), sent);
    assert.equal(value(w, 'mailgate_workers_alive'), 1);
    assert.equal(value(w, 'mailgate_api_requests_total'), 0, 'a worker answers no API');
    assert.ok(samples(w, 'process_resident_memory_bytes').length === 1);

    const h = await scrape(gw.url);
    assert.equal(value(h, 'mailgate_messages_total'), 0, 'the HTTP node sent nothing');
    assert.equal(value(h, 'mailgate_api_requests_total', { dialect: 'cloudmailing', function: 'add_recipients', status: '200' }), 1);
    assert.equal((await fetch(`${metricsUrl}/elsewhere`)).status, 404);

    proc.kill('SIGTERM');
    assert.equal(await exited, 0, err);
    const after = await health(gw.url);
    assert.equal(after.status, 503, 'a stopped worker leaves the registry at once');
    assert.equal(after.body.workers, 'down');
  });
});

describe('healthz: the database down', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-healthz-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('503 saying the database is unreachable (and /metrics still answers, database_up 0); back once it is', async () => {
    let pg = await startEmbedded({ dataDir: dir });
    await ensureDatabase(pg.url, 'mailgate');
    const url = pg.databaseUrl('mailgate');
    await migrate(url);
    const config = loadConfig({ DATABASE_URL: url, HOST: '127.0.0.1', PORT: '0', BOUNCE_SMTP_PORT: '0', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent' });
    const services = await buildServices(config, makeLogger(config.LOG_LEVEL), url, { migrate: false });
    const gateway = await startGateway(services, { worker: true, http: true });
    try {
      assert.equal((await health(gateway.url)).status, 200);

      await pg.stop();
      const h = await health(gateway.url);
      assert.equal(h.status, 503);
      assert.deepEqual(h.body, {
        status: 'unavailable',
        database: 'down',
        migrations: 'unknown',
        workers: 'unknown',
        workers_alive: null,
        relay: 'unknown',
        detail: 'database unreachable',
      });
      await waitFor('database_up 0', async () => value(await scrape(gateway.url), 'mailgate_database_up') === 0);

      pg = await startEmbedded({ dataDir: dir });
      await waitFor('healthz ok again', async () => (await health(gateway.url)).status === 200, 60_000);
    } finally {
      await gateway.stop();
      await services.close();
      await pg.stop();
    }
  });
});

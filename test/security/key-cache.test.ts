/**
 * API keys are cached in each API process and dropped when any process changes them (a LISTEN on the channel
 * the api_keys and accounts triggers notify). With `mailgate serve` as a real process and Python's
 * xmlrpc.client as the CloudMailing client:
 * - a key is served from the cache (it answers while api_keys is locked against every reader);
 * - `mailgate keys revoke` in another process: once the gateway logged the notification, the next call is
 *   refused (the event waited on is the notification reaching the gateway, not a time);
 * - the LISTEN connection lost in the very transaction that revokes a key (so its notification never reaches
 *   the gateway): the next call is refused all the same, the cache being dropped with the connection;
 * - Postgres killed and restarted by serve: the gateway listens again, caches again, and a revoke still
 *   takes effect.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort } from '../../src/db/embedded.js';
import { runProcess } from '../support/process.js';
import { cloudmailingCalls } from '../support/python-xmlrpc.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';
import { databaseUrl, firstKey, postmasterPid, query, startServe, type GatewayProcess } from '../reliability/postgres-gateway.js';

const root = path.resolve(import.meta.dirname, '../..');
/** Waits for what must happen; generous, a safety net only (the machine is shared). */
const LONG = 120_000;

let smtp: TestSmtpServer;
let dataDir: string;
let port: number;
let g: GatewayProcess;
let url: string;
let base: string;

/** The gateway's log lines with this message, as pino wrote them. */
const logged = (msg: string) =>
  g
    .err()
    .split('\n')
    .filter((l) => l.includes(`"msg":"${msg}"`)).length;

const count = async (secret: string) => (await cloudmailingCalls(base, secret, [['get_mailings_count', []]]))[0]!;

async function mailgate(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return await runProcess(process.execPath, [path.join(root, 'bin/mailgate.js'), ...args], {
    env: { DATA_DIR: dataDir, LOG_LEVEL: 'warn', DATABASE_URL: '' },
    timeoutMs: 60_000,
  });
}

async function newKey(label: string): Promise<{ id: number; secret: string }> {
  const r = await mailgate(['keys', 'create', '--account', 'default', '--label', label, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { id: number; secret: string };
}

/** A call with `secret` answers while a transaction holds api_keys against every reader: it was not read. */
async function answersFromCache(secret: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('BEGIN');
    await c.query('LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
    assert.deepEqual(await count(secret), { value: 0 }, 'answered with api_keys locked');
    await c.query('COMMIT');
  } finally {
    await c.end();
  }
}

before(async () => {
  smtp = await startTestSmtpServer();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-keycache-'));
  port = await freePort();
  g = await startServe({ dataDir, port, smtpUrl: smtp.url, extra: { LOG_LEVEL: 'info' } });
  url = await databaseUrl(dataDir);
  base = `http://127.0.0.1:${port}`;
  assert.deepEqual(await count(firstKey(g.out())), { value: 0 });
});
after(async () => {
  if (g && g.child.exitCode === null) {
    g.child.kill('SIGTERM');
    await g.exited;
  }
  await smtp?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('security: API keys cached in the gateway, revoked everywhere at once', () => {
  it('a cached key, revoked by `mailgate keys revoke` in another process: refused once the notification reached the gateway', async () => {
    const k = await newKey('cached');
    assert.deepEqual(await count(k.secret), { value: 0 });
    await answersFromCache(k.secret);
    const seen = logged('API keys changed: the key cache is dropped');
    const r = await mailgate(['keys', 'revoke', String(k.id)]);
    assert.equal(r.code, 0, r.stderr);
    await waitFor('the notification reached the gateway', () => logged('API keys changed: the key cache is dropped') > seen, LONG);
    assert.deepEqual(await count(k.secret), { fault: [401, 'Authorization Failed!'] });
  });

  it('the LISTEN connection lost in the transaction that revokes (its notification never arrives): refused all the same', async () => {
    const k = await newKey('lost');
    assert.deepEqual(await count(k.secret), { value: 0 });
    await answersFromCache(k.secret);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query('BEGIN');
      await c.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [k.id]);
      const { rows } = await c.query<{ ok: boolean }>(
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE query = 'LISTEN mailgate_api_keys' AND pid <> pg_backend_pid()`,
      );
      assert.deepEqual(
        rows.map((x) => x.ok),
        [true],
        'the gateway listened on one connection',
      );
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
    assert.deepEqual(await count(k.secret), { fault: [401, 'Authorization Failed!'] });
  });

  it('Postgres killed and restarted by serve: the gateway listens again, caches again, and a revoke takes effect', async () => {
    const k = await newKey('restart');
    assert.deepEqual(await count(k.secret), { value: 0 });
    const back = logged('API key change notifications back: keys are cached again');
    const pid = await postmasterPid(dataDir);
    assert.ok(pid, 'the postmaster runs');
    process.kill(pid, 'SIGKILL');
    await waitFor('the gateway listens again', () => logged('API key change notifications back: keys are cached again') > back, LONG);
    await waitFor('the key answers again', async () => (await count(k.secret)).value === 0, LONG);
    await answersFromCache(k.secret);
    const seen = logged('API keys changed: the key cache is dropped');
    assert.equal((await mailgate(['keys', 'revoke', String(k.id)])).code, 0);
    await waitFor('the notification reached the gateway', () => logged('API keys changed: the key cache is dropped') > seen, LONG);
    assert.deepEqual(await count(k.secret), { fault: [401, 'Authorization Failed!'] });
    assert.equal((await query<{ n: number }>(url, 'SELECT count(*)::int AS n FROM api_keys WHERE id = $1 AND revoked_at IS NOT NULL', [k.id]))[0]!.n, 1);
  });
});

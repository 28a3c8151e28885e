/**
 * `mailgate backup` of the embedded Postgres while a send runs and a writer commits, `mailgate restore` into a
 * fresh DATA_DIR, and the two clusters compared table by table (row count and md5 of the ordered rows).
 *
 * What "the same data" can mean while the source keeps changing: the restored cluster is the source as of one
 * moment between the backup's start and its end. So:
 *   - a table that is the same before the backup started and after it ended (checksums S0 = S1) was not
 *     written during it: the restored table must equal it exactly. The send is held at a gate on the relay
 *     (one message in an SMTP conversation, a batch leased, other recipients sent or waiting): every table of
 *     the mailing, its recipients, lists and accounts is such a table, frozen mid-send;
 *   - the tables written during the backup (a writer commits numbered rows into two tables in one
 *     transaction each, without pause; the worker's own bookkeeping) must hold a state the source had at one
 *     moment: the writer's rows are exactly 1..k in both tables, k between what was committed when the backup
 *     started and when it ended — a prefix, no gap, no half transaction;
 *   - every btree index of the restored database agrees with its table (amcheck, with every heap tuple looked up).
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { buildServices, openDatabase, startSendWorker, type Database, type Services } from '../../src/compose.js';
import type { CallContext } from '../../src/core/context.js';
import { startEmbedded, type EmbeddedHandle } from '../../src/db/embedded.js';
import { makeLogger } from '../../src/logger.js';
import type { RunningWorker } from '../../src/worker/index.js';
import { gate, type RelayGate } from '../support/gate.js';
import { people } from '../support/harness.js';
import { runProcess } from '../support/process.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/mailgate.js');

let tmp: string;
let sourceDir: string;
let relay: TestSmtpServer;
let relayGate: RelayGate;
let db: Database;
let services: Services;
let worker: RunningWorker;
let restored: EmbeddedHandle | undefined;

before(async () => {
  // Reachable by the postgres user (we may run as root): the clusters live under these directories.
  tmp = await mkdtemp(path.join(os.tmpdir(), 'mailgate-backup-'));
  await chmod(tmp, 0o755);
  sourceDir = path.join(tmp, 'source');
  relay = await startTestSmtpServer();
  relayGate = gate(relay);
  const config = loadConfig({
    DATA_DIR: sourceDir,
    SMTP_URL: relay.url,
    SEND_BATCH_SIZE: '1',
    SEND_LANES: '1',
    SMTP_MAX_CONNECTIONS: '1',
    LOG_LEVEL: 'silent',
    PUBLIC_URL: 'http://mailgate.test',
  });
  const logger = makeLogger('silent');
  db = await openDatabase(config, logger);
  services = await buildServices(config, logger, db.url);
  worker = await startSendWorker(services, { relayUrls: [relay.url] });
});
after(async () => {
  await relayGate?.open();
  await worker?.stop();
  await services?.close();
  await db?.close();
  await restored?.stop();
  await relay?.close();
  await rm(tmp, { recursive: true, force: true });
});

function env(dataDir: string): Record<string, string> {
  const e: Record<string, string> = { ...(process.env as Record<string, string>), DATA_DIR: dataDir, LOG_LEVEL: 'warn', LOG_PRETTY: 'false' };
  delete e.DATABASE_URL;
  return e;
}
const mailgate = (dataDir: string, ...args: string[]) => runProcess(process.execPath, [bin, ...args], { env: env(dataDir), timeoutMs: 120_000 });

type Sums = Map<string, { rows: number; md5: string }>;

/** Every table of the database (logged ones: all of Mailgate's): its row count and the md5 of its rows in order. */
async function checksums(q: pg.ClientBase | pg.Pool): Promise<Sums> {
  const { rows: tables } = await q.query<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND c.relpersistence = 'p' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
      ORDER BY 1`,
  );
  const out: Sums = new Map();
  for (const { name } of tables) {
    const { rows } = await q.query<{ rows: number; md5: string }>(
      `SELECT count(*)::int AS rows, coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') AS md5 FROM ${name} t`,
    );
    out.set(name, rows[0]!);
  }
  return out;
}

describe('cli: backup and restore of the embedded Postgres', () => {
  it('a backup taken during a running send restores into a fresh DATA_DIR with the same data, table by table', async (t) => {
    const { core, pool } = services;
    const { account } = await core.accounts.createAccount('acme');
    await core.accounts.createKey('acme', 'backup test');
    const ctx: CallContext = { accountId: account.id, requestId: 'test' };
    const list = await core.lists.create(ctx, { name: 'Club' });
    await core.lists.subscribe(
      ctx,
      list,
      people(40, 'member').map((p) => ({ email: p.email, params: p.fields })),
    );
    const mailing = await core.mailings.create(ctx, { dialect: 'cloudmailing', fromEmail: 'news@example.org', subject: 'Hello', html: '<p>Hi</p>' });
    await core.recipients.add(ctx, mailing, people(12, 'send'));
    await core.mailings.start(ctx, mailing);
    // Five messages through; the sixth stays in its SMTP conversation at the gate: the send is running, frozen.
    const sent = async () =>
      (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM recipients WHERE mailing_id = $1 AND status = 'finished'`, [mailing])).rows[0]!.n;
    for (let i = 0; i < 5; i++) {
      await relayGate.waitHeld();
      await relayGate.release();
    }
    await waitFor('five outcomes written', async () => (await sent()) === 5);
    await relayGate.waitHeld();

    await pool.query('CREATE TABLE backup_probe_a (n int PRIMARY KEY, pad text NOT NULL); CREATE TABLE backup_probe_b (n int PRIMARY KEY)');
    let committed = 0;
    let writing = true;
    const writer = (async () => {
      const c = await pool.connect();
      try {
        for (let n = 1; writing; n++) {
          await c.query('BEGIN');
          await c.query(`INSERT INTO backup_probe_a VALUES ($1::int, repeat(md5($1::int::text), 40))`, [n]);
          await c.query('INSERT INTO backup_probe_b VALUES ($1)', [n]);
          await c.query('COMMIT');
          committed = n;
        }
      } finally {
        c.release();
      }
    })();
    try {
      await waitFor('the writer committing', () => committed >= 20);
      const before = await checksums(pool);
      const committedBefore = committed;
      const file = path.join(tmp, 'mailgate.tar.gz');
      const backup = await mailgate(sourceDir, 'backup', file, '--json');
      const committedAfter = committed;
      writing = false;
      await writer;
      assert.equal(backup.code, 0, backup.stderr);
      const manifest = JSON.parse(backup.stdout) as { stopLsn: string; walSegments: string[] };
      assert.ok(manifest.walSegments.length >= 1);
      const afterSums = await checksums(pool);
      assert.ok(committedAfter > committedBefore, 'the writer committed while the backup ran');
      assert.equal(await sent(), 5, 'the send was held mid-way throughout');

      const target = path.join(tmp, 'restored');
      const r = await mailgate(target, 'restore', file);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^restored /);
      assert.deepEqual((await readdir(target)).sort(), ['embedded.json', 'pg']);
      const socketFiles = async (dir: string) => (await readdir(dir)).filter((n) => n.startsWith('.s.PGSQL.')).sort();
      const port = new URL(db.url).port;
      assert.deepEqual(await socketFiles(db.embedded!.dir), [`.s.PGSQL.${port}`, `.s.PGSQL.${port}.lock`], "the source's socket, in its directory");
      assert.deepEqual(await socketFiles(path.join(target, 'pg')), [], 'neither the socket nor its lock (naming the source postmaster) is copied');

      restored = await startEmbedded({ dataDir: target });
      const client = new pg.Client({ connectionString: restored.databaseUrl('mailgate') });
      await client.connect();
      try {
        const got = await checksums(client);
        assert.deepEqual([...got.keys()], [...before.keys()], 'the same tables');
        const frozen = [...before.keys()].filter((name) => JSON.stringify(before.get(name)) === JSON.stringify(afterSums.get(name)));
        const written = [...before.keys()].filter((name) => !frozen.includes(name));
        for (const table of [
          'public.accounts',
          'public.api_keys',
          'public.lists',
          'public.subscribers',
          'public.mailings',
          'public.variants',
          'public.sends',
          'public.recipients',
        ])
          assert.ok(frozen.includes(table), `${table} did not change during the backup`);
        assert.ok(written.includes('public.backup_probe_a') && written.includes('public.backup_probe_b'), 'the probe tables changed during the backup');
        for (const table of frozen) assert.deepEqual(got.get(table), before.get(table), `${table}: restored = source`);
        assert.ok((before.get('public.recipients')?.rows ?? 0) === 12 && before.get('public.subscribers')?.rows === 40);

        // The tables written during the backup: one moment of the source, all of a transaction or none.
        const a = (await client.query<{ n: number; ok: boolean }>(`SELECT n, pad = repeat(md5(n::text), 40) AS ok FROM backup_probe_a ORDER BY n`)).rows;
        const b = (await client.query<{ n: number }>('SELECT n FROM backup_probe_b ORDER BY n')).rows;
        const k = a.length;
        assert.ok(k >= committedBefore && k <= committedAfter, `${k} rows: between ${committedBefore} and ${committedAfter}`);
        assert.deepEqual(
          a.map((x) => x.n),
          Array.from({ length: k }, (_, i) => i + 1),
          'a prefix of the commits, no gap',
        );
        assert.deepEqual(
          b.map((x) => x.n),
          a.map((x) => x.n),
          'both tables of each transaction, or neither',
        );
        assert.ok(a.every((x) => x.ok));
        t.diagnostic(
          `${frozen.length} tables unchanged during the backup and equal; written during it: ${written.join(', ')}; writer rows ${committedBefore}..${committedAfter}, restored ${k}`,
        );

        await client.query('CREATE EXTENSION amcheck');
        const { rows: checked } = await client.query<{ n: number }>(
          `SELECT count(bt_index_check(c.oid, true))::int AS n FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
            JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE am.amname = 'btree' AND ns.nspname NOT IN ('pg_catalog', 'pg_toast') AND c.relpersistence = 'p'`,
        );
        assert.ok(checked[0]!.n > 20, `${checked[0]!.n} indexes checked`);
      } finally {
        await client.end();
      }

      // The restored gateway answers as the source did: the mailing held mid-send, its counts.
      const shown = await mailgate(target, 'mailings', 'show', String(mailing), '--account', 'acme', '--json');
      assert.equal(shown.code, 0, shown.stderr);
      const m = JSON.parse(shown.stdout) as { status: string; sent: number; recipients: number };
      assert.deepEqual([m.status, m.sent, m.recipients], ['running', 5, 12]);

      // Never over a database, unless asked; never over a running one.
      const occupied = path.join(tmp, 'occupied');
      await mkdir(path.join(occupied, 'pg'), { recursive: true });
      await writeFile(path.join(occupied, 'pg', 'PG_VERSION'), '17\n');
      await writeFile(path.join(occupied, 'notes.txt'), 'kept');
      const again = await mailgate(occupied, 'restore', file);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /^error: .*occupied is not empty: restore into an empty or absent DATA_DIR, or pass --force to replace its database\n$/);
      const forced = await mailgate(occupied, 'restore', file, '--force');
      assert.equal(forced.code, 0, forced.stderr);
      assert.deepEqual((await readdir(occupied)).sort(), ['embedded.json', 'notes.txt', 'pg'], '--force replaces the database, nothing else');
      assert.equal(await readFile(path.join(occupied, 'pg', 'PG_VERSION'), 'utf8'), '18\n');
      const running = await mailgate(target, 'restore', file, '--force');
      assert.equal(running.code, 1);
      assert.match(running.stderr, /^error: the embedded Postgres in .* is running: stop Mailgate first\n$/);
      const exists = await mailgate(sourceDir, 'backup', file);
      assert.equal(exists.code, 1);
      assert.match(exists.stderr, /^error: .*mailgate\.tar\.gz exists; name a new file\n$/);
      const withUrl = await runProcess(process.execPath, [bin, 'backup', path.join(tmp, 'other.tar.gz')], {
        env: { ...env(sourceDir), DATABASE_URL: db.url },
      });
      assert.equal(withUrl.code, 1);
      assert.match(withUrl.stderr, /^error: backup copies the embedded Postgres of DATA_DIR; with DATABASE_URL, back up with pg_dump/);
    } finally {
      writing = false;
      await writer;
    }
  });
});

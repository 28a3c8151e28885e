/**
 * How Mailgate reaches the embedded Postgres: its own connections (pool, LISTEN, graphile-worker, the commands
 * that join a running cluster) over the Unix socket in the cluster's directory, while 127.0.0.1 keeps serving
 * operators' tools; TCP only when the socket's path would be too long. Real clusters, a real `mailgate serve`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { freePort, SOCKET_PATH_MAX, socketDirFor, startEmbedded, type EmbeddedHandle } from '../../src/db/embedded.js';
import { databaseUrl, startServe, type GatewayProcess } from '../reliability/postgres-gateway.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';

const root = path.resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
const handles: EmbeddedHandle[] = [];
const serves: GatewayProcess[] = [];
let smtp: TestSmtpServer | undefined;

after(async () => {
  await smtp?.close();
  for (const g of serves) if (g.child.exitCode === null) g.child.kill('SIGKILL');
  for (const h of handles) await h.stop().catch(() => undefined);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function freshDir(): Promise<string> {
  // Under the OS temp dir: the postgres user (we run as root) must be able to reach it.
  const d = await mkdtemp(path.join(os.tmpdir(), 'mailgate-embedded-'));
  dirs.push(d);
  return d;
}

async function start(dataDir: string, log?: (line: string) => void): Promise<EmbeddedHandle> {
  const h = await startEmbedded({ dataDir, log });
  handles.push(h);
  return h;
}

/** The peer address of the connection `url` makes: null over a Unix socket. */
async function clientAddr(url: string): Promise<string | null> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ addr: string | null }>('SELECT host(client_addr) AS addr FROM pg_stat_activity WHERE pid = pg_backend_pid()');
    return rows[0]!.addr;
  } finally {
    await c.end();
  }
}

async function mailgate(dataDir: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'silent' };
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, [path.join(root, 'bin/mailgate.js'), ...args], { env, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return { code, stdout, stderr };
}

describe('the embedded Postgres over its Unix socket', () => {
  it("serve's own connections (pool, LISTEN, graphile-worker) use the socket; psql's 127.0.0.1 still answers; a command and another process join", async () => {
    const dataDir = await freshDir();
    smtp = await startTestSmtpServer();
    const g = await startServe({ dataDir, port: await freePort(), smtpUrl: smtp.url });
    serves.push(g);
    // An operator's client: the port and password of embedded.json, on 127.0.0.1.
    const tcp = new pg.Client({ connectionString: await databaseUrl(dataDir) });
    await tcp.connect();
    try {
      const backends = async () =>
        (
          await tcp.query<{ addr: string | null; query: string }>(
            `SELECT host(client_addr) AS addr, query FROM pg_stat_activity
              WHERE datname = 'mailgate' AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
          )
        ).rows;
      await waitFor(
        "the API key cache's and graphile-worker's LISTEN connections",
        async () => {
          const queries = (await backends()).map((b) => b.query);
          return queries.some((q) => /^LISTEN mailgate_api_keys/.test(q)) && queries.some((q) => q.includes('LISTEN "jobs:insert"'));
        },
        60_000,
      );
      const seen = await backends();
      assert.ok(seen.length >= 3, `the pool, LISTEN and worker connections: ${JSON.stringify(seen)}`);
      assert.deepEqual(
        seen.filter((b) => b.addr !== null),
        [],
        'every connection of serve arrives over the socket',
      );
      const { rows } = await tcp.query<{ addr: string }>('SELECT host(client_addr) AS addr FROM pg_stat_activity WHERE pid = pg_backend_pid()');
      assert.equal(rows[0]!.addr, '127.0.0.1', 'the TCP client is on 127.0.0.1');

      const keys = await mailgate(dataDir, 'keys', 'list', '--json');
      assert.equal(keys.code, 0, keys.stderr);
      assert.equal((JSON.parse(keys.stdout) as unknown[]).length, 1, 'the command joined the running cluster and read its one key');

      const joined = await start(dataDir);
      assert.equal(joined.owned, false);
      const pgDir = JSON.parse(await readFile(path.join(dataDir, 'embedded.json'), 'utf8')) as { pgDir?: string };
      assert.equal(joined.socketDir, pgDir.pgDir ?? path.join(dataDir, 'pg'), "the socket is in the cluster's directory");
      assert.equal(await clientAddr(joined.databaseUrl('mailgate')), null, 'a joining process connects over the socket');
    } finally {
      await tcp.end();
      g.child.kill('SIGTERM');
      await g.exited;
    }
  });

  it('a restart of an existing data directory: the same port (embedded.json), the socket again, the data kept', async () => {
    const dataDir = await freshDir();
    const first = await start(dataDir);
    assert.ok(first.owned);
    assert.equal(first.socketDir, first.dir);
    const port = new URL(first.url).port;
    assert.deepEqual(
      (await readdir(first.dir)).filter((n) => n.startsWith('.s.')).sort(),
      [`.s.PGSQL.${port}`, `.s.PGSQL.${port}.lock`],
      "the socket and its lock in the cluster's directory, and nothing left of the probe that preceded them",
    );
    assert.equal(await clientAddr(first.url), null);
    const c = new pg.Client({ connectionString: first.url });
    await c.connect();
    await c.query('CREATE TABLE kept (v text)');
    await c.query(`INSERT INTO kept VALUES ('before the restart')`);
    await c.end();
    const meta = await readFile(path.join(dataDir, 'embedded.json'), 'utf8');
    await first.stop();

    const again = await start(dataDir);
    assert.ok(again.owned);
    assert.equal(await readFile(path.join(dataDir, 'embedded.json'), 'utf8'), meta, 'embedded.json unchanged');
    assert.equal(again.url, first.url);
    assert.equal(await clientAddr(again.url), null);
    const d = new pg.Client({ connectionString: again.url });
    await d.connect();
    assert.deepEqual((await d.query('SELECT v FROM kept')).rows, [{ v: 'before the restart' }]);
    await d.end();
    const { password } = JSON.parse(meta) as { password: string };
    assert.equal(await clientAddr(`postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`), '127.0.0.1', 'TCP on 127.0.0.1 too');
  });

  it('a socket path longer than Postgres takes: no socket, TCP on 127.0.0.1 for every connection, and the log says so', async () => {
    const base = await freshDir();
    // <base>/<deep>/pg/.s.PGSQL.<port> past SOCKET_PATH_MAX bytes, whatever the port's digits.
    const dataDir = path.join(base, 'd'.repeat(Math.max(1, SOCKET_PATH_MAX - base.length)));
    await mkdir(dataDir);
    // Reachable by the postgres user, so that the cluster stays under it (root would move it elsewhere).
    await chmod(base, 0o755);
    const lines: string[] = [];
    const h = await start(dataDir, (l) => lines.push(l));
    assert.equal(h.dir, path.join(dataDir, 'pg'));
    assert.equal(h.socketDir, undefined);
    assert.equal(new URL(h.url).hostname, '127.0.0.1');
    assert.ok(
      lines.some((l) => l.includes(`longer than ${SOCKET_PATH_MAX} bytes`) && l.includes('TCP')),
      `the log says why: ${lines.join('\n')}`,
    );
    assert.equal(await clientAddr(h.url), '127.0.0.1');
    const joined = await start(dataDir);
    assert.equal(joined.owned, false);
    assert.equal(joined.socketDir, undefined, 'a cluster without a socket is joined over TCP');
    assert.equal(await clientAddr(joined.url), '127.0.0.1');
  });

  it('socketDirFor: the directory when <dir>/.s.PGSQL.<port> fits in SOCKET_PATH_MAX bytes, none past it', () => {
    const fits = `/${'x'.repeat(SOCKET_PATH_MAX - '/.s.PGSQL.65535'.length - 1)}`;
    assert.equal(Buffer.byteLength(path.join(fits, '.s.PGSQL.65535')), SOCKET_PATH_MAX);
    assert.equal(socketDirFor(fits, 65535), fits);
    assert.equal(socketDirFor(`${fits}y`, 65535), undefined);
    assert.equal(socketDirFor(`${fits}y`, 5432), `${fits}y`, 'a shorter port leaves room');
    // Bytes, not characters: a name in another script takes two bytes a letter.
    assert.equal(socketDirFor(`/${'é'.repeat(50)}`, 65535), undefined);
  });
});

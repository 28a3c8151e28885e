/**
 * Postfix's `smtp-sink` and `smtp-source` for the bench: the relay the send figure is measured against and
 * the physical limit beside it. Taken from Debian's `postfix` package without installing or starting postfix:
 * `apt-get download postfix` and `dpkg -x` into bench/.postfix (kept for the next runs, ignored by git); the
 * two binaries run with the package's own libraries. Null, with the reason, when that cannot be done (no
 * apt, no network, not Debian): the bench then uses its Node sink.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface PostfixTools {
  sink: string;
  source: string;
  env: NodeJS.ProcessEnv;
}

export interface CountingSink {
  port: number;
  /** Messages accepted so far. */
  count(): Promise<number>;
  stop(): void;
}

const dir = path.resolve(import.meta.dirname, '.postfix');

function tools(): PostfixTools | null {
  const sink = path.join(dir, 'usr/sbin/smtp-sink');
  const source = path.join(dir, 'usr/sbin/smtp-source');
  if (!existsSync(sink) || !existsSync(source)) return null;
  const env = { ...process.env, LD_LIBRARY_PATH: [path.join(dir, 'usr/lib/postfix'), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
  // It must run here (libraries, architecture).
  const probe = spawnSync(sink, [], { env, encoding: 'utf8' });
  return /usage:/.test(`${probe.stderr}${probe.stdout}`) ? { sink, source, env } : null;
}

export async function postfixTools(): Promise<{ tools: PostfixTools } | { reason: string }> {
  const ready = tools();
  if (ready) return { tools: ready };
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'mailgate-postfix-'));
  try {
    const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { cwd: tmp, encoding: 'utf8', timeout: 180_000 });
    let got = run('apt-get', ['download', 'postfix']);
    if (got.status !== 0) {
      run('apt-get', ['update', '-qq']);
      got = run('apt-get', ['download', 'postfix']);
    }
    if (got.status !== 0) return { reason: `apt-get download postfix failed: ${(got.stderr || got.error?.message || '').trim().split('\n').pop()}` };
    const deb = (await readdir(tmp)).find((f) => f.endsWith('.deb'));
    if (!deb) return { reason: 'apt-get download postfix gave no .deb' };
    const x = spawnSync('dpkg', ['-x', path.join(tmp, deb), dir], { encoding: 'utf8' });
    if (x.status !== 0) return { reason: `dpkg -x failed: ${(x.stderr || x.error?.message || '').trim()}` };
    const t = tools();
    return t ? { tools: t } : { reason: "postfix's smtp-sink does not run on this machine" };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** `smtp-sink` on 127.0.0.1:`port`, counting what it accepts (its `-c` counters on stdout). */
export function startSmtpSink(t: PostfixTools, port: number): CountingSink {
  const asRoot = process.getuid?.() === 0;
  const child = spawn(t.sink, ['-c', ...(asRoot ? ['-u', 'nobody'] : []), `127.0.0.1:${port}`, '1024'], { env: t.env, stdio: ['ignore', 'pipe', 'inherit'] });
  // The counter line is rewritten at every event: only its last bytes are kept, read when asked (the bench's
  // process also runs the worker being measured).
  let tail: Buffer = Buffer.alloc(0);
  child.stdout.on('data', (c: Buffer) => {
    tail = Buffer.concat([tail.subarray(-200), c.subarray(-200)]);
  });
  const count = () => {
    const all = [...tail.toString('latin1').matchAll(/mesg=(\d+)/g)];
    return all.length ? Number(all[all.length - 1]![1]) : 0;
  };
  return { port, count: () => Promise.resolve(count()), stop: () => child.kill('SIGTERM') };
}

export interface SourceSettings {
  /** Parallel SMTP sessions: as many as the relay pool Mailgate sends with. */
  sessions: number;
  /** Messages one session sends before it disconnects (Mailgate's SMTP_MAX_MESSAGES). */
  perConnection: number;
}

/**
 * Messages per second `smtp-source` pushes into a sink: `n` messages, each the file `message` (a whole message,
 * LF line ends: smtp-source sends each line with CRLF and dot-stuffs it), `sessions` in parallel, each session
 * kept open (`-d`) for `perConnection` messages. smtp-source has no `-d` limit of its own: it runs in batches of
 * sessions x perConnection messages, one process each, so each connection carries at most perConnection messages
 * as Mailgate's pooled ones do. It cannot pipeline (its man page: "No SMTP command pipelining support"): each
 * message costs it MAIL, RCPT and DATA round trips that Mailgate sends in one write.
 */
export async function smtpSourceRate(t: PostfixTools, port: number, n: number, message: string, s: SourceSettings): Promise<number> {
  const t0 = performance.now();
  for (let left = n; left > 0;) {
    const batch = Math.min(left, s.sessions * s.perConnection);
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        t.source,
        [
          '-d',
          '-s',
          String(Math.min(s.sessions, batch)),
          '-F',
          message,
          '-m',
          String(batch),
          '-f',
          'source@example.org',
          '-t',
          'sink@example.org',
          `127.0.0.1:${port}`,
        ],
        { env: t.env, stdio: 'ignore' },
      );
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`smtp-source exited ${code}`))));
      child.on('error', reject);
    });
    left -= batch;
  }
  return n / ((performance.now() - t0) / 1000);
}

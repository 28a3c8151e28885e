/**
 * `mailgate serve` as a real process with its own embedded Postgres, for the Postgres crash scenarios (the
 * tests in this folder and bench/reliability-postgres.ts): start it, call it over JSON-RPC (the CloudMailing
 * methods), read its database directly, and find and kill its postmaster.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

const root = path.resolve(import.meta.dirname, '../..');

export interface GatewayProcess {
  child: ChildProcess;
  /** Everything it wrote so far. */
  out(): string;
  err(): string;
  exited: Promise<number | null>;
}

export interface GatewayEnv {
  dataDir: string;
  port: number;
  smtpUrl: string;
  extra?: Record<string, string>;
  /** The command and its options (default: serve). */
  args?: string[];
}

/** `mailgate serve` (or `e.args`), once its banner is out. */
export async function startServe(e: GatewayEnv, timeoutMs = 90_000): Promise<GatewayProcess> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: e.dataDir,
    PORT: String(e.port),
    HOST: '127.0.0.1',
    BOUNCE_SMTP_PORT: '0',
    SMTP_URL: e.smtpUrl,
    PUBLIC_URL: 'http://mailgate.test',
    LOG_LEVEL: 'info',
    ...e.extra,
  };
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, [path.join(root, 'bin/mailgate.js'), ...(e.args ?? ['serve'])], { env, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  const deadline = Date.now() + timeoutMs;
  while (!/more keys: |API keys: /.test(out)) {
    if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}:\n${out}\n${err}`);
    if (Date.now() > deadline) throw new Error(`serve did not start:\n${out}\n${err}`);
    await sleep(50);
  }
  return { child, out: () => out, err: () => err, exited };
}

/** The first key a first start prints. */
export function firstKey(banner: string): string {
  const m = /First API key, shown once \(account "[^"]+", key id \d+\):\n {2}(\S+)/.exec(banner);
  if (!m) throw new Error(`no first key in: ${banner}`);
  return m[1]!;
}

export class RpcError extends Error {}

/** One JSON-RPC call: its result, or an RpcError (a fault, or an HTTP status without a JSON-RPC body). */
export async function rpc(port: number, secret: string, method: string, params: unknown[]): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${port}/jsonrpc`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`admin:${secret}`).toString('base64')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const text = await res.text();
  let body: { result?: unknown; error?: { message?: string } };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new RpcError(`HTTP ${res.status}: ${text.slice(0, 200)}`);
  }
  if (body.error) throw new RpcError(`HTTP ${res.status}: ${body.error.message ?? JSON.stringify(body.error)}`);
  return body.result;
}

/** A mailing of `n` recipients r<i>@<domain>, started. */
export async function startMailing(port: number, secret: string, n: number, domain = 'example.org'): Promise<number> {
  const id = (await rpc(port, secret, 'create_mailing', ['news@example.org', 'News', 'Hello {{ n }}', '<p>{{ n }}</p>'])) as number;
  for (let i = 0; i < n; i += 1000) {
    const chunk = Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ email: `r${i + k}@${domain}`, n: String(i + k) }));
    await rpc(port, secret, 'add_recipients', [id, chunk]);
  }
  await rpc(port, secret, 'start_mailing', [id]);
  return id;
}

interface Meta {
  port: number;
  password: string;
  pgDir?: string;
}

async function meta(dataDir: string): Promise<Meta> {
  return JSON.parse(await readFile(path.join(dataDir, 'embedded.json'), 'utf8')) as Meta;
}

/** A connection to the gateway's database (the embedded cluster's `mailgate` database). */
export async function databaseUrl(dataDir: string): Promise<string> {
  const m = await meta(dataDir);
  return `postgres://postgres:${encodeURIComponent(m.password)}@127.0.0.1:${m.port}/mailgate`;
}

/** The postmaster's pid as its pid file says, when that process is alive. */
export async function postmasterPid(dataDir: string): Promise<number | undefined> {
  const m = await meta(dataDir);
  const file = path.join(m.pgDir ?? path.join(dataDir, 'pg'), 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number((await readFile(file, 'utf8').catch(() => '')).split('\n')[0]);
  if (!(pid > 0)) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** One query on a connection of its own (the database may have just come back). */
export async function query<R extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Where the mailing is: its status, recipients not final or still leased. */
export async function mailingState(url: string, mailingId: number): Promise<{ status: string; unfinished: number; leased: number }> {
  const [m] = await query<{ status: string }>(url, 'SELECT status FROM sends WHERE mailing_id = $1 ORDER BY id LIMIT 1', [mailingId]);
  const [r] = await query<{ unfinished: number; leased: number }>(
    url,
    `SELECT count(*) FILTER (WHERE status NOT IN ('finished','error','timeout','general_error'))::int AS unfinished,
            count(*) FILTER (WHERE lease_owner IS NOT NULL)::int AS leased
       FROM recipients WHERE mailing_id = $1`,
    [mailingId],
  );
  return { status: m!.status, ...r! };
}

/**
 * What every command repeats, once: the configuration and logger of the run, the database (DATABASE_URL, or
 * the embedded Postgres of DATA_DIR, joined when another process runs it), the services over it and their
 * closing, `--account <slug>` as the operator's call context, ids, and any failure told as one line on stderr
 * with exit code 1 (the stack too with LOG_LEVEL=debug or trace, never otherwise).
 *
 * Registering a command loads this module and commander only: everything heavier is imported when a command
 * runs, so that `mailgate --help` starts at once and `mailgate keys list` loads no HTTP, dialect or worker code.
 */
import type { Config } from '../config.js';
import type { Database, Services } from '../compose.js';
import type { CallContext } from '../core/context.js';
import type { Core } from '../core/index.js';
import { invalid } from '../core/errors.js';
import type { Logger } from '../logger.js';

export interface Ctx {
  config: Config;
  logger: Logger;
}

/** The command's configuration, kept for reportFailure: it words database errors and shows stacks by LOG_LEVEL. */
let current: Config | undefined;

/** The configuration (a ConfigError names every bad variable) and the logger of this run. */
export async function context(): Promise<Ctx> {
  const [{ loadConfig }, { makeLogger }] = await Promise.all([import('../config.js'), import('../logger.js')]);
  const config = loadConfig();
  current = config;
  return { config, logger: makeLogger(config.LOG_LEVEL, config.LOG_PRETTY) };
}

/**
 * openDatabase, then one connection of our own: knex and graphile-worker would report a refused connection or
 * a wrong password with stack traces of their own (on stdout, too).
 */
export async function open(config: Config, logger: Logger): Promise<Database> {
  const [{ openDatabase }, { default: pg }] = await Promise.all([import('../compose.js'), import('pg')]);
  const db = await openDatabase(config, logger);
  const client = new pg.Client({ connectionString: db.url, connectionTimeoutMillis: 15_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (e) {
    await closeWithin(db.close(), 10_000);
    const { DatabaseUnusable, databaseReason, oneLine } = await import('./failure.js');
    throw new DatabaseUnusable(databaseReason(e) ?? oneLine(e instanceof Error ? e.message : String(e)), { cause: e });
  } finally {
    await client.end().catch(() => undefined);
  }
  return db;
}

export async function closeWithin(closing: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([closing.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * `fn` with the services over the database, then everything closed. The schema is migrated only when it is
 * behind (one query when it is current), and no worker or server is started.
 */
export async function withServices<T>(fn: (s: Services) => Promise<T>): Promise<T> {
  const { config, logger } = await context();
  const db = await open(config, logger);
  try {
    const { buildServices } = await import('../compose.js');
    const services = await buildServices(config, logger, db.url, { mimeOnFirstUse: true });
    try {
      return await fn(services);
    } finally {
      await services.close();
    }
  } finally {
    await db.close();
  }
}

export const withCore = <T>(fn: (core: Core) => Promise<T>): Promise<T> => withServices(({ core }) => fn(core));

/** `fn` as the operator of the account `slug` (NOT_FOUND when there is none). */
export const asAccount = <T>(slug: string, fn: (core: Core, ctx: CallContext) => Promise<T>): Promise<T> =>
  withServices(async ({ core }) => await fn(core, await core.accounts.operatorContext(slug)));

/** An id as commands take them: digits only, at most 15 (exact as a JS number). */
export const isId = (value: string) => /^\d{1,15}$/.test(value);

/** `value` as an id, else INVALID_ARGUMENT saying `message` about `field`. */
export function parseId(value: string, message: string, field: string): number {
  if (!isId(value)) throw invalid(message, field);
  return Number(value);
}

/** `value` as JSON (--json), else the text. */
export const print = (json: boolean | undefined, value: unknown, text: () => string) => console.log(json ? JSON.stringify(value) : text());

export type Cell = string | number | boolean | null | undefined | Date;

const cellText = (c: Cell) => (c === null || c === undefined ? '' : c instanceof Date ? c.toISOString() : String(c));

/**
 * Rows as a table: a header row, then one line per row, each column as wide as its widest cell (the last one
 * not padded); `empty` alone when there is no row. Tabs and line breaks inside a cell become spaces, so a row
 * is always one line.
 */
export function table(header: readonly string[], rows: readonly (readonly Cell[])[], empty: string): string {
  if (!rows.length) return empty;
  const text = [header, ...rows.map((r) => r.map((c) => cellText(c).replace(/[\t\r\n]+/g, ' ')))];
  const widths = header.map((_, i) => Math.max(...text.map((r) => (r[i] ?? '').length)));
  return text
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** A column of a listing: its header and its cell of a row. */
export type Column<T> = readonly [header: string, cell: (row: T) => Cell];

/** A listing: the rows as JSON with --json (each as the core gives it), else a table of `columns`. */
export function printRows<T>(json: boolean | undefined, rows: readonly T[], columns: readonly Column<T>[], empty: string): void {
  print(json, rows, () =>
    table(
      columns.map(([h]) => h),
      rows.map((r) => columns.map(([, cell]) => cell(r))),
      empty,
    ),
  );
}

/**
 * A command's action: whatever it throws is a failure, told by reportFailure. Commander passes the arguments,
 * then the options object.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await fn(...args);
    } catch (e) {
      await reportFailure(e);
    }
  };
}

let failed = false;

/**
 * Every failure of a command: one line on stderr and exit code 1, never a stack trace unless LOG_LEVEL=debug
 * (or trace) asks for it. Only the first failure is told (what fails after it shares its cause).
 */
export async function reportFailure(e: unknown): Promise<void> {
  process.exitCode = 1;
  if (failed) return;
  failed = true;
  let line: string;
  try {
    line = (await import('./failure.js')).failureLine(e, current);
  } catch {
    // The wording module itself could not load (a broken install): the error's own first line.
    line = `error: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`;
  }
  process.stderr.write(`${line}\n`);
  const level = current?.LOG_LEVEL;
  if ((level === 'debug' || level === 'trace') && e instanceof Error) {
    for (let c: unknown = e; c instanceof Error; c = c.cause) process.stderr.write(`${c.stack ?? c.message}\n`);
  }
  process.exit(1);
}

/**
 * A server that has started: a stray rejection is a bug to log, not a reason to drop every connection; an
 * uncaught exception is logged and ends the process. Before that, both are a failure to start (reportUncaught).
 */
export function asStartedServer(logger: Logger): void {
  process.off('unhandledRejection', reportUncaught);
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));
  process.off('uncaughtException', reportUncaught);
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
}

/** reportFailure as a listener of process events ('uncaughtException', 'unhandledRejection'), which drop a promise. */
export function reportUncaught(e: unknown): void {
  // reportFailure words the failure inside a try; should it still fail, exit code 1 is all that is left to give.
  void reportFailure(e).catch(() => process.exit(1));
}

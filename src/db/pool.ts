/**
 * The Postgres pool and the transaction helpers (every transaction is begun here). The only module that
 * configures `pg`.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';

// int8 ids and counts fit in a JS number (they stay below 2^53); xid8 stays a string.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));

export type Pool = pg.Pool;
export type Client = pg.PoolClient;
/** Anything that can run a query: the pool or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'>;

/**
 * Postgres cannot store U+0000 in text or jsonb (22021 invalid byte sequence 0x00, 22P05 unsupported
 * Unicode escape). Such a value is the caller's bad input, not our failure: a pool made with `badInput` (the
 * composition root gives it the core's INVALID_ARGUMENT) answers it so on every query, COPY included, and each
 * dialect spells it as its own error instead of an internal one.
 */
const NUL_STATES = new Set(['22021', '22P05']);
const UNSTORABLE_TEXT = 'a text value contains a null character (U+0000), which cannot be stored';

export type BadInput = (message: string) => Error;

/** The pool's Client: every form pg's Pool and our code use (promise, callback, submittable) answers bad text as `badInput`. */
function clientClass(badInput: BadInput | undefined) {
  const translate = (e: unknown): unknown => (badInput && NUL_STATES.has(sqlState(e) ?? '') ? badInput(UNSTORABLE_TEXT) : e);
  return class BadInputAwareClient extends pg.Client {
    translate(e: unknown): unknown {
      return translate(e);
    }
    override query(...args: unknown[]): never {
      const last = args[args.length - 1];
      if (typeof last === 'function')
        args[args.length - 1] = (err: unknown, res: unknown) => (last as (e: unknown, r: unknown) => void)(err && translate(err), res);
      const r = (super.query as (...a: unknown[]) => unknown)(...args);
      return (
        r instanceof Promise
          ? r.catch((e: unknown) => {
              throw translate(e);
            })
          : r
      ) as never;
    }
  };
}

export function makePool(connectionString: string, max = 10, badInput?: BadInput): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, idleTimeoutMillis: 30_000, Client: clientClass(badInput) });
  // A client losing its connection (Postgres stopping or restarting) must not crash the process: idle ones
  // report it on the pool, checked-out ones on themselves (their next query fails with it).
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/**
 * A hot read Postgres parses and plans once per connection (a named prepared statement: after five runs it keeps
 * a generic plan when that costs no more than the custom ones), for reads whose planning costs more than their
 * execution. One shape of filter per statement: a generic plan is chosen once for every call, so a statement
 * serving both "one id" and "the whole account" could keep the whole account's plan for the one id.
 *
 * A migration that changes its result columns while it is prepared (a column added to a table it reads with
 * `*`) fails its next run on each connection with 0A000 ("cached plan must not change result type"): on the
 * pool that connection is dropped (the pool drops a client whose query failed) and the read run again unnamed;
 * in a transaction the error stands and withTransaction drops the connection.
 */
export function preparedQuery(name: string, text: string) {
  const known = PREPARED.get(name);
  // pg refuses a name prepared on the connection with another text: two statements must never share one.
  if (known !== undefined && known !== text) throw new Error(`prepared statement ${name} has two texts`);
  PREPARED.set(name, text);
  return async <R extends pg.QueryResultRow>(db: Queryable, values: unknown[]): Promise<pg.QueryResult<R>> => {
    try {
      return await db.query<R>({ name, text, values });
    } catch (e) {
      if (sqlState(e) !== SQLSTATE.featureNotSupported || !isPool(db)) throw e;
      return await db.query<R>(text, values);
    }
  };
}
const PREPARED = new Map<string, string>();
// A client has connect() too: only the pool runs each query on a connection of its choosing.
const isPool = (db: Queryable): db is pg.Pool => db instanceof pg.Pool;

/** `fn` in a transaction on `client` (one connection, not in a transaction yet): committed, or rolled back when it throws. */
export async function transactionOn<C extends Queryable, T>(client: C, fn: (client: C) => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** `fn` in a transaction on a connection of its own from the pool. */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let stale: unknown;
  try {
    return await transactionOn(client, fn);
  } catch (e) {
    // A prepared statement whose result type changed (see preparedQuery): a new connection prepares it anew.
    if (sqlState(e) === SQLSTATE.featureNotSupported) stale = e;
    throw e;
  } finally {
    client.release(stale as Error | undefined);
  }
}

/** `fn` inside a transaction: the caller's (a client already in one) or a new one (the pool). */
export async function inTransaction<T>(db: Queryable, fn: (client: Queryable) => Promise<T>): Promise<T> {
  return isPool(db) ? await withTransaction(db, fn) : await fn(db);
}

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIAL_G = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A value in COPY's text format: backslash, tab, newline and carriage return escaped. */
export function copyText(v: string): string {
  return COPY_SPECIAL.test(v) ? v.replace(COPY_SPECIAL_G, (c) => COPY_ESCAPES[c]!) : v;
}

/**
 * `value` as JSON in COPY's text format. JSON text never holds a raw tab, newline or carriage return (JSON
 * spells every control character as an escape), so its backslashes are all there is to escape.
 */
export function copyJson(value: unknown): string {
  const json = JSON.stringify(value);
  return json.includes('\\') ? json.replaceAll('\\', '\\\\') : json;
}

/** COPY ... FROM STDIN of `text` (COPY's text format) on a transaction's client (a pool cannot COPY). */
export async function copyFrom(db: Queryable, sql: string, text: string): Promise<void> {
  const client = db as unknown as pg.ClientBase;
  if (typeof (client as Partial<pg.PoolClient>).release !== 'function') throw new Error('COPY needs a transaction client, not the pool');
  const translate = (client as { translate?: (e: unknown) => unknown }).translate?.bind(client) ?? ((e: unknown) => e);
  await pipeline(Readable.from([text]), client.query(copyStreams.from(sql))).catch((e: unknown) => {
    throw translate(e);
  });
}

/** SQLSTATE codes we react to, by name. */
export const SQLSTATE = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  invalidTextRepresentation: '22P02',
  numericOutOfRange: '22003',
  lockNotAvailable: '55P03',
  undefinedTable: '42P01',
  undefinedColumn: '42703',
  featureNotSupported: '0A000',
} as const;

export function sqlState(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : undefined;
}

/**
 * Domain errors: a closed set of codes, the ones the core raises. Every dialect maps every code in a table
 * typed `Record<DomainErrorCode, ...>`, so a new code does not compile until each dialect says how it spells
 * it. Answers that are no domain error (a dialect's own auth failures, a body over the size limit) are each
 * adapter's own.
 *
 * A refused argument names the field at fault (the core's name; each dialect spells it) and, where a dialect
 * words that kind of refusal its own way, a `reason` (Emailicious answers Django REST Framework's messages);
 * the message says the same in neutral English for every other reader.
 */
import type { Logger } from '../logger.js';
export const DOMAIN_ERROR_CODES = ['NOT_FOUND', 'INVALID_ARGUMENT', 'FORBIDDEN_STATE', 'BAD_REQUEST', 'CONFLICT'] as const;
export type DomainErrorCode = (typeof DOMAIN_ERROR_CODES)[number];

/** Why an argument was refused, for the dialects that word each kind their own way. */
export type Reason =
  /** Absent or empty; `because` says why it is needed when that is not obvious. */
  | { kind: 'required'; because?: string }
  /** Only blanks. */
  | { kind: 'blank' }
  /** Not an e-mail address. */
  | { kind: 'email' }
  /** A number below `min`. */
  | { kind: 'min'; min: number }
  /** The id of an object that does not exist (or is not the caller's). */
  | { kind: 'unknown'; id: number | string }
  /** Another object of its kind has this value already. */
  | { kind: 'taken' };
export type ReasonKind = Reason['kind'];

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    /** The argument or property at fault, when there is one. */
    readonly field?: string,
    readonly reason?: Reason,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const notFound = (what: string, id: unknown) => new DomainError('NOT_FOUND', `${what} ${String(id)} not found`);
export const invalid = (message: string, field?: string, reason?: Reason) => new DomainError('INVALID_ARGUMENT', message, field, reason);
export const forbiddenState = (message: string) => new DomainError('FORBIDDEN_STATE', message);
export const badRequest = (message: string) => new DomainError('BAD_REQUEST', message);
export const conflict = (message: string, field?: string) => new DomainError('CONFLICT', message, field);

export function isDomainError(e: unknown): e is DomainError {
  return e instanceof DomainError;
}

/**
 * Why the database cannot serve a call now, for a reason of its own and not the call's: the same call may
 * succeed later. The core passes its store's errors through untouched; this reads them (Postgres's SQLSTATE,
 * or the network error of a connection that cannot be made or was lost), so that every dialect answers them
 * as its "service unavailable" and logs one line naming the SQLSTATE. A statement that failed so is rolled
 * back with its transaction: the call changed nothing.
 */
export type UnavailableReason = 'no-space' | 'out-of-memory' | 'too-many-connections' | 'limit' | 'restarting' | 'unreachable';

export interface Unavailability {
  reason: UnavailableReason;
  /** For the caller, every dialect alike: what happened, without internal detail. */
  message: string;
  /** Postgres's code and its condition name (`53100 disk_full`), when Postgres answered one. */
  sqlState?: string;
  /** For the log only: `database unavailable: no space left (SQLSTATE 53100 disk_full: could not extend file)`. */
  logLine: string;
}

const UNAVAILABLE_MESSAGES: Record<UnavailableReason, string> = {
  'no-space': 'the database has no space left; try again later',
  'out-of-memory': 'the database is out of memory; try again later',
  'too-many-connections': 'the database has too many connections; try again later',
  limit: 'the database reached a configured limit; try again later',
  restarting: 'the database is restarting; try again later',
  unreachable: 'the database cannot be reached; try again later',
};

/** SQLSTATE class 53 (insufficient resources), 57P01-57P03 (shutdown, crash, starting up), by condition name. */
const UNAVAILABLE_SQLSTATES: Record<string, { name: string; reason: UnavailableReason }> = {
  '53000': { name: 'insufficient_resources', reason: 'limit' },
  '53100': { name: 'disk_full', reason: 'no-space' },
  '53200': { name: 'out_of_memory', reason: 'out-of-memory' },
  '53300': { name: 'too_many_connections', reason: 'too-many-connections' },
  '53400': { name: 'configuration_limit_exceeded', reason: 'limit' },
  '57P01': { name: 'admin_shutdown', reason: 'restarting' },
  '57P02': { name: 'crash_shutdown', reason: 'restarting' },
  '57P03': { name: 'cannot_connect_now', reason: 'restarting' },
};

/** A connection that cannot be made, or was lost: the node network errors pg passes on. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** pg's own errors for a lost or unobtainable connection carry no code, only these messages. */
const LOST_CONNECTION = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/** The reasons as the log line names them. */
const UNAVAILABLE_LOG_WORDS: Record<UnavailableReason, string> = {
  'no-space': 'no space left',
  'out-of-memory': 'out of memory',
  'too-many-connections': 'too many connections',
  limit: 'a resource limit reached',
  restarting: 'shutting down or starting up',
  unreachable: 'connection refused or lost',
};

function unavailable(reason: UnavailableReason, detail: string, sqlState?: string): Unavailability {
  const logLine = `database unavailable: ${UNAVAILABLE_LOG_WORDS[reason]} (${sqlState ? `SQLSTATE ${sqlState}: ` : ''}${detail.split('\n')[0]})`;
  return { reason, message: UNAVAILABLE_MESSAGES[reason], ...(sqlState ? { sqlState } : {}), logLine };
}

/** Why `e` says the database cannot serve now, or undefined when it is any other failure. */
export function unavailability(e: unknown): Unavailability | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const { code, message } = e as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  if (typeof code === 'string') {
    const known = UNAVAILABLE_SQLSTATES[code];
    if (known) return unavailable(known.reason, text, `${code} ${known.name}`);
    // Class 53 beyond the codes named above; class 08, connection exceptions.
    if (/^53[0-9A-Z]{3}$/.test(code)) return unavailable('limit', text, code);
    if (/^08[0-9A-Z]{3}$/.test(code)) return unavailable('unreachable', text, code);
    if (NETWORK_CODES.has(code)) return unavailable('unreachable', `${code} ${text}`);
  }
  if (e instanceof Error && LOST_CONNECTION.test(text)) return unavailable('unreachable', text);
  return undefined;
}

/**
 * What an authentication that could not read its key answers: the error's own reason when it is one, else
 * the database not answering (auth reads nothing but the database).
 */
export function authUnavailability(e: unknown): Unavailability {
  return unavailability(e) ?? unavailable('unreachable', e instanceof Error ? e.message : String(e));
}

/**
 * The one log line of a call the database could not serve (disk full, out of memory, restarting,
 * unreachable...): the dialect, the reason and the SQLSTATE. The caller gets its dialect's "service
 * unavailable" without any of this.
 */
export function logUnavailable(logger: Logger, name: string, u: Unavailability, fields: Record<string, unknown> = {}): void {
  logger.error({ ...fields, sqlState: u.sqlState }, `${name}: ${u.logLine}`);
}

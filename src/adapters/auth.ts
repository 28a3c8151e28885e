/**
 * HTTP Basic credentials and the per-address auth-failure limiter shared by every dialect.
 * Secrets never reach a log line: only the remote address and the fact of a failure are logged.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Core } from '../core/index.js';

export interface BasicCredentials {
  user: string;
  pass: string;
}

export type Principal = NonNullable<Awaited<ReturnType<Core['accounts']['authenticate']>>>;

/** `Authorization: Basic base64(user:pass)`, or undefined when absent or malformed. */
export function basicCredentials(req: Pick<Request, 'headers'>): BasicCredentials | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string' || header.length > 1024) return undefined;
  const m = /^Basic[ \t]+([A-Za-z0-9+/=._~-]+)[ \t]*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), pass: decoded.slice(colon + 1) };
}

export interface AuthFailureLimiter {
  /** Seconds the address must wait before trying again, 0 when it may try now. */
  retryAfter(address: string): number;
  fail(address: string): void;
  succeed(address: string): void;
}

/**
 * In memory, per process: after `maxFailures` failures within `windowMs`, the address is refused (429) until
 * the window that started with its first failure ends. Bounded: past `maxAddresses` entries the oldest go.
 */
export function authFailureLimiter(opts: { maxFailures?: number; windowMs?: number; maxAddresses?: number; now?: () => number } = {}): AuthFailureLimiter {
  const maxFailures = opts.maxFailures ?? 10;
  const windowMs = opts.windowMs ?? 60_000;
  const maxAddresses = opts.maxAddresses ?? 100_000;
  const now = opts.now ?? Date.now;
  const failures = new Map<string, { since: number; count: number }>();
  const current = (address: string) => {
    const e = failures.get(address);
    if (e && now() - e.since >= windowMs) {
      failures.delete(address);
      return undefined;
    }
    return e;
  };
  return {
    retryAfter(address) {
      const e = current(address);
      return e && e.count >= maxFailures ? Math.max(1, Math.ceil((e.since + windowMs - now()) / 1000)) : 0;
    },
    fail(address) {
      const e = current(address);
      if (e) e.count++;
      else {
        if (failures.size >= maxAddresses) failures.delete(failures.keys().next().value!);
        failures.set(address, { since: now(), count: 1 });
      }
    },
    succeed(address) {
      failures.delete(address);
    },
  };
}

/** The one limiter of the process: a client failing on one dialect is slowed down on all of them. */
export const sharedAuthLimiter = authFailureLimiter();

export interface BasicAuthOptions {
  core: Core;
  realm: string;
  /** The fixed login, when the dialect has one (CloudMailing: `admin`). */
  user?: string;
  limiter?: AuthFailureLimiter;
  /** When authenticate itself fails (database down). */
  onUnavailable?: (req: Request, res: Response, err: unknown) => void;
}

/**
 * Express middleware: Basic auth with the API key secret as password. On success `res.locals.principal`
 * holds {accountId, account, keyId}. Runs before the body is read.
 */
export function requireBasicAuth(opts: BasicAuthOptions): RequestHandler {
  const limiter = opts.limiter ?? sharedAuthLimiter;
  const challenge = `Basic realm="${opts.realm}"`;
  return async (req: Request, res: Response, next: NextFunction) => {
    const address = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    const wait = limiter.retryAfter(address);
    if (wait > 0) {
      res.set('Retry-After', String(wait)).status(429).type('text/plain').send('Too many failed authentications; try again later.\n');
      return;
    }
    const creds = basicCredentials(req);
    let principal: Principal | undefined;
    if (creds && (opts.user === undefined || creds.user === opts.user)) {
      try {
        principal = await opts.core.accounts.authenticate(creds.pass);
      } catch (err) {
        if (opts.onUnavailable) opts.onUnavailable(req, res, err);
        else res.status(503).type('text/plain').send('Service unavailable.\n');
        return;
      }
    }
    if (!principal) {
      limiter.fail(address);
      res.set('WWW-Authenticate', challenge).status(401).type('text/plain').send('Authorization failed.\n');
      return;
    }
    limiter.succeed(address);
    res.locals.principal = principal;
    next();
  };
}

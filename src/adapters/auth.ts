/**
 * Authentication for every dialect, in one place. An API key is an id and a secret; the dialects carry them
 * in four ways:
 * - HTTP Basic, a fixed login and the secret as password (CloudMailing and JSON-RPC: `admin`);
 * - HTTP Basic, the secret as user name and an empty password (Yandex Sender);
 * - HTTP Basic, any user name and the secret as password (Emailicious);
 * - in the call itself, key id and secret (Mailkit's `client_id` + `client_md5`).
 * Every way ends in `Authenticator.check`, which applies the per-address failure limit (one limiter, built
 * by the composition root and shared by all dialects: a client failing on one is slowed down on all) and yields the principal, whose key id reaches
 * the call context. Secrets never reach a log line: only the remote address and the fact of a failure.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { CallContext } from '../core/context.js';
import type { Core } from '../core/index.js';

export type Principal = NonNullable<Awaited<ReturnType<Core['accounts']['authenticate']>>>;

export interface Credentials {
  secret: string;
  /** When the dialect names the key too (Mailkit's client_id), it must match. */
  keyId?: number | undefined;
}

export type BasicScheme = { kind: 'login'; login: string } | { kind: 'secret-as-user' } | { kind: 'secret-as-password' };

export type AuthOutcome =
  | { kind: 'ok'; principal: Principal }
  | { kind: 'missing' }
  | { kind: 'rejected' }
  | { kind: 'limited'; retryAfter: number }
  | { kind: 'unavailable'; error: unknown };

/** `Authorization: Basic base64(user:pass)`, or undefined when absent or malformed. */
export function basicCredentials(req: Pick<Request, 'headers'>): { user: string; pass: string } | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string' || header.length > 1024) return undefined;
  const m = /^Basic[ \t]+([A-Za-z0-9+/=._~-]+)[ \t]*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), pass: decoded.slice(colon + 1) };
}

/** The credentials a Basic header carries under a scheme: undefined when absent; a wrong login is no secret at all. */
export function basicSchemeCredentials(req: Pick<Request, 'headers'>, scheme: BasicScheme): Credentials | undefined | 'wrong-login' {
  const basic = basicCredentials(req);
  if (!basic) return undefined;
  switch (scheme.kind) {
    case 'login':
      return basic.user === scheme.login ? { secret: basic.pass } : 'wrong-login';
    case 'secret-as-user':
      return { secret: basic.user };
    case 'secret-as-password':
      return { secret: basic.pass };
  }
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

export interface Authenticator {
  check(address: string, creds: Credentials | undefined | 'wrong-login'): Promise<AuthOutcome>;
}

export function authenticator(core: Core, limiter: AuthFailureLimiter): Authenticator {
  return {
    async check(address, creds) {
      const wait = limiter.retryAfter(address);
      if (wait > 0) return { kind: 'limited', retryAfter: wait };
      if (creds === undefined) return { kind: 'missing' };
      let principal: Principal | undefined;
      if (creds !== 'wrong-login') {
        try {
          principal = await core.accounts.authenticate(creds.secret, creds.keyId);
        } catch (error) {
          return { kind: 'unavailable', error };
        }
      }
      if (!principal) {
        limiter.fail(address);
        return { kind: 'rejected' };
      }
      limiter.succeed(address);
      return { kind: 'ok', principal };
    },
  };
}

/**
 * req.ip per connection: it depends on the socket's address and X-Forwarded-For only (under the app's fixed
 * `trust proxy`), and express works it out anew on every read, parsing each address. A keep-alive connection
 * asks once for as long as its X-Forwarded-For stays the same.
 */
const addresses = new WeakMap<object, { forwardedFor: string | string[] | undefined; address: string }>();

/** The client's address, as the failure limit counts it. */
export function remoteAddress(req: Request): string {
  const forwardedFor = req.headers['x-forwarded-for'];
  const known = addresses.get(req.socket);
  if (known && known.forwardedFor === forwardedFor) return known.address;
  const address = req.ip ?? req.socket.remoteAddress ?? 'unknown';
  addresses.set(req.socket, { forwardedFor, address });
  return address;
}

export interface BasicAuthOptions {
  core: Core;
  scheme: BasicScheme;
  limiter: AuthFailureLimiter;
  /** How the dialect answers each failure (the response must be sent). */
  onFailure(outcome: Exclude<AuthOutcome, { kind: 'ok' }>, req: Request, res: Response): void;
}

/**
 * Express middleware, run before the body is read: on success `res.locals.principal` holds the principal.
 */
export function basicAuth(opts: BasicAuthOptions): RequestHandler {
  const auth = authenticator(opts.core, opts.limiter);
  return async (req: Request, res: Response, next: NextFunction) => {
    const outcome = await auth.check(remoteAddress(req), basicSchemeCredentials(req, opts.scheme));
    if (outcome.kind !== 'ok') {
      opts.onFailure(outcome, req, res);
      return;
    }
    res.locals.principal = outcome.principal;
    next();
  };
}

export function requestIdOf(res: Response): string {
  return typeof res.locals.requestId === 'string' ? res.locals.requestId : randomUUID();
}

/** The call context of an authenticated request. */
export function callContext(res: Response, principal: Principal = res.locals.principal as Principal): CallContext {
  return { accountId: principal.accountId, keyId: principal.keyId, requestId: requestIdOf(res) };
}

/** A plain-text 429 with Retry-After: what every dialect answers to an address over the failure limit. */
export function tooManyFailures(res: Response, retryAfter: number): void {
  res.set('Retry-After', String(retryAfter)).status(429).type('text/plain').send('Too many failed authentications; try again later.\n');
}

/**
 * The admin pages, under `/admin`: operators sign in and see every account (accounts and API keys, mailings
 * with their progress and actions, the bounce log, suppressions, the capture outbox).
 *
 * Quirks:
 * - Sessions: the cookie `mailgate_admin` holds a 256-bit random session id (the database keeps its hash),
 *   HttpOnly, SameSite=Lax, Path=/admin, Secure when PUBLIC_URL is https. Lax, not Strict: GETs change
 *   nothing here (every change is a POST carrying the session's CSRF token), so Lax exposes nothing, and a
 *   link to a page followed from mail or chat opens it signed in.
 * - CSRF: every POST carries the session's synchronizer token (`csrf`); the login form, before there is a
 *   session, a token also set as a SameSite=Strict cookie (double submit). Without it: 403, nothing changed.
 * - Without a live session (none, forged, idle too long, past its end): a GET is redirected to the login page
 *   with `next`, a POST too (nothing changed).
 * - Login failures are limited per address (the API keys' limiter, its own instance): past the limit, 429 with
 *   Retry-After whatever the password. Not per login name: anyone could then keep `admin` locked out, and a
 *   generated password (120 bits) is out of reach of guessing spread over many addresses at scrypt's pace.
 * - An API key still opens the outbox read-only (HTTP Basic, any user, the secret as password): scripts read
 *   captured mail that way, each key seeing its own account's. Any other page answers such a request 403.
 * - Every answer carries a CSP allowing only our own script and stylesheet; a message preview gets its own
 *   (no script, no remote load, sandboxed) and is shown in a sandboxed iframe.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isDomainError } from '../../core/errors.js';
import { SESSION_LIMITS } from '../../core/operators/service.js';
import { authenticator, basicSchemeCredentials, remoteAddress, requestIdOf, type AuthFailureLimiter } from '../auth.js';
import type { AdapterDeps } from '../types.js';
import { ADMIN_CSS, ADMIN_JS, CHART_CSS, CHART_JS } from './assets.js';
import { authFailure, csrfRefused, domainErrorPage, uploadRefused } from './errors.js';
import { ROUTES, type Call } from './routes.js';
import { loginPage, type Viewer } from './serializers.js';
import { cookieOf, field, nextOf, rawField } from './values.js';
import { readUpload, UploadRefused, type Upload } from './upload.js';

export interface AdminDeps extends AdapterDeps {
  /** Failed logins, per address (an instance of its own: an operator's typos do not slow API clients). */
  loginLimiter: AuthFailureLimiter;
}

const SESSION_COOKIE = 'mailgate_admin';
const LOGIN_COOKIE = 'mailgate_login';

const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/** Equal tokens, compared in constant time; false for anything missing. */
function sameToken(given: string, expected: string | undefined): boolean {
  if (!given || !expected) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function adminRouter(deps: AdminDeps): express.Router {
  const { core } = deps;
  const router = express.Router();
  const secure = deps.config.publicUrl.startsWith('https:');
  const cookie = (name: string, value: string, o: { path: string; sameSite: 'Lax' | 'Strict'; maxAge: number }) =>
    `${name}=${value}; Path=${o.path}; Max-Age=${o.maxAge}; HttpOnly; SameSite=${o.sameSite}${secure ? '; Secure' : ''}`;
  const keys = authenticator(core, deps.authLimiter);

  router.use((_req, res, next) => {
    res.set({
      'Content-Security-Policy': PAGE_CSP,
      'X-Frame-Options': 'DENY',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    });
    next();
  });
  router.get('/assets/admin.css', (_req, res) => void res.set('Cache-Control', 'max-age=300').type('css').send(ADMIN_CSS));
  router.get('/assets/admin.js', (_req, res) => void res.set('Cache-Control', 'max-age=300').type('js').send(ADMIN_JS));
  router.get('/assets/uplot.min.js', (_req, res) => void res.set('Cache-Control', 'max-age=300').type('js').send(CHART_JS));
  router.get('/assets/uplot.min.css', (_req, res) => void res.set('Cache-Control', 'max-age=300').type('css').send(CHART_CSS));
  router.use(express.urlencoded({ extended: false, limit: '100kb', parameterLimit: 50 }));

  const showLogin = (res: Response, status: number, next: string, o: { login?: string; error?: string } = {}) => {
    const token = randomBytes(32).toString('base64url');
    res
      .status(status)
      .append('Set-Cookie', cookie(LOGIN_COOKIE, token, { path: '/admin/login', sameSite: 'Strict', maxAge: 3600 }))
      .type('html')
      .send(loginPage({ csrf: token, next, ...o }));
  };
  const toLogin = (req: Request, res: Response) => {
    // A dead session's cookie goes with the redirect.
    if (cookieOf(req, SESSION_COOKIE) !== undefined) res.append('Set-Cookie', cookie(SESSION_COOKIE, '', { path: '/admin', sameSite: 'Lax', maxAge: 0 }));
    res.redirect(303, `/admin/login?next=${encodeURIComponent(nextOf(req.method === 'GET' ? req.originalUrl : '/admin/mailings'))}`);
  };
  const liveSession = async (req: Request) => {
    const id = cookieOf(req, SESSION_COOKIE);
    return id ? await core.operators.session(id) : undefined;
  };

  router.get('/login', async (req, res, next) => {
    try {
      const target = nextOf(req.query.next);
      if (await liveSession(req)) return res.redirect(303, target);
      showLogin(res, 200, target);
    } catch (e) {
      next(e);
    }
  });

  router.post('/login', async (req, res, next) => {
    try {
      const target = nextOf(field(req, 'next'));
      if (!sameToken(field(req, 'csrf'), cookieOf(req, LOGIN_COOKIE))) return csrfRefused(undefined, res);
      const login = field(req, 'login');
      const address = remoteAddress(req);
      const wait = deps.loginLimiter.retryAfter(address);
      if (wait > 0) {
        res.set('Retry-After', String(wait));
        return showLogin(res, 429, target, { login, error: `Too many failed logins; try again in ${wait} s.` });
      }
      const signedIn = await core.operators.login(login, rawField(req, 'password'));
      if (!signedIn) {
        deps.loginLimiter.fail(address);
        return showLogin(res, 401, target, { login, error: 'Wrong login or password.' });
      }
      deps.loginLimiter.succeed(address);
      res
        .append('Set-Cookie', cookie(SESSION_COOKIE, signedIn.sessionId, { path: '/admin', sameSite: 'Lax', maxAge: SESSION_LIMITS.absoluteSeconds }))
        .append('Set-Cookie', cookie(LOGIN_COOKIE, '', { path: '/admin/login', sameSite: 'Strict', maxAge: 0 }))
        .redirect(303, target);
    } catch (e) {
      next(e);
    }
  });

  router.post('/logout', async (req, res, next) => {
    try {
      const session = await liveSession(req);
      if (!session) return toLogin(req, res);
      if (!sameToken(field(req, 'csrf'), session.csrfToken)) return csrfRefused({ kind: 'operator', login: session.login, csrf: session.csrfToken }, res);
      await core.operators.logout(cookieOf(req, SESSION_COOKIE)!);
      res.append('Set-Cookie', cookie(SESSION_COOKIE, '', { path: '/admin', sameSite: 'Lax', maxAge: 0 })).redirect(303, '/admin/login');
    } catch (e) {
      next(e);
    }
  });

  for (const [method, path, access, handler] of ROUTES) {
    router[method](path, async (req: Request, res: Response, next: NextFunction) => {
      let viewer: Viewer | undefined;
      let upload: Upload | undefined;
      try {
        let scope: number | null = null;
        const session = await liveSession(req);
        if (session) viewer = { kind: 'operator', login: session.login, csrf: session.csrfToken };
        else if (req.headers.authorization !== undefined) {
          if (access !== 'operator-or-key')
            return void res.status(403).type('text/plain').send('The admin pages need an operator login; an API key opens /admin/outbox only.\n');
          const outcome = await keys.check(remoteAddress(req), basicSchemeCredentials(req, { kind: 'secret-as-password' }));
          if (outcome.kind !== 'ok') return authFailure(outcome, req, res);
          viewer = { kind: 'key', account: outcome.principal.account };
          scope = outcome.principal.accountId;
        } else return toLogin(req, res);
        // An upload form's body is multipart: its token is read from it before its file is stored (upload.ts),
        // then checked below as every form's is. Any other route reads no multipart body, so its token is absent.
        if (method === 'post' && session && access === 'operator-upload' && req.is('multipart/form-data')) {
          const body = await readUpload(req, (token) => sameToken(token, session.csrfToken));
          req.body = body.fields;
          upload = body.file;
        }
        if (method === 'post' && !(session && sameToken(field(req, 'csrf'), session.csrfToken))) return csrfRefused(viewer, res);
        const call: Call = { req, res, core, viewer, scope, requestId: requestIdOf(res), retentionDays: deps.config.CAPTURE_RETENTION_DAYS, upload };
        await handler(call);
      } catch (e) {
        if (e instanceof UploadRefused) return e.csrf ? csrfRefused(viewer, res) : uploadRefused(e, viewer, res);
        if (isDomainError(e)) return domainErrorPage(e, viewer, res);
        next(e);
      } finally {
        if (upload && !upload.taken) await upload.discard();
      }
    });
  }
  return router;
}

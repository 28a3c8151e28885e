/**
 * Operators: the people who sign in to the admin pages, each seeing every account. Passwords are scrypt
 * hashes (password.ts). A session is a 256-bit random id that only the browser holds (the table keeps its
 * SHA-256), with a CSRF token of its own (the synchronizer token every form carries), an absolute end and an
 * idle limit.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { OperatorRow } from '../../db/operators.js';
import type { Store } from '../../db/store.js';
import { conflict, invalid, notFound } from '../errors.js';
import { DUMMY_HASH, hashPassword, newPassword, verifyPassword } from './password.js';

export type { OperatorRow };

export const LOGIN = /^[A-Za-z0-9._@+-]{1,100}$/;
export const MIN_PASSWORD = 10;
const MAX_PASSWORD = 200;

export interface SessionLimits {
  /** A session unused this long ends. */
  idleSeconds: number;
  /** A session ends this long after its login, used or not. */
  absoluteSeconds: number;
}

export const SESSION_LIMITS: SessionLimits = { idleSeconds: 2 * 3600, absoluteSeconds: 12 * 3600 };

export interface Session {
  operatorId: number;
  login: string;
  csrfToken: string;
}

const sessionHash = (id: string) => createHash('sha256').update(id, 'utf8').digest();

function checkLogin(login: string): string {
  if (!LOGIN.test(login)) throw invalid(`operator login ${JSON.stringify(login)}: 1 to 100 letters, digits, '.', '_', '@', '+', '-'`, 'login');
  return login;
}

function checkPassword(password: string): string {
  if (password.length < MIN_PASSWORD || password.length > MAX_PASSWORD)
    throw invalid(`a password has ${MIN_PASSWORD} to ${MAX_PASSWORD} characters`, 'password');
  return password;
}

export function operatorsService(deps: { store: Store; limits?: SessionLimits }) {
  const { operators, sessions } = deps.store;
  const limits = deps.limits ?? SESSION_LIMITS;
  return {
    /** A new operator; without a password one is made (returned, to be shown once). CONFLICT when the login is taken. */
    async create(login: string, password?: string): Promise<{ operator: OperatorRow; password: string }> {
      const pw = password === undefined ? newPassword() : checkPassword(password);
      const row = await operators.insert(checkLogin(login), await hashPassword(pw));
      if (!row) throw conflict(`operator ${login} exists already`, 'login');
      return { operator: row, password: pw };
    },
    list: () => operators.list(),
    count: () => operators.count(),
    async delete(login: string): Promise<OperatorRow> {
      const row = await operators.delete(login);
      if (!row) throw notFound('operator', login);
      return row;
    },
    /** A new password (made when not given); every session of the operator ends. */
    async setPassword(login: string, password?: string): Promise<{ operator: OperatorRow; password: string }> {
      const pw = password === undefined ? newPassword() : checkPassword(password);
      const row = await operators.setPassword(login, await hashPassword(pw));
      if (!row) throw notFound('operator', login);
      return { operator: row, password: pw };
    },

    /**
     * A new session for the right login and password: its id (for the cookie only) and CSRF token; undefined
     * otherwise. A login that does not exist costs one scrypt too, so timing does not tell logins apart.
     */
    async login(login: string, password: string): Promise<{ sessionId: string; session: Session } | undefined> {
      if (!LOGIN.test(login) || password.length > MAX_PASSWORD) return undefined;
      const row = await operators.byLogin(login);
      const ok = await verifyPassword(password, row?.password_hash ?? DUMMY_HASH);
      if (!row || !ok) return undefined;
      await sessions.sweep(limits.idleSeconds);
      const sessionId = randomBytes(32).toString('base64url');
      const csrfToken = randomBytes(32).toString('base64url');
      await sessions.insert({ idHash: sessionHash(sessionId), operatorId: row.id, csrfToken, absoluteSeconds: limits.absoluteSeconds });
      return { sessionId, session: { operatorId: row.id, login: row.login, csrfToken } };
    },

    /** The live session a cookie value names, or undefined (unknown, ended, idle too long, malformed). */
    async session(sessionId: string): Promise<Session | undefined> {
      if (!/^[A-Za-z0-9_-]{43}$/.test(sessionId)) return undefined;
      const row = await sessions.use(sessionHash(sessionId), limits.idleSeconds);
      return row && { operatorId: row.operator_id, login: row.login, csrfToken: row.csrf_token };
    },

    async logout(sessionId: string): Promise<void> {
      await sessions.delete(sessionHash(sessionId));
    },
  };
}
export type OperatorsService = ReturnType<typeof operatorsService>;

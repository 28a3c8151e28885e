/**
 * Operators and their sessions (/admin): every write of these tables is here. The core hashes passwords and
 * session ids; this file only stores what it is given.
 */
import type { Queryable } from './pool.js';

export interface OperatorRow {
  id: number;
  login: string;
  created_at: Date;
  password_changed_at: Date;
}

export interface SessionRow {
  operator_id: number;
  login: string;
  csrf_token: string;
  created_at: Date;
  expires_at: Date;
}

const OPERATOR_COLUMNS = 'id, login, created_at, password_changed_at';

export function operatorsRepo(db: Queryable) {
  return {
    /** undefined when the login is taken (compared case-insensitively). */
    async insert(login: string, passwordHash: string): Promise<OperatorRow | undefined> {
      const { rows } = await db.query<OperatorRow>(
        `INSERT INTO operators (login, password_hash) VALUES ($1, $2) ON CONFLICT (lower(login)) DO NOTHING RETURNING ${OPERATOR_COLUMNS}`,
        [login, passwordHash],
      );
      return rows[0];
    },
    async byLogin(login: string): Promise<(OperatorRow & { password_hash: string }) | undefined> {
      const { rows } = await db.query<OperatorRow & { password_hash: string }>(
        `SELECT ${OPERATOR_COLUMNS}, password_hash FROM operators WHERE lower(login) = lower($1)`,
        [login],
      );
      return rows[0];
    },
    async list(): Promise<OperatorRow[]> {
      const { rows } = await db.query<OperatorRow>(`SELECT ${OPERATOR_COLUMNS} FROM operators ORDER BY id`);
      return rows;
    },
    async count(): Promise<number> {
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM operators');
      return rows[0]!.n;
    },
    /** Deleting an operator ends its sessions (ON DELETE CASCADE). */
    async delete(login: string): Promise<OperatorRow | undefined> {
      const { rows } = await db.query<OperatorRow>(`DELETE FROM operators WHERE lower(login) = lower($1) RETURNING ${OPERATOR_COLUMNS}`, [login]);
      return rows[0];
    },
    /** A new password ends every session of the operator, in the same statement. */
    async setPassword(login: string, passwordHash: string): Promise<OperatorRow | undefined> {
      const { rows } = await db.query<OperatorRow>(
        `WITH o AS (UPDATE operators SET password_hash = $2, password_changed_at = now() WHERE lower(login) = lower($1) RETURNING *),
              gone AS (DELETE FROM operator_sessions WHERE operator_id IN (SELECT id FROM o))
         SELECT ${OPERATOR_COLUMNS} FROM o`,
        [login, passwordHash],
      );
      return rows[0];
    },
  };
}

export function sessionsRepo(db: Queryable) {
  return {
    async insert(s: { idHash: Buffer; operatorId: number; csrfToken: string; absoluteSeconds: number }): Promise<void> {
      await db.query(`INSERT INTO operator_sessions (id_hash, operator_id, csrf_token, expires_at) VALUES ($1, $2, $3, now() + make_interval(secs => $4))`, [
        s.idHash,
        s.operatorId,
        s.csrfToken,
        s.absoluteSeconds,
      ]);
    },
    /**
     * The live session with this id hash, its last use moved to now (at most one write every 30 s): neither past
     * its absolute end nor idle for `idleSeconds`.
     */
    async use(idHash: Buffer, idleSeconds: number): Promise<SessionRow | undefined> {
      const { rows } = await db.query<SessionRow & { stale: boolean }>(
        `SELECT s.operator_id, o.login, s.csrf_token, s.created_at, s.expires_at, s.last_seen_at < now() - interval '30 seconds' AS stale
           FROM operator_sessions s JOIN operators o ON o.id = s.operator_id
          WHERE s.id_hash = $1 AND s.expires_at > now() AND s.last_seen_at > now() - make_interval(secs => $2)`,
        [idHash, idleSeconds],
      );
      const row = rows[0];
      if (!row) return undefined;
      if (row.stale) await db.query('UPDATE operator_sessions SET last_seen_at = now() WHERE id_hash = $1', [idHash]);
      return { operator_id: row.operator_id, login: row.login, csrf_token: row.csrf_token, created_at: row.created_at, expires_at: row.expires_at };
    },
    async delete(idHash: Buffer): Promise<void> {
      await db.query('DELETE FROM operator_sessions WHERE id_hash = $1', [idHash]);
    },
    /** Sessions past either end; run at each login, so the table stays the size of the live ones. */
    async sweep(idleSeconds: number): Promise<number> {
      const { rowCount } = await db.query('DELETE FROM operator_sessions WHERE expires_at <= now() OR last_seen_at <= now() - make_interval(secs => $1)', [
        idleSeconds,
      ]);
      return rowCount ?? 0;
    },
  };
}

/**
 * Accounts, API keys and settings: every write of these tables is here, but an account's confirmation
 * mailing (accounts.confirm_mailing_id), which lists.ts writes and reads with the lists' own.
 */
import type { Queryable } from './pool.js';

export interface AccountRow {
  id: number;
  slug: string;
  name: string | null;
  created_at: Date;
}

export interface ApiKeyRow {
  id: number;
  account_id: number;
  account: string;
  label: string | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export function accountsRepo(db: Queryable) {
  return {
    async bySlug(slug: string): Promise<AccountRow | undefined> {
      const { rows } = await db.query<AccountRow>('SELECT * FROM accounts WHERE slug = $1', [slug]);
      return rows[0];
    },
    async byId(id: number): Promise<AccountRow | undefined> {
      const { rows } = await db.query<AccountRow>('SELECT * FROM accounts WHERE id = $1', [id]);
      return rows[0];
    },
    /** Create or return the existing account (idempotent: two processes may race on first start). */
    async ensure(slug: string, name?: string): Promise<{ account: AccountRow; created: boolean }> {
      const ins = await db.query<AccountRow>('INSERT INTO accounts (slug, name) VALUES ($1, $2) ON CONFLICT (slug) DO NOTHING RETURNING *', [
        slug,
        name ?? null,
      ]);
      if (ins.rows[0]) return { account: ins.rows[0], created: true };
      return { account: (await this.bySlug(slug))!, created: false };
    },
    async list(): Promise<(AccountRow & { keys: number })[]> {
      const { rows } = await db.query<AccountRow & { keys: number }>(
        `SELECT a.*, (SELECT count(*) FROM api_keys k WHERE k.account_id = a.id AND k.revoked_at IS NULL)::int AS keys
           FROM accounts a ORDER BY a.id`,
      );
      return rows;
    },
    async count(): Promise<number> {
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM accounts');
      return rows[0]!.n;
    },
  };
}

const KEY_COLUMNS = `k.id, k.account_id, a.slug AS account, k.label, k.created_at, k.last_used_at, k.revoked_at`;

export function apiKeysRepo(db: Queryable) {
  return {
    async insert(accountId: number, secretHash: Buffer, label: string | null): Promise<ApiKeyRow> {
      const { rows } = await db.query<ApiKeyRow>(
        `WITH k AS (INSERT INTO api_keys (account_id, secret_hash, label) VALUES ($1, $2, $3) RETURNING *)
         SELECT ${KEY_COLUMNS} FROM k JOIN accounts a ON a.id = k.account_id`,
        [accountId, secretHash, label],
      );
      return rows[0]!;
    },
    /** The live key with this secret hash. */
    async byHash(secretHash: Buffer): Promise<(ApiKeyRow & { secret_hash: Buffer }) | undefined> {
      const { rows } = await db.query<ApiKeyRow & { secret_hash: Buffer }>(
        `SELECT ${KEY_COLUMNS}, k.secret_hash FROM api_keys k JOIN accounts a ON a.id = k.account_id
          WHERE k.secret_hash = $1 AND k.revoked_at IS NULL`,
        [secretHash],
      );
      return rows[0];
    },
    async touch(id: number): Promise<void> {
      // At most one write a minute per key: authentication stays a read on the hot path.
      await db.query(`UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, [id]);
    },
    async list(accountSlug?: string): Promise<ApiKeyRow[]> {
      const { rows } = await db.query<ApiKeyRow>(
        `SELECT ${KEY_COLUMNS} FROM api_keys k JOIN accounts a ON a.id = k.account_id
          WHERE ($1::text IS NULL OR a.slug = $1) ORDER BY k.id`,
        [accountSlug ?? null],
      );
      return rows;
    },
    async relabel(id: number, label: string | null): Promise<ApiKeyRow | undefined> {
      const { rows } = await db.query<ApiKeyRow>(
        `WITH k AS (UPDATE api_keys SET label = $2 WHERE id = $1 RETURNING *)
         SELECT ${KEY_COLUMNS} FROM k JOIN accounts a ON a.id = k.account_id`,
        [id, label],
      );
      return rows[0];
    },
    async revoke(id: number): Promise<ApiKeyRow | undefined> {
      const { rows } = await db.query<ApiKeyRow>(
        `WITH k AS (UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING *)
         SELECT ${KEY_COLUMNS} FROM k JOIN accounts a ON a.id = k.account_id`,
        [id],
      );
      return rows[0];
    },
  };
}

export function settingsRepo(db: Queryable) {
  return {
    /** The value under `key`, created from `make()` by the first caller (race-safe). */
    async getOrCreate(key: string, make: () => string): Promise<string> {
      await db.query('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, make()]);
      const { rows } = await db.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]);
      return rows[0]!.value;
    },
  };
}

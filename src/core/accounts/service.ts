/**
 * Accounts and API keys. A key's secret is 192 random bits, shown once; only its SHA-256 is stored.
 * Lookup is by hash (a unique index), so the secret itself is never compared byte by byte in our code;
 * the final check of the stored hash uses timingSafeEqual anyway.
 */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiKeyRow, AccountRow } from '../../db/accounts.js';
import type { CallContext } from '../context.js';
import { invalid, notFound } from '../errors.js';

export interface AccountsDeps {
  accounts: {
    bySlug(slug: string): Promise<AccountRow | undefined>;
    ensure(slug: string, name?: string): Promise<{ account: AccountRow; created: boolean }>;
    list(): Promise<(AccountRow & { keys: number })[]>;
    count(): Promise<number>;
  };
  apiKeys: {
    insert(accountId: number, secretHash: Buffer, label: string | null): Promise<ApiKeyRow>;
    byHash(secretHash: Buffer): Promise<(ApiKeyRow & { secret_hash: Buffer }) | undefined>;
    touch(id: number): Promise<void>;
    list(accountSlug?: string): Promise<ApiKeyRow[]>;
    revoke(id: number): Promise<ApiKeyRow | undefined>;
    relabel(id: number, label: string | null): Promise<ApiKeyRow | undefined>;
  };
}

export interface NewKey {
  id: number;
  secret: string;
  account: string;
  label: string | null;
}

export interface Principal {
  accountId: number;
  account: string;
  keyId: number;
}

const SLUG = /^[A-Za-z0-9._-]{1,100}$/;

/**
 * What tells a process's key cache that keys changed elsewhere (src/db/listen.ts: a LISTEN on the channel the
 * api_keys and accounts triggers notify): entries stored under another generation are stale, and nothing is
 * served from the cache while not listening.
 */
export interface KeyChanges {
  listening(): boolean;
  generation(): number;
}

/** A bound, not a working set: an installation has a few keys per account. */
const KEY_CACHE_MAX = 10_000;
/** As often as touch() writes last_used_at anyway: a cached key is touched no more often. */
const TOUCH_EVERY_MS = 60_000;

/**
 * 192 random bits in base64url, never starting with '-': command-line tools read a leading dash as an
 * option (`--api-key -x...`), which a secret must never be taken for.
 */
function newSecret(): string {
  for (;;) {
    const secret = randomBytes(24).toString('base64url');
    if (!secret.startsWith('-')) return secret;
  }
}

/** The longest key label kept (the admin page cuts a new key's label to it too). */
export const KEY_LABEL_MAX = 200;

// crypto.hash: one call, no Hash object per API call (the key cache hashes every call's secret).
export const hashSecret = (secret: string) => hash('sha256', secret, 'buffer');

export function accountsService(deps: AccountsDeps) {
  /**
   * Live keys by secret hash, valid while `changes` listens and its generation and ours are those they were
   * stored under (`local` counts this process's own revokes, which take effect before revokeKey returns).
   * A key is stored only when no change was seen during its read, so a revoke that commits while a key is
   * being read is never cached over.
   */
  let changes: KeyChanges | null = null;
  let local = 0;
  const cache = new Map<string, { row: ApiKeyRow & { secret_hash: Buffer }; touched: number }>();
  let cachedAt = '';
  const generation = () => (changes?.listening() ? `${changes.generation()}:${local}` : null);

  return {
    /** Cache keys, invalidated by `feed` (null: no cache, every call reads its key). */
    cacheKeys(feed: KeyChanges | null): void {
      changes = feed;
      cache.clear();
      local++;
    },
    async createAccount(slug: string, name?: string) {
      if (!SLUG.test(slug)) throw invalid(`account slug ${JSON.stringify(slug)}: letters, digits, '.', '-', '_' only`, 'slug');
      return await deps.accounts.ensure(slug, name);
    },
    listAccounts: () => deps.accounts.list(),
    countAccounts: () => deps.accounts.count(),
    /** A new key for the account, creating the account when missing. */
    async createKey(accountSlug: string, label?: string): Promise<NewKey> {
      const { account } = await this.createAccount(accountSlug);
      const secret = newSecret();
      const row = await deps.apiKeys.insert(account.id, hashSecret(secret), label ?? null);
      return { id: row.id, secret, account: account.slug, label: row.label };
    },
    listKeys: (accountSlug?: string) => deps.apiKeys.list(accountSlug),
    /** The call context of an operator acting on an account from the command line. */
    async operatorContext(accountSlug: string): Promise<CallContext> {
      const account = await deps.accounts.bySlug(accountSlug);
      if (!account) throw notFound('account', accountSlug);
      return { accountId: account.id, requestId: 'cli' };
    },
    async revokeKey(id: number) {
      local++;
      cache.clear();
      const row = await deps.apiKeys.revoke(id);
      // Again once committed: a call in between may have read the key and stored it.
      local++;
      cache.clear();
      if (!row) throw notFound('API key', id);
      return row;
    },
    /** A key's label (revoked or not): trimmed, cut to KEY_LABEL_MAX characters as at creation; empty clears it. */
    async relabelKey(id: number, label: string) {
      const row = await deps.apiKeys.relabel(id, label.trim().slice(0, KEY_LABEL_MAX) || null);
      if (!row) throw notFound('API key', id);
      return row;
    },
    /** The principal behind a secret, or undefined. `keyId`, when given, must match too (Mailkit, Emailicious). */
    async authenticate(secret: string, keyId?: number): Promise<Principal | undefined> {
      if (!secret || secret.length > 200) return undefined;
      const hash = hashSecret(secret);
      const slot = hash.toString('base64');
      const now = generation();
      let hit = now !== null && now === cachedAt ? cache.get(slot) : undefined;
      const row = hit?.row ?? (await deps.apiKeys.byHash(hash));
      if (!row || !timingSafeEqual(row.secret_hash, hash)) return undefined;
      if (!hit && now !== null && generation() === now) {
        if (cachedAt !== now || cache.size >= KEY_CACHE_MAX) {
          cache.clear();
          cachedAt = now;
        }
        hit = { row, touched: 0 };
        cache.set(slot, hit);
      }
      if (keyId !== undefined && row.id !== keyId) return undefined;
      const t = Date.now();
      if (!hit || t - hit.touched >= TOUCH_EVERY_MS) {
        if (hit) hit.touched = t;
        void deps.apiKeys.touch(row.id).catch(() => undefined);
      }
      return { accountId: row.account_id, account: row.account, keyId: row.id };
    },
  };
}
export type AccountsService = ReturnType<typeof accountsService>;

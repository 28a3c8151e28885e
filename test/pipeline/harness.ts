/**
 * What every pipeline test needs: a fresh database, the real core, a real SMTP relay (test/support/smtp.ts)
 * and real workers (src/worker). No mocks of our own code.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, type Config } from '../../src/config.js';
import type { CallContext } from '../../src/core/context.js';
import { makeCore, type Core } from '../../src/core/index.js';
import type { RecipientInput } from '../../src/core/recipients/service.js';
import type { MailingPatch } from '../../src/core/mailings/service.js';
import { makeLogger } from '../../src/logger.js';
import { makePool, type Pool } from '../../src/db/pool.js';
import { makeStore } from '../../src/db/store.js';
import { startWorker, type RunningWorker } from '../../src/worker/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';

export const SECRET = Buffer.alloc(32, 9);
export const PUBLIC_URL = 'https://mail.example.test';
export const BOUNCE_DOMAIN = 'bounce.example.test';

export interface Harness {
  db: TestDatabase;
  pool: Pool;
  core: Core;
  ctx: CallContext;
  smtp: TestSmtpServer;
  config: Config;
  workers: RunningWorker[];
  startWorker(workerId?: string): Promise<RunningWorker>;
  /** A mailing with recipients (not started); returns its id. */
  mailing(recipients: RecipientInput[], patch?: MailingPatch, content?: { subject?: string; html?: string; text?: string }): Promise<number>;
  recipients(mailingId: number): Promise<RecipientDbRow[]>;
  mailingStatus(mailingId: number): Promise<string>;
  close(): Promise<void>;
}

export interface RecipientDbRow {
  id: number;
  email: string;
  status: string;
  try_count: number;
  reply_code: number | null;
  reply_enhanced_code: string | null;
  reply_text: string | null;
  next_try: Date | null;
  lease_owner: string | null;
  lease_until: Date | null;
}

export async function setup(env: Record<string, string> = {}, opts: { sendLanes?: number } = {}): Promise<Harness> {
  const db = await createTestDatabase();
  const pool = makePool(db.url, 20);
  const core = makeCore({ store: makeStore(pool), cursorSecret: SECRET, maxRecipientsPerCall: 10000, sendLanes: opts.sendLanes ?? 1 });
  const { account } = await core.accounts.createAccount('acme');
  const ctx: CallContext = { accountId: account.id, requestId: 'test' };
  const smtp = await startTestSmtpServer();
  const config = loadConfig({
    PUBLIC_URL,
    BOUNCE_DOMAIN,
    LOG_LEVEL: 'silent',
    SEND_BATCH_SIZE: '10',
    LEASE_SECONDS: '30',
    RETRY_BASE_SECONDS: '0.2',
    WORKER_CONCURRENCY: '2',
    SMTP_TIMEOUT_MS: '5000',
    ...env,
  });
  const logger = makeLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const workers: RunningWorker[] = [];
  const h: Harness = {
    db,
    pool,
    core,
    ctx,
    smtp,
    config,
    workers,
    async startWorker(workerId) {
      const w = await startWorker({ databaseUrl: db.url, pool, config, smtpUrls: [smtp.url], logger, secret: SECRET, ...(workerId ? { workerId } : {}) });
      workers.push(w);
      return w;
    },
    async mailing(recipients, patch, content) {
      const id = await core.mailings.create(ctx, {
        dialect: 'cloudmailing',
        fromEmail: 'news@example.org',
        fromName: 'Example News',
        subject: content?.subject ?? 'Hello',
        html: content?.html ?? '<p>Hello</p>',
        text: content?.text ?? 'Hello',
      });
      if (patch) await core.mailings.setProperties(ctx, id, patch);
      for (let i = 0; i < recipients.length; i += 5000) await core.recipients.add(ctx, id, recipients.slice(i, i + 5000));
      return id;
    },
    async recipients(mailingId) {
      const { rows } = await pool.query<RecipientDbRow>(
        `SELECT id, email, status, try_count, reply_code, reply_enhanced_code, reply_text, next_try, lease_owner, lease_until
           FROM recipients WHERE mailing_id = $1 ORDER BY id`,
        [mailingId],
      );
      return rows;
    },
    async mailingStatus(mailingId) {
      const { rows } = await pool.query<{ status: string }>('SELECT status FROM mailings WHERE id = $1', [mailingId]);
      return rows[0]!.status;
    },
    async close() {
      await Promise.all(workers.map((w) => w.stop()));
      await smtp.close();
      await pool.end();
      await db.drop();
    },
  };
  return h;
}

/** Poll until `check` holds (bounded); fails with `what` when it never does. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(50);
  }
}

export const people = (n: number, prefix = 'r') => Array.from({ length: n }, (_, i) => ({ email: `${prefix}${i}@example.org`, fields: { firstname: `N${i}` } }));

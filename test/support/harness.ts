/**
 * What every pipeline test needs: a fresh database, the services exactly as the composition root builds
 * them (buildServices), a real SMTP relay (test/support/smtp.ts) and real workers (src/worker). No mocks of
 * our own code.
 */
import { loadConfig, type Config } from '../../src/config.js';
import { buildServices, startSendWorker, type Services } from '../../src/compose.js';
import type { CallContext } from '../../src/core/context.js';
import type { Core } from '../../src/core/index.js';
import type { RecipientInput } from '../../src/core/recipients/service.js';
import type { MailingPatch } from '../../src/core/mailings/service.js';
import { makeLogger } from '../../src/logger.js';
import type { Pool } from '../../src/db/pool.js';
import type { RunningWorker } from '../../src/worker/index.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { startTestSmtpServer, type TestSmtpServer } from './smtp.js';

export { waitFor } from './wait.js';

export const PUBLIC_URL = 'https://mail.example.test';
export const BOUNCE_DOMAIN = 'bounce.example.test';

export interface Harness {
  db: TestDatabase;
  services: Services;
  pool: Pool;
  core: Core;
  /** The installation's HMAC secret (tokens, cursors). */
  secret: Buffer;
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

export async function setup(env: Record<string, string> = {}): Promise<Harness> {
  const db = await createTestDatabase();
  const smtp = await startTestSmtpServer();
  const config = loadConfig({
    DATABASE_URL: db.url,
    PUBLIC_URL,
    BOUNCE_DOMAIN,
    LOG_LEVEL: 'silent',
    SEND_BATCH_SIZE: '10',
    SEND_LANES: '1',
    LEASE_SECONDS: '30',
    RETRY_BASE_SECONDS: '0.2',
    WORKER_CONCURRENCY: '2',
    SMTP_TIMEOUT_MS: '5000',
    SMTP_URL: smtp.url,
    ...env,
  });
  const services = await buildServices(config, makeLogger(process.env.TEST_LOG_LEVEL ?? 'silent'), db.url, { migrate: false });
  const { core, pool } = services;
  const { account } = await core.accounts.createAccount('acme');
  const ctx: CallContext = { accountId: account.id, requestId: 'test' };
  const workers: RunningWorker[] = [];
  const h: Harness = {
    db,
    services,
    pool,
    core,
    secret: services.secret,
    ctx,
    smtp,
    config,
    workers,
    async startWorker(workerId) {
      const w = await startSendWorker(services, { relayUrls: [smtp.url], ...(workerId ? { workerId } : {}) });
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
      const { rows } = await pool.query<{ status: string }>('SELECT status FROM sends WHERE mailing_id = $1 ORDER BY id LIMIT 1', [mailingId]);
      return rows[0]!.status;
    },
    async close() {
      await Promise.all(workers.map((w) => w.stop()));
      await smtp.close();
      await services.close();
      await db.drop();
    },
  };
  return h;
}

export const people = (n: number, prefix = 'r') =>
  Array.from({ length: n }, (_, i) => ({ email: `${prefix}${i}@example.org`, fields: { firstname: `N${i}` } }));

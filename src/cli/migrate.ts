/** `mailgate migrate`: the whole migration run, whatever the schema's state (serve and the other commands skip it when the schema is current). */
import type { Command } from 'commander';
import { action, context, open } from './command.js';

export function migrateCommand(cli: Command): void {
  cli
    .command('migrate')
    .description('bring the database schema up to date')
    .action(
      action(async () => {
        const { config, logger } = await context();
        const db = await open(config, logger);
        try {
          const { migrate } = await import('../db/migrate.js');
          await migrate(db.url);
        } finally {
          await db.close();
        }
        console.log('schema up to date');
      }),
    );
}

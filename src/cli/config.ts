/** `mailgate config`: the environment variables, as the README lists them. */
import type { Command } from 'commander';
import { action } from './command.js';

export function configCommand(cli: Command): void {
  cli
    .command('config')
    .description('list the environment variables')
    .action(
      action(async () => {
        const { configTable } = await import('../config.js');
        console.log(configTable());
      }),
    );
}

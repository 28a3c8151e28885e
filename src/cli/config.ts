/** `mailgate config`: the configuration in effect (refused, as `serve` refuses it, when invalid), or the variables' documentation. */
import type { Command } from 'commander';
import { action, context, printRows } from './command.js';

export function configCommand(cli: Command): void {
  cli
    .command('config')
    .description('the configuration in effect, from the environment (passwords masked); an invalid one is refused as serve refuses it')
    .option('--json', 'print JSON')
    .option('--variables', 'instead: every variable, its default and its meaning (the README table)')
    .action(
      action(async (o: { json?: boolean; variables?: boolean }) => {
        if (o.variables) {
          const { configTable } = await import('../config.js');
          console.log(configTable());
          return;
        }
        // context() loads the configuration exactly as serve does: a ConfigError becomes its one line and exit 1.
        const { config } = await context();
        const { effectiveConfig } = await import('../config.js');
        printRows(
          o.json,
          effectiveConfig(config),
          [
            ['VARIABLE', (v) => v.name],
            ['SOURCE', (v) => v.source],
            ['VALUE', (v) => v.value],
          ],
          '',
        );
      }),
    );
}

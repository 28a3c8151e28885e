/**
 * The `mailgate` command; bin/mailgate.js runs its build (dist/cli/index.js), and `npm start` = `mailgate serve`.
 * One file per noun; what every command repeats is in ./command.ts. Registering the commands loads commander
 * and nothing heavy: each command imports what it runs when it runs.
 */
import { Command, Option } from 'commander';
import { accountsCommands } from './accounts.js';
import { backupCommands } from './backup.js';
import { campaignsCommands } from './campaigns.js';
import { reportUncaught } from './command.js';
import { configCommand } from './config.js';
import { importCommand } from './import.js';
import { keysCommands } from './keys.js';
import { listsCommands } from './lists.js';
import { mailingsCommands } from './mailings.js';
import { migrateCommand } from './migrate.js';
import { operatorsCommands } from './operators.js';
import { segmentsCommands } from './segments.js';
import { serveCommands } from './serve.js';
import { suppressionsCommands } from './suppressions.js';
import { unsubscribeListsCommands } from './unsubscribe-lists.js';
import { webhooksCommands } from './webhooks.js';

// Until a command is up (for one-shot commands: throughout), whatever is thrown is a failure to report in one
// line; no stack trace from Node's default handlers.
process.on('uncaughtException', reportUncaught);
process.on('unhandledRejection', reportUncaught);

export function program(): Command {
  const cli = new Command('mailgate').description('Self-hosted bulk e-mail gateway').showHelpAfterError();
  serveCommands(cli);
  migrateCommand(cli);
  configCommand(cli);
  accountsCommands(cli);
  suppressionsCommands(cli);
  campaignsCommands(cli);
  segmentsCommands(cli);
  unsubscribeListsCommands(cli);
  importCommand(cli);
  listsCommands(cli);
  mailingsCommands(cli);
  keysCommands(cli);
  backupCommands(cli);
  webhooksCommands(cli);
  operatorsCommands(cli);
  cli.addOption(new Option('--version').hideHelp());
  return cli;
}

await program().parseAsync(process.argv);

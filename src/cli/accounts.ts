/** `mailgate accounts`: the tenants. */
import type { Command } from 'commander';
import { action, print, printRows, withCore } from './command.js';

export function accountsCommands(cli: Command): void {
  const accounts = cli.command('accounts').description('accounts (tenants)');
  accounts
    .command('create <slug>')
    .description('an account (nothing changes when it exists); its first key: keys create')
    .option('--name <name>', 'display name')
    .option('--json', 'print JSON')
    .action(
      action(async (slug: string, o: { name?: string; json?: boolean }) => {
        await withCore(async (core) => {
          const { account, created } = await core.accounts.createAccount(slug, o.name);
          print(o.json, { id: account.id, slug: account.slug, created }, () => `${created ? 'created' : 'exists'}: ${account.slug} (id ${account.id})`);
        });
      }),
    );
  accounts
    .command('list')
    .description('every account and its count of active keys')
    .option('--json', 'print JSON')
    .action(
      action(async (o: { json?: boolean }) => {
        await withCore(async (core) => {
          const rows = await core.accounts.listAccounts();
          printRows(
            o.json,
            rows,
            [
              ['ID', (a) => a.id],
              ['SLUG', (a) => a.slug],
              ['KEYS', (a) => a.keys],
            ],
            '(no accounts)',
          );
        });
      }),
    );
}

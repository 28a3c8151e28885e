/** `mailgate accounts`: the tenants. */
import type { Command } from 'commander';
import { action, print, withCore } from './command.js';

export function accountsCommands(cli: Command): void {
  const accounts = cli.command('accounts').description('accounts (tenants)');
  accounts
    .command('create <slug>')
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
    .option('--json', 'print JSON')
    .action(
      action(async (o: { json?: boolean }) => {
        await withCore(async (core) => {
          const rows = await core.accounts.listAccounts();
          print(o.json, rows, () => rows.map((a) => `${a.id}\t${a.slug}\t${a.keys} key(s)`).join('\n') || '(no accounts)');
        });
      }),
    );
}

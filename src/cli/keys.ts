/** `mailgate keys`: API keys (an account is created with its first key). */
import type { Command } from 'commander';
import { action, parseId, print, printRows, withCore } from './command.js';

export function keysCommands(cli: Command): void {
  const keys = cli.command('keys').description('API keys');
  keys
    .command('create')
    .description('a new API key (its secret is shown once)')
    .requiredOption('--account <slug>', 'the account (created when missing)')
    .option('--label <label>', 'a note to recognise the key by')
    .option('--json', 'print one JSON object {id, secret, account}')
    .action(
      action(async (o: { account: string; label?: string; json?: boolean }) => {
        await withCore(async (core) => {
          const k = await core.accounts.createKey(o.account, o.label);
          print(o.json, { id: k.id, secret: k.secret, account: k.account, label: k.label }, () =>
            [`key ${k.id} for account ${k.account} (the secret is shown once):`, `  ${k.secret}`].join('\n'),
          );
        });
      }),
    );
  keys
    .command('list')
    .description('the API keys, without their secrets')
    .option('--account <slug>', 'only this account')
    .option('--json', 'print JSON')
    .action(
      action(async (o: { account?: string; json?: boolean }) => {
        await withCore(async (core) => {
          const rows = await core.accounts.listKeys(o.account);
          printRows(
            o.json,
            rows,
            [
              ['ID', (k) => k.id],
              ['ACCOUNT', (k) => k.account],
              ['STATE', (k) => (k.revoked_at ? 'revoked' : 'active')],
              ['CREATED', (k) => k.created_at],
              ['LABEL', (k) => k.label],
            ],
            '(no keys)',
          );
        });
      }),
    );
  keys
    .command('revoke <id>')
    .description('revoke a key: calls with it are refused from now on')
    .option('--json', 'print JSON')
    .action(
      action(async (id: string, o: { json?: boolean }) => {
        const keyId = parseId(id, `not a key id: ${id}`, 'id');
        await withCore(async (core) => {
          const k = await core.accounts.revokeKey(keyId);
          print(o.json, k, () => `revoked key ${k.id} of ${k.account}`);
        });
      }),
    );
}

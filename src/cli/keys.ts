/** `mailgate keys`: API keys (an account is created with its first key). */
import type { Command } from 'commander';
import { action, parseId, print, withCore } from './command.js';

export function keysCommands(cli: Command): void {
  const keys = cli.command('keys').description('API keys');
  keys
    .command('create')
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
    .option('--account <slug>', 'only this account')
    .option('--json', 'print JSON')
    .action(
      action(async (o: { account?: string; json?: boolean }) => {
        await withCore(async (core) => {
          const rows = await core.accounts.listKeys(o.account);
          print(
            o.json,
            rows,
            () =>
              rows
                .map((k) => `${k.id}\t${k.account}\t${k.revoked_at ? 'revoked' : 'active'}\t${k.label ?? ''}\tcreated ${k.created_at.toISOString()}`)
                .join('\n') || '(no keys)',
          );
        });
      }),
    );
  keys
    .command('revoke <id>')
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

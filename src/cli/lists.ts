/** `mailgate lists`: subscriber lists' settings that no dialect sets. */
import type { Command } from 'commander';
import { action, asAccount, parseId } from './command.js';

export function listsCommands(cli: Command): void {
  const lists = cli.command('lists').description('subscriber lists');
  lists
    .command('confirm-mailing <mailing>')
    .description('the mailing whose message asks a new subscriber to confirm (double opt-in), by id; "none": the built-in one')
    .requiredOption('--account <slug>', 'the account')
    .option('--list <id>', "this list's (default: the account's, for lists that chose none)")
    .action(
      action(async (mailing: string, o: { account: string; list?: string }) => {
        const mailingId = mailing === 'none' ? null : parseId(mailing, 'mailing: a number', 'mailing');
        const listId = o.list === undefined ? null : parseId(o.list, 'list: a number', 'list');
        await asAccount(o.account, async (core, ctx) => {
          await core.subscriptions.setConfirmMailing(ctx, listId, mailingId);
          console.log(`${listId === null ? `account ${o.account}` : `list ${listId}`}: confirmation mailing ${mailingId ?? 'built-in'}`);
        });
      }),
    );
}

/** `mailgate lists`: subscriber lists (what `mailgate import` fills), and their settings that no dialect sets. */
import type { Command } from 'commander';
import type { CallContext } from '../core/context.js';
import { isDomainError } from '../core/errors.js';
import type { Core } from '../core/index.js';
import { action, asAccount, isId, parseId, print, printRows } from './command.js';

/** A list named on the command line by its slug, else (digits that are no list's slug) by its id. */
export async function listByRef(core: Core, ctx: CallContext, ref: string): Promise<{ id: number; slug: string; name: string }> {
  try {
    return await core.lists.bySlug(ctx, ref);
  } catch (e) {
    if (isDomainError(e) && e.code === 'NOT_FOUND' && isId(ref)) return await core.lists.get(ctx, Number(ref));
    throw e;
  }
}

export function listsCommands(cli: Command): void {
  const lists = cli.command('lists').description('subscriber lists');
  lists
    .command('create <name>')
    .description('a new list (its slug is made from the name unless --slug gives it); prints its id and slug')
    .requiredOption('--account <slug>', 'the account')
    .option('--slug <slug>', 'the slug (Sender maillist, `mailgate import`): 1 to 80 letters, digits, ".", "_" or "-"')
    .option('--description <text>', 'a description')
    .option('--json', 'print JSON')
    .action(
      action(async (name: string, o: { account: string; slug?: string; description?: string; json?: boolean }) => {
        await asAccount(o.account, async (core, ctx) => {
          const input = { name, description: o.description };
          const id = o.slug === undefined ? await core.lists.create(ctx, input) : await core.lists.createWithSlug(ctx, { ...input, slug: o.slug });
          const list = await core.lists.get(ctx, id);
          print(o.json, { id, slug: list.slug, name: list.name }, () => `list ${id} created: ${list.name} (slug ${list.slug})`);
        });
      }),
    );
  lists
    .command('list')
    .description("the account's lists and their counts of subscribers")
    .requiredOption('--account <slug>', 'the account')
    .option('--json', 'print JSON')
    .action(
      action(async (o: { account: string; json?: boolean }) => {
        await asAccount(o.account, async (core, ctx) => {
          const rows = await core.lists.list(ctx);
          printRows(
            o.json,
            rows,
            [
              ['ID', (l) => l.id],
              ['SLUG', (l) => l.slug],
              ['SUBSCRIBERS', (l) => l.subscribers],
              ['CREATED', (l) => l.created_at],
              ['NAME', (l) => l.name],
            ],
            '(no lists)',
          );
        });
      }),
    );
  lists
    .command('delete <list>')
    .description('delete a list (slug or id) and its subscribers (its mailings stay)')
    .requiredOption('--account <slug>', 'the account')
    .option('--json', 'print JSON')
    .action(
      action(async (ref: string, o: { account: string; json?: boolean }) => {
        await asAccount(o.account, async (core, ctx) => {
          const list = await listByRef(core, ctx, ref);
          await core.lists.delete(ctx, list.id);
          print(o.json, { id: list.id, slug: list.slug, deleted: true }, () => `list ${list.id} deleted (slug ${list.slug})`);
        });
      }),
    );
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

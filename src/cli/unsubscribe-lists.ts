/** `mailgate unsubscribe-lists`: Yandex Sender's named sets of addresses that the mailings naming them skip. */
import type { Command } from 'commander';
import { invalid } from '../core/errors.js';
import { action, asAccount, isId, printRows } from './command.js';

export function unsubscribeListsCommands(cli: Command): void {
  const unsubLists = cli
    .command('unsubscribe-lists')
    .description('named sets of addresses that the mailings naming them skip (Sender unsubscribe/list/<slug>)');
  unsubLists
    .command('create <slug>')
    .description('a new unsubscribe list')
    .requiredOption('--account <slug>', 'the account')
    .option('--name <name>', 'a name (default: the slug)')
    .action(
      action(async (slug: string, o: { account: string; name?: string }) => {
        await asAccount(o.account, async (core, ctx) => {
          const l = await core.unsubscribeLists.create(ctx, { slug, name: o.name });
          console.log(`unsubscribe list ${l.slug} created`);
        });
      }),
    );
  unsubLists
    .command('list')
    .description("the account's unsubscribe lists and their counts of addresses")
    .requiredOption('--account <slug>', 'the account')
    .option('--json', 'print JSON')
    .action(
      action(async (o: { account: string; json?: boolean }) => {
        await asAccount(o.account, async (core, ctx) => {
          const rows = await core.unsubscribeLists.list(ctx);
          printRows(
            o.json,
            rows,
            [
              ['SLUG', (l) => l.slug],
              ['ADDRESSES', (l) => l.entries],
              ['NAME', (l) => l.name],
            ],
            '(no unsubscribe lists)',
          );
        });
      }),
    );
  unsubLists
    .command('delete <slug>')
    .description('delete an unsubscribe list')
    .requiredOption('--account <slug>', 'the account')
    .action(
      action(async (slug: string, o: { account: string }) => {
        await asAccount(o.account, async (core, ctx) => {
          await core.unsubscribeLists.delete(ctx, slug);
          console.log(`unsubscribe list ${slug} deleted`);
        });
      }),
    );
  unsubLists
    .command('honour <mailing> [slugs...]')
    .description('the unsubscribe lists a mailing (id or name) honours, replaced by these (none: it honours none)')
    .requiredOption('--account <slug>', 'the account')
    .action(
      action(async (mailing: string, slugs: string[], o: { account: string }) => {
        await asAccount(o.account, async (core, ctx) => {
          const id = isId(mailing) ? Number(mailing) : await core.mailings.idByName(ctx, mailing);
          if (id === undefined) throw invalid(`no mailing named ${JSON.stringify(mailing)}`, 'mailing');
          const now = await core.unsubscribeLists.setForMailing(ctx, id, slugs);
          console.log(`mailing ${id} honours ${now.length ? now.join(', ') : 'no unsubscribe list'}`);
        });
      }),
    );
}

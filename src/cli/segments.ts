/** `mailgate segments`: named parts of a list, by field values. */
import type { Command } from 'commander';
import { parseConditions } from '../core/lists/segments.js';
import { action, asAccount, parseId, print, printRows } from './command.js';

export function segmentsCommands(cli: Command): void {
  const segments = cli
    .command('segments')
    .description("named parts of a list, by field values (Emailicious' mailing `segments` and delivery `exclusions` name them by id)");
  segments
    .command('create <list> <name> <conditions...>')
    .description('a segment of a list (id): the subscribers whose fields have these values (field=value ...)')
    .requiredOption('--account <slug>', 'the account')
    .option('--json', 'print JSON')
    .action(
      action(async (listRef: string, name: string, conditions: string[], o: { account: string; json?: boolean }) => {
        const listId = parseId(listRef, `${listRef}: a list id`, 'list');
        const fields = parseConditions(conditions);
        await asAccount(o.account, async (core, ctx) => {
          const id = await core.segments.create(ctx, listId, name, fields);
          print(o.json, { id, list: listId, name, conditions: fields }, () => `segment ${id} of list ${listRef}: ${name}`);
        });
      }),
    );
  segments
    .command('list')
    .description("the account's segments")
    .requiredOption('--account <slug>', 'the account')
    .option('--list <id>', 'only the segments of this list')
    .option('--json', 'print JSON')
    .action(
      action(async (o: { account: string; list?: string; json?: boolean }) => {
        await asAccount(o.account, async (core, ctx) => {
          const rows = await core.segments.list(ctx, o.list ? Number(o.list) : null);
          printRows(
            o.json,
            rows,
            [
              ['ID', (r) => r.id],
              ['LIST', (r) => r.list_id],
              ['NAME', (r) => r.name],
              ['CONDITIONS', (r) => JSON.stringify(r.conditions)],
            ],
            '(no segments)',
          );
        });
      }),
    );
  segments
    .command('delete <id>')
    .description('delete a segment')
    .requiredOption('--account <slug>', 'the account')
    .action(
      action(async (id: string, o: { account: string }) => {
        const segmentId = parseId(id, `${id}: a segment id`, 'id');
        await asAccount(o.account, async (core, ctx) => {
          await core.segments.delete(ctx, segmentId);
          console.log(`segment ${id} deleted`);
        });
      }),
    );
}

/** `mailgate suppressions`: the addresses an account never mails again. */
import type { Command } from 'commander';
import { invalid } from '../core/errors.js';
import type { SuppressionReason } from '../db/suppressions.js';
import { action, asAccount, print, printRows } from './command.js';

// The reasons, here rather than from the core's SUPPRESSION_REASONS, whose module loads zod: `mailgate --help`
// would pay for it. `satisfies` keeps the list exactly the core's type, no reason missing or extra.
const REASONS = Object.keys({ hard_bounce: true, unsubscribe: true, complaint: true, manual: true } satisfies Record<
  SuppressionReason,
  true
>) as SuppressionReason[];

export function suppressionsCommands(cli: Command): void {
  const suppressions = cli.command('suppressions').description('addresses an account never mails again');
  suppressions
    .command('list')
    .description('the suppressed addresses, by address')
    .requiredOption('--account <slug>', 'the account')
    .option('--reason <reason>', `only this reason: ${REASONS.join(', ')}`)
    .option('--after <email>', 'the page after this address')
    .option('--limit <n>', 'at most this many (1 to 10000)', '1000')
    .option('--json', 'print JSON')
    .action(
      action(async (o: { account: string; reason?: string; after?: string; limit: string; json?: boolean }) => {
        if (o.reason !== undefined && !(REASONS as readonly string[]).includes(o.reason)) throw invalid(`--reason: one of ${REASONS.join(', ')}`, 'reason');
        await asAccount(o.account, async (core, ctx) => {
          const rows = await core.suppressions.list(ctx, {
            ...(o.after ? { after: o.after } : {}),
            limit: Number(o.limit) || 1000,
            ...(o.reason ? { reason: o.reason as SuppressionReason } : {}),
          });
          printRows(
            o.json,
            rows,
            [
              ['EMAIL', (r) => r.email],
              ['REASON', (r) => r.reason],
              ['SINCE', (r) => r.created_at],
              ['DETAIL', (r) => r.detail],
            ],
            '(no suppressed address)',
          );
        });
      }),
    );
  suppressions
    .command('add <email>')
    .description('suppress an address by hand')
    .requiredOption('--account <slug>', 'the account')
    .option('--json', 'print JSON')
    .action(
      action(async (email: string, o: { account: string; json?: boolean }) => {
        await asAccount(o.account, async (core, ctx) => {
          const added = await core.suppressions.add(ctx, email, 'mailgate suppressions add');
          print(o.json, { email, added }, () => (added ? `suppressed: ${email}` : `already suppressed: ${email}`));
        });
      }),
    );
  suppressions
    .command('lift <email>')
    .description('mail an address again (bounced or complained list members become active; unsubscribed ones stay so)')
    .requiredOption('--account <slug>', 'the account')
    .option('--json', 'print JSON')
    .action(
      action(async (email: string, o: { account: string; json?: boolean }) => {
        await asAccount(o.account, async (core, ctx) => {
          const row = await core.suppressions.lift(ctx, email);
          print(o.json, row, () => `lifted: ${row.email} (was ${row.reason})`);
        });
      }),
    );
}

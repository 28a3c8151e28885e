/** `mailgate mailings`: the mailings of every dialect, their progress, and one followed live until it finishes. */
import type { Command } from 'commander';
import type { CallContext } from '../core/context.js';
import { invalid } from '../core/errors.js';
import type { Core } from '../core/index.js';
import type { MailingProgress } from '../core/mailings/service.js';
import { action, asAccount, isId, parseId, print, printRows, type Column } from './command.js';

/**
 * The id a mailing has in its own dialect: Yandex Sender names a campaign by its slug (the mailing's name);
 * CloudMailing, Mailkit (ID_message) and Emailicious show the number.
 */
export const dialectId = (m: Pick<MailingProgress, 'id' | 'dialect' | 'name'>) => (m.dialect === 'sender' && m.name ? m.name : String(m.id));

const COLUMNS: readonly Column<MailingProgress>[] = [
  ['ID', dialectId],
  ['DIALECT', (m) => m.dialect],
  ['STATUS', (m) => m.status ?? 'no delivery'],
  ['SENT', (m) => m.sent],
  ['PENDING', (m) => m.pending],
  ['DEFERRED', (m) => m.deferred],
  ['FAILED', (m) => m.failed],
  ['NAME / SUBJECT', (m) => [m.name, m.subject].filter((x) => x !== null && x !== '').join(' / ')],
];

/** As JSON: the core's view, plus the id as its dialect shows it. */
const asJson = (m: MailingProgress) => ({ ...m, dialectId: dialectId(m) });

/** A mailing named on the command line: its id, or (Sender's campaigns) its name. */
async function mailingId(core: Core, ctx: CallContext, ref: string): Promise<number> {
  if (isId(ref)) return Number(ref);
  const id = await core.mailings.idByName(ctx, ref);
  if (id === undefined) throw invalid(`no mailing named ${JSON.stringify(ref)}`, 'mailing');
  return id;
}

/** Share of the recipients with an outcome for good (sent or failed), 0 to 100; 100 for a mailing without recipients. */
const percent = (m: MailingProgress) => (m.recipients ? Math.floor(((m.sent + m.failed) * 100) / m.recipients) : 100);

const progressLine = (m: MailingProgress) =>
  `mailing ${dialectId(m)}: ${percent(m)}% (${m.sent + m.failed}/${m.recipients}) sent ${m.sent}, pending ${m.pending}, deferred ${m.deferred}, failed ${m.failed}; ${m.status ?? 'no delivery'}`;

export function mailingsCommands(cli: Command): void {
  const mailings = cli.command('mailings').description('mailings of every dialect and their progress');
  mailings
    .command('list')
    .description("the account's mailings: status and recipients sent, pending, deferred (to retry) and failed")
    .requiredOption('--account <slug>', 'the account')
    .option('--json', 'print JSON')
    .action(
      action(async (o: { account: string; json?: boolean }) => {
        await asAccount(o.account, async (core, ctx) => {
          const rows = await core.mailings.progress(ctx);
          printRows(o.json, o.json ? rows.map(asJson) : rows, COLUMNS, '(no mailings)');
        });
      }),
    );
  mailings
    .command('show <mailing>')
    .description('one mailing (id, or the name of a Sender campaign): its status, times and recipients by outcome')
    .requiredOption('--account <slug>', 'the account')
    .option('--json', 'print JSON')
    .action(
      action(async (ref: string, o: { account: string; json?: boolean }) => {
        await asAccount(o.account, async (core, ctx) => {
          const [m] = await core.mailings.progress(ctx, await mailingId(core, ctx, ref));
          print(o.json, asJson(m!), () =>
            [
              ['id', dialectId(m!)],
              ['dialect', m!.dialect],
              ['name', m!.name ?? ''],
              ['subject', m!.subject ?? ''],
              ['status', m!.status ?? 'no delivery'],
              ['started', m!.startTime?.toISOString() ?? ''],
              ['finished', m!.endTime?.toISOString() ?? ''],
              ['recipients', String(m!.recipients)],
              ['sent', String(m!.sent)],
              ['pending', String(m!.pending)],
              ['deferred', String(m!.deferred)],
              ['failed', String(m!.failed)],
              ['progress', `${percent(m!)}%`],
            ]
              .map(([k, v]) => `${k!.padEnd(11)}${v}`)
              .join('\n'),
          );
        });
      }),
    );
  mailings
    .command('watch <mailing>')
    .description('follow a mailing (id or Sender campaign name) until it finishes: a progress bar on a terminal, else a line per change')
    .requiredOption('--account <slug>', 'the account')
    .option('--every <ms>', 'milliseconds between two looks at the database (at least 100)', '1000')
    .action(
      action(async (ref: string, o: { account: string; every: string }) => {
        const every = Math.max(100, parseId(o.every, '--every: a number of milliseconds', 'every'));
        await asAccount(o.account, async (core, ctx) => {
          const id = await mailingId(core, ctx, ref);
          const look = async () => (await core.mailings.progress(ctx, id))[0]!;
          await (process.stdout.isTTY ? watchBar(look, every) : watchLines(look, every));
        });
      }),
    );
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Without a terminal: one plain line each time the counts or the status change, the last when it has finished. */
async function watchLines(look: () => Promise<MailingProgress>, every: number): Promise<void> {
  let last = '';
  for (;;) {
    const m = await look();
    const line = progressLine(m);
    if (line !== last) console.log(line);
    last = line;
    if (m.status === 'finished') return;
    await pause(every);
  }
}

/** On a terminal: a bar over the recipients with an outcome for good, redrawn in place. */
async function watchBar(look: () => Promise<MailingProgress>, every: number): Promise<void> {
  const { Presets, SingleBar } = await import('cli-progress');
  const bar = new SingleBar(
    {
      stream: process.stdout,
      format: '{bar} {percentage}% | {done}/{total} | sent {sent}, pending {pending}, deferred {deferred}, failed {failed} | {state}',
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  let m = await look();
  bar.start(Math.max(m.recipients, 1), 0);
  try {
    for (;;) {
      bar.setTotal(Math.max(m.recipients, 1));
      bar.update(m.recipients ? m.sent + m.failed : 1, { ...m, done: m.sent + m.failed, state: m.status ?? 'no delivery' });
      if (m.status === 'finished') break;
      await pause(every);
      m = await look();
    }
  } finally {
    bar.stop();
  }
  console.log(progressLine(m));
}

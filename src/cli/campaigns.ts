/** `mailgate campaigns`: mailings kept for Yandex Sender's transactional sends. */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { invalid } from '../core/errors.js';
import { action, asAccount, print } from './command.js';

export function campaignsCommands(cli: Command): void {
  const campaigns = cli.command('campaigns').description('mailings kept for transactional sends (Sender transactional/<campaign>)');
  campaigns
    .command('create <name>')
    .description('a mailing named <name> (the campaign slug of Sender transactional sends); prints its id')
    .requiredOption('--account <slug>', 'the account')
    .requiredOption('--from <email>', 'sender address')
    .option('--from-name <name>', 'sender name')
    .requiredOption('--subject <subject>', 'subject ({{ field }} allowed)')
    .option('--html-file <file>', 'HTML body')
    .option('--text-file <file>', 'plain-text body')
    .option('--unsubscribe-list <slug...>', 'unsubscribe lists it honours (see unsubscribe-lists)')
    .option('--json', 'print JSON')
    .action(
      action(
        async (
          name: string,
          o: {
            account: string;
            from: string;
            fromName?: string;
            subject: string;
            htmlFile?: string;
            textFile?: string;
            unsubscribeList?: string[];
            json?: boolean;
          },
        ) => {
          if (!o.htmlFile && !o.textFile) throw invalid('--html-file or --text-file is required', 'body');
          const html = o.htmlFile ? await readFile(o.htmlFile, 'utf8') : null;
          const text = o.textFile ? await readFile(o.textFile, 'utf8') : null;
          await asAccount(o.account, async (core, ctx) => {
            if ((await core.mailings.idByName(ctx, name)) !== undefined) throw invalid(`a mailing named ${JSON.stringify(name)} exists`, 'name');
            for (const slug of o.unsubscribeList ?? []) await core.unsubscribeLists.get(ctx, slug);
            const id = await core.mailings.create(ctx, {
              dialect: 'sender',
              name,
              fromEmail: o.from,
              fromName: o.fromName ?? null,
              subject: o.subject,
              html,
              text,
            });
            if (o.unsubscribeList?.length) await core.unsubscribeLists.setForMailing(ctx, id, o.unsubscribeList);
            print(o.json, { id, name }, () => `campaign ${name}: mailing ${id}`);
          });
        },
      ),
    );
}

/** `mailgate import`: a CSV file's subscribers into a list, resumable. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { invalid } from '../core/errors.js';
import { action, asAccount, parseId, print } from './command.js';
import { listByRef } from './lists.js';

/** An optional numeric option (`--rev`, `--batch`). */
const optionalNumber = (v: string | undefined, what: string) => (v === undefined ? undefined : parseId(v, `--${what}: a number`, what));

export function importCommand(cli: Command): void {
  cli
    .command('import <list> <file>')
    .description(
      "a CSV file's subscribers into a list (slug or id): a header row names the fields, one of them email; resumes an interrupted import of the same file",
    )
    .requiredOption('--account <slug>', 'the account')
    .option('--rev <n>', 'the revision the subscribers get (default: a new one)')
    .option('--disable-others', 'at the end, disable the subscribers of earlier revisions (not in the file)')
    .option('--delimiter <c>', 'the field delimiter (default: discovered)')
    .option('--batch <n>', 'records per committed batch', '10000')
    .option('--json', 'print the result as JSON')
    .action(
      action(
        async (
          listRef: string,
          file: string,
          o: { account: string; rev?: string; disableOthers?: boolean; delimiter?: string; batch: string; json?: boolean },
        ) => {
          const size = (
            await stat(file).catch((e: NodeJS.ErrnoException) => {
              throw invalid(`${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, 'file');
            })
          ).size;
          const { Presets, SingleBar } = await import('cli-progress');
          await asAccount(o.account, async (core, ctx) => {
            const list = await listByRef(core, ctx, listRef);
            const bar = new SingleBar(
              {
                stream: process.stderr,
                format: '{bar} {percentage}% | {records} records, {rate}/s | {inserted} new, {updated} updated, {rejected} rejected',
                noTTYOutput: true,
                notTTYSchedule: 2000,
                hideCursor: true,
              },
              Presets.shades_classic,
            );
            const t0 = Date.now();
            let resumedAt = 0;
            let started = false;
            const r = await core.imports
              .importCsv(
                ctx,
                list.id,
                { name: path.resolve(file), size, open: () => createReadStream(file) },
                {
                  rev: optionalNumber(o.rev, 'rev'),
                  disableOthers: o.disableOthers,
                  delimiter: o.delimiter,
                  batchSize: optionalNumber(o.batch, 'batch'),
                  onStart(s) {
                    resumedAt = s.resumedAt;
                    if (s.resumedAt) process.stderr.write(`resuming import ${s.importId} (rev ${s.rev}) after record ${s.resumedAt}\n`);
                  },
                  // The bar appears with the first committed batch: a file refused at its header prints one line.
                  onProgress(p) {
                    if (!started) bar.start(size, 0);
                    started = true;
                    bar.update(p.bytes, { ...p, rate: Math.round((p.records - resumedAt) / Math.max((Date.now() - t0) / 1000, 0.001)) });
                  },
                },
              )
              .finally(() => {
                if (started) bar.stop();
              });
            const seconds = (Date.now() - t0) / 1000;
            print(o.json, { ...r, seconds }, () =>
              [
                `list ${list.id}: ${r.records} records (rev ${r.rev}${r.resumedAt ? `, resumed after ${r.resumedAt}` : ''}): ${r.inserted} new, ${r.updated} updated, ${r.rejected} rejected` +
                  `${r.disabledOthers ? `, ${r.disabledOthers} others disabled` : ''} in ${seconds.toFixed(1)} s`,
                ...r.rejects.map((x) => `  line ${x.line}: ${x.reason}`),
                ...(r.rejected > r.rejects.length ? [`  (${r.rejected - r.rejects.length} more rejected)`] : []),
              ].join('\n'),
            );
          });
        },
      ),
    );
}

/**
 * CSV import of a list's subscribers (`mailgate import <list> <file.csv>`), on the same path as Sender's bulk
 * PUT: every batch is applied by `applyPut` (one COPY into staging and one upsert statement), with the
 * import's revision, and `disableOthers` at the end disables every subscriber of an earlier revision.
 *
 * The file: a header row names the fields; the column `email` (or `e-mail`, any case) is the address, every
 * other column a subscriber param of that name. Empty cells are left out (they do not blank a stored param).
 * The delimiter is the one of `,`, `;`, tab and `|` the header line uses most, unless given; quoted fields may hold delimiters, quotes
 * and line breaks (RFC 4180); a UTF-8 BOM is skipped. A record with a bad address or the wrong number of
 * fields is rejected (counted, and its line reported), not fatal; a broken quote stops the import at its line
 * (csv-parse cannot find where the next record starts), the batches before it committed.
 *
 * Resumable and idempotent: the import is recorded by the file's SHA-256; each batch commits together with
 * the count of records done, so a run that was interrupted (kill -9 included) resumes after its last
 * committed batch when it is run again on the same file, with the same revision (and `disableOthers`). Running a finished import
 * again writes the same subscribers again and changes nothing. One import per list at a time (a second one
 * waits up to 5 s, then is refused).
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { CallContext } from '../context.js';
import { emailKey, isValidEmail } from '../email.js';
import { conflict, invalid, notFound } from '../errors.js';
import { applyPut } from '../tasks/service.js';
import type { Store } from '../../db/store.js';
import type { NewSubscriber } from '../../db/lists.js';
import type { ImportView } from '../../db/imports.js';

export type { ImportView };

export interface CsvSource {
  /** Shown in the import's record. */
  name: string;
  /** Its length in bytes (for progress). */
  size: number;
  /** A new stream of its bytes (read twice: once for its hash). */
  open(): Readable;
}

export interface ImportProgress {
  bytes: number;
  size: number;
  /** Records read (rejected ones included), resumed ones included. */
  records: number;
  inserted: number;
  updated: number;
  rejected: number;
}

export interface ImportOptions {
  /** The revision its subscribers get (default: a new revision of the list). */
  rev?: number | undefined;
  /** At the end, disable the list's subscribers of earlier revisions (those the file no longer holds). */
  disableOthers?: boolean | undefined;
  /** One character; default: discovered. */
  delimiter?: string | undefined;
  /** Records per committed batch (default 10,000). */
  batchSize?: number | undefined;
  onStart?(s: { importId: number; rev: number; resumedAt: number }): void;
  onProgress?(p: ImportProgress): void;
}

export interface ImportResult extends ImportProgress {
  importId: number;
  rev: number;
  /** Records skipped because an earlier run had committed them. */
  resumedAt: number;
  disabledOthers: number;
  /** The first rejected records of this run: line and reason. */
  rejects: { line: number; reason: string }[];
}

const EMAIL_COLUMNS = new Set(['email', 'e-mail']);
const MAX_REJECTS_SHOWN = 20;
/** How long an import waits for another one of the same list (or for a killed one's lock to go). */
const LOCK_WAIT_MS = 5_000;

/**
 * The file's SHA-256 and its first bytes; INVALID_ARGUMENT when it is not text a CSV can be: a NUL byte (a
 * binary file, or UTF-16) or bytes that are not UTF-8. Checked whole before anything is stored, so such a file
 * stores nothing, not even the import's row.
 */
async function digestOf(stream: Readable, name: string): Promise<{ sha256: string; head: string }> {
  const h = createHash('sha256');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let head = '';
  let offset = 0;
  for await (const chunk of stream) {
    const bytes = chunk as Buffer;
    h.update(bytes);
    const nul = bytes.indexOf(0);
    if (nul >= 0) throw invalid(`${name}: a binary file, not CSV text (a NUL byte at byte ${offset + nul}; UTF-16 files must be saved as UTF-8)`, 'file');
    try {
      utf8.decode(bytes, { stream: true });
    } catch {
      throw invalid(`${name}: not UTF-8 text (an invalid byte sequence after byte ${offset}); save the file as UTF-8 CSV`, 'file');
    }
    if (head.length < 65_536) head += bytes.toString('utf8', 0, 65_536);
    offset += bytes.length;
  }
  try {
    utf8.decode();
  } catch {
    throw invalid(`${name}: not UTF-8 text (it ends inside a character); save the file as UTF-8 CSV`, 'file');
  }
  return { sha256: h.digest('hex'), head };
}

/** The header row's fields: which one is the address, the others' names (null: not stored). */
function headerOf(record: string[]): { email: number; names: (string | null)[] } {
  const names = record.map((n) => n.trim());
  const email = names.findIndex((n) => EMAIL_COLUMNS.has(n.toLowerCase()));
  if (email < 0) throw invalid(`the header row has no email column (it has ${names.map((n) => JSON.stringify(n)).join(', ')})`, 'file');
  const seen = new Set<string>();
  for (const n of names) {
    if (n && seen.has(n)) throw invalid(`the header row names ${JSON.stringify(n)} twice`, 'file');
    seen.add(n);
  }
  return { email, names: names.map((n, i) => (i === email || !n ? null : n)) };
}

const DELIMITERS = [',', ';', '\t', '|'];

/** The delimiter of the header line: the candidate seen most often outside quotes (`,` when none is). */
export function discoverDelimiter(head: string): string {
  const counts = new Map(DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (const c of head) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === '\n' || c === '\r')) break;
    else if (!quoted && counts.has(c)) counts.set(c, counts.get(c)! + 1);
  }
  let best = ',';
  for (const [d, n] of counts) if (n > counts.get(best)!) best = d;
  return best;
}

export function importsService(deps: { store: Store }) {
  const { store } = deps;
  return {
    async importCsv(ctx: CallContext, listId: number, source: CsvSource, o: ImportOptions = {}): Promise<ImportResult> {
      const batchSize = o.batchSize ?? 10_000;
      if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw invalid('the batch size is a positive integer', 'batch');
      if (o.delimiter !== undefined && [...o.delimiter].length !== 1) throw invalid('the delimiter is one character', 'delimiter');
      if (o.rev !== undefined && (!Number.isSafeInteger(o.rev) || o.rev < 0)) throw invalid('rev: a non-negative integer', 'rev');
      if (!(await store.lists.exists(ctx.accountId, listId))) throw notFound('list', listId);
      const digest = await digestOf(source.open(), source.name);
      const delimiter = o.delimiter ?? discoverDelimiter(digest.head);
      // csv-parse loads on the first import (one-shot commands build the core without it).
      const { CsvError, parse } = await import('csv-parse');
      const { parse: parseHead } = await import('csv-parse/sync');
      // The header is checked before the import's row is made: a file without an email column stores nothing.
      // (A head cut inside its header's quotes is left to the full parse below.)
      let headRecords: string[][] = [];
      try {
        headRecords = parseHead(digest.head, { bom: true, delimiter, to: 1, relax_column_count: true, skip_empty_lines: true });
      } catch (e) {
        if (!(e instanceof CsvError)) throw e;
      }
      if (headRecords[0]) headerOf(headRecords[0]);
      else if (!digest.head.trim()) throw invalid('the file is empty: a header row naming the fields is required', 'file');

      const outcome = await store.exclusive(`import:list:${listId}`, LOCK_WAIT_MS, async (transact) => {
        let row = await store.imports.running(listId, digest.sha256);
        if (!row) {
          let rev: number;
          if (o.rev === undefined) rev = (await store.lists.nextRev(ctx.accountId, listId))!;
          else {
            rev = o.rev;
            await store.lists.seeRev(listId, rev);
          }
          row = await store.imports.create(ctx.accountId, listId, { sha256: digest.sha256, name: source.name }, rev, o.disableOthers ?? false);
        }
        const imp = row;
        o.onStart?.({ importId: imp.id, rev: imp.rev, resumedAt: imp.records_done });

        const progress: ImportProgress = { bytes: 0, size: source.size, records: 0, inserted: imp.inserted, updated: imp.updated, rejected: imp.rejected };
        const rejects: ImportResult['rejects'] = [];
        let batch: NewSubscriber[] = [];
        let batchRejected = 0;
        let batchRejects: ImportResult['rejects'] = [];
        let header: { email: number; names: (string | null)[] } | undefined;
        // The batch being committed while the next one is read.
        let committing: Promise<void> = Promise.resolve();

        const commit = async () => {
          const items = batch;
          const rejected = batchRejected;
          const rejectsOfBatch = batchRejects;
          const done = progress.records;
          batch = [];
          batchRejected = 0;
          batchRejects = [];
          await committing;
          committing = transact(async (tx) => {
            const w = items.length ? await applyPut(tx, ctx.accountId, { listId, rev: imp.rev, disableOthers: false, items }) : { inserted: 0, updated: 0 };
            await tx.imports.advance(imp.id, done, { inserted: w.inserted, updated: w.updated, rejected, rejects: rejectsOfBatch });
            progress.inserted += w.inserted;
            progress.updated += w.updated;
            progress.rejected += rejected;
            o.onProgress?.({ ...progress });
          });
          // Not awaited here: the next batch is parsed meanwhile. A failure surfaces at the next await.
          committing.catch(() => undefined);
        };
        const reject = (line: number, reason: string) => {
          batchRejected++;
          if (rejects.length < MAX_REJECTS_SHOWN) rejects.push({ line, reason });
          if (batchRejects.length < MAX_REJECTS_SHOWN) batchRejects.push({ line, reason });
        };

        const input = source.open();
        const parser = input.pipe(
          parse({
            bom: true,
            info: true,
            relax_column_count: true,
            skip_empty_lines: true,
            delimiter,
          }),
        );
        input.on('error', (e) => parser.destroy(e));
        // csv-parse counts a CRLF inside a quoted field as two lines: its count, less those, is the record's last line.
        let crlfInFields = 0;
        try {
          for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number; bytes: number } }>) {
            for (const f of record) if (f.includes('\r\n')) crlfInFields += f.split('\r\n').length - 1;
            const line = info.lines - crlfInFields;
            if (!header) {
              header = headerOf(record);
              continue;
            }
            progress.records++;
            progress.bytes = info.bytes;
            if (progress.records <= imp.records_done) continue;
            if (record.length !== header.names.length) {
              reject(line, `${record.length} fields where the header has ${header.names.length}`);
            } else {
              const email = record[header.email]!.trim();
              if (!isValidEmail(email)) reject(line, `invalid email address: ${JSON.stringify(email)}`);
              else {
                const params: Record<string, string> = {};
                header.names.forEach((n, i) => {
                  if (n !== null && record[i] !== '') params[n] = record[i]!;
                });
                batch.push({ email, emailKey: emailKey(email), params, status: 'active' });
              }
            }
            if (batch.length + batchRejected >= batchSize) await commit();
          }
        } catch (e) {
          // A malformed file (an unclosed quote: csv-parse names its line) stops the import; the batch being
          // committed ends first, so the connection is idle when the lock is released.
          await committing.catch(() => undefined);
          if (e instanceof CsvError) {
            const refused = invalid(`${source.name}: ${e.message} (the records before it are in)`, 'file');
            await store.imports.fail(imp.id, refused.message);
            throw refused;
          }
          throw e;
        }
        if (!header) throw invalid('the file is empty: a header row naming the fields is required', 'file');
        progress.bytes = source.size;
        if (batch.length || batchRejected) await commit();
        await committing;
        const finished = await transact(async (tx) => {
          const disabled = imp.disable_others ? await tx.lists.disableOthers(listId, imp.rev) : 0;
          return await tx.imports.finish(imp.id, disabled);
        });
        return { ...progress, importId: imp.id, rev: imp.rev, resumedAt: imp.records_done, disabledOthers: finished.disabled_others, rejects };
      });
      if (!outcome.ran) throw conflict(`another import into list ${listId} is running`);
      return outcome.value;
    },

    /** One import's progress as recorded (any process's), with its account and list: what the admin pages show. */
    async progress(id: number): Promise<ImportView> {
      const row = await store.imports.view(id);
      if (!row) throw notFound('import', id);
      return row;
    },
  };
}
export type ImportsService = ReturnType<typeof importsService>;

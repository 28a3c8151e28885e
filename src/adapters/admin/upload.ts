/**
 * The admin's upload forms (multipart/form-data): a few text fields and at most one file, spooled to a file of
 * its own under the system's temporary directory.
 *
 * Invariants:
 * - The CSRF token is checked before anything is stored: the form puts its `csrf` field first, and a file part
 *   that comes before a matching token (none, a wrong one, or a token after the file) refuses the whole post;
 *   its bytes are read and dropped, never written.
 * - One file (a second file part refuses the post), at most UPLOAD_LIMIT bytes (a larger one refuses it, the
 *   part written so far deleted); at most MAX_FIELDS text fields of at most FIELD_LIMIT bytes each.
 * - On every refusal the spooled file is gone before the answer; on success the caller owns it: `discard()`
 *   deletes it, unless `taken` (then whoever took it discards it when done with it).
 */
import busboy from 'busboy';
import type { Request } from 'express';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** The largest file an admin form takes (a CSV of a few hundred thousand subscribers). */
export const UPLOAD_LIMIT = 64 * 1024 * 1024;
const FIELD_LIMIT = 100 * 1024;
const MAX_FIELDS = 20;

export interface Upload {
  /** Where its bytes are. */
  path: string;
  /** The name the browser gave (a base name only), '' when none. */
  filename: string;
  size: number;
  mimeType: string;
  /** Set by a handler that keeps the file past the request (it then discards it itself). */
  taken: boolean;
  discard(): Promise<void>;
}

/** A post refused before its handler ran; `csrf`: for want of this session's token. Nothing was stored. */
export class UploadRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly csrf = false,
  ) {
    super(message);
  }
}

/**
 * Reads a multipart post: its text fields and its file (undefined when the form sent none, or an empty one).
 * `tokenOk` says whether a `csrf` value is this session's token.
 */
export async function readUpload(req: Request, tokenOk: (token: string) => boolean): Promise<{ fields: Record<string, string>; file: Upload | undefined }> {
  let bb: busboy.Busboy;
  try {
    bb = busboy({
      headers: req.headers,
      limits: { files: 1, fileSize: UPLOAD_LIMIT, fields: MAX_FIELDS, fieldSize: FIELD_LIMIT, parts: MAX_FIELDS + 1 },
      defParamCharset: 'utf8',
    });
  } catch (e) {
    throw new UploadRefused(400, `The form could not be read: ${(e as Error).message}.`);
  }
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  let csrfOk = false;
  let file: Upload | undefined;
  let writing: Promise<void> | undefined;
  let refusal: UploadRefused | undefined;
  let dir: string | undefined;
  let current: Readable | undefined;
  let output: Writable | undefined;

  const finished = new Promise<void>((resolve) => {
    const refuse = (r: UploadRefused) => {
      if (refusal) return;
      refusal = r;
      req.unpipe(bb);
      // A file being written stops (the spooled part is deleted below).
      current?.unpipe();
      current?.resume();
      output?.destroy();
      // The rest of the body is read and dropped, so that the answer reaches the browser.
      req.resume();
      resolve();
    };
    bb.on('field', (name, value, info) => {
      if (info.valueTruncated) return refuse(new UploadRefused(413, `The field ${name} is too long.`));
      // The first csrf field counts (the one index.ts checks again).
      if (name === 'csrf' && !Object.hasOwn(fields, 'csrf')) csrfOk = tokenOk(value);
      if (!Object.hasOwn(fields, name)) fields[name] = value;
    });
    bb.on('file', (_name, stream, info) => {
      if (refusal || !csrfOk) {
        stream.resume();
        return refuse(new UploadRefused(403, 'csrf', true));
      }
      const filename = path.basename(info.filename ?? '').slice(0, 255);
      current = stream;
      writing = (async () => {
        const own = await mkdtemp(path.join(tmpdir(), 'mailgate-upload-'));
        dir = own;
        if (refusal) return;
        const target = path.join(own, 'file');
        let size = 0;
        stream.on('data', (c: Buffer) => void (size += c.length));
        stream.on('limit', () => refuse(new UploadRefused(413, `The file is larger than ${UPLOAD_LIMIT / 1024 / 1024} MiB.`)));
        const out = createWriteStream(target);
        output = out;
        // Settled by the file's end, or by a refusal destroying the output ('close' either way).
        await new Promise<void>((resolve, reject) => {
          stream.on('error', reject);
          out.on('error', reject);
          out.on('close', resolve);
          stream.pipe(out);
        });
        if (!refusal) file = { path: target, filename, size, mimeType: info.mimeType, taken: false, discard: () => rm(own, { recursive: true, force: true }) };
      })();
      writing.catch((e: Error) => refuse(new UploadRefused(400, `The file could not be received: ${e.message}.`)));
    });
    bb.on('filesLimit', () => refuse(new UploadRefused(400, 'One file per form.')));
    bb.on('fieldsLimit', () => refuse(new UploadRefused(400, 'Too many fields in the form.')));
    bb.on('partsLimit', () => refuse(new UploadRefused(400, 'Too many parts in the form.')));
    bb.on('error', (e: Error) => refuse(new UploadRefused(400, `The form could not be read: ${e.message}.`)));
    bb.on('close', () => resolve());
    req.on('error', (e: Error) => refuse(new UploadRefused(400, `The form could not be read: ${e.message}.`)));
    req.pipe(bb);
  });
  await finished;
  await writing?.catch(() => undefined);
  if (!refusal && !csrfOk) refusal = new UploadRefused(403, 'csrf', true);
  if (refusal) {
    if (dir) await rm(dir, { recursive: true, force: true });
    throw refusal;
  }
  // A file input left empty sends a part with no name and no bytes: no file.
  if (file && !file.filename && !file.size) {
    await file.discard();
    file = undefined;
  }
  return { fields, file };
}

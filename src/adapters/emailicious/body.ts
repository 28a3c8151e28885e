/**
 * Emailicious request bodies, in the three encodings the real API parses (its OPTIONS answer lists them):
 * JSON, `application/x-www-form-urlencoded` and `multipart/form-data`, all read into the nested object the
 * JSON form carries (form keys through `unflatten`; a multipart file part becomes a leaf with its bytes).
 * An empty body (the PHP client's POST to `activate` and `unsubscribe`) is `{}`.
 */
import busboy from 'busboy';
import type { Request } from 'express';
import { EmailiciousError } from './errors.js';
import { formPairs, unflatten, type FormLeaf } from './values.js';
import { isDomainError } from '../../core/errors.js';

/** At most this many multipart parts (fields and files). */
const MAX_PARTS = 10_000;

function mediaType(req: Request): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

async function rawBody(req: Request, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

const tooLarge = (limit: number) => new EmailiciousError(413, { detail: `Request body too large (limit ${limit} bytes).` });

function multipart(req: Request, limit: number): Promise<[string, FormLeaf][]> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { fileSize: limit, fieldSize: limit, parts: MAX_PARTS }, defParamCharset: 'utf8' });
    } catch (e) {
      return reject(new EmailiciousError(400, { detail: `Multipart form parse error - ${(e as Error).message}` }));
    }
    const pairs: [string, FormLeaf][] = [];
    let total = 0;
    let failed = false;
    const fail = (e: EmailiciousError) => {
      if (failed) return;
      failed = true;
      req.unpipe(bb);
      req.resume();
      reject(e);
    };
    bb.on('field', (name, value, info) => {
      total += value.length;
      if (info.valueTruncated || total > limit) return fail(tooLarge(limit));
      pairs.push([name, value]);
    });
    bb.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => {
        total += c.length;
        if (total > limit) return fail(tooLarge(limit));
        chunks.push(c);
      });
      stream.on('limit', () => fail(tooLarge(limit)));
      stream.on('end', () => pairs.push([name, { filename: info.filename ?? '', contentType: info.mimeType, data: Buffer.concat(chunks) }]));
    });
    bb.on('partsLimit', () => fail(new EmailiciousError(400, { detail: `Multipart form parse error - more than ${MAX_PARTS} parts` })));
    bb.on('error', (e: Error) => fail(new EmailiciousError(400, { detail: `Multipart form parse error - ${e.message}` })));
    bb.on('close', () => {
      if (!failed) resolve(pairs);
    });
    req.pipe(bb);
  });
}

/** The request's body as the nested object its JSON encoding would be. */
export async function readBody(req: Request, limit: number): Promise<Record<string, unknown>> {
  const type = mediaType(req);
  try {
    if (type === 'multipart/form-data') return unflatten(await multipart(req, limit));
    const raw = await rawBody(req, limit);
    if (!raw.length) return {};
    if (type === 'application/json' || type.endsWith('+json')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString('utf8'));
      } catch (e) {
        throw new EmailiciousError(400, { detail: `JSON parse error - ${(e as Error).message}` });
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new EmailiciousError(400, { non_field_errors: ['Invalid data. Expected a dictionary, but got ' + (Array.isArray(parsed) ? 'list' : typeof parsed) + '.'] });
      return parsed as Record<string, unknown>;
    }
    if (type === 'application/x-www-form-urlencoded' || type === '') return unflatten(formPairs(raw.toString('utf8')));
    throw new EmailiciousError(415, { detail: `Unsupported media type "${req.headers['content-type']}" in request.` });
  } catch (e) {
    // A malformed form key names itself.
    if (isDomainError(e)) throw new EmailiciousError(400, { detail: e.message });
    throw e;
  }
}

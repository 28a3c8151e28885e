/**
 * Reading Emailicious requests as Django REST Framework does: the body in any of the three encodings the real
 * API parses, form keys unflattened into the nested request the JSON encoding carries, every field read by a
 * DRF-like serializer that collects each problem with its path and DRF's own message, and the resources'
 * inputs (a list, a subscriber, a mailing) and page parameters.
 */
import busboy from 'busboy';
import type { Request } from 'express';
import { invalid, isDomainError } from '../../core/errors.js';
import { isValidEmail } from '../../core/email.js';
import { bytesProblem, escapedTextProblem, inputProblem, MAX_DEPTH, TOO_DEEP } from '../../core/input.js';
import type { VariantInput } from '../../core/newsletters/service.js';
import { EmailiciousError, FieldErrors, NOT_FOUND } from './errors.js';
import { READ_ONLY_FIELDS, STANDARD_FIELDS } from './serializers.js';

// ------------------------------------------------------------------------------------------------- form bodies

/**
 * Form bodies: flattened keys back into the nested request the JSON encoding would carry.
 *
 * Emailicious' PHP client (emailicious-php 1.0.0, `Http/QueryAggregator.php`) flattens an associative array
 * with a dot and a list of arrays with `[i]`: `variants[0].subject`, `variants[0].layout.text`,
 * `variants[0].deliveries[0].scheduled_datetime`; a list of scalars becomes the key repeated
 * (`segments=1&segments=2`); null and false become the bare key with no `=`. Its multipart layout part is named
 * `variants[0]layout.zip_file` (no dot: Django REST Framework's own form syntax). PHP's `http_build_query` and
 * curl users write `variants[0][subject]` and `segments[]=1`. All of these name the same paths here.
 */
export type FormLeaf = string | null | { filename: string; contentType: string; data: Buffer };
/** A field name, a list index, or '[]' (an empty bracket: append to the list). */
type Segment = string | number;

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/** `variants[0].layout.text` → ['variants', 0, 'layout', 'text']; `segments[]` → ['segments', '[]']. */
export function keyPath(key: string): Segment[] {
  const path: Segment[] = [];
  let i = 0;
  const name = () => {
    const start = i;
    while (i < key.length && key[i] !== '[' && key[i] !== '.') i++;
    return key.slice(start, i);
  };
  const first = name();
  if (!first) throw invalid(`form key ${JSON.stringify(key)}: no field name`, key);
  path.push(first);
  while (i < key.length) {
    // Each segment is one level of the nested request (the body itself is the first).
    if (path.length >= MAX_DEPTH) throw invalid(`form key ${JSON.stringify(key.slice(0, 80))}...: ${TOO_DEEP}`, key);
    if (key[i] === '[') {
      const end = key.indexOf(']', i);
      if (end < 0) throw invalid(`form key ${JSON.stringify(key)}: "[" without "]"`, key);
      const inner = key.slice(i + 1, end);
      path.push(inner === '' ? '[]' : /^\d{1,6}$/.test(inner) ? Number(inner) : inner);
      i = end + 1;
    } else if (key[i] === '.') {
      i++;
      const n = name();
      if (!n) throw invalid(`form key ${JSON.stringify(key)}: empty field name after "."`, key);
      path.push(n);
    } else {
      // DRF's `variants[0]subject`: a name right after "]".
      path.push(name());
    }
  }
  for (const s of path) if (typeof s === 'string' && FORBIDDEN.has(s)) throw invalid(`form key ${JSON.stringify(key)}: ${s} is not a field name`, key);
  return path;
}

type Node = { kind: 'leaf'; values: FormLeaf[] } | { kind: 'object'; fields: Map<string, Node> } | { kind: 'list'; items: Map<number, Node>; appended: Node[] };

/**
 * Pairs in body order (a bare key's value is null) → the nested request: objects for names, arrays for
 * indexes (in index order, holes closed), a repeated leaf → an array of its values.
 */
export function unflatten(pairs: Iterable<[string, FormLeaf]>): Record<string, unknown> {
  const root: Node = { kind: 'object', fields: new Map() };
  for (const [key, value] of pairs) {
    const path = keyPath(key);
    let node: Node = root;
    path.forEach((seg, depth) => {
      const last = depth === path.length - 1;
      const conflict = (upTo = depth) =>
        invalid(
          `form key ${JSON.stringify(key)}: ${path.slice(0, upTo).join('.')} is given both as a value and as fields, or both as a list and as named fields`,
          key,
        );
      let child: Node | undefined;
      if (node.kind === 'leaf') throw conflict();
      if (seg === '[]') {
        if (node.kind !== 'list') throw conflict();
        child = last ? { kind: 'leaf', values: [] } : undefined;
        if (!child) throw invalid(`form key ${JSON.stringify(key)}: "[]" must come last`, key);
        node.appended.push(child);
      } else if (typeof seg === 'number') {
        if (node.kind !== 'list') throw conflict();
        child = node.items.get(seg);
        if (!child) node.items.set(seg, (child = last ? { kind: 'leaf', values: [] } : nextKind(path[depth + 1]!)));
      } else {
        if (node.kind !== 'object') throw conflict();
        child = node.fields.get(seg);
        if (!child) node.fields.set(seg, (child = last ? { kind: 'leaf', values: [] } : nextKind(path[depth + 1]!)));
      }
      if (last) {
        if (child.kind !== 'leaf') throw conflict(depth + 1);
        child.values.push(value);
      }
      node = child;
    });
  }
  return toValue(root) as Record<string, unknown>;
}

const nextKind = (seg: Segment): Node =>
  typeof seg === 'number' || seg === '[]' ? { kind: 'list', items: new Map(), appended: [] } : { kind: 'object', fields: new Map() };

function toValue(n: Node): unknown {
  if (n.kind === 'leaf') return n.values.length === 1 ? n.values[0] : n.values;
  if (n.kind === 'object') return Object.fromEntries([...n.fields].map(([k, v]) => [k, toValue(v)]));
  return [...[...n.items].sort(([a], [b]) => a - b).map(([, v]) => v), ...n.appended].map((v) => toValue(v));
}

/**
 * An `application/x-www-form-urlencoded` body as pairs: `+` is a space, percent escapes decoded as UTF-8, and
 * a key without `=` has the value null (the PHP client's null and false).
 */
export function formPairs(body: string): [string, string | null][] {
  const out: [string, string | null][] = [];
  for (const part of body.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        throw invalid(`the form body has a malformed escape in ${JSON.stringify(s.slice(0, 80))}`);
      }
    };
    out.push(eq < 0 ? [decode(part), null] : [decode(part.slice(0, eq)), decode(part.slice(eq + 1))]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- request bodies

/**
 * Request bodies, in the three encodings the real API parses (its OPTIONS answer lists them): JSON,
 * `application/x-www-form-urlencoded` and `multipart/form-data`, all read into the nested object the JSON form
 * carries (form keys through `unflatten`; a multipart file part becomes a leaf with its bytes). An empty body
 * (the PHP client's POST to `activate` and `unsubscribe`) is `{}`.
 */
/** At most this many multipart parts (fields and files). */
const MAX_PARTS = 10_000;

function mediaType(req: Request): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * The whole body. Over the limit it is still read to its end, discarding (as body-parser does for the other
 * dialects): a client that writes its whole body before reading (Python's http.client) then reads the 413,
 * instead of stalling on a connection nobody reads.
 */
function rawBody(req: Request, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = Number(req.headers['content-length']) || 0;
    let over = size > limit;
    if (!over) size = 0;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
      } else chunks.push(chunk);
    });
    req.on('end', () => (over ? reject(tooLarge(limit)) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.readableEnded) reject(new EmailiciousError(400, { detail: 'The request body was cut off.' }));
    });
  });
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
        const problem = bytesProblem(raw);
        if (problem) throw new Error(problem);
        parsed = JSON.parse(raw.toString('utf8'));
      } catch (e) {
        throw new EmailiciousError(400, { detail: `JSON parse error - ${(e as Error).message}` });
      }
      const problem = inputProblem(parsed);
      if (problem) throw new EmailiciousError(400, { detail: `JSON parse error - ${problem}` });
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new EmailiciousError(400, {
          non_field_errors: ['Invalid data. Expected a dictionary, but got ' + (Array.isArray(parsed) ? 'list' : typeof parsed) + '.'],
        });
      return parsed as Record<string, unknown>;
    }
    if (type === 'application/x-www-form-urlencoded' || type === '') {
      const problem = escapedTextProblem(raw);
      if (problem) throw new EmailiciousError(400, { detail: `Form parse error - ${problem}` });
      return unflatten(formPairs(raw.toString('utf8')));
    }
    throw new EmailiciousError(415, { detail: `Unsupported media type "${req.headers['content-type']}" in request.` });
  } catch (e) {
    // A malformed form key names itself.
    if (isDomainError(e)) throw new EmailiciousError(400, { detail: e.message });
    throw e;
  }
}

// ------------------------------------------------------------------------------------------------------ fields

/**
 * Request fields, read as Django REST Framework's serializers do, every problem collected with its path and
 * DRF's own message: form values arrive as strings (a bare key as null, a repeated key as an
 * array), JSON values typed. Datetimes are ISO 8601 with optional seconds and zone (the PHP client's tests
 * send `2015-05-25T16:25`); one without a zone is UTC. Files are data URIs in JSON (Python 2's base64 with its
 * line breaks, and media-type parameters such as `charset=utf-8`, accepted) or multipart file parts.
 */
type Path = (string | number)[];
export type FileLeaf = Extract<FormLeaf, { data: Buffer }>;

const REQUIRED = 'This field is required.';
/** DRF's CharField refuses them (ProhibitNullCharactersValidator); Postgres could not store them anyway. */
export const NULL_CHARACTERS = 'Null characters are not allowed.';
const DATETIME_FORMAT = 'Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].';
const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:?\d{2})?$/i;

export const isFile = (v: unknown): v is FileLeaf => typeof v === 'object' && v !== null && Buffer.isBuffer((v as FileLeaf).data);

/** The fields of one object of the request, problems reported under `base`. */
export class Fields {
  constructor(
    readonly data: Record<string, unknown>,
    readonly errors: FieldErrors,
    readonly base: Path = [],
  ) {}

  has(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.data, name);
  }

  raw(name: string): unknown {
    return this.has(name) ? this.data[name] : undefined;
  }

  fail(name: string | Path, message: string): undefined {
    this.errors.add([...this.base, ...(Array.isArray(name) ? name : [name])], message);
    return undefined;
  }

  /** A single value (a repeated form key is a list: its last value). */
  private one(name: string): unknown {
    const v = this.raw(name);
    return Array.isArray(v) && this.isForm(v) ? v[v.length - 1] : v;
  }

  private isForm(v: unknown[]): boolean {
    return v.every((x) => typeof x === 'string' || x === null);
  }

  /** A string; '' or null when `nullable` allows (then null), else required unless `optional`. */
  string(name: string, o: { required?: boolean; blank?: boolean; nullable?: boolean; max?: number } = {}): string | null | undefined {
    if (!this.has(name)) return o.required ? this.fail(name, REQUIRED) : undefined;
    const v = this.one(name);
    if (v === null) return o.nullable ? null : o.blank ? '' : this.fail(name, 'This field may not be null.');
    if (typeof v !== 'string' && typeof v !== 'number') return this.fail(name, 'Not a valid string.');
    const s = String(v).trim();
    if (s.includes('\0')) return this.fail(name, NULL_CHARACTERS);
    if (!s && !o.blank && !o.nullable) return this.fail(name, 'This field may not be blank.');
    if (o.max && s.length > o.max) return this.fail(name, `Ensure this field has no more than ${o.max} characters.`);
    return s || (o.nullable ? null : '');
  }

  /** A whole number (JSON number or its decimal string); '' and null are null when `nullable`. */
  int(name: string, o: { required?: boolean; nullable?: boolean; min?: number } = {}): number | null | undefined {
    if (!this.has(name)) return o.required ? this.fail(name, REQUIRED) : undefined;
    return this.intValue(this.one(name), name, o);
  }

  private intValue(v: unknown, at: string | Path, o: { nullable?: boolean; min?: number }): number | null | undefined {
    if (v === null || v === '') return o.nullable ? null : this.fail(at, v === '' ? 'A valid integer is required.' : 'This field may not be null.');
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d{1,15}\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n)) return this.fail(at, 'A valid integer is required.');
    if (o.min !== undefined && n < o.min) return this.fail(at, `Ensure this value is greater than or equal to ${o.min}.`);
    return n;
  }

  /** The values of a list field: a JSON array, repeated form keys, or one value ('' and null: none). */
  private items(name: string): unknown[] | undefined {
    if (!this.has(name)) return undefined;
    const v = this.raw(name);
    return Array.isArray(v) ? (v as unknown[]) : v === null || v === '' ? [] : [v];
  }

  /** A list of whole numbers: a JSON array, repeated form keys, or one value. */
  intList(name: string): number[] | undefined {
    const items = this.items(name);
    if (!items) return undefined;
    const out: number[] = [];
    items.forEach((x, i) => {
      const n = this.intValue(x, [name, i], { min: 1 });
      if (typeof n === 'number') out.push(n);
    });
    return out;
  }

  /** A list of strings: a JSON array, repeated form keys, or one value. */
  stringList(name: string): string[] | undefined {
    const items = this.items(name);
    if (!items) return undefined;
    const out: string[] = [];
    for (const x of items) {
      if (typeof x !== 'string') this.fail(name, 'Not a valid string.');
      else if (x.includes('\0')) this.fail(name, NULL_CHARACTERS);
      else if (x.trim()) out.push(x.trim());
    }
    return out;
  }

  /** true/false as DRF reads them (`1`, `true`, `True`, `on`, ...); a bare form key is false. */
  bool(name: string): boolean | undefined {
    if (!this.has(name)) return undefined;
    const v = this.one(name);
    if (typeof v === 'boolean') return v;
    if (v === null || v === '') return false;
    // A JSON object or a file is no boolean; an array of scalars reads as its comma-joined text, as String() writes it.
    if (typeof v !== 'string' && typeof v !== 'number' && !Array.isArray(v)) return this.fail(name, 'Must be a valid boolean.');
    const s = String(v).trim().toLowerCase();
    if (['1', 'true', 'on', 'yes', 'y', 't'].includes(s)) return true;
    if (['0', 'false', 'off', 'no', 'n', 'f'].includes(s)) return false;
    return this.fail(name, 'Must be a valid boolean.');
  }

  datetime(name: string, o: { nullable?: boolean } = {}): Date | null | undefined {
    if (!this.has(name)) return undefined;
    const v = this.one(name);
    if (v === null || v === '') return o.nullable ? null : this.fail(name, DATETIME_FORMAT);
    if (typeof v !== 'string') return this.fail(name, DATETIME_FORMAT);
    const d = parseIsoDatetime(v.trim());
    return d ?? this.fail(name, DATETIME_FORMAT);
  }

  /** A nested object (absent: an empty one). */
  object(name: string): Fields {
    const v = this.raw(name);
    if (v === undefined || v === null) return new Fields({}, this.errors, [...this.base, name]);
    if (typeof v !== 'object' || Array.isArray(v) || isFile(v)) {
      this.fail(name, 'Invalid data. Expected a dictionary.');
      return new Fields({}, this.errors, [...this.base, name]);
    }
    return new Fields(v as Record<string, unknown>, this.errors, [...this.base, name]);
  }

  /** A list of nested objects. */
  objects(name: string, o: { required?: boolean } = {}): Fields[] {
    if (!this.has(name) || this.raw(name) === null) {
      if (o.required) this.fail(name, REQUIRED);
      return [];
    }
    const v = this.raw(name);
    const items = Array.isArray(v) ? v : [v];
    return items.flatMap((x, i) => {
      if (typeof x !== 'object' || x === null || Array.isArray(x) || isFile(x)) {
        this.fail([name, i], 'Invalid data. Expected a dictionary.');
        return [];
      }
      return [new Fields(x as Record<string, unknown>, this.errors, [...this.base, name, i])];
    });
  }

  /** A file: a multipart part, or a data URI string. */
  file(name: string): Buffer | null | undefined {
    if (!this.has(name)) return undefined;
    const v = this.one(name);
    if (v === null || v === '') return null;
    if (isFile(v)) return v.data;
    if (typeof v === 'string') {
      const data = dataUri(v);
      if (data) return data;
    }
    return this.fail(name, 'The submitted data was not a file. Check the encoding type on the form.');
  }
}

/** ISO 8601 as DRF accepts it; no zone means UTC. Undefined when malformed or not a real date. */
export function parseIsoDatetime(s: string): Date | undefined {
  const m = ISO.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  const ms = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec ?? 0), ms);
  const check = new Date(utc);
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(sec ?? 0) > 59)
    return undefined;
  let offset = 0;
  if (zone && zone.toUpperCase() !== 'Z') {
    const z = zone.replace(':', '');
    offset = (z[0] === '-' ? -1 : 1) * (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5)));
  }
  return new Date(utc - offset * 60_000);
}

/** The bytes of a base64 data URI (`data:<type>[;param=value]*;base64,<data>`; whitespace in the data ignored). */
export function dataUri(s: string): Buffer | undefined {
  const m = /^data:([^,]*),([\s\S]*)$/i.exec(s.trim());
  if (!m) return undefined;
  const params = m[1]!.split(';').map((p) => p.trim().toLowerCase());
  const payload = m[2]!.replace(/\s+/g, '');
  if (!params.includes('base64')) return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(payload) || payload.length % 4 === 1) return undefined;
  return Buffer.from(payload, 'base64');
}

// --------------------------------------------------------------------------------------------------- resources

const PAGE_SIZE = 100;
const PAGE_SIZE_MAX = 1000;
/** An object id in a path or a filter. */
export const ID = /^[1-9]\d{0,15}$/;

/** A page request: `?page=` from 1, `?page_size=` up to PAGE_SIZE_MAX. */
export function pageOf(req: Request): { page: number; size: number; offset: number } {
  // express parses the query string anew on every read of req.query.
  const query = req.query;
  const q = (name: string) => (typeof query[name] === 'string' ? query[name] : undefined);
  const given = q('page');
  const page = given === undefined || given === 'last' ? 1 : Number(given);
  if (!Number.isSafeInteger(page) || page < 1) throw new EmailiciousError(404, { detail: 'Invalid page.' });
  const givenSize = q('page_size');
  let size = givenSize === undefined ? PAGE_SIZE : Number(givenSize);
  if (!Number.isSafeInteger(size) || size < 1) size = PAGE_SIZE;
  size = Math.min(size, PAGE_SIZE_MAX);
  return { page, size, offset: (page - 1) * size };
}

export function idParam(req: Request, name: string): number {
  const v = String(req.params[name] ?? '');
  if (!ID.test(v)) throw NOT_FOUND();
  return Number(v);
}

/** Subscriber fields of a body: the address, and every other writable field (standard ones checked). */
export function subscriberInput(body: Record<string, unknown>, o: { partial: boolean }): { email?: string; params: Record<string, unknown> } {
  const errors = new FieldErrors();
  const f = new Fields(body, errors);
  const email = f.string('email', { required: !o.partial, max: 254 });
  if (email && !isValidEmail(email)) f.fail('email', 'Enter a valid email address.');
  const params: Record<string, unknown> = {};
  if (!o.partial) Object.assign(params, STANDARD_FIELDS);
  for (const name of ['first_name', 'last_name'] as const) {
    const v = f.string(name, { blank: true, nullable: true, max: 100 });
    if (v !== undefined) params[name] = v ?? '';
  }
  const gender = f.string('gender', { blank: true, nullable: true });
  if (gender !== undefined) {
    if (gender && !['m', 'f'].includes(gender)) f.fail('gender', `"${gender}" is not a valid choice.`);
    else params.gender = gender ?? '';
  }
  const dob = f.string('date_of_birth', { nullable: true });
  if (dob !== undefined) {
    if (dob && !/^\d{4}-\d{2}-\d{2}$/.test(dob)) f.fail('date_of_birth', 'Date has wrong format. Use one of these formats instead: YYYY-MM-DD.');
    else params.date_of_birth = dob;
  }
  for (const name of ['language', 'region'] as const) {
    const v = f.string(name, { blank: true, nullable: true, max: 10 });
    if (v !== undefined) params[name] = v ?? '';
  }
  // Custom fields, flat: any other name with a plain value.
  for (const [k, v] of Object.entries(body)) {
    if (READ_ONLY_FIELDS.has(k) || k in STANDARD_FIELDS) continue;
    if (v !== null && typeof v === 'object') f.fail(k, 'Not a valid value: a custom field holds a string, a number or a boolean.');
    else if (k.includes('\0') || (typeof v === 'string' && v.includes('\0'))) f.fail(k.replace(/\0/g, ''), NULL_CHARACTERS);
    else params[k] = v;
  }
  errors.check();
  return { ...(email ? { email } : {}), params };
}

export function listInput(body: Record<string, unknown>, o: { partial: boolean }) {
  const errors = new FieldErrors();
  const f = new Fields(body, errors);
  const out = {
    name: f.string('name', { required: !o.partial, max: 255 }) ?? undefined,
    default_from_name: f.string('default_from_name', { blank: true, nullable: true, max: 255 }),
    default_from_email: f.string('default_from_email', { blank: true, nullable: true, max: 254 }),
    default_replyto_email: f.string('default_replyto_email', { blank: true, nullable: true, max: 254 }),
    language: f.string('default_language', { blank: true, nullable: true, max: 10 }),
    languages: f.stringList('languages'),
  };
  errors.check();
  return out;
}

export function mailingInput(body: Record<string, unknown>) {
  const errors = new FieldErrors();
  const f = new Fields(body, errors);
  const list = f.int('list', { required: true, min: 1 });
  const name = f.string('name', { required: true, max: 255 });
  const campaign = f.int('campaign', { nullable: true, min: 1 });
  const segments = f.intList('segments');
  const variants: VariantInput[] = f.objects('variants', { required: true }).map((v) => {
    const layout = v.object('layout');
    return {
      language: v.string('language', { nullable: true, max: 10 }),
      fromName: v.string('from_name', { blank: true, nullable: true, max: 255 }),
      fromEmail: v.string('from_email', { blank: true, nullable: true, max: 254 }),
      replytoEmail: v.string('replyto_email', { blank: true, nullable: true, max: 254 }),
      subject: v.string('subject', { required: true, max: 998 }) ?? '',
      text: layout.string('text', { blank: true, nullable: true }),
      zip: layout.file('zip_file'),
      deliveries: v.objects('deliveries').map((d) => ({
        scheduledAt: d.datetime('scheduled_datetime', { nullable: true }),
        limit: d.int('limit', { nullable: true, min: 1 }),
        exclusions: d.intList('exclusions'),
      })),
    };
  });
  const given = f.raw('variants');
  if (Array.isArray(given) && !given.length) f.fail('variants', 'This list may not be empty.');
  errors.check();
  return { list: list!, name: name!, campaign: campaign ?? null, segments: segments ?? [], variants };
}

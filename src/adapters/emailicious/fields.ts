/**
 * Reading Emailicious request fields as Django REST Framework's serializers do, every problem collected with
 * its path and DRF's own message: form values arrive as strings (a bare key as null, a repeated key as an
 * array), JSON values typed. Datetimes are ISO 8601 with optional seconds and zone (the PHP client's tests
 * send `2015-05-25T16:25`); one without a zone is UTC. Files are data URIs in JSON (Python 2's base64 with its
 * line breaks, and media-type parameters such as `charset=utf-8`, accepted) or multipart file parts.
 */
import type { FieldErrors } from './errors.js';
import type { FormLeaf } from './values.js';

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
    return Array.isArray(v) ? v : v === null || v === '' ? [] : [v];
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
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(sec ?? 0) > 59) return undefined;
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

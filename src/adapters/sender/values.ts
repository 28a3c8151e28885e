/**
 * Reading Sender's parameters as real clients send them: from the query string and the body alike (the
 * body wins), form-encoded (every value a string; "complex" fields as JSON strings) or JSON (complex fields
 * as objects, or still as JSON strings: Yandex Pay's client sends `headers` so); booleans as true/false,
 * True/False (Python's str(bool)), 1/0, yes/no; durations as seconds or `12h13m11s`.
 */
import { SenderError } from './errors.js';

export type Params = Record<string, unknown>;

/** Query and body merged, the body winning; a bare JSON array body is `{items: [...]}`. */
export function paramsOf(query: unknown, body: unknown): Params {
  const out: Params = {};
  if (query && typeof query === 'object') for (const [k, v] of Object.entries(query as Params)) out[k] = Array.isArray(v) ? v.at(-1) : v;
  if (Array.isArray(body)) out.items = body;
  else if (body && typeof body === 'object') Object.assign(out, body as Params);
  return out;
}

const TRUE = new Set(['true', '1', 'yes', 'on', 't', 'y']);
const FALSE = new Set(['false', '0', 'no', 'off', 'f', 'n', '']);

export function boolParam(p: Params, name: string, fallback: boolean): boolean {
  const v = p[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (TRUE.has(s)) return true;
    if (FALSE.has(s)) return false;
  }
  throw SenderError.field(name, 'Must be a valid boolean.');
}

/** A field that is an object or array, or a JSON string of one; undefined when absent. */
export function jsonParam(p: Params, name: string, want: 'object' | 'array'): unknown {
  let v = p[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      throw SenderError.field(name, 'Value must be valid JSON.');
    }
  }
  const ok = want === 'array' ? Array.isArray(v) : typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!ok) throw SenderError.field(name, want === 'array' ? 'Expected a list of items.' : 'Expected a JSON object.');
  return v;
}

export function stringParam(p: Params, name: string): string | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number') return String(v);
  throw SenderError.field(name, 'Not a valid string.');
}

/** Non-negative integer parameter (query or body); undefined when absent. */
export function intParam(p: Params, name: string, o: { min?: number; max?: number } = {}): number | undefined {
  const v = p[name];
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d{1,16}\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw SenderError.field(name, 'A valid integer is required.');
  if (o.min !== undefined && n < o.min) throw SenderError.field(name, `Ensure this value is greater than or equal to ${o.min}.`);
  if (o.max !== undefined && n > o.max) throw SenderError.field(name, `Ensure this value is less than or equal to ${o.max}.`);
  return n;
}

/** Seconds, as an integer or `12h13m11s` (any of d, h, m, s, in that order); undefined when absent. */
export function durationParam(p: Params, name: string): number | undefined {
  const v = p[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return Math.floor(v);
  if (typeof v === 'string') {
    const s = v.trim();
    if (/^\d{1,9}$/.test(s)) return Number(s);
    const m = /^(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,9})s)?$/i.exec(s);
    if (m && s) return Number(m[1] ?? 0) * 86_400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
  }
  throw SenderError.field(name, 'Expected seconds or a duration like "12h13m11s".');
}

/**
 * `after` of the content pages: `YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]`; without a zone, UTC.
 * Returns the instant and its normalized echo (with the zone), or undefined when absent.
 */
export function afterParam(p: Params): { at: Date; echo: string } | undefined {
  const v = p.after;
  if (v === undefined || v === null || v === '') return undefined;
  const m =
    typeof v === 'string' ? /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:?\d{2})?$/i.exec(v.trim()) : null;
  if (!m) throw SenderError.field('after', 'Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].');
  const zone = !m[5] || m[5].toUpperCase() === 'Z' ? '+00:00' : m[5].includes(':') ? m[5] : `${m[5].slice(0, 3)}:${m[5].slice(3)}`;
  const frac = m[4] ? `.${m[4].padEnd(6, '0')}` : '';
  const echo = `${m[1]}T${m[2]}:${m[3] ?? '00'}${frac}${zone}`;
  const at = new Date(`${m[1]}T${m[2]}:${m[3] ?? '00'}${m[4] ? `.${m[4].slice(0, 3).padEnd(3, '0')}` : ''}${zone}`);
  if (Number.isNaN(at.getTime())) throw SenderError.field('after', 'Datetime has wrong format.');
  return { at, echo };
}

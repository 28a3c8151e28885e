/**
 * Reading Sender's parameters as real clients send them: from the query string and the body alike (the
 * body wins), form-encoded (every value a string; "complex" fields as JSON strings) or JSON (complex fields
 * as objects, or still as JSON strings: Yandex Pay's client sends `headers` so); booleans as true/false,
 * True/False (Python's str(bool)), 1/0, yes/no; durations as seconds or `12h13m11s`.
 */
import { isValidEmail } from '../../core/email.js';
import { inputProblem } from '../../core/input.js';
import type { Address } from '../../core/transactional/service.js';
import { SenderError, WRONG_EMAIL } from './errors.js';

export type Params = Record<string, unknown>;

/** Query and body merged, the body winning; a bare JSON array body is `{items: [...]}`. */
export function paramsOf(query: unknown, body: unknown): Params {
  // No prototype: a `__proto__` member is a parameter like any other, never the object's prototype (through
  // which every absent parameter would be read).
  const out = Object.create(null) as Params;
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
    // A JSON string inside a field is decoded here, not by the body parser: the input rules apply again.
    const problem = inputProblem(v);
    if (problem) throw SenderError.field(name, `Value must be valid JSON: ${problem}.`);
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
  const m = typeof v === 'string' ? /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:?\d{2})?$/i.exec(v.trim()) : null;
  if (!m) throw SenderError.field('after', 'Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].');
  const zone = !m[5] || m[5].toUpperCase() === 'Z' ? '+00:00' : m[5].includes(':') ? m[5] : `${m[5].slice(0, 3)}:${m[5].slice(3)}`;
  const frac = m[4] ? `.${m[4].padEnd(6, '0')}` : '';
  const echo = `${m[1]}T${m[2]}:${m[3] ?? '00'}${frac}${zone}`;
  const at = new Date(`${m[1]}T${m[2]}:${m[3] ?? '00'}${m[4] ? `.${m[4].slice(0, 3).padEnd(3, '0')}` : ''}${zone}`);
  if (Number.isNaN(at.getTime())) throw SenderError.field('after', 'Datetime has wrong format.');
  return { at, echo };
}

/** The address in the first of `names` given (`to_email`, then `email`); `Wrong email format` otherwise. */
export function emailOf(p: Params, ...names: string[]): string {
  for (const n of names) {
    const v = stringParam(p, n);
    if (v) {
      if (!isValidEmail(v)) throw WRONG_EMAIL();
      return v;
    }
  }
  throw WRONG_EMAIL();
}

/** `params` of a subscriber: an object, or a JSON string of one. */
export const subscriberParams = (p: Params) => (jsonParam(p, 'params', 'object') as Record<string, unknown> | undefined) ?? {};

/** `items` of a bulk call: objects with an email and optional params (an object, or a JSON string of one). */
export function itemsOf(p: Params): { email: unknown; params?: Record<string, unknown> }[] {
  const items = jsonParam(p, 'items', 'array') as unknown[] | undefined;
  if (!items) throw SenderError.field('items', 'This field is required.');
  return items.map((item, i) => {
    if (!item || typeof item !== 'object' || Array.isArray(item)) throw SenderError.field('items', `items[${i}]: expected an object with an email.`);
    const it = item as Params;
    let params: unknown = it.params;
    if (typeof params === 'string') {
      try {
        params = params ? JSON.parse(params) : {};
      } catch {
        throw SenderError.field('items', `items[${i}].params: Value must be valid JSON.`);
      }
      const problem = inputProblem(params);
      if (problem) throw SenderError.field('items', `items[${i}].params: Value must be valid JSON: ${problem}.`);
    }
    if (params !== undefined && params !== null && (typeof params !== 'object' || Array.isArray(params)))
      throw SenderError.field('items', `items[${i}].params: Expected a JSON object.`);
    return { email: it.email, ...(params ? { params: params as Record<string, unknown> } : {}) };
  });
}

/** Most subscribers one content page returns (and its default). */
export const PAGE_MAX = 1000;

/** `after` / `offset` / `limit` of a content page. */
export function pageParams(p: Params): { after: { at: Date; echo: string } | undefined; offset: number; limit: number } {
  const after = afterParam(p);
  const offset = intParam(p, 'offset', { min: 0 }) ?? 0;
  const limit = Math.min(intParam(p, 'limit', { min: 1 }) ?? PAGE_MAX, PAGE_MAX);
  return { after, offset, limit };
}

/**
 * A transactional send (`POST .../transactional/<campaign>/send`) as Sender's page and its real
 * clients write it: `to_email` (body or query; it wins over `to`), or `to` / `cc` / `bcc` lists of
 * `{email, name}`; `args` (an object or a JSON string, echoed back in the form it came); `attachments`
 * `[{filename, mime_type, data (base64)}]` (echoed with `data` as "<binary data>"); `headers` (an object, or a
 * JSON string of one even in a JSON body, as Yandex Pay's client sends it); `from_email` / `from_name` (not
 * echoed); `async` (default true), `countdown` (none), `expires` (86400 s); `ignore_empty_email`; `has_ugc`
 * and `for_testing` (read and echoed; they change nothing in Mailgate). `to_yandex_puid` cannot be resolved
 * without Yandex's user directory: it counts as no address (400, or 202 with ignore_empty_email).
 * Headers that would break the message (Content-*, MIME-Version, Message-ID, From, To, Cc, Bcc, Date,
 * Return-Path, List-Unsubscribe*, DKIM-Signature, Received, X-Mailgate-*) are ignored.
 */
const RESERVED_HEADER =
  /^(content-.*|mime-version|message-id|from|sender|to|cc|bcc|date|return-path|list-unsubscribe(-post)?|dkim-signature|received|x-mailgate-.*)$/i;
const HEADER_NAME = /^[!-9;-~]{1,76}$/;
const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

export interface TransactionalRequest {
  to: Address[];
  cc: Address[];
  bcc: Address[];
  args: Record<string, unknown>;
  attachments: { filename: string; data: string; contentType: string; charset?: string; mime: string }[];
  headers: [string, string][];
  from?: Address;
  async: boolean;
  countdown: number | null;
  expires: number;
  ignoreEmpty: boolean;
  echo: { source: Record<string, unknown>; control: Record<string, unknown> };
}

function addresses(p: Params, name: string): Address[] {
  const list = (jsonParam(p, name, 'array') as unknown[] | undefined) ?? [];
  return list.map((a, i) => {
    const item = (typeof a === 'string' ? { email: a } : a) as { email?: unknown; name?: unknown } | null;
    const email = typeof item?.email === 'string' ? item.email.trim() : '';
    if (!isValidEmail(email))
      throw new SenderError(400, {
        result: { status: 'ERROR', error: { [name]: Object.assign(Array(i + 1).fill({}), { [i]: { email: ['Invalid value'] } }) } },
      });
    return { email, name: typeof item?.name === 'string' && item.name ? item.name : null };
  });
}

export function transactionalRequest(p: Params): TransactionalRequest {
  const toEmail = stringParam(p, 'to_email');
  if (toEmail && !isValidEmail(toEmail)) throw SenderError.field('to_email', 'Enter a valid email address.');
  const to = toEmail ? [{ email: toEmail, name: null }] : addresses(p, 'to');
  const cc = addresses(p, 'cc');
  const bcc = addresses(p, 'bcc');
  const args = (jsonParam(p, 'args', 'object') as Record<string, unknown> | undefined) ?? {};

  const rawAttachments = (jsonParam(p, 'attachments', 'array') as unknown[] | undefined) ?? [];
  const attachments = rawAttachments.map((a, i) => {
    const x = (a ?? {}) as { filename?: unknown; mime_type?: unknown; data?: unknown };
    if (typeof x.filename !== 'string' || !x.filename) throw SenderError.field('attachments', `attachments[${i}]: filename is required.`);
    if (typeof x.data !== 'string' || !BASE64.test(x.data)) throw SenderError.field('attachments', `attachments[${i}]: data must be base64.`);
    // A MIME type may carry parameters (`text/plain;charset=utf-8`): the charset is kept, the rest dropped.
    const mime = typeof x.mime_type === 'string' && x.mime_type.trim() ? x.mime_type.trim() : 'application/octet-stream';
    const contentType = mime.split(';')[0]!.trim().toLowerCase();
    if (!/^[\w.+-]+\/[\w.+-]+$/.test(contentType)) throw SenderError.field('attachments', `attachments[${i}]: not a MIME type: ${JSON.stringify(mime)}.`);
    const charset = /;\s*charset\s*=\s*"?([\w.:-]+)"?/i.exec(mime)?.[1];
    return { filename: x.filename, data: x.data.replace(/\s+/g, ''), contentType, ...(charset ? { charset } : {}), mime };
  });

  const rawHeaders = (jsonParam(p, 'headers', 'object') as Record<string, unknown> | undefined) ?? {};
  const headers: [string, string][] = [];
  for (const [name, value] of Object.entries(rawHeaders)) {
    if (!HEADER_NAME.test(name)) throw SenderError.field('headers', `Not a valid header name: ${JSON.stringify(name)}.`);
    if (typeof value !== 'string' && typeof value !== 'number') throw SenderError.field('headers', `${name}: a header value is a string.`);
    if (RESERVED_HEADER.test(name)) continue;
    headers.push([name, String(value).replace(/[\r\n]+/g, ' ')]);
  }

  const fromEmail = stringParam(p, 'from_email');
  if (fromEmail && !isValidEmail(fromEmail)) throw SenderError.field('from_email', 'Invalid value');
  const fromName = stringParam(p, 'from_name');

  const async = boolParam(p, 'async', true);
  const countdown = durationParam(p, 'countdown') ?? null;
  const expires = durationParam(p, 'expires') ?? 86_400;
  const ignoreEmpty = boolParam(p, 'ignore_empty_email', false);
  const forTesting = boolParam(p, 'for_testing', false);
  boolParam(p, 'has_ugc', false);

  const source: Record<string, unknown> = {
    to: toEmail ? [] : to.map((a) => ({ email: a.email, ...(a.name ? { name: a.name } : {}) })),
    cc: cc.map((a) => ({ email: a.email, ...(a.name ? { name: a.name } : {}) })),
    bcc: bcc.map((a) => ({ email: a.email, ...(a.name ? { name: a.name } : {}) })),
  };
  if (toEmail) source.to_email = toEmail;
  if (p.args !== undefined) source.args = p.args;
  if (p.attachments !== undefined) source.attachments = attachments.map((a) => ({ filename: a.filename, mime_type: a.mime, data: '<binary data>' }));
  if (p.headers !== undefined) source.headers = rawHeaders;
  if (p.ignore_empty_email !== undefined) source.ignore_empty_email = ignoreEmpty;
  return {
    to,
    cc,
    bcc,
    args,
    attachments,
    headers,
    ...(fromEmail ? { from: { email: fromEmail, name: fromName || null } } : {}),
    async,
    countdown,
    expires,
    ignoreEmpty,
    echo: { source, control: { async, countdown, expires, for_testing: forTesting } },
  };
}

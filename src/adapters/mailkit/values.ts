/**
 * Reading Mailkit parameters the lenient way real clients need: numbers as strings, numbers or untyped
 * values; booleans as `<boolean>`, true/false, or the strings "TRUE"/"FALSE" (Mailkit's PHP clients); user
 * data in base64 (the PHP clients encode every personal, address and custom value) or plain; an empty struct
 * sent as `{'': null}` (how PHP makes xmlrpc_encode write a struct).
 */
import { RAW_LOG_MAX } from '../../core/bounces/service.js';
import { isStruct, wireText, type RpcValue } from '../../rpc/values.js';
import { MailkitError } from './errors.js';

/** A call's parameters by name, as either encoding carried them. */
export type MailkitArgs = Record<string, RpcValue | undefined>;

const INTEGER = /^\s*[+-]?\d{1,15}\s*$/;

/** An optional id: "", 0, "0" or absent = null (not narrowed); else a positive integer, or `Invalid <name>`. */
export function optionalId(v: RpcValue | undefined, name: string): number | null {
  if (v === undefined || v === null || v === '' || v === 0 || v === '0') return null;
  const n = typeof v === 'number' ? v : typeof v === 'string' && INTEGER.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new MailkitError(`Invalid ${name}`);
  return n === 0 ? null : n;
}

/** A required id: `Missing <name>` when absent or empty, `Invalid <name>` when not a positive integer. */
export function requiredId(v: RpcValue | undefined, name: string, missing = `Missing ${name}`): number {
  const n = optionalId(v, name);
  if (n === null) throw new MailkitError(v === undefined || v === null || v === '' ? missing : `Invalid ${name}`);
  return n;
}

/** A count with a default and a maximum; above the maximum is an error. */
export function countOf(v: RpcValue | undefined, name: string, dflt: number, max: number): number {
  const n = optionalId(v, name) ?? dflt;
  if (n > max) throw new MailkitError(`Invalid ${name}: at most ${max}`);
  return n;
}

/**
 * Mailgate's `verdict` parameter of the link and response reports: which opens and clicks they count, `human`
 * (absent or empty: the default), `machine` or `all`.
 */
export function verdictOf(v: RpcValue | undefined): 'human' | 'machine' | 'all' {
  const t = v === undefined || v === null ? '' : typeof v === 'string' ? v.trim().toLowerCase() : null;
  if (t === '') return 'human';
  if (t === 'human' || t === 'machine' || t === 'all') return t;
  throw new MailkitError('Invalid verdict');
}

export function boolOf(v: RpcValue | undefined): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return /^\s*(true|1|yes|on)\s*$/i.test(v);
  return false;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// eslint-disable-next-line no-control-regex -- control characters in a decoded value mean it was not base64-encoded text
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/;

/**
 * A user-data value as text. `<base64>` values are decoded; a string that is canonical base64 and decodes to
 * clean UTF-8 text is decoded too (the PHP clients send every value so); anything else is taken as given.
 * "Jan" or "a@b.cz" are not base64; a plain value that happens to be is rare and would have to decode to
 * valid UTF-8 text to be misread.
 */
export function userText(v: RpcValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v !== 'string') return undefined;
  if (v.length >= 4 && BASE64.test(v)) {
    const bytes = Buffer.from(v, 'base64');
    const text = bytes.toString('utf8');
    if (Buffer.from(text, 'utf8').equals(bytes) && !CONTROL.test(text)) return text;
  }
  return v;
}

/** A struct of user data (personal, address, custom) as text fields; `{'': null}` and non-structs are empty. */
export function userStruct(v: RpcValue | undefined, decode: (x: RpcValue | undefined) => string | undefined = userText): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isStruct(v)) return out;
  for (const [k, x] of Object.entries(v)) {
    if (!k) continue;
    const t = decode(x);
    if (t !== undefined) out[k] = t;
  }
  return out;
}

/** Plain text fields (import sends them unencoded). */
export const plainText = (v: RpcValue | undefined): string | undefined =>
  v === undefined || v === null ? undefined : Buffer.isBuffer(v) ? v.toString('utf8') : typeof v === 'object' ? undefined : String(v);

/**
 * One section of user data: a struct, or nothing. PHP clients encode a section without fields as an empty
 * array (`xmlrpc_encode([])`, `json_encode([])`), so absent, null, '' and an empty array are an empty section;
 * anything else (a string, a number, a list of values) is `Invalid <section>`, never silently dropped.
 */
function section(v: RpcValue | undefined, name: string, decode: (x: RpcValue | undefined) => string | undefined): Record<string, string> {
  if (v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0)) return {};
  if (!isStruct(v)) throw new MailkitError(`Invalid ${name}`);
  return userStruct(v, decode);
}

/** personal + address + custom sections as one set of subscriber params (`email` taken out). */
export function userData(personal: RpcValue | undefined, address: RpcValue | undefined, custom: RpcValue | undefined, decode = userText) {
  const params: Record<string, string> = {
    ...section(address, 'address', decode),
    ...section(custom, 'custom', decode),
    ...section(personal, 'personal', decode),
  };
  const email = params.email?.trim();
  delete params.email;
  return { email, params };
}

/** A subscriber named by its id (digits) or its address; null when empty. */
export function emailOrId(v: RpcValue | undefined): { email: string } | { id: number } | null {
  const text = plainText(v)?.trim();
  if (!text) return null;
  if (/^\d{1,15}$/.test(text)) return { id: Number(text) };
  return { email: text };
}

/**
 * The parameters of both raw logs: narrowed by message and send, from a start id (inclusive, default 1),
 * at most RAW_LOG_MAX records.
 */
export function rawPage(a: MailkitArgs, cursor: string) {
  return {
    filter: { mailingId: optionalId(a.ID_message, 'ID_message'), sendId: optionalId(a.ID_send, 'ID_send') },
    from: optionalId(a[cursor], cursor) ?? 1,
    limit: countOf(a.limit, 'limit', RAW_LOG_MAX, RAW_LOG_MAX),
  };
}

/** `2026-11-23 10:00:00` (UTC), Mailkit's date format; '' for none. */
export function mkDate(d: Date | null | undefined): string {
  return d ? d.toISOString().slice(0, 19).replace('T', ' ') : '';
}

/** A range bound: `YYYY-MM-DD` or `YYYY-MM-DD HH:MM[:SS]` (UTC). A date alone as `to` includes that day. */
export function rangeBound(v: RpcValue | undefined, name: string, end: boolean): Date | null {
  if (v === undefined || v === null || v === '') return null;
  const s = v instanceof Date ? v.toISOString() : wireText(v);
  const m = /^\s*(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?\s*$/.exec(s.replace(/\.\d+Z?$|Z$/, ''));
  if (!m) throw new MailkitError(`Invalid ${name}`);
  const d = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0)));
  if (Number.isNaN(d.getTime()) || d.getUTCDate() !== +m[3]!) throw new MailkitError(`Invalid ${name}`);
  if (end && m[4] === undefined) d.setUTCDate(d.getUTCDate() + 1);
  return d;
}

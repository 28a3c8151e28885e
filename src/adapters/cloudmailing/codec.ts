/**
 * XML-RPC decoding and encoding on top of the `xmlrpc` package's Deserializer and Serializer, with their
 * weaknesses fixed:
 * - the Deserializer drives a non-strict sax parser (tag soup accepted, names upper-cased): we feed its
 *   handlers from a strict, synchronous sax parser instead, and accept only the XML-RPC tag names, exact case;
 * - DOCTYPE / ENTITY declarations are refused before parsing (and again if sax ever reports one): nothing is
 *   expanded or fetched; an undeclared entity reference is a sax error;
 * - a dateTime without zone was read as the server's LOCAL time: here it is UTC, with or without separators;
 * - lenient numbers (`parseInt('12abc')` = 12), `i8` returned as a string, `new Buffer` for base64, struct
 *   members built by assignment (a member named `__proto__` replaced the prototype), members without a name:
 *   all replaced by strict versions;
 * - characters that XML 1.0 forbids (`&#1;`, lone surrogates) are refused on input, and replaced by U+FFFD on
 *   output (the Serializer would throw on them);
 * - the Serializer writes dates in local time and `null` as `<nil/>` (Python's ServerProxy without allow_none
 *   refuses it): dates go out in UTC as `YYYYMMDDTHH:MM:SS`, null/undefined struct members are left out.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// The package's internals (no types are published for them); `sax` is resolved from xmlrpc's own location.
const Deserializer = require('xmlrpc/lib/deserializer.js') as DeserializerCtor;
const Serializer = require('xmlrpc/lib/serializer.js') as {
  serializeMethodResponse(value: unknown): string;
  serializeFault(fault: unknown): string;
};
const CustomType = require('xmlrpc/lib/customtype.js') as new (raw: string) => { raw: string; tagName: string };
const sax = createRequire(require.resolve('xmlrpc'))('sax') as SaxModule;

export type XmlRpcValue = string | number | boolean | Date | Buffer | null | XmlRpcValue[] | XmlRpcStruct;
export interface XmlRpcStruct {
  [name: string]: XmlRpcValue;
}

export interface MethodCall {
  methodName: string;
  params: XmlRpcValue[];
}

/** Anything that makes the body not an XML-RPC call: fault -32700. */
export class XmlRpcParseError extends Error {}

/** Deepest nesting of arrays and structs accepted (every later walk over a value is recursive). */
export const MAX_DEPTH = 64;

const TAGS = new Map(
  [
    'methodCall', 'methodName', 'params', 'param', 'value', 'i4', 'int', 'i8', 'boolean', 'string', 'double',
    'dateTime.iso8601', 'base64', 'struct', 'member', 'name', 'array', 'data', 'nil',
  ].map((t) => [t, t.toUpperCase()]),
);

// XML 1.0 Char production; with the `u` flag a lone surrogate matches the negated class.
const NOT_XML_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const NOT_XML_CHAR_G = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
const DECLARATION = /<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)/i;

const DATE_TIME = /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}(?::?\d{2})?)?$/;
const INTEGER = /^[+-]?\d{1,20}$/;
const DOUBLE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

/** An ISO 8601 dateTime as XML-RPC sends it; without a zone it is UTC. */
export function parseIso8601Utc(text: string): Date {
  const m = DATE_TIME.exec(text.trim());
  if (!m) throw new XmlRpcParseError(`not an ISO 8601 dateTime: ${JSON.stringify(text.slice(0, 40))}`);
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const ms = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  const check = new Date(t);
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) {
    throw new XmlRpcParseError(`not a valid date: ${JSON.stringify(text)}`);
  }
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0')) * 60_000;
  }
  return new Date(t);
}

/** `YYYYMMDDTHH:MM:SS` in UTC: what Python's xmlrpc.client reads as a naive datetime. */
export function formatIso8601Utc(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${String(d.getUTCFullYear()).padStart(4, '0')}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}T${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

function decodeText(body: Buffer): string {
  // The declared encoding is honoured for Latin-1 only; everything else must be UTF-8 (the XML default).
  const head = body.subarray(0, 200).toString('latin1');
  const enc = /^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(head)?.[1]?.toLowerCase();
  if (enc === 'iso-8859-1' || enc === 'latin1' || enc === 'latin-1') return body.toString('latin1');
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(body);
  } catch {
    throw new XmlRpcParseError('the body is not valid UTF-8');
  }
}

/** Decode one `methodCall`. Throws XmlRpcParseError for anything malformed. */
export function decodeMethodCall(body: Buffer): MethodCall {
  const text = decodeText(body);
  if (DECLARATION.test(text)) throw new XmlRpcParseError('DOCTYPE and entity declarations are not accepted');

  const d = strictDeserializer();
  let outcome: { error: unknown } | { result: XmlRpcValue[] } | undefined;
  d.callback = (error, result) => {
    outcome ??= error ? { error } : { result: result ?? [] };
  };
  const members: { mark: number; named: boolean }[] = [];
  let depth = 0;
  const fail = (message: string): never => {
    throw new XmlRpcParseError(message);
  };

  const p = sax.parser(true, { trim: false, normalize: false, position: true, strictEntities: true });
  // Only the five XML entities, without a prototype: `&constructor;` must not resolve to Object.
  p.ENTITIES = Object.assign(Object.create(null), { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" });
  p.onerror = (e) => fail(`malformed XML: ${e.message.split('\n')[0]}`);
  p.ondoctype = () => fail('DOCTYPE declarations are not accepted');
  p.onsgmldeclaration = () => fail('SGML declarations are not accepted');
  p.onopentag = (node) => {
    const name = TAGS.get(node.name) ?? fail(`unknown XML-RPC tag <${node.name.slice(0, 40)}>`);
    if (name === 'ARRAY' || name === 'STRUCT') {
      if (++depth > MAX_DEPTH) fail(`values nested deeper than ${MAX_DEPTH} levels`);
    }
    if (name === 'MEMBER') members.push({ mark: d.stack.length, named: false });
    d.onOpentag({ name });
  };
  p.onclosetag = (tag) => {
    const name = TAGS.get(tag)!;
    if (name === 'ARRAY' || name === 'STRUCT') depth--;
    if (name === 'NAME') {
      const m = members[members.length - 1] ?? fail('<name> outside a <member>');
      m.named = d.stack.length === m.mark;
    }
    if (name === 'MEMBER') {
      const m = members.pop()!;
      if (!m.named || d.stack.length !== m.mark + 2) fail('a struct <member> needs one <name> followed by one <value>');
    }
    d.onClosetag(name);
    if (d.error) fail(`malformed XML-RPC: ${String((d.error as Error).message ?? d.error)}`);
  };
  const onText = (t: string) => {
    if (NOT_XML_CHAR.test(t)) fail('a character not allowed in XML 1.0');
    d.onText(t);
  };
  p.ontext = onText;
  p.oncdata = onText;
  try {
    p.write(text).close();
  } catch (e) {
    if (e instanceof XmlRpcParseError) throw e;
    throw new XmlRpcParseError(`malformed XML: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  d.onDone();
  if (!outcome) fail('incomplete XML-RPC message');
  if ('error' in outcome!) fail(`malformed XML-RPC: ${outcome.error instanceof Error ? outcome.error.message : String(outcome.error)}`);
  if (d.type !== 'methodcall') fail('not a methodCall');
  if (!d.methodname || !/^[A-Za-z0-9_.:/-]{1,100}$/.test(d.methodname)) fail('missing or invalid methodName');
  return { methodName: d.methodname!, params: (outcome as { result: XmlRpcValue[] }).result };
}

/** A Deserializer whose value handlers are strict (see the header). */
function strictDeserializer(): DeserializerInstance {
  const d = new Deserializer('utf8');
  const push = (v: XmlRpcValue) => {
    d.push(v);
    d.value = false;
  };
  d.endInt = (data) => {
    const t = data.trim();
    const n = Number(t);
    if (!INTEGER.test(t)) throw new Error(`not an integer: ${JSON.stringify(data.slice(0, 40))}`);
    // Ids and counts here stay far below 2^53; a larger value cannot be one of ours.
    if (!Number.isSafeInteger(n)) throw new Error(`integer out of range (beyond 2^53): ${JSON.stringify(data.slice(0, 40))}`);
    push(n);
  };
  d.endI8 = d.endInt;
  d.endDouble = (data) => {
    const t = data.trim();
    if (!DOUBLE.test(t)) throw new Error(`not a double: ${JSON.stringify(data.slice(0, 40))}`);
    push(Number(t));
  };
  d.endBoolean = (data) => {
    const t = data.trim();
    if (t !== '0' && t !== '1') throw new Error(`not a boolean: ${JSON.stringify(data.slice(0, 40))}`);
    push(t === '1');
  };
  d.endBase64 = (data) => {
    if (!BASE64.test(data)) throw new Error('not base64');
    push(Buffer.from(data, 'base64'));
  };
  d.endDateTime = (data) => push(parseIso8601Utc(data));
  d.endStruct = () => {
    const mark = d.marks.pop()!;
    const items = d.stack.slice(mark);
    const struct: XmlRpcStruct = {};
    for (let i = 0; i < items.length; i += 2) {
      // defineProperty: a member named __proto__ is data, not the object's prototype.
      Object.defineProperty(struct, String(items[i]), { value: items[i + 1], enumerable: true, writable: true, configurable: true });
    }
    d.stack.splice(mark, d.stack.length - mark, struct);
    d.value = false;
  };
  return d;
}

// ---------------------------------------------------------------------------------------------- encoding

function utcDateTime(date: Date) {
  const c = new CustomType(formatIso8601Utc(date));
  c.tagName = 'dateTime.iso8601';
  return c;
}

/**
 * What the Serializer may write: dates in UTC, no nil (null/undefined struct members left out, null array
 * items as ''), strings cleaned of characters XML cannot carry, integers out of range as doubles.
 */
function wire(v: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH + 8) throw new Error('value nested too deep to encode');
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v.replace(NOT_XML_CHAR_G, '\uFFFD');
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'boolean' || Buffer.isBuffer(v)) return v;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? '' : utcDateTime(v);
  if (Array.isArray(v)) return v.map((x) => wire(x, depth + 1));
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (x === null || x === undefined) continue;
      Object.defineProperty(out, k.replace(NOT_XML_CHAR_G, '\uFFFD'), { value: wire(x, depth + 1), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return String(v);
}

export function encodeResponse(value: unknown): string {
  return Serializer.serializeMethodResponse(wire(value));
}

export function encodeFault(faultCode: number, faultString: string): string {
  return Serializer.serializeFault(wire({ faultCode, faultString }));
}

// ------------------------------------------------------------------------- the untyped library internals

interface DeserializerInstance {
  type: string | null;
  methodname: string | null;
  stack: XmlRpcValue[];
  marks: number[];
  value: boolean;
  error: unknown;
  callback: (error: unknown, result?: XmlRpcValue[]) => void;
  push(v: XmlRpcValue): void;
  onOpentag(node: { name: string }): void;
  onClosetag(name: string): void;
  onText(text: string): void;
  onDone(): void;
  endInt(data: string): void;
  endI8(data: string): void;
  endDouble(data: string): void;
  endBoolean(data: string): void;
  endBase64(data: string): void;
  endDateTime(data: string): void;
  endStruct(data: string): void;
}
type DeserializerCtor = new (encoding?: string) => DeserializerInstance;

interface SaxParser {
  onerror: (e: Error) => void;
  ondoctype: (doctype: string) => void;
  onsgmldeclaration: (decl: string) => void;
  onopentag: (node: { name: string }) => void;
  onclosetag: (name: string) => void;
  ontext: (text: string) => void;
  oncdata: (text: string) => void;
  write(chunk: string): SaxParser;
  close(): SaxParser;
  ENTITIES: Record<string, string>;
}
interface SaxModule {
  parser(strict: boolean, opts: Record<string, unknown>): SaxParser;
}

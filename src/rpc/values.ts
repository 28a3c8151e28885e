/**
 * RPC values as every RPC dialect receives them (XML-RPC and JSON carry a subset of the same shapes), and
 * the lenient readings real clients of the original services rely on.
 */
import type { XmlRpcStruct, XmlRpcValue } from './xmlrpc.js';

export type RpcValue = XmlRpcValue;
export type RpcStruct = XmlRpcStruct;

export type WireType = 'int' | 'double' | 'boolean' | 'string' | 'dateTime.iso8601' | 'base64' | 'struct' | 'array';

export function isStruct(v: unknown): v is RpcStruct {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !Buffer.isBuffer(v);
}

export function wireType(v: RpcValue): WireType | 'nil' {
  if (v === null) return 'nil';
  if (typeof v === 'number') return Number.isSafeInteger(v) ? 'int' : 'double';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'string') return 'string';
  if (v instanceof Date) return 'dateTime.iso8601';
  if (Buffer.isBuffer(v)) return 'base64';
  return Array.isArray(v) ? 'array' : 'struct';
}

/**
 * A wire value as text for a message: what String() gives for scalars, dates, binaries and arrays of them,
 * and a struct (also inside an array) as JSON, binaries in it as base64, never as "[object Object]".
 */
export function wireText(v: RpcValue | undefined): string {
  if (isStruct(v)) return JSON.stringify(v, structJson);
  if (Array.isArray(v)) return v.map((x) => (x === null ? '' : wireText(x))).join(',');
  return String(v);
}

// JSON.stringify has already turned a Buffer into {type, data} (its toJSON); its holder still has the Buffer.
function structJson(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  return Buffer.isBuffer(raw) ? raw.toString('base64') : value;
}

/** Python's `bool(v)`: false for False, 0, 0.0, '', None, empty arrays, structs and binaries; true otherwise (even 'false'). */
export function pyBool(v: RpcValue | undefined): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v.length > 0;
  if (v instanceof Date) return true;
  if (Buffer.isBuffer(v) || Array.isArray(v)) return v.length > 0;
  return Object.keys(v).length > 0;
}

/** Python's `int(v)`: integers, floats truncated, booleans, and decimal strings (spaces and `_` allowed); else undefined. */
export function pyInt(v: RpcValue | undefined): number | undefined {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : undefined;
  const text = typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('latin1') : undefined;
  if (text === undefined || !/^\s*[+-]?\d+(?:_\d+)*\s*$/.test(text)) return undefined;
  const n = Number(text.replace(/[\s_]/g, ''));
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A value or list of values as strings (a bare string is a one-element list); undefined when one is not a string. */
export function stringsOf(v: RpcValue | undefined): string[] | undefined {
  const list = Array.isArray(v) ? v : [v];
  return list.every((x): x is string => typeof x === 'string') ? list : undefined;
}

/** A value or list of values as integers (Python `int()` of each); undefined when one is not. */
export function intsOf(v: RpcValue | undefined): number[] | undefined {
  const list = (Array.isArray(v) ? v : [v]).map(pyInt);
  return list.every((x): x is number => x !== undefined) ? list : undefined;
}

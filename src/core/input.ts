/**
 * What every dialect's decoder accepts, whatever its encoding (XML-RPC, JSON, JSON-RPC, form keys, a form
 * field holding JSON, query strings): the rules live here once, and each decoder answers a breach with its
 * own bad-input error.
 *
 * - Nesting: arrays and objects at most MAX_DEPTH levels deep. Every later walk over a value (JSON.stringify
 *   before Postgres, the serializers, jsonb itself) is recursive, so a value nested 100,000 deep would
 *   overflow the stack far from the decoder. 64 is twice the deepest shape any real client was seen sending
 *   (Emailicious' `variants[0].deliveries[0].segments` is 5 levels, Sender's `args` a few more) and far below
 *   what any recursive walk here can take; it was already XML-RPC's limit, so no answer changes there.
 * - Text: Unicode scalar values only. A lone UTF-16 surrogate (JSON's `"\ud800"`) is no character: Postgres
 *   refuses it in jsonb and a text column would silently get U+FFFD; bytes that are not UTF-8 are refused
 *   before decoding (decoders would put U+FFFD in their place).
 * - U+0000 is a character, but Postgres text cannot hold it: the pool answers it as INVALID_ARGUMENT wherever
 *   it would be stored (src/db/pool.ts), so it is refused there, with the same message on every dialect, and
 *   accepted where nothing stores it (a search term, a template's test data).
 *
 * Every check here is a loop with its own stack: none can overflow on what it is checking.
 */
import { isUtf8 } from 'node:buffer';

/** Deepest nesting of arrays and objects (structs) accepted in a decoded value; the value itself is level 1. */
export const MAX_DEPTH = 64;

export const TOO_DEEP = `a value is nested deeper than ${MAX_DEPTH} levels`;
export const NOT_UTF8 = 'the body is not valid UTF-8';
export const LONE_SURROGATE = 'a text value holds a lone UTF-16 surrogate, which is not Unicode text';

/** True when `text` holds a high surrogate not followed by a low one, or a low one not preceded by a high one. */
export function hasLoneSurrogate(text: string): boolean {
  // V8's own scan (ES2024; es2023 typings here): most text has no surrogate at all, and this runs on every
  // string of every request.
  return !(text as string & { isWellFormed(): boolean }).isWellFormed();
}

const isContainer = (v: unknown): v is object => typeof v === 'object' && v !== null && !(v instanceof Date) && !Buffer.isBuffer(v) && !ArrayBuffer.isView(v);

/**
 * Why a decoded value breaks the rules above (TOO_DEEP or LONE_SURROGATE), or undefined. Strings, member
 * names included, are checked at any depth; `maxDepth` is for a container whose own level the dialect does
 * not count (JSON-RPC's params array is XML-RPC's `<params>`).
 */
export function inputProblem(value: unknown, maxDepth: number = MAX_DEPTH): string | undefined {
  if (typeof value === 'string') return hasLoneSurrogate(value) ? LONE_SURROGATE : undefined;
  if (!isContainer(value)) return undefined;
  // Depth-first with an explicit stack of containers and their levels, each container's members in order
  // (keys before values); nothing allocated per member: bulk calls carry thousands of them.
  const nodes: object[] = [value];
  const levels: number[] = [1];
  while (nodes.length) {
    const node = nodes.pop()!;
    const level = levels.pop()!;
    if (level > maxDepth) return TOO_DEEP;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const x: unknown = node[i];
        if (typeof x === 'string') {
          if (hasLoneSurrogate(x)) return LONE_SURROGATE;
        } else if (isContainer(x)) {
          nodes.push(x);
          levels.push(level + 1);
        }
      }
    } else {
      const keys = Object.keys(node);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        if (hasLoneSurrogate(key)) return LONE_SURROGATE;
        const x = (node as Record<string, unknown>)[key];
        if (typeof x === 'string') {
          if (hasLoneSurrogate(x)) return LONE_SURROGATE;
        } else if (isContainer(x)) {
          nodes.push(x);
          levels.push(level + 1);
        }
      }
    }
  }
  return undefined;
}

/** Why a body's bytes are no UTF-8 text, or undefined. */
export const bytesProblem = (bytes: Uint8Array): string | undefined => (isUtf8(bytes) ? undefined : NOT_UTF8);

/**
 * Why the bytes a query string or form body stands for (its `%XX` escapes decoded, other bytes as they are)
 * are no UTF-8 text, or undefined: querystring decoders put U+FFFD in place of bad bytes without a word. A
 * query string comes as the request line's bytes read as Latin-1 (Node's reading), hence `latin1` here.
 */
export function escapedTextProblem(raw: Buffer | string): string | undefined {
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw;
  if (!bytes.includes(0x25)) return isUtf8(bytes) ? undefined : ESCAPED_NOT_UTF8;
  const out = Buffer.alloc(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const hi = hexDigit(bytes[i + 1]);
    const lo = hexDigit(bytes[i + 2]);
    if (bytes[i] === 0x25 && hi >= 0 && lo >= 0) {
      out[n++] = hi * 16 + lo;
      i += 2;
    } else out[n++] = bytes[i]!;
  }
  return isUtf8(out.subarray(0, n)) ? undefined : ESCAPED_NOT_UTF8;
}

const ESCAPED_NOT_UTF8 = 'the text is not valid UTF-8 once its %-escapes are decoded';

function hexDigit(b: number | undefined): number {
  if (b === undefined) return -1;
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const l = b | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

/**
 * Emailicious form bodies: flattened keys back into the nested request the JSON encoding would carry.
 *
 * Emailicious' PHP client (emailicious-php 1.0.0, `Http/QueryAggregator.php`) flattens an associative array
 * with a dot and a list of arrays with `[i]`: `variants[0].subject`, `variants[0].layout.text`,
 * `variants[0].deliveries[0].scheduled_datetime`; a list of scalars becomes the key repeated
 * (`segments=1&segments=2`); null and false become the bare key with no `=`. Its multipart layout part is named
 * `variants[0]layout.zip_file` (no dot: Django REST Framework's own form syntax). PHP's `http_build_query` and
 * curl users write `variants[0][subject]` and `segments[]=1`. All of these name the same paths here.
 */
import { invalid } from '../../core/errors.js';

export type FormLeaf = string | null | { filename: string; contentType: string; data: Buffer };
type Segment = string | number | '[]';

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
        invalid(`form key ${JSON.stringify(key)}: ${path.slice(0, upTo).join('.')} is given both as a value and as fields, or both as a list and as named fields`, key);
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

const nextKind = (seg: Segment): Node => (typeof seg === 'number' || seg === '[]' ? { kind: 'list', items: new Map(), appended: [] } : { kind: 'object', fields: new Map() });

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

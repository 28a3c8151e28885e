/**
 * How Emailicious' real clients reach the gateway in these tests:
 * - the official PHP client (emailicious-php 1.0.0): its bodies built here as it builds them — fields
 *   flattened by its QueryAggregator (`variants[0].subject`, a list of scalars as the key repeated, null and
 *   false as the bare key, true as 1, RFC 3986 escapes with brackets escaped), form-urlencoded, or, with a
 *   layout, its own multipart body (boundary of 32 hex digits, fields unescaped one part per value, the file
 *   part `variants[0]layout.zip_file` named `layout.zip`); `Accept: application/json`, its User-Agent, Basic
 *   auth with a login and the secret; it follows `next` by cutting its base URL off;
 * - the docs' examples: JSON bodies, the zip made by the docs' Python recipe (zipfile + a data URI with
 *   Python's base64 line breaks), sent by Python `requests`.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ZipFile } from 'yazl';
import { runProcess } from '../support/process.js';

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

export const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201e2a3a5b20000000049454e44ae426082',
  'hex',
);

export const basic = (secret: string, user = 'user@example.com') => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

export async function call(
  base: string,
  secret: string | null,
  method: string,
  path: string,
  o: { json?: unknown; body?: string | Buffer; type?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { accept: 'application/json', ...o.headers };
  if (secret !== null) headers.authorization = basic(secret);
  let body: string | Buffer | undefined;
  if (o.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(o.json);
  } else if (o.body !== undefined) {
    body = o.body;
    if (o.type) headers['content-type'] = o.type;
  }
  const res = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

// --- the PHP client's encodings ----------------------------------------------------------------------------

const rawurlencode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const isList = (v: unknown): v is unknown[] => Array.isArray(v);
const isAssoc = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);

/** QueryAggregator's flattening: [key, value | null (bare key)] in the array's order. */
export function phpPairs(fields: Record<string, unknown>): [string, string | null][] {
  const out: [string, string | null][] = [];
  const leaf = (key: string, v: unknown) => {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean' && v !== null) throw new Error(`phpPairs: ${key} is not a scalar`);
    out.push([key, v === null || v === false ? null : v === true ? '1' : String(v)]);
  };
  const walk = (key: string, v: unknown) => {
    if (isList(v)) {
      if (v.every((x) => !isList(x) && !isAssoc(x))) v.forEach((x) => leaf(key, x));
      else v.forEach((x, i) => walk(`${key}[${i}]`, x));
    } else if (isAssoc(v)) for (const [k, x] of Object.entries(v)) walk(`${key}.${k}`, x);
    else leaf(key, v);
  };
  for (const [k, v] of Object.entries(fields)) walk(k, v);
  return out;
}

/** The form-urlencoded body: RFC 3986 escapes on keys and values, `[` `]` escaped, bare keys for null. */
export const phpForm = (fields: Record<string, unknown>) =>
  phpPairs(fields)
    .map(([k, v]) => (v === null ? rawurlencode(k) : `${rawurlencode(k)}=${rawurlencode(v)}`))
    .join('&');

/** Client 1.0.0's own multipart body (fields unescaped, one part per value; then the files). */
export function phpMultipart(
  fields: Record<string, unknown>,
  files: Record<string, { filename: string; type: string; data: Buffer }>,
): { type: string; body: Buffer } {
  const boundary = createHash('md5')
    .update(String(Math.floor(Date.now() / 1000)))
    .digest('hex');
  const parts: Buffer[] = [];
  for (const [k, v] of phpPairs(fields)) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v ?? ''}\r\n`));
  for (const [k, f] of Object.entries(files)) {
    parts.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"; filename="${f.filename}"\r\nContent-Type: ${f.type}\r\n\r\n`),
      f.data,
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { type: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat(parts) };
}

/** The PHP client's request: its headers, the secret as the password of its login. */
export async function php(base: string, secret: string, method: string, path: string, body?: { type: string; body: string | Buffer }): Promise<Reply> {
  return await call(base, secret, method, path, {
    headers: { 'user-agent': 'emailicious/1.0.0;php' },
    ...(body ? { body: body.body, type: body.type } : {}),
  });
}

/** ResultsIterator: every result of a collection, following `next` with the base URL cut off it. */
export async function phpAll(base: string, secret: string, path: string): Promise<{ results: any[]; pages: number }> {
  const root = `${base}/api/v1`;
  const results: any[] = [];
  let next: string | null = `${root}/${path}`;
  let pages = 0;
  while (next) {
    assert.ok(next.startsWith(`${root}/`), `next must start with the client's base URL: ${next}`);
    const r = await php(base, secret, 'GET', `/api/v1/${next.slice(root.length + 1)}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    results.push(...r.body.results);
    next = r.body.next;
    pages++;
  }
  return { results, pages };
}

// --- zips ----------------------------------------------------------------------------------------------------

export function zip(files: Record<string, Buffer | string>, o: { compress?: boolean } = {}): Promise<Buffer> {
  const z = new ZipFile();
  for (const [name, data] of Object.entries(files)) z.addBuffer(Buffer.isBuffer(data) ? data : Buffer.from(data), name, { compress: o.compress ?? true });
  z.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    z.outputStream
      .on('data', (c: Buffer) => chunks.push(c))
      .on('end', () => resolve(Buffer.concat(chunks)))
      .on('error', reject);
  });
}

/** A data URI as the docs' Python 2 recipe writes it (`charset=utf-8`, base64 broken every 76 characters). */
export const dataUri = (archive: Buffer) =>
  `data:application/zip;charset=utf-8;base64,${archive.toString('base64').replace(/.{76}/g, '$&\n').replace(/\n?$/, '\n')}`;

/**
 * The docs' recipe run by Python (zipfile, then the data URI with `base64.encodebytes`, which breaks lines as
 * Python 2's `encode('base64')` did), and the seed's request sent by `requests`: the status and JSON answer.
 */
export async function pythonSeedPost(
  url: string,
  secret: string,
  body: unknown,
  pages: Record<string, string>,
  pngPath: string,
): Promise<{ status: number; body: any }> {
  const script = `
import base64, io, json, sys, zipfile, requests
url, secret, body, pages, png = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4]), sys.argv[5]
for variant, html in zip(body["variants"], pages.values()):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, mode="w") as archive:
        archive.writestr("index.html", html)
        archive.write(png, "images/planet.png")
    variant["layout"] = {"zip_file": "data:application/zip;charset=utf-8;base64,%s" % base64.encodebytes(buffer.getvalue()).decode()}
r = requests.post(url, json=body, auth=("user@example.com", secret), headers={"Accept": "application/json"}, timeout=60)
print(r.status_code); print(r.text)
`;
  const r = await runProcess('python3', ['-c', script, url, secret, JSON.stringify(body), JSON.stringify(pages), pngPath], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const [status, ...rest] = r.stdout.split('\n');
  return { status: Number(status), body: JSON.parse(rest.join('\n')) };
}

/**
 * Every endpoint of every dialect, read from the code's own tables (a new method, function or route is in
 * the corpus and in the isolation test without being listed), and how each dialect shapes an error, so that
 * an answer can be judged: the dialect's error, its success, a 5xx, or something no client of the dialect
 * can read.
 */
import { METHODS as CLOUDMAILING } from '../../src/adapters/cloudmailing/methods.js';
import { FUNCTIONS as MAILKIT } from '../../src/adapters/mailkit/methods.js';
import { ROUTES as SENDER } from '../../src/adapters/sender/routes.js';
import { RESOURCES as EMAILICIOUS } from '../../src/adapters/emailicious/routes.js';
import { ROUTES as ADMIN } from '../../src/adapters/admin/routes.js';
import { ROUTES as LINKS } from '../../src/adapters/tracking/routes.js';
import type { ParamSpec } from '../../src/rpc/methods.js';
import type { Outcome } from './wire.js';

/** The HTTP dialects, the public links and admin pages, and the inbound SMTP listener of bounces. */
export const DIALECTS = ['cloudmailing', 'jsonrpc', 'mailkit-json', 'mailkit-xmlrpc', 'sender', 'emailicious', 'admin', 'links', 'bounces'] as const;
export type Dialect = (typeof DIALECTS)[number];

export type Endpoint =
  /** A CloudMailing method, over XML-RPC (`cloudmailing`) or JSON-RPC (`jsonrpc`). */
  | { dialect: 'cloudmailing' | 'jsonrpc'; name: string; params: ParamSpec[] }
  /** A Mailkit function: its parameter names (XML-RPC order after client_id, client_md5; JSON keys). */
  | { dialect: 'mailkit-json' | 'mailkit-xmlrpc'; name: string; params: readonly string[]; aliases: Readonly<Record<string, string>> }
  /** A REST route: method and express path (`:name` segments). */
  | { dialect: 'sender' | 'emailicious' | 'admin' | 'links'; name: string; method: string; path: string; fields?: Record<string, Record<string, unknown>> };

/** The path prefixes the app mounts each REST table under (src/http/app.ts). */
const MOUNT: Record<'sender' | 'emailicious' | 'admin' | 'links', string> = { sender: '/api/0', emailicious: '/api/v1', admin: '/admin', links: '' };

export function endpoints(): Endpoint[] {
  const out: Endpoint[] = [];
  for (const dialect of ['cloudmailing', 'jsonrpc'] as const)
    for (const [name, def] of Object.entries(CLOUDMAILING)) out.push({ dialect, name, params: def.params });
  for (const dialect of ['mailkit-json', 'mailkit-xmlrpc'] as const)
    for (const [name, def] of Object.entries(MAILKIT)) out.push({ dialect, name, params: def.params, aliases: def.aliases ?? {} });
  for (const [method, path] of SENDER)
    out.push({ dialect: 'sender', name: `${method.toUpperCase()} ${path}`, method: method.toUpperCase(), path: MOUNT.sender + path });
  for (const [path, r] of Object.entries(EMAILICIOUS)) {
    // A detail resource is written with the fields of its collection (PUT/PATCH /lists/1 as POST /lists).
    const fields = r.post ?? EMAILICIOUS[path.replace(/\/:[a-z]+$/, '')]?.post;
    for (const method of Object.keys(r.methods))
      out.push({
        dialect: 'emailicious',
        name: `${method} ${path}`,
        method,
        path: MOUNT.emailicious + (path === '/' ? '' : path),
        ...(fields ? { fields } : {}),
      });
  }
  // The corpus signs in with an API key: the pages an operator signs in to answer it 403, the outbox's read them.
  for (const [method, path] of ADMIN) if (method === 'get') out.push({ dialect: 'admin', name: `GET ${path}`, method: 'GET', path: MOUNT.admin + path });
  for (const [method, path] of LINKS)
    out.push({ dialect: 'links', name: `${method.toUpperCase()} ${path}`, method: method.toUpperCase(), path: MOUNT.links + path });
  return out;
}

/** The `:name` segments of a REST path. */
export const pathParams = (path: string): string[] => [...path.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]!);

/** A REST path with its `:name` segments filled (percent-encoded). */
export function fillPath(path: string, values: Record<string, string | number>): string {
  return path.replace(/:([A-Za-z_]+)/g, (_, n: string) => {
    if (!(n in values)) throw new Error(`no value for :${n} in ${path}`);
    return encodeURIComponent(String(values[n]));
  });
}

// ------------------------------------------------------------------------------------------- judging answers

/**
 * - error: the dialect's own error answer (a fault, an error object, Mailkit's error text, a DRF error, a 4xx
 *   page of the admin pages or links; a 413 as the dialect writes it);
 * - success: a success answer of the dialect;
 * - 5xx: the server failed;
 * - foreign: an answer in no shape of the dialect (express' default page, an empty body...);
 * - no answer / connection dropped.
 */
export type Verdict = 'error' | 'success' | '5xx' | 'foreign' | 'no answer' | 'connection dropped';

const isJson = (ct: string) => ct.startsWith('application/json');
const isXml = (ct: string) => ct.startsWith('text/xml');
function parse(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}
const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The RPC dialects' plain-text answers: a 413 and the 405 of a method other than POST. */
const rpcPlain = (status: number, ct: string, body: string) =>
  (status === 413 && ct.startsWith('text/plain') && body.startsWith('Request body too large')) || (status === 405 && ct.startsWith('text/plain'));

/** Mailkit's XML-RPC successes that are a bare string (edituser's OK, revalidate's texts). */
const MAILKIT_TEXT_SUCCESSES = new Set(['OK', 'Email has been revalidated', 'Sent subscribe email']);

export function verdict(dialect: Dialect, o: Outcome): Verdict {
  if ('failed' in o) return o.failed;
  const { status, contentType: ct, body } = o;
  // SMTP: a permanent refusal is the listener's error; a temporary one (4xx) says it failed.
  if (dialect === 'bounces') return status >= 500 ? 'error' : status >= 400 ? '5xx' : status === 250 ? 'success' : 'foreign';
  if (status >= 500) return '5xx';
  switch (dialect) {
    case 'cloudmailing': {
      if (rpcPlain(status, ct, body)) return 'error';
      if (status === 429) return 'error';
      if (!isXml(ct) || !body.includes('<methodResponse>')) return 'foreign';
      if (/<fault>[\s\S]*<name>faultCode<\/name>[\s\S]*<name>faultString<\/name>/.test(body)) return 'error';
      return status === 200 && body.includes('<params>') ? 'success' : 'foreign';
    }
    case 'jsonrpc': {
      if (rpcPlain(status, ct, body)) return 'error';
      const v = parse(body);
      if (!isJson(ct) || v === undefined) return 'foreign';
      const items = Array.isArray(v) ? v : [v];
      if (!items.length || !items.every((x) => obj(x) && x.jsonrpc === '2.0')) return 'foreign';
      if (items.every((x) => obj(x.error) && typeof x.error.code === 'number' && typeof x.error.message === 'string')) return 'error';
      return items.every((x) => 'result' in x || obj(x.error)) ? 'success' : 'foreign';
    }
    case 'mailkit-json': {
      if (rpcPlain(status, ct, body) || status === 429) return 'error';
      const v = parse(body);
      if (!isJson(ct) || v === undefined || status !== 200) return 'foreign';
      if (obj(v) && (v.error_status === 1 || v.error_status === '1') && typeof v.error === 'string') return 'error';
      return 'success';
    }
    case 'mailkit-xmlrpc': {
      if (rpcPlain(status, ct, body) || status === 429) return 'error';
      if (!isXml(ct) || status !== 200 || !body.includes('<methodResponse>')) return 'foreign';
      if (body.includes('<fault>')) return 'foreign';
      const text = /<params><param><value><string>([\s\S]*)<\/string><\/value><\/param><\/params>/.exec(body)?.[1];
      if (text !== undefined && !MAILKIT_TEXT_SUCCESSES.has(text)) return 'error';
      return 'success';
    }
    case 'sender':
    case 'emailicious': {
      const v = parse(body);
      if (status === 204 && body === '') return 'success';
      if (!isJson(ct) || !obj(v)) return 'foreign';
      if (status >= 400) return 'error';
      if (dialect === 'sender' && obj(v.result) && v.result.status === 'ERROR') return 'error';
      return 'success';
    }
    case 'admin':
    case 'links': {
      if (status >= 400 && (ct.startsWith('text/plain') || ct.startsWith('text/html') || isJson(ct))) return 'error';
      return status < 300 ? 'success' : 'foreign';
    }
  }
}

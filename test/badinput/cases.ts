/**
 * The bad-input corpus of quality.md as data: every case is a request (raw bytes, or a well-formed call through
 * Python's xmlrpc.client) and what a correct gateway answers it: the dialect's error (`error`), or, where
 * the input may be read as an empty query or answered per item (`answer`), the dialect's error or success.
 * Either way: no 5xx, an answer in time, the process up, nothing stored changed (corpus.test.ts checks).
 *
 * Cases are made per endpoint from the code's tables (dialects.ts), plus the protocol-level cases of each
 * dialect (its body parser, its envelope) and the storage paths where a bad value would be written.
 */
import { randomBytes } from 'node:crypto';
import { crc32, deflateRawSync } from 'node:zlib';
import { MAX_REPORT_BYTES } from '../../src/bounces/listener.js';
import type { ParamSpec } from '../../src/rpc/methods.js';
import type { WireType } from '../../src/rpc/values.js';
import { basicAuthHeader } from '../support/auth.js';
import { endpoints, fillPath, pathParams, type Dialect, type Endpoint } from './dialects.js';
import { postWholeBodyFirst, smtpData, type Outcome, type PythonXmlRpc, type RawRequest } from './wire.js';

/** What the cases name: the caller's own objects (made by corpus.test.ts before the run). */
export interface Fixtures {
  account: string;
  key: { id: number; secret: string };
  mailing: number;
  list: { id: number; slug: string };
  subscriber: { id: number; email: string };
  unsubscribeList: string;
  /** A transactional mailing (Mailkit's and Sender's campaign). */
  campaign: { name: string; id: number };
  newsletter: number;
  /** Genuine tokens of the links, from which forged ones are made. */
  unsubscribeToken: string;
  confirmToken: string;
}

export interface Limits {
  maxBodyBytes: number;
  maxRecipientsPerCall: number;
}

export interface Runner {
  base: string;
  /** The bounce listener's SMTP port on 127.0.0.1. */
  bouncePort: number;
  python: PythonXmlRpc;
  f: Fixtures;
  limits: Limits;
  send(r: RawRequest): Promise<Outcome>;
}

export interface Case {
  /** Stable and unique: `dialect|category|endpoint|variant`. */
  id: string;
  dialect: Dialect;
  category: Category;
  expect: 'error' | 'answer';
  run(r: Runner): Promise<Outcome>;
}

export const CATEGORIES = [
  'malformed body',
  'deep nesting',
  'DOCTYPE/entities',
  'oversized body',
  'wrong type/arity',
  'missing fields',
  'unknown method/route',
  'bad address',
  'invalid text',
  'hostile text',
  'too many items',
  'zip layout',
  'forged token',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** Names nothing in any account. */
export const UNKNOWN_ID = 987654;

// ------------------------------------------------------------------------------------------------- payloads

/** Text no store may keep: refused wherever it is written. */
export const INVALID_TEXT: Record<string, string> = { nul: 'a\u0000b', surrogate: 'a\ud800b' };
/** Text that is fine as data but must never be read as code, SQL or direction: harmless wherever it goes. */
export const HOSTILE_TEXT: Record<string, string> = {
  // A noncharacter: Unicode lets it be interchanged (Corrigendum #9), XML 1.0 forbids it. JSON dialects may keep it,
  // XML-RPC refuses it on the way in and writes U+FFFD on the way out.
  fffe: 'a\ufffeb',
  rtl: 'abc\u202Egro.elpmaxe@nna\u202C',
  sql: "1' OR '1'='1'; DROP TABLE mailings; --",
  'sql-like': '%_\\%',
  template: '{{ constructor }}',
  'template-loop': "{% for x in range(100000000) %}{{ x }}{% endfor %}{{ ''.constructor.constructor('return process')() }}",
};
/** Addresses every dialect refuses (RFC 5321: local part 64 octets, domain 255, path 256; our dot-atom rule). */
export const BAD_ADDRESSES: Record<string, string> = {
  'local-65': `${'a'.repeat(65)}@example.org`,
  'domain-256': `ann@${Array.from({ length: 4 }, () => 'd'.repeat(61)).join('.')}.example.org`,
  'path-257': `${'a'.repeat(60)}@${Array.from({ length: 3 }, () => 'd'.repeat(60)).join('.')}.example.org`,
  'no-at': 'ann.example.org',
  'two-at': 'ann@bob@example.org',
  'no-dot': 'ann@localhost',
  spaces: 'ann smith@example.org',
  'trailing-dot': 'ann.@example.org',
  'non-ascii': 'ännä@exämple.org',
  'header-injection': 'ann@example.org\r\nBcc: victim@example.org',
};

/** A string with lone surrogates as WTF-8 percent escapes (encodeURIComponent refuses them). */
function pathSegment(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    out +=
      c >= 0xd800 && c <= 0xdfff
        ? [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => '%' + b.toString(16).toUpperCase()).join('')
        : encodeURIComponent(ch);
  }
  return out;
}

// ------------------------------------------------------------------------------------------------- requests

const json = (v: unknown) => JSON.stringify(v);

function cmXmlRpc(r: Runner, method: string, params: unknown[]): Promise<Outcome> {
  const url = new URL('/CloudMailing', r.base);
  [url.username, url.password] = ['admin', r.f.key.secret];
  return r.python.call(url.toString(), method, params);
}
function jsonRpc(r: Runner, body: string | Buffer): Promise<Outcome> {
  return r.send({
    method: 'POST',
    path: '/jsonrpc',
    headers: { authorization: basicAuthHeader(r.f.key.secret), 'content-type': 'application/json' },
    body,
  });
}
function mkXmlRpc(r: Runner, fn: string, params: unknown[]): Promise<Outcome> {
  return r.python.call(new URL('/rpc.fcgi', r.base).toString(), fn, [String(r.f.key.id), r.f.key.secret, ...params], { allowNone: true });
}
function mkJson(r: Runner, body: string | Buffer): Promise<Outcome> {
  return r.send({ method: 'POST', path: '/json.fcgi', headers: { 'content-type': 'application/json' }, body });
}
const mkEnvelope = (r: Runner, fn: string, parameters: unknown) => json({ function: fn, id: String(r.f.key.id), md5: r.f.key.secret, parameters });

/** Raw XML-RPC bytes to a path (the XML-RPC dialects' malformed cases), with the dialect's credentials. */
function xmlBytes(r: Runner, dialect: 'cloudmailing' | 'mailkit-xmlrpc', body: string | Buffer): Promise<Outcome> {
  return r.send({
    method: 'POST',
    path: dialect === 'cloudmailing' ? '/CloudMailing' : '/rpc.fcgi',
    headers: { 'content-type': 'text/xml', ...(dialect === 'cloudmailing' ? { authorization: basicAuthHeader(r.f.key.secret) } : {}) },
    body,
  });
}
const mkCall = (r: Runner, fn: string, inner: string) =>
  `<?xml version="1.0"?><methodCall><methodName>${fn}</methodName><params><param><value><string>${r.f.key.id}</string></value></param><param><value><string>${r.f.key.secret}</string></value></param>${inner}</params></methodCall>`;

function rest(
  r: Runner,
  dialect: 'sender' | 'emailicious' | 'admin' | 'links',
  method: string,
  path: string,
  body?: { json?: unknown; raw?: string | Buffer; type?: string },
): Promise<Outcome> {
  const headers: Record<string, string> = {};
  if (dialect === 'sender') headers.authorization = basicAuthHeader('', r.f.key.secret);
  if (dialect === 'emailicious') headers.authorization = basicAuthHeader(r.f.key.secret, 'me@example.org');
  if (dialect === 'admin') headers.authorization = basicAuthHeader(r.f.key.secret, 'any');
  let payload: string | Buffer | undefined;
  if (body?.json !== undefined) {
    headers['content-type'] = 'application/json';
    payload = json(body.json);
  } else if (body?.raw !== undefined) {
    headers['content-type'] = body.type ?? 'application/x-www-form-urlencoded';
    payload = body.raw;
  }
  return r.send({ method, path, headers, ...(payload !== undefined ? { body: payload } : {}) });
}

// ------------------------------------------------------------------------------------- values for a table

/** A value of a CloudMailing parameter's type that names nothing (ids unknown), for wrong-type cases. */
function neutral(t: WireType): unknown {
  switch (t) {
    case 'int':
    case 'double':
      return UNKNOWN_ID;
    case 'string':
      return 'x';
    case 'boolean':
      return true;
    case 'struct':
      return { x: 'x' };
    case 'array':
      return [];
    case 'base64':
      return { $binary: Buffer.from('x').toString('base64') };
    case 'dateTime.iso8601':
      return '20260101T00:00:00';
  }
}
/** A value of a type the parameter does not take. */
function wrongFor(spec: ParamSpec): unknown {
  for (const t of ['string', 'int', 'struct', 'array'] as const)
    if (!spec.types.includes(t) && !(t === 'int' && spec.types.includes('double'))) return neutral(t);
  return undefined;
}

/** Every field of a call holding `p`: strings as they are, structs and arrays with `p` in the fields a client fills. */
const structOf = (p: string) => ({
  email: p,
  name: p,
  first_name: p,
  firstname: p,
  subject: p,
  send_to: p,
  sender_name: p,
  mail_from: p,
  status: [p],
  id: [p],
  domain: [p],
  owner_guid: p,
  from_date: p,
  to_date: p,
  with_contact_data: p,
});
/** A CloudMailing argument holding `p` as its type allows; ints stay an unknown id, so a handler runs. */
function cmArg(spec: ParamSpec, p: string): unknown {
  const t = spec.types[0]!;
  if (t === 'int' || t === 'double') return UNKNOWN_ID;
  if (t === 'struct') return structOf(p);
  if (t === 'array') return [p, structOf(p)];
  return p;
}
/** A Mailkit argument holding `p`: structs where the function reads one (personal, main...), else the text. */
const MAILKIT_STRUCTS = new Set(['personal', 'address', 'custom', 'main', 'campaign']);
/**
 * Mailkit's free-text parameters: any text is a valid name or description (stored as sent), so the cases of
 * text that is data leave them out (else they would make what they name).
 */
const MAILKIT_FREE_TEXT = new Set(['name', 'description']);
const mkArg = (name: string, p: string): unknown => (MAILKIT_STRUCTS.has(name) ? structOf(p) : name === 'recipients' ? [structOf(p)] : p);

/** Every parameter Sender's routes read (values.ts and routes.ts), holding `p`. */
const senderBody = (p: string) => ({
  email: p,
  to_email: p,
  title: p,
  description: p,
  params: { name: p },
  args: { n: p },
  items: [{ email: p, params: { name: p } }],
  to: [p],
  cc: [p],
  bcc: [p],
  headers: { 'X-Tag': p },
  attachments: [{ filename: p, data: p }],
  from_email: p,
  from_name: p,
  rev: p,
  disable_others: p,
  async: p,
  countdown: p,
  expires: p,
  limit: p,
  offset: p,
  after: p,
  message_id: p,
  ignore_empty_email: p,
  for_testing: p,
  has_ugc: p,
});

type RestEndpoint = Extract<Endpoint, { method: string }>;

/** An Emailicious body holding `p` in every writable field of the resource (and the mailing's nested ones). */
function emailiciousBody(ep: RestEndpoint, p: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(ep.fields ?? {})) if (!spec.read_only) out[name] = spec.type === 'list' ? [p] : p;
  if ('variants' in out)
    out.variants = [
      { subject: p, language: p, from_email: p, layout: { text: p, zip_file: p }, deliveries: [{ scheduled_datetime: p, limit: p, exclusions: [p] }] },
    ];
  if ('segments' in out) out.segments = [p];
  return out;
}

/** The path values naming the caller's own objects. */
const own = (f: Fixtures, dialect: Dialect): Record<string, string | number> => ({
  account: f.account,
  // Sender names a list by its slug, Emailicious by its id: both paths say `:list`.
  list: dialect === 'sender' ? f.list.slug : f.list.id,
  slug: f.unsubscribeList,
  campaign: f.campaign.name,
  email: f.subscriber.email,
  subscriber: f.subscriber.id,
  mailing: f.newsletter,
});
/** The path values of a REST endpoint: `p` in every id, the caller's account kept (another's is 403 before anything). */
function restPath(ep: RestEndpoint, f: Fixtures, p: string): string {
  return ep.path.replace(/:([A-Za-z_]+)/g, (_, n: string) => (n === 'account' ? f.account : pathSegment(p)));
}

// ---------------------------------------------------------------------------------------- per endpoint

/** The cases every endpoint gets: its table says its parameters. */
function endpointCases(ep: Endpoint): Case[] {
  const out: Case[] = [];
  const add = (category: Category, variant: string, expect: Case['expect'], run: Case['run']) =>
    out.push({ id: `${ep.dialect}|${category}|${ep.name}|${variant}`, dialect: ep.dialect, category, expect, run });
  const payloads = [...Object.entries(INVALID_TEXT), ...Object.entries(HOSTILE_TEXT)];

  switch (ep.dialect) {
    case 'cloudmailing':
    case 'jsonrpc': {
      const call = (r: Runner, params: unknown[]) =>
        ep.dialect === 'cloudmailing' ? cmXmlRpc(r, ep.name, params) : jsonRpc(r, json({ jsonrpc: '2.0', id: 1, method: ep.name, params: jsonParams(params) }));
      const base = ep.params.map((s) => neutral(s.types[0]!));
      const required = ep.params.filter((s) => !s.optional).length;
      add('wrong type/arity', 'one too many', 'error', (r) => call(r, [...base, 'x']));
      if (required > 0) add('missing fields', 'one too few', 'error', (r) => call(r, base.slice(0, required - 1)));
      ep.params.forEach((spec, i) => {
        const wrong = wrongFor(spec);
        if (wrong !== undefined)
          add('wrong type/arity', `${spec.name} of a wrong type`, 'error', (r) =>
            call(
              r,
              base.map((v, j) => (j === i ? wrong : v)),
            ),
          );
      });
      if (ep.dialect === 'jsonrpc') {
        add('missing fields', 'named, none', required ? 'error' : 'answer', (r) => jsonRpc(r, json({ jsonrpc: '2.0', id: 1, method: ep.name, params: {} })));
        add('wrong type/arity', 'params a string', 'error', (r) => jsonRpc(r, json({ jsonrpc: '2.0', id: 1, method: ep.name, params: 'x' })));
      }
      for (const [name, p] of payloads)
        add(name in INVALID_TEXT ? 'invalid text' : 'hostile text', `${name} in every field`, 'answer', (r) =>
          call(
            r,
            ep.params.map((s) => cmArg(s, p)),
          ),
        );
      break;
    }
    case 'mailkit-json':
    case 'mailkit-xmlrpc': {
      const call = (r: Runner, args: Record<string, unknown>) =>
        ep.dialect === 'mailkit-xmlrpc'
          ? mkXmlRpc(
              r,
              ep.name,
              ep.params.map((n) => args[n] ?? ''),
            )
          : mkJson(r, mkEnvelope(r, ep.name, args));
      add('missing fields', 'none', 'answer', (r) => call(r, {}));
      add('wrong type/arity', 'every parameter a struct', 'answer', (r) => call(r, Object.fromEntries(ep.params.map((n) => [n, { a: { b: 'c' } }]))));
      add('wrong type/arity', 'every parameter an array', 'answer', (r) => call(r, Object.fromEntries(ep.params.map((n) => [n, [[1], 'x']]))));
      add('wrong type/arity', 'every parameter a huge number', 'answer', (r) =>
        call(
          r,
          Object.fromEntries(
            ep.params.filter((n) => !MAILKIT_FREE_TEXT.has(n)).map((n) => [n, ep.dialect === 'mailkit-json' ? 1e300 : '99999999999999999999999']),
          ),
        ),
      );
      if (ep.dialect === 'mailkit-xmlrpc')
        add('wrong type/arity', 'ten parameters too many', 'error', (r) =>
          mkXmlRpc(r, ep.name, [...ep.params.map(() => ''), ...Array.from({ length: 10 }, () => 'x')]),
        );
      for (const [name, p] of payloads)
        add(name in INVALID_TEXT ? 'invalid text' : 'hostile text', `${name} in every field`, 'answer', (r) =>
          call(
            r,
            Object.fromEntries(
              [...ep.params, ...Object.keys(ep.aliases)].filter((n) => name in INVALID_TEXT || !MAILKIT_FREE_TEXT.has(n)).map((n) => [n, mkArg(n, p)]),
            ),
          ),
        );
      break;
    }
    case 'sender':
    case 'emailicious': {
      const writes = ['PUT', 'POST', 'PATCH', 'DELETE'].includes(ep.method);
      const body = (p: string) => (ep.dialect === 'sender' ? senderBody(p) : emailiciousBody(ep, p));
      for (const [name, p] of payloads) {
        const category = name in INVALID_TEXT ? 'invalid text' : 'hostile text';
        if (pathParams(ep.path).some((n) => n !== 'account'))
          add(category, `${name} in the path`, 'answer', (r) => rest(r, ep.dialect, ep.method, restPath(ep, r.f, p)));
        if (writes || ep.dialect === 'sender') {
          // Sender reads every parameter from the query string too: a GET gets them there.
          add(category, `${name} in every field`, 'answer', (r) =>
            ep.method === 'GET'
              ? rest(
                  r,
                  ep.dialect,
                  'GET',
                  `${restPath(ep, r.f, p)}?${new URLSearchParams(Object.entries(body(p)).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : json(v)])).toString()}`,
                )
              : rest(r, ep.dialect, ep.method, restPath(ep, r.f, p), { json: body(p) }),
          );
        }
      }
      // A PUT to a path ending in an id makes what it names when missing (Sender's maillist): it names the caller's.
      const upsert = ep.method === 'PUT' && /:[a-z]+$/.test(ep.path);
      const somewhere = (r: Runner) => (upsert ? fillPath(ep.path, own(r.f, ep.dialect)) : restPath(ep, r.f, String(UNKNOWN_ID)));
      if (writes) {
        add('malformed body', 'JSON cut short', 'error', (r) =>
          rest(r, ep.dialect, ep.method, somewhere(r), { raw: '{"email": "a@', type: 'application/json' }),
        );
        add('wrong type/arity', 'body a JSON string', 'answer', (r) => rest(r, ep.dialect, ep.method, somewhere(r), { json: 'x' }));
        add('malformed body', 'a __proto__ member', 'answer', (r) =>
          rest(r, ep.dialect, ep.method, somewhere(r), {
            raw: `{"__proto__": {"email": "fresh@example.org", "name": "Proto", "title": "Proto", "list": ${r.f.list.id}}}`,
            type: 'application/json',
          }),
        );
      }
      break;
    }
    case 'admin':
      for (const [name, p] of payloads) {
        const category = name in INVALID_TEXT ? 'invalid text' : 'hostile text';
        add(category, `${name} in the path and query`, 'answer', (r) => rest(r, 'admin', 'GET', `${restPath(ep, r.f, p)}?before=${pathSegment(p)}`));
      }
      break;
    case 'links':
      // The token is the credential: every value but a genuine token is refused (404 page).
      if (ep.method !== 'HEAD')
        for (const [name, p] of payloads)
          add('forged token', `${name} as the token`, 'error', (r) =>
            rest(r, 'links', ep.method, restPath(ep, r.f, p), ep.method === 'POST' ? { raw: 'List-Unsubscribe=One-Click' } : undefined),
          );
      break;
  }
  return out;
}

/** Python's JSON stand-ins for XML-RPC values, as plain JSON for JSON-RPC (a binary is its base64). */
function jsonParams(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(jsonParams);
  if (v && typeof v === 'object') {
    if ('$binary' in v) return (v as { $binary: string }).$binary;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonParams(x)]));
  }
  return v;
}

// --------------------------------------------------------------------------------- per dialect, by hand

const nest = (open: string, close: string, depth: number, inner = '') => open.repeat(depth) + inner + close.repeat(depth);

/**
 * A zip written by hand (zip tools refuse the names a traversal needs): each entry deflated, with its true CRC
 * and sizes unless `declared` says what size to claim (a bomb that inflates past what it declares).
 */
function rawZip(entries: { name: string; data: Buffer; declared?: number }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const deflated = deflateRawSync(e.data);
    const size = e.declared ?? e.data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(crc32(e.data), 14);
    local.writeUInt32LE(deflated.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(crc32(e.data), 16);
    central.writeUInt32LE(deflated.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    const localPart = Buffer.concat([local, name, deflated]);
    locals.push(localPart);
    centrals.push(Buffer.concat([central, name]));
    offset += localPart.length;
  }
  const centralDir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralDir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, centralDir, end]);
}
const zipOf = (entries: [string, Buffer][]) => Promise.resolve(rawZip(entries.map(([name, data]) => ({ name, data }))));

/** The protocol-level cases of each dialect, and the storage paths where a bad value would be written. */
function dialectCases(): Case[] {
  const out: Case[] = [];
  const add = (dialect: Dialect, category: Category, variant: string, expect: Case['expect'], run: Case['run']) =>
    out.push({ id: `${dialect}|${category}|-|${variant}`, dialect, category, expect, run });
  const over = (r: Runner) => r.limits.maxBodyBytes + 1024;

  // --- XML-RPC, both dialects --------------------------------------------------------------------------
  const billionLaughs =
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
    Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('') +
    ']><methodCall><methodName>list_mailings</methodName><params><param><value><string>&lol9;</string></value></param></params></methodCall>';
  const xxe =
    '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><methodCall><methodName>list_mailings</methodName><params><param><value><string>&xxe;</string></value></param></params></methodCall>';
  for (const d of ['cloudmailing', 'mailkit-xmlrpc'] as const) {
    const fn = d === 'cloudmailing' ? 'list_mailings' : 'mailkit.mailinglist.list';
    add(d, 'DOCTYPE/entities', 'billion laughs', 'error', (r) => xmlBytes(r, d, billionLaughs.replace('list_mailings', fn)));
    add(d, 'DOCTYPE/entities', 'external entity', 'error', (r) => xmlBytes(r, d, xxe.replace('list_mailings', fn)));
    add(d, 'DOCTYPE/entities', 'parameter entity', 'error', (r) =>
      xmlBytes(
        r,
        d,
        `<?xml version="1.0"?><!DOCTYPE m [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]><methodCall><methodName>${fn}</methodName></methodCall>`,
      ),
    );
    add(d, 'malformed body', 'not XML', 'error', (r) => xmlBytes(r, d, 'this is not xml'));
    add(d, 'malformed body', 'empty body', 'error', (r) => xmlBytes(r, d, ''));
    add(d, 'malformed body', 'cut short', 'error', (r) =>
      xmlBytes(r, d, `<?xml version="1.0"?><methodCall><methodName>${fn}</methodName><params><param><value><str`),
    );
    add(d, 'malformed body', 'no methodName', 'error', (r) => xmlBytes(r, d, '<?xml version="1.0"?><methodCall><params/></methodCall>'));
    add(d, 'malformed body', 'unknown value type', 'error', (r) => xmlBytes(r, d, mkCall(r, fn, '<param><value><bogus>1</bogus></value></param>')));
    add(d, 'malformed body', 'int out of range', 'error', (r) =>
      xmlBytes(r, d, mkCall(r, fn, '<param><value><int>99999999999999999999</int></value></param>')),
    );
    add(d, 'malformed body', 'bad base64', 'error', (r) => xmlBytes(r, d, mkCall(r, fn, '<param><value><base64>!!!*</base64></value></param>')));
    add(d, 'malformed body', 'bad dateTime', 'error', (r) =>
      xmlBytes(r, d, mkCall(r, fn, '<param><value><dateTime.iso8601>2026-13-45Tzz</dateTime.iso8601></value></param>')),
    );
    add(d, 'malformed body', 'invalid UTF-8', 'error', (r) =>
      xmlBytes(
        r,
        d,
        Buffer.concat([
          Buffer.from(mkCall(r, fn, '<param><value><string>a').replace(/^/, '')),
          Buffer.from([0xff, 0xfe, 0xc3]),
          Buffer.from('</string></value></param></params></methodCall>'),
        ]),
      ),
    );
    add(d, 'malformed body', 'character reference to U+0000', 'error', (r) =>
      xmlBytes(r, d, mkCall(r, fn, '<param><value><string>a&#0;b</string></value></param>')),
    );
    add(d, 'malformed body', 'character reference to a lone surrogate', 'error', (r) =>
      xmlBytes(r, d, mkCall(r, fn, '<param><value><string>a&#xD800;b</string></value></param>')),
    );
    add(d, 'deep nesting', 'arrays 50,000 deep', 'error', (r) =>
      xmlBytes(r, d, mkCall(r, fn, `<param>${nest('<value><array><data>', '</data></array></value>', 50_000)}</param>`)),
    );
    add(d, 'deep nesting', 'structs 30,000 deep', 'error', (r) =>
      xmlBytes(
        r,
        d,
        mkCall(r, fn, `<param>${nest('<value><struct><member><name>a</name>', '</member></struct></value>', 30_000, '<value>x</value>')}</param>`),
      ),
    );
    add(d, 'oversized body', 'over MAX_BODY_BYTES', 'error', (r) =>
      xmlBytes(r, d, mkCall(r, fn, `<param><value><string>${'x'.repeat(over(r))}</string></value></param>`)),
    );
    for (const name of ['no_such_method', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'system.multicall.x', '']) {
      add(d, 'unknown method/route', `method ${JSON.stringify(name)}`, 'error', (r) =>
        d === 'cloudmailing'
          ? xmlBytes(r, d, `<?xml version="1.0"?><methodCall><methodName>${name}</methodName><params/></methodCall>`)
          : xmlBytes(r, d, mkCall(r, name, '')),
      );
    }
  }
  // CloudMailing's own.
  add('cloudmailing', 'too many items', 'add_recipients of 10,001', 'error', (r) =>
    cmXmlRpc(r, 'add_recipients', [r.f.mailing, Array.from({ length: r.limits.maxRecipientsPerCall + 1 }, (_, i) => ({ email: `n${i}@example.org` }))]),
  );
  add('cloudmailing', 'too many items', 'system.multicall of 1,001', 'error', (r) =>
    cmXmlRpc(r, 'system.multicall', [Array.from({ length: 1001 }, () => ({ methodName: 'delete_mailing', params: [r.f.mailing] }))]),
  );
  add('cloudmailing', 'wrong type/arity', 'system.multicall of non-calls', 'answer', (r) =>
    cmXmlRpc(r, 'system.multicall', [
      [1, 'x', [], { methodName: 1 }, { methodName: 'system.multicall', params: [[]] }, { methodName: 'delete_mailing', params: 'x' }],
    ]),
  );
  for (const [name, p] of Object.entries(INVALID_TEXT)) {
    add('cloudmailing', 'invalid text', `${name} in create_mailing's subject`, 'error', (r) =>
      cmXmlRpc(r, 'create_mailing', ['news@example.org', 'News', p, '<p>x</p>', 'x', 'utf-8']),
    );
    add('cloudmailing', 'invalid text', `${name} in set_mailing_properties`, 'error', (r) =>
      cmXmlRpc(r, 'set_mailing_properties', [r.f.mailing, { subject: p, sender_name: p }]),
    );
    add('cloudmailing', 'invalid text', `${name} in a recipient field`, 'answer', (r) =>
      cmXmlRpc(r, 'add_recipients', [r.f.mailing, [{ email: 'fresh@example.org', firstname: p }]]),
    );
  }
  for (const [name, a] of Object.entries(BAD_ADDRESSES)) {
    add('cloudmailing', 'bad address', `${name} as mail_from`, 'error', (r) => cmXmlRpc(r, 'create_mailing', [a, 'News', 'Hello', '<p>x</p>', 'x', 'utf-8']));
    add('cloudmailing', 'bad address', `${name} as a recipient`, 'answer', (r) => cmXmlRpc(r, 'add_recipients', [r.f.mailing, [{ email: a }]]));
    add('cloudmailing', 'bad address', `${name} as mail_from property`, 'error', (r) => cmXmlRpc(r, 'set_mailing_properties', [r.f.mailing, { mail_from: a }]));
  }

  // --- JSON-RPC ---------------------------------------------------------------------------------------------
  const rpc = (method: string, params: unknown) => json({ jsonrpc: '2.0', id: 1, method, params });
  add('jsonrpc', 'malformed body', 'not JSON', 'error', (r) => jsonRpc(r, 'not json'));
  add('jsonrpc', 'malformed body', 'cut short', 'error', (r) => jsonRpc(r, '{"jsonrpc": "2.0", "id": 1, "method": "list_mai'));
  add('jsonrpc', 'malformed body', 'empty body', 'error', (r) => jsonRpc(r, ''));
  add('jsonrpc', 'malformed body', 'a bare number', 'error', (r) => jsonRpc(r, '1'));
  add('jsonrpc', 'malformed body', 'empty batch', 'error', (r) => jsonRpc(r, '[]'));
  add('jsonrpc', 'malformed body', 'batch of a number', 'error', (r) => jsonRpc(r, '[1]'));
  add('jsonrpc', 'malformed body', 'batch holding an empty array', 'error', (r) => jsonRpc(r, '[[]]'));
  add('jsonrpc', 'malformed body', 'batch holding an array', 'error', (r) => jsonRpc(r, '[[1]]'));
  add('jsonrpc', 'malformed body', 'batch holding a batch', 'error', (r) => jsonRpc(r, `[[${rpc('delete_mailing', [r.f.mailing])}]]`));
  add('jsonrpc', 'malformed body', 'no jsonrpc member', 'error', (r) => jsonRpc(r, json({ id: 1, method: 'list_mailings', params: [] })));
  add('jsonrpc', 'malformed body', 'method a number', 'error', (r) => jsonRpc(r, json({ jsonrpc: '2.0', id: 1, method: 7, params: [] })));
  // Bytes that are no UTF-8 read as U+FFFD, as every JSON body parser of ours does (an open question for the lead).
  add('jsonrpc', 'malformed body', 'invalid UTF-8', 'answer', (r) =>
    jsonRpc(r, Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"list_mailings","params":["'), Buffer.from([0xff, 0xfe]), Buffer.from('"]}')])),
  );
  add('jsonrpc', 'malformed body', 'duplicate keys', 'answer', (r) =>
    jsonRpc(r, '{"jsonrpc":"2.0","id":1,"method":"delete_mailing","method":"list_mailings","params":[]}'),
  );
  add('jsonrpc', 'malformed body', '__proto__ params', 'error', (r) =>
    jsonRpc(r, `{"jsonrpc":"2.0","id":1,"method":"delete_mailing","params":{"__proto__":{"mailing_id":${r.f.mailing}}}}`),
  );
  add('jsonrpc', 'deep nesting', 'a batch 100,000 deep', 'error', (r) => jsonRpc(r, nest('[', ']', 100_000)));
  add('jsonrpc', 'deep nesting', 'a recipient field 100,000 deep', 'error', (r) =>
    jsonRpc(r, `{"jsonrpc":"2.0","id":1,"method":"add_recipients","params":[${r.f.mailing},[{"email":"fresh@example.org","x":${nest('[', ']', 100_000)}}]]}`),
  );
  add('jsonrpc', 'deep nesting', 'a filter 100,000 deep', 'error', (r) =>
    jsonRpc(r, `{"jsonrpc":"2.0","id":1,"method":"list_mailings","params":[${nest('{"a":', '}', 100_000, '1')}]}`),
  );
  add('jsonrpc', 'oversized body', 'over MAX_BODY_BYTES', 'error', (r) => jsonRpc(r, rpc('list_mailings', ['x'.repeat(over(r))])));
  add('jsonrpc', 'too many items', 'a batch of 1,001', 'error', (r) =>
    jsonRpc(r, `[${Array.from({ length: 1001 }, () => rpc('delete_mailing', [r.f.mailing])).join(',')}]`),
  );
  for (const name of ['no_such_method', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'rpc.discover', ''])
    add('jsonrpc', 'unknown method/route', `method ${JSON.stringify(name)}`, 'error', (r) => jsonRpc(r, rpc(name, [])));
  for (const [name, p] of Object.entries(INVALID_TEXT)) {
    add('jsonrpc', 'invalid text', `${name} in create_mailing's subject`, 'error', (r) =>
      jsonRpc(r, rpc('create_mailing', ['news@example.org', 'News', p, '<p>x</p>', 'x', 'utf-8'])),
    );
    add('jsonrpc', 'invalid text', `${name} in set_mailing_properties`, 'error', (r) =>
      jsonRpc(r, rpc('set_mailing_properties', [r.f.mailing, { subject: p, sender_name: p }])),
    );
    add('jsonrpc', 'invalid text', `${name} in a recipient field`, 'answer', (r) =>
      jsonRpc(r, rpc('add_recipients', [r.f.mailing, [{ email: 'fresh@example.org', firstname: p }]])),
    );
    add('jsonrpc', 'invalid text', `${name} in a field name`, 'answer', (r) =>
      jsonRpc(r, rpc('add_recipients', [r.f.mailing, [{ email: 'fresh@example.org', [p]: 'x' }]])),
    );
  }
  for (const [name, a] of Object.entries(BAD_ADDRESSES)) {
    add('jsonrpc', 'bad address', `${name} as mail_from`, 'error', (r) => jsonRpc(r, rpc('create_mailing', [a, 'News', 'Hello', '<p>x</p>', 'x', 'utf-8'])));
    add('jsonrpc', 'bad address', `${name} as a recipient`, 'answer', (r) => jsonRpc(r, rpc('add_recipients', [r.f.mailing, [{ email: a }]])));
  }

  // --- Mailkit ----------------------------------------------------------------------------------------------
  add('mailkit-json', 'malformed body', 'not JSON', 'error', (r) => mkJson(r, 'not json'));
  add('mailkit-json', 'malformed body', 'cut short', 'error', (r) => mkJson(r, '{"function": "mailkit.mailinglist.list", "id": "1'));
  add('mailkit-json', 'malformed body', 'empty body', 'error', (r) => mkJson(r, ''));
  add('mailkit-json', 'malformed body', 'an array', 'error', (r) => mkJson(r, '[]'));
  add('mailkit-json', 'malformed body', 'invalid UTF-8', 'error', (r) =>
    mkJson(r, Buffer.concat([Buffer.from('{"function":"mailkit.mailinglist.list","id":"1","md5":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])),
  );
  add('mailkit-json', 'malformed body', '__proto__ parameters', 'answer', (r) =>
    mkJson(
      r,
      `{"function":"mailkit.mailinglist.delete","id":"${r.f.key.id}","md5":"${r.f.key.secret}","parameters":{"__proto__":{"ID_user_list":${r.f.list.id}}}}`,
    ),
  );
  add('mailkit-json', 'deep nesting', 'a custom field 100,000 deep', 'error', (r) =>
    mkJson(
      r,
      `{"function":"mailkit.mailinglist.adduser","id":"${r.f.key.id}","md5":"${r.f.key.secret}","parameters":{"ID_user_list":${r.f.list.id},"personal":{"email":"fresh@example.org"},"custom":{"x":${nest('[', ']', 100_000)}}}}`,
    ),
  );
  add('mailkit-json', 'oversized body', 'over MAX_BODY_BYTES', 'error', (r) =>
    mkJson(r, mkEnvelope(r, 'mailkit.mailinglist.list', { x: 'x'.repeat(over(r)) })),
  );
  for (const name of ['mailkit.no.such', '__proto__', 'constructor', 'toString', ''])
    add('mailkit-json', 'unknown method/route', `function ${JSON.stringify(name)}`, 'error', (r) => mkJson(r, mkEnvelope(r, name, {})));
  add('mailkit-json', 'unknown method/route', 'function a number', 'error', (r) =>
    mkJson(r, json({ function: 7, id: String(r.f.key.id), md5: r.f.key.secret })),
  );
  for (const d of ['mailkit-json', 'mailkit-xmlrpc'] as const) {
    const call = (r: Runner, fn: string, params: string[], args: Record<string, unknown>) =>
      d === 'mailkit-json'
        ? mkJson(r, mkEnvelope(r, fn, args))
        : mkXmlRpc(
            r,
            fn,
            params.map((n) => args[n] ?? ''),
          );
    const adduser = ['ID_user_list', 'confirm', 'personal', 'address', 'custom'];
    const sendmail = ['mailinglist_id', 'campaign_id', 'main', 'personal', 'address', 'custom'];
    for (const [name, p] of Object.entries(INVALID_TEXT)) {
      add(d, 'invalid text', `${name} in mailinglist.create's name`, 'error', (r) =>
        call(r, 'mailkit.mailinglist.create', ['name', 'description'], { name: p, description: 'x' }),
      );
      add(d, 'invalid text', `${name} in adduser's first_name`, 'error', (r) =>
        call(r, 'mailkit.mailinglist.adduser', adduser, {
          ID_user_list: r.f.list.id,
          confirm: 'FALSE',
          personal: { email: 'fresh@example.org', first_name: p },
          address: {},
          custom: {},
        }),
      );
      add(d, 'invalid text', `${name} in adduser's custom`, 'error', (r) =>
        call(r, 'mailkit.mailinglist.adduser', adduser, {
          ID_user_list: r.f.list.id,
          confirm: 'FALSE',
          personal: { email: 'fresh@example.org' },
          address: {},
          custom: { x: p },
        }),
      );
      add(d, 'invalid text', `${name} in sendmail's content`, 'error', (r) =>
        call(r, 'mailkit.sendmail', sendmail, {
          mailinglist_id: '',
          campaign_id: r.f.campaign.id,
          main: { send_to: 'fresh@example.org', subject: p, content: { n: p } },
          personal: {},
          address: {},
          custom: {},
        }),
      );
    }
    add(d, 'wrong type/arity', 'adduser with a non-struct custom', 'error', (r) =>
      call(r, 'mailkit.mailinglist.adduser', adduser, {
        ID_user_list: r.f.list.id,
        confirm: 'FALSE',
        personal: { email: 'fresh@example.org' },
        address: {},
        custom: 'x',
      }),
    );
    for (const [name, a] of Object.entries(BAD_ADDRESSES)) {
      add(d, 'bad address', `${name} in adduser`, 'error', (r) =>
        call(r, 'mailkit.mailinglist.adduser', adduser, { ID_user_list: r.f.list.id, confirm: 'FALSE', personal: { email: a }, address: {}, custom: {} }),
      );
      add(d, 'bad address', `${name} as sendmail's send_to`, 'error', (r) =>
        call(r, 'mailkit.sendmail', sendmail, {
          mailinglist_id: '',
          campaign_id: r.f.campaign.id,
          main: { send_to: a },
          personal: {},
          address: {},
          custom: {},
        }),
      );
      add(d, 'bad address', `${name} in import`, 'answer', (r) =>
        call(r, 'mailkit.mailinglist.import', ['ID_user_list', 'recipients'], { ID_user_list: r.f.list.id, recipients: [{ email: a }] }),
      );
    }
  }
  add('mailkit-xmlrpc', 'deep nesting', 'a custom field 50,000 deep', 'error', (r) =>
    xmlBytes(
      r,
      'mailkit-xmlrpc',
      mkCall(
        r,
        'mailkit.mailinglist.adduser',
        `<param><value><int>${r.f.list.id}</int></value></param><param><value>FALSE</value></param><param><value><struct><member><name>email</name><value>fresh@example.org</value></member></struct></value></param><param><value><struct></struct></value></param><param><value><struct><member><name>x</name>${nest('<value><array><data>', '</data></array></value>', 50_000)}</member></struct></value></param>`,
      ),
    ),
  );
  add('mailkit-xmlrpc', 'wrong type/arity', 'mailinglist.create with 10,000 parameters', 'error', (r) =>
    mkXmlRpc(r, 'mailkit.mailinglist.create', ['Extra params', 'x', ...Array.from({ length: 10_000 }, () => 'x')]),
  );

  // --- Sender -----------------------------------------------------------------------------------------------
  const s = (r: Runner, method: string, path: string, body?: Parameters<typeof rest>[4]) => rest(r, 'sender', method, `/api/0/${r.f.account}${path}`, body);
  add('sender', 'malformed body', 'JSON cut short', 'error', (r) =>
    s(r, 'PUT', `/maillist/${r.f.list.slug}/subscription`, { raw: '{"email": "a@', type: 'application/json' }),
  );
  add('sender', 'malformed body', 'bad percent escape in the form', 'error', (r) =>
    s(r, 'PUT', `/maillist/${r.f.list.slug}/subscription`, { raw: 'email=%zz%E0%A4%A&params=%' }),
  );
  add('sender', 'malformed body', 'bad percent escape in the path', 'error', (r) => s(r, 'GET', '/maillist/%E0%A4%A/content'));
  add('sender', 'malformed body', 'params a malformed JSON string', 'error', (r) =>
    s(r, 'PUT', `/maillist/${r.f.list.slug}/subscription`, { raw: 'email=fresh%40example.org&params=%7B%22a' }),
  );
  add('sender', 'malformed body', 'an XML body with entities', 'answer', (r) =>
    s(r, 'PUT', `/maillist/${r.f.list.slug}/subscription`, { raw: xxe, type: 'application/xml' }),
  );
  add('sender', 'deep nesting', 'params 100,000 deep (JSON body)', 'error', (r) =>
    s(r, 'PUT', `/maillist/${r.f.list.slug}/subscription`, {
      raw: `{"email":"fresh@example.org","params":${nest('{"a":', '}', 100_000, '1')}}`,
      type: 'application/json',
    }),
  );
  add('sender', 'deep nesting', 'params 100,000 deep (form JSON string)', 'error', (r) =>
    s(r, 'PUT', `/maillist/${r.f.list.slug}/subscription`, { raw: `email=fresh%40example.org&params=${encodeURIComponent(nest('{"a":', '}', 100_000, '1'))}` }),
  );
  add('sender', 'deep nesting', 'bulk items 100,000 deep', 'error', (r) =>
    s(r, 'PUT', `/maillist/${r.f.list.slug}/subscription/bulk`, { raw: nest('[', ']', 100_000), type: 'application/json' }),
  );
  add('sender', 'oversized body', 'over MAX_BODY_BYTES', 'error', (r) =>
    s(r, 'PUT', `/maillist/${r.f.list.slug}/subscription`, { json: { email: 'fresh@example.org', x: 'x'.repeat(over(r)) } }),
  );
  add('sender', 'too many items', 'bulk PUT of 1,001', 'error', (r) =>
    s(r, 'PUT', `/maillist/${r.f.list.slug}/subscription/bulk`, { json: Array.from({ length: 1001 }, (_, i) => ({ email: `n${i}@example.org` })) }),
  );
  add('sender', 'too many items', 'bulk DELETE of 10,000', 'error', (r) =>
    s(r, 'DELETE', `/maillist/${r.f.list.slug}/subscription/bulk`, {
      json: { items: Array.from({ length: 10_000 }, (_, i) => ({ email: `n${i}@example.org` })) },
    }),
  );
  add('sender', 'too many items', 'content with limit 10,000', 'answer', (r) => s(r, 'GET', `/maillist/${r.f.list.slug}/content?limit=10000`));
  add('sender', 'too many items', 'transactional to 10,000 addresses', 'error', (r) =>
    s(r, 'POST', `/transactional/${r.f.campaign.name}/send`, { json: { to: Array.from({ length: 10_000 }, (_, i) => `n${i}@example.org`) } }),
  );
  for (const path of ['/nope', '/maillist', '/maillist/x/y/z', '/tasks', '/transactional/x', '/unsubscribe'])
    add('sender', 'unknown method/route', `GET ${path}`, 'error', (r) => s(r, 'GET', path));
  add('sender', 'unknown method/route', 'PATCH maillist', 'error', (r) => s(r, 'PATCH', `/maillist/${r.f.list.slug}`));
  for (const [name, p] of Object.entries(INVALID_TEXT)) {
    add('sender', 'invalid text', `${name} in maillist title`, 'error', (r) => s(r, 'PUT', '/maillist/corpus-new', { json: { title: p } }));
    add('sender', 'invalid text', `${name} in subscriber params`, 'error', (r) =>
      s(r, 'PUT', `/maillist/${r.f.list.slug}/subscription`, { json: { email: 'fresh@example.org', params: { name: p } } }),
    );
    add('sender', 'invalid text', `${name} in a params name`, 'error', (r) =>
      s(r, 'PUT', `/maillist/${r.f.list.slug}/subscription`, { json: { email: 'fresh@example.org', params: { [p]: 'x' } } }),
    );
    add('sender', 'invalid text', `${name} in bulk items`, 'error', (r) =>
      s(r, 'PUT', `/maillist/${r.f.list.slug}/subscription/bulk`, { json: [{ email: 'fresh@example.org', params: { name: p } }] }),
    );
    add('sender', 'invalid text', `${name} in transactional args`, 'error', (r) =>
      s(r, 'POST', `/transactional/${r.f.campaign.name}/send`, { json: { to_email: 'fresh@example.org', args: { n: p } } }),
    );
    add('sender', 'invalid text', `${name} in opt-in params`, 'error', (r) =>
      s(r, 'POST', `/maillist/${r.f.list.slug}/subscription/request`, { json: { to_email: 'fresh@example.org', params: { name: p } } }),
    );
    add('sender', 'invalid text', `${name} in opt-in args`, 'error', (r) =>
      s(r, 'POST', `/maillist/${r.f.list.slug}/subscription/request`, { json: { to_email: 'fresh@example.org', args: { name: p } } }),
    );
  }
  for (const [name, a] of Object.entries(BAD_ADDRESSES)) {
    add('sender', 'bad address', `${name} subscribed`, 'error', (r) => s(r, 'PUT', `/maillist/${r.f.list.slug}/subscription`, { json: { email: a } }));
    add('sender', 'bad address', `${name} in bulk items`, 'error', (r) =>
      s(r, 'PUT', `/maillist/${r.f.list.slug}/subscription/bulk`, { json: [{ email: a }] }),
    );
    add('sender', 'bad address', `${name} asked to confirm`, 'error', (r) =>
      s(r, 'POST', `/maillist/${r.f.list.slug}/subscription/request`, { json: { to_email: a } }),
    );
    add('sender', 'bad address', `${name} sent a transactional`, 'error', (r) =>
      s(r, 'POST', `/transactional/${r.f.campaign.name}/send`, { json: { to_email: a } }),
    );
    add('sender', 'bad address', `${name} in an unsubscribe list`, 'error', (r) =>
      s(r, 'PUT', `/unsubscribe/list/${r.f.unsubscribeList}`, { json: { email: a } }),
    );
    add('sender', 'bad address', `${name} unsubscribed globally`, 'error', (r) => s(r, 'PUT', '/unsubscribe/global', { json: { email: a } }));
  }

  // --- Emailicious ------------------------------------------------------------------------------------------
  const e = (r: Runner, method: string, path: string, body?: Parameters<typeof rest>[4]) => rest(r, 'emailicious', method, `/api/v1${path}`, body);
  const list = (r: Runner) => `/lists/${r.f.list.id}/subscribers`;
  add('emailicious', 'malformed body', 'JSON cut short', 'error', (r) => e(r, 'POST', list(r), { raw: '{"email": "a@', type: 'application/json' }));
  add('emailicious', 'malformed body', 'bad percent escape in the form', 'error', (r) => e(r, 'POST', list(r), { raw: 'email=%zz%E0%A4%A' }));
  add('emailicious', 'malformed body', 'bad percent escape in the path', 'error', (r) => e(r, 'GET', '/lists/%E0%A4%A'));
  add('emailicious', 'malformed body', 'multipart without its boundary', 'error', (r) =>
    e(r, 'POST', list(r), { raw: '--x\r\nContent-Disposition: form-data; name="email"\r\n\r\nfresh@example.org\r\n', type: 'multipart/form-data' }),
  );
  add('emailicious', 'malformed body', 'multipart cut short', 'error', (r) =>
    e(r, 'POST', list(r), { raw: '--x\r\nContent-Disposition: form-data; name="email"\r\n\r\nfresh@exa', type: 'multipart/form-data; boundary=x' }),
  );
  add('emailicious', 'malformed body', 'an XML body with entities', 'error', (r) => e(r, 'POST', list(r), { raw: xxe, type: 'application/xml' }));
  add('emailicious', 'malformed body', 'a form key with only brackets', 'error', (r) =>
    e(r, 'POST', '/mailings', { raw: '[][][]=1&variants[x]]=2&variants[99999999999]=3' }),
  );
  add('emailicious', 'deep nesting', 'form keys 20,000 [0] deep', 'error', (r) => e(r, 'POST', '/mailings', { raw: `variants${'[0]'.repeat(20_000)}=x` }));
  add('emailicious', 'deep nesting', 'a JSON body 100,000 deep', 'error', (r) =>
    e(r, 'POST', list(r), { raw: `{"email":"fresh@example.org","first_name":${nest('[', ']', 100_000)}}`, type: 'application/json' }),
  );
  add('emailicious', 'deep nesting', 'variants 100,000 deep', 'error', (r) =>
    e(r, 'POST', '/mailings', { raw: `{"list":${r.f.list.id},"name":"n","variants":${nest('[', ']', 100_000)}}`, type: 'application/json' }),
  );
  add('emailicious', 'oversized body', 'over MAX_BODY_BYTES', 'error', (r) =>
    e(r, 'POST', list(r), { json: { email: 'fresh@example.org', x: 'x'.repeat(over(r)) } }),
  );
  add('emailicious', 'too many items', 'page_size 10,000', 'answer', (r) => e(r, 'GET', `${list(r)}?page_size=10000`));
  add('emailicious', 'too many items', 'a form of 20,000 keys', 'error', (r) =>
    e(r, 'POST', '/mailings', { raw: Array.from({ length: 20_000 }, (_, i) => `segments=${i}`).join('&') }),
  );
  add('emailicious', 'too many items', 'a mailing of 10,000 variants', 'error', (r) =>
    e(r, 'POST', '/mailings', { json: { list: r.f.list.id, name: 'Many', variants: Array.from({ length: 10_000 }, () => ({ subject: 'x' })) } }),
  );
  for (const path of ['/nope', '/lists/1/nope', '/imports', '/statistics', '/lists/x'])
    add('emailicious', 'unknown method/route', `GET ${path}`, 'error', (r) => e(r, 'GET', path));
  add('emailicious', 'unknown method/route', 'DELETE /mailings', 'error', (r) => e(r, 'DELETE', '/mailings'));
  for (const [name, p] of Object.entries(INVALID_TEXT)) {
    add('emailicious', 'invalid text', `${name} in a list name`, 'error', (r) =>
      e(r, 'POST', '/lists', { json: { name: p, default_from_email: 'news@example.org' } }),
    );
    add('emailicious', 'invalid text', `${name} in a subscriber field`, 'error', (r) =>
      e(r, 'POST', list(r), { json: { email: 'fresh@example.org', first_name: p, custom: p } }),
    );
    add('emailicious', 'invalid text', `${name} in a custom field name`, 'error', (r) =>
      e(r, 'POST', list(r), { json: { email: 'fresh@example.org', [p]: 'x' } }),
    );
    add('emailicious', 'invalid text', `${name} patched in`, 'error', (r) => e(r, 'PATCH', `${list(r)}/${r.f.subscriber.id}`, { json: { last_name: p } }));
    add('emailicious', 'invalid text', `${name} in a mailing subject`, 'error', (r) =>
      e(r, 'POST', '/mailings', { json: { list: r.f.list.id, name: 'Corpus', variants: [{ subject: p, layout: { text: 'x' }, deliveries: [] }] } }),
    );
  }
  for (const [name, a] of Object.entries(BAD_ADDRESSES)) {
    add('emailicious', 'bad address', `${name} subscribed`, 'error', (r) => e(r, 'POST', list(r), { json: { email: a } }));
    add('emailicious', 'bad address', `${name} as a list's sender`, 'error', (r) =>
      e(r, 'POST', '/lists', { json: { name: 'Corpus', default_from_email: a } }),
    );
    add('emailicious', 'bad address', `${name} patched in`, 'error', (r) => e(r, 'PATCH', `${list(r)}/${r.f.subscriber.id}`, { json: { email: a } }));
  }
  const mailingWith = (r: Runner, zip: Buffer | string) => ({
    list: r.f.list.id,
    name: 'Zipped',
    variants: [{ subject: 'x', layout: { zip_file: typeof zip === 'string' ? zip : `data:application/zip;base64,${zip.toString('base64')}` }, deliveries: [] }],
  });
  const page = Buffer.from('<html><body>x</body></html>');
  const zips: Record<string, () => Promise<Buffer | string>> = {
    'not a zip': () => Promise.resolve(randomBytes(512)),
    'not base64': () => Promise.resolve('data:application/zip;base64,!!!***'),
    'not a data URI': () => Promise.resolve('file:///etc/passwd'),
    'empty zip': () => zipOf([]),
    'no page': () => zipOf([['images/a.png', Buffer.from('x')]]),
    'traversal ../': () =>
      zipOf([
        ['index.html', page],
        ['../../etc/evil.html', page],
      ]),
    'absolute path': () =>
      zipOf([
        ['index.html', page],
        ['/etc/evil.html', page],
      ]),
    'backslash traversal': () =>
      zipOf([
        ['index.html', page],
        ['..\\..\\evil.html', page],
      ]),
    '201 entries': () => zipOf([['index.html', page], ...Array.from({ length: 200 }, (_, i): [string, Buffer] => [`images/${i}.png`, Buffer.from('x')])]),
    'bomb: 30 MiB declared': () => zipOf([['index.html', Buffer.alloc(30 * 1024 * 1024, 0x20)]]),
    'bomb: inflates past its declared size': () => Promise.resolve(rawZip([{ name: 'index.html', data: Buffer.alloc(25 * 1024 * 1024, 0x20), declared: 100 }])),
    'a zip cut short': async () => (await zipOf([['index.html', page]])).subarray(0, 40),
  };
  for (const [name, make] of Object.entries(zips)) {
    add('emailicious', 'zip layout', `${name} (JSON data URI)`, 'error', async (r) => e(r, 'POST', '/mailings', { json: mailingWith(r, await make()) }));
  }
  for (const name of ['not a zip', 'traversal ../', 'bomb: inflates past its declared size'] as const) {
    add('emailicious', 'zip layout', `${name} (multipart file part)`, 'error', async (r) => {
      const z = await zips[name]!();
      const b = 'corpusboundary';
      const part = (n: string, v: string) => `--${b}\r\nContent-Disposition: form-data; name="${n}"\r\n\r\n${v}\r\n`;
      const body = Buffer.concat([
        Buffer.from(part('list', String(r.f.list.id)) + part('name', 'Zipped') + part('variants[0].subject', 'x')),
        Buffer.from(
          `--${b}\r\nContent-Disposition: form-data; name="variants[0]layout.zip_file"; filename="layout.zip"\r\nContent-Type: application/zip\r\n\r\n`,
        ),
        typeof z === 'string' ? Buffer.from(z) : z,
        Buffer.from(`\r\n--${b}--\r\n`),
      ]);
      return e(r, 'POST', '/mailings', { raw: body, type: `multipart/form-data; boundary=${b}` });
    });
  }

  // --- the links, the admin pages, the app --------------------------------------------------------------
  const flip = (t: string) => t.slice(0, -1) + (t.endsWith('A') ? 'B' : 'A');
  add('links', 'forged token', 'unsubscribe token with its MAC changed', 'error', (r) =>
    rest(r, 'links', 'POST', `/u/${flip(r.f.unsubscribeToken)}`, { raw: 'List-Unsubscribe=One-Click' }),
  );
  add('links', 'forged token', 'unsubscribe token moved to another recipient', 'error', (r) =>
    rest(r, 'links', 'POST', `/u/${Number(r.f.unsubscribeToken.split('.')[0]) + 1}.${r.f.unsubscribeToken.split('.')[1]}`, {
      raw: 'List-Unsubscribe=One-Click',
    }),
  );
  add('links', 'forged token', 'unsubscribe token without its MAC', 'error', (r) => rest(r, 'links', 'GET', `/u/${r.f.unsubscribeToken.split('.')[0]}`));
  add('links', 'forged token', 'confirmation token with its MAC changed', 'error', (r) =>
    rest(r, 'links', 'GET', `/subscribe/confirm/${flip(r.f.confirmToken)}`),
  );
  add('links', 'forged token', 'confirmation token made younger', 'error', (r) => {
    const [id, issued, m] = r.f.confirmToken.split('.');
    return rest(r, 'links', 'GET', `/subscribe/confirm/${id}.${(parseInt(issued!, 36) + 86_400).toString(36)}.${m}`);
  });
  add('links', 'forged token', 'confirmation token moved to another subscriber', 'error', (r) => {
    const [id, issued, m] = r.f.confirmToken.split('.');
    return rest(r, 'links', 'GET', `/subscribe/confirm/${Number(id) + 1}.${issued}.${m}`);
  });
  add('links', 'forged token', 'a token of 10,000 characters', 'error', (r) => rest(r, 'links', 'GET', `/u/${'1'.repeat(10_000)}.AAAAAAAAAAAA`));
  add('links', 'oversized body', 'a one-click POST over its limit', 'error', (r) =>
    rest(r, 'links', 'POST', `/u/${r.f.unsubscribeToken}`, { raw: `List-Unsubscribe=One-Click&x=${'x'.repeat(8192)}` }),
  );
  add('admin', 'unknown method/route', 'GET /admin/nope', 'error', (r) => rest(r, 'admin', 'GET', '/admin/nope'));
  add('admin', 'unknown method/route', 'POST /admin/outbox', 'error', (r) => rest(r, 'admin', 'POST', '/admin/outbox', { raw: 'x=1' }));
  for (const path of [
    '/nope',
    '/CloudMailing/x',
    '/api',
    '/api/2/x',
    '/../../etc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/layouts/x/images/..%2f..%2fetc%2fpasswd',
  ])
    add('links', 'unknown method/route', `GET ${path}`, 'error', (r) => r.send({ method: 'GET', path }));
  add('cloudmailing', 'unknown method/route', 'GET /CloudMailing', 'error', (r) =>
    r.send({ method: 'GET', path: '/CloudMailing', headers: { authorization: basicAuthHeader(r.f.key.secret) } }),
  );
  add('jsonrpc', 'unknown method/route', 'PUT /jsonrpc', 'error', (r) =>
    r.send({ method: 'PUT', path: '/jsonrpc', headers: { authorization: basicAuthHeader(r.f.key.secret) } }),
  );
  add('mailkit-json', 'unknown method/route', 'GET /json.fcgi', 'error', (r) => r.send({ method: 'GET', path: '/json.fcgi' }));

  // --- a body over the limit written whole before the answer is read (Python's http.client does so) ----------
  const whole: [Dialect, string, (r: Runner) => string][] = [
    ['cloudmailing', '/CloudMailing', (r) => basicAuthHeader(r.f.key.secret)],
    ['jsonrpc', '/jsonrpc', (r) => basicAuthHeader(r.f.key.secret)],
    ['mailkit-json', '/json.fcgi', () => ''],
    ['mailkit-xmlrpc', '/rpc.fcgi', () => ''],
    ['sender', '/api/0/acme/maillist/news/subscription', (r) => basicAuthHeader('', r.f.key.secret)],
    ['emailicious', '/api/v1/lists', (r) => basicAuthHeader(r.f.key.secret, 'me@example.org')],
  ];
  for (const [d, path, auth] of whole)
    add(d, 'oversized body', 'four times MAX_BODY_BYTES, written whole first', 'error', (r) =>
      postWholeBodyFirst(r.base, path, 4 * r.limits.maxBodyBytes, auth(r)),
    );

  // --- the bounce listener: a report over its SIZE to a genuine VERP address -----------------------------
  add('bounces', 'oversized body', 'DATA over the listener SIZE', 'error', (r) =>
    smtpData(r.bouncePort, `bounces+${r.f.unsubscribeToken}@bounces.mailgate.test`, Buffer.alloc(MAX_REPORT_BYTES + 1024 * 1024, 'x\r\n')),
  );
  add('bounces', 'malformed body', 'a report that is no DSN', 'answer', (r) =>
    smtpData(r.bouncePort, `bounces+${r.f.unsubscribeToken}@bounces.mailgate.test`, Buffer.from('Subject: hello\r\n\r\n\u0000\u00ff not a report\r\n')),
  );
  add('bounces', 'forged token', 'a VERP address with its MAC changed', 'error', (r) =>
    smtpData(
      r.bouncePort,
      `bounces+${r.f.unsubscribeToken.slice(0, -1)}${r.f.unsubscribeToken.endsWith('A') ? 'B' : 'A'}@bounces.mailgate.test`,
      Buffer.from('Subject: x\r\n\r\nx\r\n'),
    ),
  );
  return out;
}

export function corpus(): Case[] {
  const cases = [...endpoints().flatMap(endpointCases), ...dialectCases()];
  const seen = new Set<string>();
  for (const c of cases) {
    if (seen.has(c.id)) throw new Error(`two cases have the id ${c.id}`);
    seen.add(c.id);
  }
  return cases;
}

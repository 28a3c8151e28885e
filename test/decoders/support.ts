/**
 * What the decoder tests share: a call of each dialect as its real clients make it (raw bodies, so that a test
 * can send what no well-behaved client would), and a snapshot of everything stored, to show that a refused
 * request changed nothing.
 */
import type { Pool } from '../../src/db/pool.js';
import { encodeMethodCall } from '../../src/rpc/xmlrpc.js';
import { basicAuthHeader } from '../support/auth.js';
import type { TestGateway } from '../support/gateway.js';

export interface Answer {
  status: number;
  text: string;
  json(): unknown;
}

async function answer(r: Response): Promise<Answer> {
  const text = await r.text();
  return { status: r.status, text, json: () => JSON.parse(text) as unknown };
}

export function clients(gw: TestGateway) {
  const post = async (path: string, headers: Record<string, string>, body: string | Buffer, method = 'POST') =>
    answer(await fetch(`${gw.url}${path}`, { method, headers, body }));
  const senderAuth = `Basic ${Buffer.from(`${gw.key.secret}:`).toString('base64')}`;
  const emailiciousAuth = `Basic ${Buffer.from(`me@example.org:${gw.key.secret}`).toString('base64')}`;
  return {
    /** JSON-RPC: the raw body as given. */
    jsonRpc: (body: string | Buffer) => post('/jsonrpc', { authorization: basicAuthHeader(gw.key.secret), 'content-type': 'application/json' }, body),
    /** CloudMailing XML-RPC: a raw body, or a call encoded as Python's xmlrpc.client would. */
    xmlRpc: (body: string | Buffer) => post('/CloudMailing', { authorization: basicAuthHeader(gw.key.secret), 'content-type': 'text/xml' }, body),
    xmlCall: (method: string, params: unknown[]) =>
      post('/CloudMailing', { authorization: basicAuthHeader(gw.key.secret), 'content-type': 'text/xml' }, encodeMethodCall(method, params)),
    /** Mailkit JSON: a raw body (`envelope` builds one with the key). */
    mailkitJson: (body: string | Buffer) => post('/json.fcgi', { 'content-type': 'application/json' }, body),
    mailkitEnvelope: (fn: string, parameters: Record<string, unknown>) =>
      JSON.stringify({ function: fn, id: String(gw.key.id), md5: gw.key.secret, parameters }),
    /** Mailkit XML-RPC: the key first, as every client sends it. */
    mailkitXml: (fn: string, params: unknown[]) =>
      post('/rpc.fcgi', { 'content-type': 'text/xml' }, encodeMethodCall(fn, [String(gw.key.id), gw.key.secret, ...params])),
    sender: (method: string, path: string, body: string | Buffer, type = 'application/json') =>
      post(`/api/0/acme${path}`, { authorization: senderAuth, 'content-type': type }, body, method),
    emailicious: (method: string, path: string, body: string | Buffer, type = 'application/json') =>
      post(`/api/v1${path}`, { authorization: emailiciousAuth, 'content-type': type }, body, method),
  };
}

/** Every table's row count and checksum (rows as text, in order): equal snapshots, nothing stored changed. */
export async function snapshot(pool: Pool): Promise<Record<string, string>> {
  const { rows } = await pool.query<{ table_name: string }>(
    "select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name",
  );
  const out: Record<string, string> = {};
  for (const { table_name } of rows) {
    // A key's last use is stamped by every authenticated call, refused or not.
    if (table_name === 'api_keys') {
      out[table_name] = (await pool.query<{ n: string }>('select count(*)::text as n from api_keys')).rows[0]!.n;
      continue;
    }
    const r = await pool.query<{ n: string; sum: string | null }>(
      `select count(*)::text as n, md5(string_agg(t::text, ',' order by t::text)) as sum from "${table_name}" t`,
    );
    out[table_name] = `${r.rows[0]!.n}:${r.rows[0]!.sum ?? ''}`;
  }
  return out;
}

/** An array nested `depth` deep around `inner`, as JSON text (built without recursion). */
export const deepJson = (depth: number, inner = '1') => '['.repeat(depth) + inner + ']'.repeat(depth);
/** An object nested `depth` deep: {"a":{"a":...}}. */
export const deepObjectJson = (depth: number, inner = '1') => '{"a":'.repeat(depth) + inner + '}'.repeat(depth);

/**
 * CloudMailing test client: raw XML-RPC over real HTTP, and a gateway to talk to.
 */
import assert from 'node:assert/strict';
import type { Core } from '../../src/core/index.js';
import type { Pool } from '../../src/db/pool.js';
import { decodeMethodResponse, encodeMethodCall } from '../../src/rpc/xmlrpc.js';
import { basicAuthHeader } from '../support/auth.js';
import { startTestGateway } from '../support/gateway.js';

// Response dates are zone-less on the wire and the xmlrpc client reads them as local time.
process.env.TZ = 'UTC';

export interface Gateway {
  url: string;
  core: Core;
  pool: Pool;
  key: { id: number; secret: string; account: string };
  stop(): Promise<void>;
}

export async function startGateway(env: Record<string, string> = {}): Promise<Gateway> {
  return await startTestGateway({ env });
}

export interface RpcAnswer {
  status: number;
  headers: Headers;
  body: string;
  value?: any;
  fault?: { faultCode: number; faultString: string };
}

export function decodeResponse(xml: string): Pick<RpcAnswer, 'value' | 'fault'> {
  const r = decodeMethodResponse(xml);
  return 'fault' in r ? { fault: r.fault } : { value: r.value };
}

export const authHeader = basicAuthHeader;

export function client(gw: Gateway, secret = gw.key.secret) {
  const endpoint = `${gw.url}/CloudMailing`;
  async function post(body: string | Buffer, headers: Record<string, string> = {}): Promise<RpcAnswer> {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'text/xml', authorization: authHeader(secret), ...headers },
      body,
    });
    const text = await res.text();
    const answer: RpcAnswer = { status: res.status, headers: res.headers, body: text };
    if (res.headers.get('content-type')?.startsWith('text/xml')) Object.assign(answer, decodeResponse(text));
    return answer;
  }
  return {
    post,
    /** A call that must succeed; returns its value. */
    async call(method: string, ...params: unknown[]): Promise<any> {
      const a = await post(encodeMethodCall(method, params));
      assert.equal(a.status, 200, a.body);
      assert.equal(a.fault, undefined, `${method}: unexpected fault ${JSON.stringify(a.fault)}`);
      return a.value;
    },
    /** A call that must fault in an answer of this HTTP status; returns the fault. */
    async faultAt(httpStatus: number, method: string, ...params: unknown[]): Promise<{ faultCode: number; faultString: string }> {
      const a = await post(encodeMethodCall(method, params));
      assert.equal(a.status, httpStatus, `${method}: HTTP ${a.status}: ${a.body}`);
      assert.ok(a.fault, `${method}: expected a fault, got ${a.body}`);
      return a.fault;
    },
    /** A call that must fault (in an HTTP 200 answer); returns the fault. */
    async fault(method: string, ...params: unknown[]): Promise<{ faultCode: number; faultString: string }> {
      const a = await post(encodeMethodCall(method, params));
      assert.equal(a.status, 200, a.body);
      assert.ok(a.fault, `${method}: expected a fault, got ${a.body}`);
      return a.fault;
    },
  };
}

export type Client = ReturnType<typeof client>;

/** The seed's create_mailing arguments. */
export const SEED_MAILING = ['my-mailing@%example.org', 'My Mailing', 'The great newsletter', '<h1>Title</h1><p>Coucou</p>', 'Title\nCoucou\n', 'UTF-8'];

export function callXml(method: string, paramsXml: string[]): string {
  return `<?xml version='1.0'?>\n<methodCall>\n<methodName>${method}</methodName>\n<params>\n${paramsXml.map((p) => `<param>\n${p}\n</param>\n`).join('')}</params>\n</methodCall>\n`;
}

export async function accountId(gw: Gateway, secret = gw.key.secret): Promise<number> {
  return (await gw.core.accounts.authenticate(secret))!.accountId;
}

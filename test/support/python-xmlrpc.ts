/**
 * Python's xmlrpc.client, as real CloudMailing integrations and the original's acceptance suite connect (login
 * admin, the key's secret as the password): the calls run in order in one process, each answer as JSON
 * (`{value}`, a Fault as `{fault: [code, string]}`, an HTTP error as `{http: status}`).
 */
import assert from 'node:assert/strict';
import { runProcess } from './process.js';

const XMLRPC = `
import json, sys, xmlrpc.client
proxy = xmlrpc.client.ServerProxy(sys.argv[1])
out = []
for method, args in json.loads(sys.argv[2]):
    try:
        out.append({"value": getattr(proxy, method)(*args)})
    except xmlrpc.client.Fault as f:
        out.append({"fault": [f.faultCode, f.faultString]})
    except xmlrpc.client.ProtocolError as e:
        out.append({"http": e.errcode})
print(json.dumps(out, default=str))
`;

export type XmlRpcAnswer = { value?: any; fault?: [number, string]; http?: number };

/** The calls against `<baseUrl>/CloudMailing` with that key's secret. */
export async function cloudmailingCalls(baseUrl: string, secret: string, calls: [string, unknown[]][]): Promise<XmlRpcAnswer[]> {
  const url = baseUrl.replace('http://', `http://admin:${secret}@`) + '/CloudMailing';
  const r = await runProcess('python3', ['-c', XMLRPC, url, JSON.stringify(calls)], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as XmlRpcAnswer[];
}

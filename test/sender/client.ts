/**
 * How Sender's real clients reach the gateway in these tests: curl lines run by bash (the pages' own
 * examples), and Python `requests` (Yandex Pay's client and the other Python integrations: Basic `key:`,
 * `params=` for the query string, `json=` or `data=` for the body).
 */
import assert from 'node:assert/strict';
import { runProcess } from '../support/process.js';

export interface Reply {
  status: number;
  body: any;
  raw: string;
}

/** A curl command line (without -s / -w, which this adds) run by bash; the body parsed as JSON when there is one. */
export async function curl(cmd: string): Promise<Reply> {
  const r = await runProcess('bash', ['-c', `${cmd} -s -w '\\n%{http_code}'`], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `${cmd}\n${r.stderr}`);
  const i = r.stdout.lastIndexOf('\n');
  const raw = r.stdout.slice(0, i);
  return { status: Number(r.stdout.slice(i + 1)), body: raw ? JSON.parse(raw) : null, raw };
}

const REQUESTS = `
import json, sys, requests
method, url, opts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
auth = (opts["key"], "") if opts.get("key") is not None else None
kw = {k: opts[k] for k in ("json", "data", "params") if k in opts}
r = requests.request(method, url, auth=auth, timeout=30, **kw)
print(r.status_code); print(r.text)
`;

/** One call made with Python `requests`; `key: null` sends no credentials. */
export async function requestsCall(
  method: string,
  url: string,
  opts: { json?: unknown; data?: unknown; params?: unknown; key: string | null },
): Promise<{ status: number; body: any }> {
  const r = await runProcess('python3', ['-c', REQUESTS, method, url, JSON.stringify(opts)], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  const [status, ...rest] = r.stdout.split('\n');
  return { status: Number(status), body: JSON.parse(rest.join('\n')) };
}

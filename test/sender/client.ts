/**
 * How Sender's real clients reach the gateway in these tests: curl lines run by bash (the pages' own
 * examples), and Python `requests` (Yandex Pay's client and the other Python integrations: Basic `key:`,
 * `params=` for the query string, `json=` or `data=` for the body).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
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

export interface RequestsCall {
  method: string;
  url: string;
  opts: { json?: unknown; data?: unknown; params?: unknown; key: string | null };
}

// The same call as REQUESTS, several in a row in one interpreter (as a long-running client makes them).
const REQUESTS_MANY = `
import json, sys, requests
for c in json.load(open(sys.argv[1])):
    opts = c["opts"]
    auth = (opts["key"], "") if opts.get("key") is not None else None
    kw = {k: opts[k] for k in ("json", "data", "params") if k in opts}
    r = requests.request(c["method"], c["url"], auth=auth, timeout=30, **kw)
    print(json.dumps({"status": r.status_code, "text": r.text}))
`;

/** Several calls made with Python `requests`, one after the other in one process; one reply per call, in order. */
export async function requestsCalls(calls: RequestsCall[]): Promise<{ status: number; body: any }[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mailgate-requests-'));
  try {
    const file = path.join(dir, 'calls.json');
    await writeFile(file, JSON.stringify(calls));
    const r = await runProcess('python3', ['-c', REQUESTS_MANY, file], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const replies = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { status: number; text: string });
    assert.equal(replies.length, calls.length);
    return replies.map((x) => ({ status: x.status, body: JSON.parse(x.text) }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const REQUESTS_PAGES = `
import json, sys, requests
url, key = sys.argv[1], sys.argv[2]
while url:
    r = requests.get(url, auth=(key, ""), timeout=30)
    page = r.json()
    print(json.dumps({"status": r.status_code, "body": page}))
    url = page.get("next")
`;

/** A paged list followed by its `next` links to the end, as a Python client pages it (one process); every page. */
export async function requestsPages(url: string, key: string): Promise<{ status: number; body: any }[]> {
  const r = await runProcess('python3', ['-c', REQUESTS_PAGES, url, key], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { status: number; body: any });
}

export type RequestsOptions = { json?: unknown; data?: unknown; params?: unknown; key?: string | null };

/**
 * Python `requests` bound to a gateway and a key, as Yandex Pay's and other Python clients call Sender (JSON
 * bodies, Basic `key:`): `py` one call in a process of its own, `pyAll` several one after the other in one.
 * `key: null` in a call's options sends no credentials.
 */
export function pythonClient(base: () => string, key: () => string) {
  const asCall = (method: string, url: string, opts: RequestsOptions = {}): RequestsCall => ({
    method,
    url: `${base()}${url}`,
    opts: { ...opts, key: opts.key === undefined ? key() : opts.key },
  });
  return {
    py: (method: string, url: string, opts: RequestsOptions = {}) => {
      const c = asCall(method, url, opts);
      return requestsCall(c.method, c.url, c.opts);
    },
    pyAll: (calls: [method: string, url: string, opts?: RequestsOptions][]) => requestsCalls(calls.map((c) => asCall(...c))),
  };
}

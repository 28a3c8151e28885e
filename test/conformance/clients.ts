/**
 * How the conformance matrix reaches each dialect, as its real clients do:
 * - XML-RPC (CloudMailing, Mailkit's rpc.fcgi): Python's own xmlrpc.client, one long-lived process driven a
 *   call at a time (xmlrpc_driver.py), so the stored state can be read between calls;
 * - JSON and REST (JSON-RPC, Mailkit's json.fcgi, Emailicious, Sender): node's fetch with the dialect's own
 *   encoding (JSON bodies, or form bodies as curl -d / requests' data= send them) and its own Basic scheme.
 * Every answer comes back whole: status, the headers a matrix cell looks at, and the body as text.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

export interface Answer {
  status: number;
  contentType: string | null;
  wwwAuthenticate: string | null;
  allow: string | null;
  vary: string | null;
  /** The body as text (parsed by the cell's expectation, never here). */
  body: string;
  /** XML-RPC only: what Python's xmlrpc.client handed its caller. */
  client?: { value: unknown } | { fault: [number, string] } | { protocolError: [number, string] };
}

/** Python's xmlrpc.client in one process; calls are answered in order. */
export class PythonXmlRpc {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: ((line: string) => void)[] = [];
  private stderr = '';

  constructor() {
    this.child = spawn('python3', [path.join(import.meta.dirname, 'xmlrpc_driver.py')], { env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
    this.child.stderr.on('data', (c) => (this.stderr += c));
    createInterface({ input: this.child.stdout }).on('line', (line) => this.waiting.shift()?.(line));
    this.child.on('close', () => {
      for (const w of this.waiting.splice(0)) w(JSON.stringify({ error: `xmlrpc_driver.py ended: ${this.stderr}` }));
    });
  }

  /**
   * `url` carries the credentials as ServerProxy takes them (`http://user:pass@host/path`); `allowNone` is
   * ServerProxy's allow_none (Mailkit's clients send `{'': None}` for an empty struct).
   */
  async call(url: string, method: string, params: unknown[], o: { allowNone?: boolean } = {}): Promise<Answer> {
    const line = await new Promise<string>((resolve) => {
      this.waiting.push(resolve);
      this.child.stdin.write(JSON.stringify({ url, method, params, allow_none: o.allowNone ?? false }) + '\n');
    });
    const out = JSON.parse(line) as Answer & { error?: string };
    if (out.error) throw new Error(out.error);
    return out;
  }

  close(): void {
    this.child.stdin.end();
  }
}

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  /** A JSON body (Content-Type application/json). */
  json?: unknown;
  /** A form body (Content-Type application/x-www-form-urlencoded), as curl -d and requests' data= send it. */
  form?: Record<string, string>;
}

export async function http(url: string, r: HttpRequest = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...r.headers };
  let body: string | undefined;
  if (r.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(r.json);
  } else if (r.form !== undefined) {
    headers['content-type'] ??= 'application/x-www-form-urlencoded';
    body = new URLSearchParams(r.form).toString();
  }
  const res = await fetch(url, { method: r.method ?? (body === undefined ? 'GET' : 'POST'), headers, ...(body !== undefined ? { body } : {}) });
  const h = (name: string) => res.headers.get(name);
  return {
    status: res.status,
    contentType: h('content-type'),
    wwwAuthenticate: h('www-authenticate'),
    allow: h('allow'),
    vary: h('vary'),
    body: await res.text(),
  };
}

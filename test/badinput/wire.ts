/**
 * How the corpus reaches the gateway: raw bytes over node's http (malformed and oversized bodies, REST calls as
 * curl sends them), or Python's own xmlrpc.client for well-formed XML-RPC calls (xmlrpc_client.py). Every
 * request has a deadline: a request the gateway never answers is an outcome (`no answer`), not a hung test.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';

export interface Reply {
  status: number;
  contentType: string;
  body: string;
}
/** An answer, or why there is none. */
export type Outcome = Reply | { failed: 'no answer' | 'connection dropped'; detail: string };

/** The safety net of every request: well above anything a correct answer takes on a busy machine. */
export const REQUEST_DEADLINE_MS = 20_000;

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export function send(base: string, r: RawRequest, deadlineMs = REQUEST_DEADLINE_MS): Promise<Outcome> {
  const url = new URL(r.path, base);
  const body = r.body === undefined ? undefined : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body, 'utf8');
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    const req = http.request(
      url,
      {
        method: r.method,
        headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...r.headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          done({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', (e) => done({ failed: 'connection dropped', detail: e.message }));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      done({ failed: 'no answer', detail: `nothing within ${deadlineMs} ms` });
    }, deadlineMs);
    // An answer may come before the whole body is written (413): node reports the write error, the answer wins.
    req.on('error', (e) => setTimeout(() => done({ failed: 'connection dropped', detail: e.message }), 200));
    req.end(body);
  });
}

/** Python's xmlrpc.client in one long-lived process; calls are answered in order. */
export class PythonXmlRpc {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: ((line: string) => void)[] = [];
  private stderr = '';

  constructor() {
    this.child = spawn('python3', [path.join(import.meta.dirname, 'xmlrpc_client.py'), String(REQUEST_DEADLINE_MS / 1000)], {
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
    this.child.stderr.on('data', (c) => (this.stderr += c));
    createInterface({ input: this.child.stdout }).on('line', (line) => this.waiting.shift()?.(line));
    this.child.on('close', () => {
      for (const w of this.waiting.splice(0)) w(JSON.stringify({ failed: 'connection dropped', detail: `xmlrpc_client.py ended: ${this.stderr}` }));
    });
  }

  /** `url` carries the credentials as ServerProxy takes them; `allowNone` as Mailkit's clients set it. */
  async call(url: string, method: string, params: unknown[], o: { allowNone?: boolean } = {}): Promise<Outcome> {
    const line = await new Promise<string>((resolve) => {
      this.waiting.push(resolve);
      this.child.stdin.write(JSON.stringify({ url, method, params, allow_none: o.allowNone ?? false }) + '\n');
    });
    return JSON.parse(line) as Outcome;
  }

  close(): void {
    this.child.stdin.end();
  }
}

/**
 * One SMTP conversation with the bounce listener: the DATA holds `body`; the outcome is the last reply (its
 * code as `status`), or where the conversation broke off.
 */
export function smtpData(port: number, rcpt: string, body: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    // What to send after each reply: the DATA reply (after the body) ends the conversation.
    const steps: (string | Buffer)[] = [
      'EHLO corpus.test\r\n',
      'MAIL FROM:<>\r\n',
      `RCPT TO:<${rcpt}>\r\n`,
      'DATA\r\n',
      Buffer.concat([body, Buffer.from('\r\n.\r\n')]),
    ];
    let buffered = '';
    let last: Reply | undefined;
    let settled = false;
    const done = (o: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => done({ failed: 'no answer', detail: `nothing within ${REQUEST_DEADLINE_MS} ms` }), REQUEST_DEADLINE_MS);
    socket.on('data', (c: Buffer) => {
      buffered += c.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (line[3] === '-') continue;
        last = { status: Number(line.slice(0, 3)), contentType: 'smtp', body: line };
        const next = steps.shift();
        if (last.status >= 400 || next === undefined) return done(last);
        socket.write(next);
      }
    });
    socket.on('error', (e) => done(last ?? { failed: 'connection dropped', detail: e.message }));
    socket.on('close', () => done(last ?? { failed: 'connection dropped', detail: 'closed' }));
  });
}

const WHOLE_BODY_FIRST = `
import http.client, json, sys
host, port, path, size, auth, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5], float(sys.argv[6])
try:
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    c.request("POST", path, body=b"x" * size, headers={"Content-Type": "application/json", "Authorization": auth})
    r = c.getresponse()
    print(json.dumps({"status": r.status, "contentType": r.getheader("content-type") or "", "body": r.read().decode("utf-8", "replace")}))
except TimeoutError as e:
    print(json.dumps({"failed": "no answer", "detail": repr(e)}))
except Exception as e:
    print(json.dumps({"failed": "connection dropped", "detail": repr(e)}))
`;

/** A POST of `size` bytes as Python's http.client sends one: the whole body written before the answer is read. */
export async function postWholeBodyFirst(base: string, path: string, size: number, authorization: string, deadlineMs = REQUEST_DEADLINE_MS): Promise<Outcome> {
  const url = new URL(base);
  const child = spawn('python3', ['-c', WHOLE_BODY_FIRST, url.hostname, url.port, path, String(size), authorization, String(deadlineMs / 1000)]);
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  await new Promise((resolve) => child.on('close', resolve));
  try {
    return JSON.parse(out) as Outcome;
  } catch {
    return { failed: 'connection dropped', detail: `python: ${out}` };
  }
}

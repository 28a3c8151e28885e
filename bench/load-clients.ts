/**
 * The 64 clients of the `load` scenario (./load.ts), in a process of their own as an integration's clients
 * would be: the gateway's event loop serves them and does nothing else for them. Reads its settings as JSON
 * from argv[2]; prints `{ times, errors, firstError, cpuMs }` as JSON (times per call kind, in ms; cpuMs: this
 * process's own CPU, which the clients take from the cores the gateway and Postgres share).
 */
import http from 'node:http';

const o = JSON.parse(process.argv[2]!) as { url: string; secret: string; seconds: number; clients: number; listBody: string; only?: number };
const sender = { authorization: `Basic ${Buffer.from(`${o.secret}:`).toString('base64')}`, 'content-type': 'application/json' };
const rest = { authorization: `Basic ${Buffer.from(`bench@example.org:${o.secret}`).toString('base64')}`, accept: 'application/json' };
const cm = { authorization: `Basic ${Buffer.from(`admin:${o.secret}`).toString('base64')}`, 'content-type': 'text/xml' };
/**
 * node:http with a keep-alive agent, one connection per client: Node's fetch costs about 1 ms of CPU per call
 * against 0.2 ms for this (measured here: 64 clients on loopback), CPU the clients would take from the
 * gateway's two cores, where an integration's clients run on machines of their own.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: o.clients });
const target = new URL(o.url);
const call = (method: string, path: string, headers: Record<string, string>, body?: string) =>
  new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        path,
        method,
        agent,
        headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
const kinds = [
  () => call('POST', '/CloudMailing', cm, o.listBody),
  (i: number) => call('PUT', '/api/0/bench/maillist/load/subscription', sender, JSON.stringify({ email: `l${i}@load.example`, params: { n: String(i) } })),
  () => call('GET', '/api/v1/mailings?page_size=10', rest),
  (i: number) =>
    call('POST', '/api/0/bench/transactional/load-campaign/send', sender, JSON.stringify({ to_email: `t${i}@load.example`, args: { n: String(i) } })),
];
const times: number[][] = kinds.map(() => []);
let errors = 0;
let firstError = '';
let seq = 0;
const cpu0 = process.cpuUsage();
const end = Date.now() + o.seconds * 1000;
await Promise.all(
  Array.from({ length: o.clients }, async (_, c) => {
    for (let k = c; Date.now() < end; k++) {
      const kind = o.only ?? k % kinds.length;
      const t0 = performance.now();
      try {
        const r = await kinds[kind]!(seq++);
        if (r.status >= 300 || r.text.includes('<fault>')) {
          errors++;
          firstError ||= `call ${kind}: HTTP ${r.status} ${r.text.slice(0, 200)}`;
        }
      } catch (e) {
        errors++;
        firstError ||= `call ${kind}: ${(e as Error).message}`;
      }
      times[kind]!.push(performance.now() - t0);
    }
  }),
);
const cpu = process.cpuUsage(cpu0);
process.stdout.write(JSON.stringify({ times, errors, firstError, cpuMs: (cpu.user + cpu.system) / 1000 }));

/**
 * The 64 clients of the `load` scenario (./load.ts), in a process of their own as an integration's clients
 * would be: the gateway's event loop serves them and does nothing else for them. Reads its settings as JSON
 * from argv[2]; prints `{ times, errors, firstError }` as JSON (times per call kind, in ms).
 */
const o = JSON.parse(process.argv[2]!) as { url: string; secret: string; seconds: number; clients: number; listBody: string; only?: number };
const sender = { authorization: `Basic ${Buffer.from(`${o.secret}:`).toString('base64')}`, 'content-type': 'application/json' };
const rest = { authorization: `Basic ${Buffer.from(`bench@example.org:${o.secret}`).toString('base64')}`, accept: 'application/json' };
const cm = { authorization: `Basic ${Buffer.from(`admin:${o.secret}`).toString('base64')}`, 'content-type': 'text/xml' };
const kinds = [
  () => fetch(`${o.url}/CloudMailing`, { method: 'POST', headers: cm, body: o.listBody }),
  (i: number) =>
    fetch(`${o.url}/api/0/bench/maillist/load/subscription`, {
      method: 'PUT',
      headers: sender,
      body: JSON.stringify({ email: `l${i}@load.example`, params: { n: String(i) } }),
    }),
  () => fetch(`${o.url}/api/v1/mailings?page_size=10`, { headers: rest }),
  (i: number) =>
    fetch(`${o.url}/api/0/bench/transactional/load-campaign/send`, {
      method: 'POST',
      headers: sender,
      body: JSON.stringify({ to_email: `t${i}@load.example`, args: { n: String(i) } }),
    }),
];
const times: number[][] = kinds.map(() => []);
let errors = 0;
let firstError = '';
let seq = 0;
const end = Date.now() + o.seconds * 1000;
await Promise.all(
  Array.from({ length: o.clients }, async (_, c) => {
    for (let k = c; Date.now() < end; k++) {
      const kind = o.only ?? k % kinds.length;
      const t0 = performance.now();
      try {
        const r = await kinds[kind]!(seq++);
        const text = await r.text();
        if (r.status >= 300 || text.includes('<fault>')) {
          errors++;
          firstError ||= `call ${kind}: HTTP ${r.status} ${text.slice(0, 200)}`;
        }
      } catch (e) {
        errors++;
        firstError ||= `call ${kind}: ${(e as Error).message}`;
      }
      times[kind]!.push(performance.now() - t0);
    }
  }),
);
process.stdout.write(JSON.stringify({ times, errors, firstError }));

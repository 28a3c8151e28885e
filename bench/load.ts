/**
 * Two figures of quality.md's speed table that need a running gateway and nothing else:
 * - load: 64 concurrent clients for BENCH_LOAD_SECONDS (30) mixing CloudMailing `list_mailings` (XML-RPC),
 *   Sender `PUT .../subscription`, Emailicious `GET /api/v1/mailings` and Sender transactional sends, each
 *   client waiting for its answer before the next call: errors (any non-2xx or failure) and p50/p99 latency.
 * - memory: the peak RSS of the process (gateway, worker and bench in one) while a BENCH_MEMORY (1,000,000)
 *   recipient mailing is sent, sampled every 100 ms, with the RSS at a quarter, half and the end of the send
 *   to show whether it grows with the mailing.
 */
import type { Bench } from './sender.js';
import { SCALE, size } from './scale.js';

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

export async function apiLoad(b: Bench, o: { xmlrpcBody: (method: string, params: unknown[]) => string }): Promise<void> {
  const seconds = Number(process.env.BENCH_LOAD_SECONDS ?? Math.max(5, Math.round(30 * Math.min(1, SCALE * 4))));
  const clients = 64;
  const sender = { authorization: `Basic ${Buffer.from(`${b.secret}:`).toString('base64')}`, 'content-type': 'application/json' };
  const rest = { authorization: `Basic ${Buffer.from(`bench@example.org:${b.secret}`).toString('base64')}`, accept: 'application/json' };
  const cm = { authorization: `Basic ${Buffer.from(`admin:${b.secret}`).toString('base64')}`, 'content-type': 'text/xml' };
  // What the calls need: a maillist, a transactional campaign, a few mailings to list.
  await fetch(`${b.url}/api/0/bench/maillist/load`, { method: 'PUT', headers: sender, body: JSON.stringify({ title: 'Load' }) });
  await b.services.core.mailings.create(b.ctx, { dialect: 'bench', name: 'load-campaign', fromEmail: 'load@example.org', subject: 'Order {{ n }}', html: '<p>Order {{ n }}</p>' });
  const listBody = o.xmlrpcBody('list_mailings', [{ owner_guid: 'none' }]);
  const kinds = [
    { name: 'list_mailings', call: () => fetch(`${b.url}/CloudMailing`, { method: 'POST', headers: cm, body: listBody }) },
    { name: 'sender PUT subscription', call: (i: number) => fetch(`${b.url}/api/0/bench/maillist/load/subscription`, { method: 'PUT', headers: sender, body: JSON.stringify({ email: `l${i}@load.example`, params: { n: String(i) } }) }) },
    { name: 'REST GET mailings', call: () => fetch(`${b.url}/api/v1/mailings?page_size=10`, { headers: rest }) },
    { name: 'transactional send', call: (i: number) => fetch(`${b.url}/api/0/bench/transactional/load-campaign/send`, { method: 'POST', headers: sender, body: JSON.stringify({ to_email: `t${i}@load.example`, args: { n: String(i) } }) }) },
  ];
  const times: number[][] = kinds.map(() => []);
  const all: number[] = [];
  let errors = 0;
  let firstError = '';
  let seq = 0;
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let k = c; Date.now() < end; k++) {
        const kind = k % kinds.length;
        const i = seq++;
        const t0 = performance.now();
        try {
          const r = await kinds[kind]!.call(i);
          const text = await r.text();
          if (r.status >= 300 || text.includes('<fault>')) {
            errors++;
            firstError ||= `${kinds[kind]!.name}: HTTP ${r.status} ${text.slice(0, 200)}`;
          }
        } catch (e) {
          errors++;
          firstError ||= `${kinds[kind]!.name}: ${(e as Error).message}`;
        }
        const ms = performance.now() - t0;
        times[kind]!.push(ms);
        all.push(ms);
      }
    }),
  );
  all.sort((x, y) => x - y);
  for (const t of times) t.sort((x, y) => x - y);
  b.line(`API under load: 64 clients, ${seconds} s`, `${errors} errors, p99 ${pct(all, 99).toFixed(1)} ms`, 'zero errors, p99 <= 50 ms', `p50 ${pct(all, 50).toFixed(1)} ms, ${Math.round(all.length / seconds)} calls/s`);
  console.log(`# load per call: ${kinds.map((k, i) => `${k.name} p50 ${pct(times[i]!, 50).toFixed(1)} / p99 ${pct(times[i]!, 99).toFixed(1)} ms (${times[i]!.length})`).join('; ')}`);
  if (firstError) console.log(`# load: first error: ${firstError}`);
}

export async function memoryPeak(b: Bench, o: { addRecipients: (mailingId: number, n: number) => Promise<void>; waitFinal: (id: number) => Promise<unknown> }): Promise<void> {
  const n = size('BENCH_MEMORY', 1_000_000, 20_000);
  const id = await b.services.core.mailings.create(b.ctx, { dialect: 'bench', fromEmail: 'mem@example.org', fromName: 'Bench', subject: 'Hello {{ firstname }}', html: '<p>Hello {{ firstname }}</p>'.repeat(100), text: 'Hello {{ firstname }}\n'.repeat(100) });
  await o.addRecipients(id, n);
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const marks: number[] = [];
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
  const t0 = performance.now();
  await b.services.core.mailings.start(b.ctx, id);
  const progress = setInterval(async () => {
    const m = await b.services.core.mailings.get(b.ctx, id);
    const done = m.totals.sent + m.totals.error;
    while (marks.length < 3 && done >= ((marks.length + 1) * n) / 4) marks.push(process.memoryUsage().rss);
  }, 500);
  await o.waitFinal(id);
  clearInterval(timer);
  clearInterval(progress);
  const mb = (x: number) => `${Math.round(x / 1024 / 1024)} MB`;
  const seconds = (performance.now() - t0) / 1000;
  b.line(`memory: peak RSS, ${n / 1000}k mailing`, mb(peak), '<= 300 MB, flat', `RSS at 1/4, 1/2, 3/4 sent: ${marks.map(mb).join(', ')}; before ${mb(base)}; ${Math.round(n / seconds)}/s`);
}

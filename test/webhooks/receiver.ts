/**
 * A webhook receiver on 127.0.0.1 (a free port) as a real integration runs one: every request kept with its
 * headers and body, its signature checked with the Standard Webhooks reference library (standardwebhooks),
 * and answered as the test says: 200, 500, or never (until the sender's timeout gives up).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export type Mode = 'ok' | 'fail' | 'hang';

export interface ReceivedWebhook {
  id: string;
  timestamp: string;
  body: string;
  /** The payload as the reference library verified it; null when the signature did not verify. */
  verified: { type: string; timestamp: string; data: Record<string, unknown> } | null;
  /** What this request was answered (null: never). */
  answer: number | null;
}

export interface Receiver {
  url: string;
  mode: Mode;
  requests: ReceivedWebhook[];
  /** Ids of the requests answered 2xx, once each. */
  delivered(): Map<string, ReceivedWebhook>;
  close(): Promise<void>;
}

export async function startReceiver(secret: () => string): Promise<Receiver> {
  const hanging = new Set<http.ServerResponse>();
  const r: Receiver = {
    url: '',
    mode: 'ok',
    requests: [],
    delivered() {
      const out = new Map<string, ReceivedWebhook>();
      for (const q of r.requests) if (q.answer === 200 && !out.has(q.id)) out.set(q.id, q);
      return out;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = {
        'webhook-id': String(req.headers['webhook-id']),
        'webhook-timestamp': String(req.headers['webhook-timestamp']),
        'webhook-signature': String(req.headers['webhook-signature']),
      };
      let verified: ReceivedWebhook['verified'];
      try {
        verified = new Webhook(secret()).verify(body, headers) as ReceivedWebhook['verified'];
      } catch {
        verified = null;
      }
      const q: ReceivedWebhook = { id: headers['webhook-id'], timestamp: headers['webhook-timestamp'], body, verified, answer: null };
      r.requests.push(q);
      if (r.mode === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      q.answer = r.mode === 'ok' ? 200 : 500;
      res.writeHead(q.answer, { 'content-type': 'text/plain' }).end(r.mode === 'ok' ? 'thanks' : 'receiver is down for maintenance');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return r;
}

/**
 * Pooled SMTP connections that send finished messages as they are (./smtp-client.ts: pipelined MAIL, RCPT
 * and DATA; before, nodemailer's SMTPConnection, and before that nodemailer's Mailer, whose per-message
 * MailComposer, MIME tree, random ids and stream pipeline were a third of the send path's CPU even for a raw
 * message: see the closing note of issue 16).
 *
 * What the pool keeps of nodemailer's own pool: at most `maxConnections` connections, each renewed after
 * `maxMessages`; a refused message (a 4xx/5xx reply to MAIL, RCPT or DATA) leaves its connection usable
 * (RSET); a connection the server closed while idle is noticed at the next message, which then goes once
 * over a new connection provided not a byte of it was sent; a rate of `rate` messages per second spaced
 * evenly. The callers limit how many messages are in flight (one per connection).
 */
import { parseConnectionUrl } from 'nodemailer/lib/shared';
import { SmtpClient, type ClientOptions } from './smtp-client.js';

export type { SmtpError } from './smtp-client.js';

export interface PoolOptions {
  url: string;
  maxConnections: number;
  maxMessages: number;
  /** Messages per second; 0 = no cap. */
  rate: number;
  timeoutMs: number;
}

export interface SmtpPool {
  /** The relay's answer to the message (its last line), or throws the conversation's error. */
  send(raw: Buffer, envelope: { from: string; to: string }): Promise<string>;
  /**
   * Does the relay answer? Opens a connection (greeting, EHLO, TLS and AUTH as for a message), or throws its
   * error. The connection is kept for the next message when the pool has room for it, else closed.
   */
  probe(): Promise<void>;
  /** The relay announced 8BITMIME on the pool's latest connection (false before the first one). */
  eightBitMime(): boolean;
  close(): void;
}

export const POOL_CLOSED = 'Connection pool was closed';

/** The relay URL as client options: smtp:// or smtps://, user:pass@, `?tls.x=...`, `?name=`, `?requireTLS=true`. */
export function clientOptions(url: string, timeoutMs: number): ClientOptions {
  const p = parseConnectionUrl(url) as {
    host?: string;
    port?: number;
    secure?: boolean;
    auth?: { user: string; pass: string };
    tls?: ClientOptions['tls'];
    name?: string;
    ignoreTLS?: boolean;
    requireTLS?: boolean;
  };
  const secure = p.secure === true;
  return {
    host: p.host ?? 'localhost',
    port: p.port ?? (secure ? 465 : 587),
    secure,
    ...(p.tls ? { tls: p.tls } : {}),
    // Already percent-decoded by parseConnectionUrl.
    ...(p.auth ? { auth: { user: p.auth.user, pass: p.auth.pass } } : {}),
    ...(typeof p.name === 'string' ? { name: p.name } : {}),
    ignoreTLS: p.ignoreTLS === true,
    requireTLS: p.requireTLS === true,
    connectionTimeoutMs: timeoutMs,
    greetingTimeoutMs: Math.min(timeoutMs, 30_000),
    socketTimeoutMs: timeoutMs,
  };
}

export function smtpPool(o: PoolOptions): SmtpPool {
  const options = clientOptions(o.url, o.timeoutMs);
  const idle: SmtpClient[] = [];
  const all = new Set<SmtpClient>();
  let closed = false;
  let nextSlot = 0;
  let eightBit = false;

  const drop = (k: SmtpClient) => {
    all.delete(k);
    const i = idle.indexOf(k);
    if (i >= 0) idle.splice(i, 1);
    k.close();
  };

  async function open(): Promise<SmtpClient> {
    const k = new SmtpClient(options);
    try {
      await k.connect();
    } catch (e) {
      k.close();
      throw e;
    }
    // Closed by the server while idle: forgotten at once (a send in progress gets the error itself).
    k.whenClosed(() => {
      const i = idle.indexOf(k);
      if (i >= 0) idle.splice(i, 1);
      all.delete(k);
    });
    all.add(k);
    eightBit = k.announces('8BITMIME');
    return k;
  }

  async function connection(): Promise<SmtpClient> {
    if (closed) throw Object.assign(new Error(POOL_CLOSED), { code: 'ECONNECTION' });
    for (let k = idle.pop(); k; k = idle.pop()) {
      if (k.alive) return k;
      drop(k);
    }
    return await open();
  }

  function release(k: SmtpClient): void {
    if (closed || !k.alive) return drop(k);
    if (k.sent >= o.maxMessages) {
      all.delete(k);
      k.quit();
      return;
    }
    idle.push(k);
  }

  async function paced(): Promise<void> {
    if (!(o.rate > 0)) return;
    const now = Date.now();
    const at = Math.max(now, nextSlot);
    nextSlot = at + 1000 / o.rate;
    if (at > now) await new Promise((r) => setTimeout(r, at - now));
  }

  return {
    async send(raw, envelope) {
      await paced();
      for (let tries = 0; ; tries++) {
        const k = await connection();
        const reused = k.sent > 0;
        const r = await k.send(envelope, raw);
        if ('response' in r) {
          release(k);
          return r.response;
        }
        const e = r.error;
        if ((e.code === 'EENVELOPE' || e.code === 'EMESSAGE') && e.responseCode !== 421 && k.alive) {
          // Refused, the connection itself is fine: reset the transaction and keep it for the next message.
          await k.reset().then(
            () => release(k),
            () => drop(k),
          );
          throw e;
        }
        drop(k);
        // The server closed a connection that had been idle: the message goes once more, over a new one.
        if (reused && !r.started && !e.responseCode && tries === 0 && !closed) continue;
        throw e;
      }
    },
    async probe() {
      if (closed) throw Object.assign(new Error(POOL_CLOSED), { code: 'ECONNECTION' });
      const k = await open();
      if (all.size > o.maxConnections) {
        all.delete(k);
        k.quit();
      } else release(k);
    },
    eightBitMime: () => eightBit,
    close() {
      closed = true;
      for (const k of [...all]) drop(k);
      idle.length = 0;
    },
  };
}

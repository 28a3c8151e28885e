/**
 * Pooled SMTP connections that send finished messages as they are: nodemailer's SMTPConnection (the SMTP
 * conversation: greeting, EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA, dot-stuffing) without nodemailer's Mailer,
 * whose per-message MailComposer, MIME tree, random ids and stream pipeline were a third of the send path's
 * CPU even for a raw message (measured: see the closing note of issue 16).
 *
 * What the pool keeps of nodemailer's own pool: at most `maxConnections` connections, each renewed after
 * `maxMessages`; a refused message (a 4xx/5xx reply to MAIL, RCPT or DATA) leaves its connection usable
 * (RSET); a connection the server closed while idle is noticed at the next message, which then goes once
 * over a new connection provided not a byte of it was sent; a rate of `rate` messages per second spaced
 * evenly. The callers limit how many messages are in flight (one per connection).
 */
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { parseConnectionUrl } from 'nodemailer/lib/shared';

export interface PoolOptions {
  url: string;
  maxConnections: number;
  maxMessages: number;
  /** Messages per second; 0 = no cap. */
  rate: number;
  timeoutMs: number;
}

/** An error of the SMTP conversation as SMTPConnection reports it. */
export interface SmtpError extends Error {
  code?: string;
  originalCode?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  timeoutType?: string;
}

export interface SmtpPool {
  /** The relay's answer to the message (its last line), or throws the conversation's error. */
  send(raw: Buffer, envelope: { from: string; to: string }): Promise<string>;
  close(): void;
}

interface Conn {
  c: SMTPConnection;
  sent: number;
  dead: boolean;
}

export const POOL_CLOSED = 'Connection pool was closed';

export function smtpPool(o: PoolOptions): SmtpPool {
  const parsed = parseConnectionUrl(o.url) as Record<string, unknown>;
  const options = {
    ...parsed,
    connectionTimeout: o.timeoutMs,
    greetingTimeout: Math.min(o.timeoutMs, 30_000),
    socketTimeout: o.timeoutMs,
  } as SMTPConnection.Options & { auth?: SMTPConnection.Credentials };
  const idle: Conn[] = [];
  const all = new Set<Conn>();
  let closed = false;
  let nextSlot = 0;

  const drop = (k: Conn) => {
    k.dead = true;
    all.delete(k);
    const i = idle.indexOf(k);
    if (i >= 0) idle.splice(i, 1);
    k.c.close();
  };

  function open(): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const c = new SMTPConnection(options);
      const k: Conn = { c, sent: 0, dead: false };
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        drop(k);
        reject(e);
      };
      // After the handshake an 'error' or 'end' only marks the connection dead: a send in progress gets
      // the same error through its own callback.
      c.on('error', (e: Error) => (settled ? (k.dead = true) : fail(e)));
      c.once('end', () => (settled ? drop(k) : fail(Object.assign(new Error('Connection closed before the greeting'), { code: 'ECONNECTION' }))));
      c.connect(() => {
        if (settled) return;
        const ready = () => {
          settled = true;
          all.add(k);
          resolve(k);
        };
        if (options.auth && c.allowsAuth) c.login(options.auth, (e) => (e ? fail(e) : ready()));
        else ready();
      });
    });
  }

  async function connection(): Promise<Conn> {
    if (closed) throw Object.assign(new Error(POOL_CLOSED), { code: 'ECONNECTION' });
    for (let k = idle.pop(); k; k = idle.pop()) {
      if (!k.dead) return k;
      drop(k);
    }
    return await open();
  }

  function release(k: Conn): void {
    if (closed || k.dead) return drop(k);
    if (k.sent >= o.maxMessages) {
      all.delete(k);
      k.c.quit();
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

  /** One try over one connection; `started` tells whether a byte of the message went out. */
  function attempt(k: Conn, raw: Buffer, envelope: { from: string; to: string }): Promise<{ response: string } | { error: SmtpError; started: boolean }> {
    return new Promise((resolve) => {
      let started = false;
      // A stream-like message: SMTPConnection pipes it once the envelope is accepted, which tells us when
      // the data starts; no stream machinery per message.
      const message = {
        on: () => message,
        pipe(dest: NodeJS.WritableStream) {
          started = true;
          dest.write(raw);
          dest.end();
          return dest;
        },
      };
      k.c.send({ from: envelope.from, to: [envelope.to] }, message as unknown as Buffer, (err, info) => {
        k.sent++;
        if (err) resolve({ error: err as SmtpError, started });
        else resolve({ response: info.response });
      });
    });
  }

  return {
    async send(raw, envelope) {
      await paced();
      for (let tries = 0; ; tries++) {
        const k = await connection();
        const reused = k.sent > 0;
        const r = await attempt(k, raw, envelope);
        if ('response' in r) {
          release(k);
          return r.response;
        }
        const e = r.error;
        if ((e.code === 'EENVELOPE' || e.code === 'EMESSAGE') && e.responseCode !== 421 && !k.dead) {
          // Refused, the connection itself is fine: reset the transaction and keep it for the next message.
          await new Promise<void>((done) =>
            k.c.reset((resetErr) => {
              if (resetErr) drop(k);
              else release(k);
              done();
            }),
          );
          throw e;
        }
        drop(k);
        // The server closed a connection that had been idle: the message goes once more, over a new one.
        if (reused && !r.started && !e.responseCode && tries === 0 && !closed) continue;
        throw e;
      }
    },
    close() {
      closed = true;
      for (const k of [...all]) drop(k);
      idle.length = 0;
    },
  };
}

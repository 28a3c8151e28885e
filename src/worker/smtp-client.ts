/**
 * One SMTP client connection that sends finished messages with PIPELINING (RFC 2920): MAIL FROM, RCPT TO
 * and DATA leave in one write and their three replies come back together, then the message and its final
 * dot. Two round trips a message instead of four, and a quarter of the socket writes on both sides (the
 * relay's CPU as much as ours: measured with postfix's smtp-sink, see the closing note of issue 16).
 * nodemailer's SMTPConnection, used before, sends each command after the previous reply and has no
 * pipelining to turn on; so this file speaks the conversation itself. A relay that does not announce
 * PIPELINING gets the same commands one by one.
 *
 * The conversation: greeting (220), EHLO (HELO when EHLO is refused), STARTTLS when announced (unless
 * `ignoreTLS`; required with `requireTLS`) then EHLO again, AUTH PLAIN or LOGIN when credentials are given
 * and AUTH is announced; per message MAIL FROM (SMTPUTF8 for a non-ASCII envelope, BODY=8BITMIME for 8-bit
 * bytes, when announced), RCPT TO, DATA, the dot-stuffed message (bare LF made CRLF), `.`; RSET after a
 * refused message; QUIT on close. Errors carry nodemailer's shape (`code`, `responseCode`, `response`,
 * `command`, `originalCode`, `timeoutType`), which the pool and ./smtp.ts read.
 */
import { isAscii } from 'node:buffer';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';

export interface ClientOptions {
  host: string;
  port: number;
  /** TLS from the first byte (smtps://, port 465). */
  secure: boolean;
  /** Extra tls.connect options (`?tls.rejectUnauthorized=false` in the URL). */
  tls?: tls.ConnectionOptions;
  auth?: { user: string; pass: string };
  /** The EHLO name; default the host name when it is a FQDN, else `[127.0.0.1]` (as nodemailer). */
  name?: string;
  ignoreTLS?: boolean;
  requireTLS?: boolean;
  connectionTimeoutMs: number;
  greetingTimeoutMs: number;
  socketTimeoutMs: number;
}

export interface SmtpError extends Error {
  code?: string;
  originalCode?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  timeoutType?: string;
}

export type SendResult = { response: string } | { error: SmtpError; started: boolean };

interface Reply {
  code: number;
  /** The reply's lines without their codes, `\n` between them (EHLO's keywords). */
  text: string;
  /** The whole reply as the server wrote it, lines joined by `\n` (nodemailer's `response`). */
  response: string;
}

const smtpError = (message: string, fields: Partial<SmtpError>): SmtpError => Object.assign(new Error(message), fields);

function defaultName(): string {
  const h = os.hostname();
  return h.includes('.') ? h : '[127.0.0.1]';
}

const CRLF_DOT_CRLF = Buffer.from('\r\n.\r\n');
const DOT_CRLF = Buffer.from('.\r\n');

/**
 * The DATA bytes of a message: a dot doubled at the start of every line, bare LF made CRLF, and the
 * terminating `.` line. One scan of the message; a message needing no change is not copied.
 */
export function dataBytes(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  if (raw[0] === 0x2e) {
    parts.push(Buffer.from('.'));
  }
  for (let i = raw.indexOf(0x0a); i >= 0; i = raw.indexOf(0x0a, i + 1)) {
    const bare = i === 0 || raw[i - 1] !== 0x0d;
    const dot = raw[i + 1] === 0x2e;
    if (!bare && !dot) continue;
    parts.push(raw.subarray(from, i));
    parts.push(Buffer.from(`${bare ? '\r\n' : '\n'}${dot ? '.' : ''}`));
    from = i + 1;
  }
  const endsWithCrlf = raw.length >= 2 && raw[raw.length - 2] === 0x0d && raw[raw.length - 1] === 0x0a;
  const endsWithBareLf = raw.length >= 1 && raw[raw.length - 1] === 0x0a && !endsWithCrlf;
  if (!parts.length) return Buffer.concat([raw, endsWithCrlf ? DOT_CRLF : raw.length ? CRLF_DOT_CRLF : DOT_CRLF]);
  parts.push(raw.subarray(from));
  parts.push(endsWithCrlf || endsWithBareLf ? DOT_CRLF : CRLF_DOT_CRLF);
  return Buffer.concat(parts);
}

/** Which of RFC 5321's extensions the EHLO reply announced (upper-case keywords, their parameters). */
function extensions(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n').slice(1)) {
    const [kw, ...rest] = line.trim().split(/\s+/);
    if (kw) m.set(kw.toUpperCase(), rest.join(' ').toUpperCase());
  }
  // Old servers announce AUTH=LOGIN PLAIN.
  for (const line of text.split('\n')) {
    const x = /^AUTH=(.*)$/i.exec(line.trim());
    if (x && !m.has('AUTH')) m.set('AUTH', x[1]!.toUpperCase());
  }
  return m;
}

export class SmtpClient {
  private socket!: net.Socket;
  private buffer = '';
  private lines: string[] = [];
  private readonly waiting: { resolve: (r: Reply) => void; reject: (e: SmtpError) => void }[] = [];
  private failure: SmtpError | null = null;
  private ext = new Map<string, string>();
  /** False once the connection failed or closed: the pool drops it. */
  alive = false;
  /** Messages handed to this connection (the pool renews it after maxMessages). */
  sent = 0;
  private onClose: (() => void) | null = null;

  constructor(private readonly o: ClientOptions) {}

  /** Did the EHLO reply announce this extension (upper case)? After connect(). */
  announces(keyword: string): boolean {
    return this.ext.has(keyword);
  }

  get pipelining(): boolean {
    return this.ext.has('PIPELINING');
  }

  /** Called once when the connection fails or closes after connect(). */
  whenClosed(fn: () => void): void {
    this.onClose = fn;
  }

  async connect(): Promise<void> {
    await this.open();
    const greeting = await this.withTimeout(this.reply(), this.o.greetingTimeoutMs, 'GREETING_TIMEOUT', 'Greeting never received');
    if (greeting.code !== 220)
      throw smtpError(`Invalid greeting. response=${greeting.response}`, {
        code: 'EPROTOCOL',
        responseCode: greeting.code,
        response: greeting.response,
        command: 'CONN',
      });
    await this.hello();
    if (!this.o.secure && !this.o.ignoreTLS && this.ext.has('STARTTLS')) {
      const r = await this.command('STARTTLS');
      if (r.code !== 220) throw this.refused(r, 'STARTTLS', 'ETLS');
      await this.upgrade();
      await this.hello();
    } else if (!this.o.secure && this.o.requireTLS) {
      throw smtpError('STARTTLS is required but the server does not announce it', { code: 'ETLS', command: 'STARTTLS' });
    }
    if (this.o.auth && this.ext.has('AUTH')) await this.login(this.o.auth);
    this.alive = true;
  }

  /**
   * One message: the envelope, then the data. `started` tells whether a byte of the message went out (a
   * message that never started may go again over another connection).
   */
  async send(envelope: { from: string; to: string }, raw: Buffer): Promise<SendResult> {
    this.sent++;
    const nonAscii = /[\u0080-\uffff]/.test(envelope.from + envelope.to);
    const params = [nonAscii && this.ext.has('SMTPUTF8') ? ' SMTPUTF8' : '', this.ext.has('8BITMIME') && !isAscii(raw) ? ' BODY=8BITMIME' : ''].join('');
    const mail = `MAIL FROM:<${envelope.from}>${params}`;
    const rcpt = `RCPT TO:<${envelope.to}>`;
    let started = false;
    try {
      let replies: Reply[];
      if (this.pipelining) {
        const pending = [this.reply(), this.reply(), this.reply()];
        this.write(`${mail}\r\n${rcpt}\r\nDATA\r\n`);
        const settled = await Promise.allSettled(pending);
        const [m, r, d] = settled.map((x) => (x.status === 'fulfilled' ? x.value : undefined));
        // A refusal the server sent before it closed the connection (421 at RCPT, then gone) is its answer.
        if (m && m.code !== 250) return await this.refusedEnvelope(m, 'MAIL FROM', d);
        if (m && r && r.code !== 250 && r.code !== 251) return await this.refusedEnvelope(r, 'RCPT TO', d);
        const lost = settled.find((x) => x.status === 'rejected');
        if (lost) throw lost.reason;
        replies = settled.map((x) => (x as PromiseFulfilledResult<Reply>).value);
      } else {
        replies = [await this.command(mail)];
        if (replies[0]!.code === 250) replies.push(await this.command(rcpt));
        if (replies[1]?.code === 250 || replies[1]?.code === 251) replies.push(await this.command('DATA'));
      }
      const [m, r, d] = replies as [Reply, Reply | undefined, Reply | undefined];
      if (m.code !== 250) return await this.refusedEnvelope(m, 'MAIL FROM', d);
      if (r!.code !== 250 && r!.code !== 251) return await this.refusedEnvelope(r!, 'RCPT TO', d);
      if (d!.code !== 354) return { error: this.refused(d!, 'DATA', 'EENVELOPE'), started: false };
      const pending = this.reply();
      started = true;
      this.write(dataBytes(raw));
      const final = await pending;
      if (final.code !== 250) return { error: this.refused(final, 'DATA', 'EMESSAGE'), started: true };
      return { response: final.response };
    } catch (e) {
      return { error: e as SmtpError, started };
    }
  }

  /** After a refused message: RSET, so the connection can take the next one. */
  async reset(): Promise<void> {
    const r = await this.command('RSET');
    if (r.code !== 250) throw this.refused(r, 'RSET', 'EPROTOCOL');
  }

  /** QUIT, then close (renewal after maxMessages). */
  quit(): void {
    if (!this.alive) return this.close();
    this.alive = false;
    this.reply().then(
      () => this.close(),
      () => this.close(),
    );
    this.write('QUIT\r\n');
    setTimeout(() => this.close(), 1000).unref();
  }

  close(): void {
    this.alive = false;
    this.socket?.destroy();
  }

  // The wire.

  private open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const o = this.o;
      const socket = o.secure
        ? tls.connect({ host: o.host, port: o.port, servername: net.isIP(o.host) ? undefined : o.host, ...o.tls })
        : net.connect({ host: o.host, port: o.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(smtpError('Connection timeout', { code: 'ETIMEDOUT', timeoutType: 'CONNECT_TIMEOUT', command: 'CONN' }));
      }, o.connectionTimeoutMs);
      const early = (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(smtpError(e.message, { code: o.secure && !e.syscall ? 'ETLS' : 'ECONNECTION', originalCode: e.code, command: 'CONN' }));
      };
      socket.once('error', early);
      socket.once(o.secure ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', early);
        this.attach(socket);
        resolve();
      });
    });
  }

  private attach(socket: net.Socket): void {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setTimeout(this.o.socketTimeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', this.onData);
    socket.on('timeout', () => this.fail(smtpError('Timeout', { code: 'ETIMEDOUT', timeoutType: 'SOCKET_TIMEOUT' }), true));
    socket.on('error', (e: NodeJS.ErrnoException) => this.fail(smtpError(e.message, { code: 'ECONNECTION', originalCode: e.code }), true));
    socket.on('close', () => this.fail(smtpError('Connection closed unexpectedly', { code: 'ECONNECTION' }), false));
  }

  private upgrade(): Promise<void> {
    return new Promise((resolve, reject) => {
      const plain = this.socket;
      plain.off('data', this.onData);
      plain.removeAllListeners('timeout');
      plain.removeAllListeners('error');
      plain.removeAllListeners('close');
      const secure = tls.connect({ socket: plain, servername: net.isIP(this.o.host) ? undefined : this.o.host, ...this.o.tls });
      const early = (e: NodeJS.ErrnoException) => reject(smtpError(e.message, { code: 'ETLS', originalCode: e.code, command: 'STARTTLS' }));
      secure.once('error', early);
      secure.once('secureConnect', () => {
        secure.off('error', early);
        this.attach(secure);
        resolve();
      });
    });
  }

  private readonly onData = (chunk: string) => {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      this.lines.push(line);
      // `250-...` continues a reply; `250 ...` (or a bare code) ends it.
      if (/^\d{3}(?:[ ]|$)/.test(line) || !/^\d{3}-/.test(line)) {
        const lines = this.lines;
        this.lines = [];
        const code = Number(lines[lines.length - 1]!.slice(0, 3)) || 0;
        const text = lines.map((l) => l.slice(4)).join('\n');
        // Replies are read as latin1 (one byte, one char); a UTF-8 one (RFC 6531) is decoded as such.
        const raw = lines.join('\n');
        const utf8 = Buffer.from(raw, 'latin1').toString('utf8');
        const response = /[\u0080-\uffff]/.test(raw) && !utf8.includes('\uFFFD') ? utf8 : raw;
        const w = this.waiting.shift();
        if (w) w.resolve({ code, text, response });
        // A reply nobody waits for (421 before a shutdown): the connection is not to be used again.
        else if (code === 421) this.fail(smtpError(response, { code: 'ECONNECTION', responseCode: code, response }), true);
      }
    }
    // A reply line is at most 512 octets (RFC 5321 4.5.3.1.5): a server sending far more without a line end, or
    // a reply that never ends, is not speaking SMTP, and is not allowed to grow our memory.
    if (this.buffer.length > 64 * 1024 || this.lines.length > 1000) this.fail(smtpError('Reply too long', { code: 'EPROTOCOL' }), true);
  };

  private fail(e: SmtpError, destroy: boolean): void {
    const first = this.failure === null;
    this.failure ??= e;
    this.alive = false;
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
    if (destroy) this.socket?.destroy();
    if (first) this.onClose?.();
  }

  private reply(): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private write(s: string | Buffer): void {
    this.socket.write(s);
  }

  private async command(line: string): Promise<Reply> {
    const r = this.reply();
    this.write(`${line}\r\n`);
    return await r;
  }

  private async withTimeout<T>(p: Promise<T>, ms: number, timeoutType: string, message: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        p,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const e = smtpError(message, { code: 'ETIMEDOUT', timeoutType, command: 'CONN' });
            this.fail(e, true);
            reject(e);
          }, ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async hello(): Promise<void> {
    const name = this.o.name ?? defaultName();
    let r = await this.command(`EHLO ${name}`);
    if (r.code === 421) throw this.refused(r, 'CONN', 'ECONNECTION');
    if (r.code !== 250) {
      r = await this.command(`HELO ${name}`);
      if (r.code !== 250) throw this.refused(r, 'HELO', 'EPROTOCOL');
      this.ext = new Map();
      return;
    }
    this.ext = extensions(r.text);
  }

  private async login(auth: { user: string; pass: string }): Promise<void> {
    const methods = (this.ext.get('AUTH') ?? '').split(/\s+/);
    if (methods.includes('PLAIN') || !methods.includes('LOGIN')) {
      const r = await this.command(`AUTH PLAIN ${Buffer.from(`\0${auth.user}\0${auth.pass}`, 'utf8').toString('base64')}`);
      if (r.code !== 235) throw this.refused(r, 'AUTH PLAIN', 'EAUTH');
      return;
    }
    let r = await this.command('AUTH LOGIN');
    if (r.code === 334) r = await this.command(Buffer.from(auth.user, 'utf8').toString('base64'));
    if (r.code === 334) r = await this.command(Buffer.from(auth.pass, 'utf8').toString('base64'));
    if (r.code !== 235) throw this.refused(r, 'AUTH LOGIN', 'EAUTH');
  }

  private refused(r: Reply, command: string, code: string): SmtpError {
    return smtpError(`${command} failed: ${r.response}`, { code, responseCode: r.code, response: r.response, command });
  }

  /**
   * MAIL or RCPT refused. In a pipelined group the server then refuses DATA too (RFC 2920: 503/554); one
   * that accepted it anyway (354) gets an empty message ended at once, which it must not deliver (no valid
   * recipient), before RSET.
   */
  private async refusedEnvelope(r: Reply, command: string, data: Reply | undefined): Promise<SendResult> {
    if (data?.code === 354) await this.command('.');
    return { error: this.refused(r, command, 'EENVELOPE'), started: false };
  }
}

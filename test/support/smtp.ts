/**
 * A real SMTP relay for tests (smtp-server on 127.0.0.1, a free port, no AUTH, no STARTTLS) that keeps every
 * message it accepts and answers per recipient address as a test decides, even mid-test:
 *   `reply(address)` returns undefined (accept) or an SMTP error such as `{ code: 550, text: '5.1.1 user unknown' }`.
 * `reject550` and `reject452` are sets of addresses answered `550 5.1.1 user unknown` and
 * `452 4.2.2 mailbox full` (delete an address to accept it from then on).
 * `down()` stops listening and drops open connections (the relay is unreachable); `up()` listens again on the
 * same port.
 */
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

export interface ReceivedMessage {
  from: string;
  to: string[];
  raw: Buffer;
  receivedAt: Date;
  /** mailparser's view, parsed on demand. */
  parse(): Promise<ParsedMail>;
  /** A header of the raw message, unfolded (first occurrence). */
  header(name: string): string | undefined;
}

export interface SmtpReplyRule {
  code: number;
  text: string;
}

export interface TestSmtpServer {
  url: string;
  port: number;
  messages: ReceivedMessage[];
  reject550: Set<string>;
  reject452: Set<string>;
  /** Custom per-address answer, consulted before the sets; undefined = accept. */
  reply: (address: string) => SmtpReplyRule | undefined;
  /** Delay before answering DATA (to keep batches in flight). */
  dataDelayMs: number;
  /** When set, DATA is answered once the promise it returns settles (test/support/gate.ts holds messages so). */
  beforeAnswer: ((envelope: { to: string[] }) => Promise<void>) | null;
  /** Messages received for an address (by envelope recipient). */
  to(address: string): ReceivedMessage[];
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

function headerOf(raw: Buffer, name: string): string | undefined {
  const head = raw
    .toString('utf8')
    .split(/\r?\n\r?\n/, 1)[0]!
    .replace(/\r?\n[ \t]+/g, ' ');
  const re = new RegExp(`^${name.replace(/[-]/g, '\\-')}:[ \\t]*(.*)$`, 'im');
  return re.exec(head)?.[1]?.trim();
}

export async function startTestSmtpServer(): Promise<TestSmtpServer> {
  const state: TestSmtpServer = {
    url: '',
    port: 0,
    messages: [],
    reject550: new Set(),
    reject452: new Set(),
    reply: () => undefined,
    dataDelayMs: 0,
    beforeAnswer: null,
    to: (address) => state.messages.filter((m) => m.to.includes(address)),
    down,
    up,
    close: down,
  };

  const answer = (address: string): SmtpReplyRule | undefined =>
    state.reply(address) ??
    (state.reject550.has(address) ? { code: 550, text: '5.1.1 user unknown' } : undefined) ??
    (state.reject452.has(address) ? { code: 452, text: '4.2.2 mailbox full' } : undefined);

  const options: SMTPServerOptions = {
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    closeTimeout: 50,
    onRcptTo(address, _session, callback) {
      const rule = answer(address.address);
      if (!rule) return callback();
      const err = new Error(rule.text) as Error & { responseCode: number };
      err.responseCode = rule.code;
      callback(err);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const done = () => {
          state.messages.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
            receivedAt: new Date(),
            parse: () => simpleParser(raw),
            header: (name) => headerOf(raw, name),
          });
          callback(null, 'OK: queued');
        };
        const answer = () => (state.dataDelayMs > 0 ? void setTimeout(done, state.dataDelayMs) : done());
        if (state.beforeAnswer) void state.beforeAnswer({ to: session.envelope.rcptTo.map((r) => r.address) }).then(answer);
        else answer();
      });
    },
  };

  let server: SMTPServer | null = null;

  async function listen(port: number): Promise<number> {
    const s = new SMTPServer(options);
    s.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    server = s;
    return (s.server.address() as AddressInfo).port;
  }

  async function down(): Promise<void> {
    const s = server;
    server = null;
    if (!s) return;
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  async function up(): Promise<void> {
    if (server) return;
    await listen(state.port);
  }

  state.port = await listen(0);
  state.url = `smtp://127.0.0.1:${state.port}`;
  return state;
}

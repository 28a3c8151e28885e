/**
 * The built-in SMTP capture: with no SMTP_URL, the worker "sends" to this smtp-server on loopback, which
 * keeps every message in Postgres (table captured_messages), viewable at /admin/outbox and with
 * `mailgate outbox`. Nothing is relayed anywhere: a fresh install can never mail real people by accident.
 */
import { SMTPServer } from 'smtp-server';
import type { capturedRepo } from '../db/captured.js';
import type { Logger } from '../logger.js';

export interface CaptureDeps {
  /** Where the messages are kept. */
  captured: Pick<ReturnType<typeof capturedRepo>, 'insert'>;
  logger: Logger;
  /** On 127.0.0.1; 0: any free port. */
  port: number;
}

export interface CaptureServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const MAX_MESSAGE_BYTES = 50 * 1024 * 1024;

function headerValue(head: string, name: string): string | null {
  const m = new RegExp(`^${name}:[ \\t]*((?:.*)(?:\\r?\\n[ \\t].*)*)`, 'im').exec(head);
  return m ? m[1]!.replace(/\r?\n[ \t]+/g, ' ').trim() : null;
}

export async function startCapture({ captured, logger, port }: CaptureDeps): Promise<CaptureServer> {
  const server = new SMTPServer({
    name: 'mailgate-capture',
    banner: 'Mailgate SMTP capture: messages are kept, not relayed',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: MAX_MESSAGE_BYTES,
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) {
          callback(Object.assign(new Error('552 5.3.4 message too big'), { responseCode: 552 }));
          return;
        }
        const raw = Buffer.concat(chunks);
        const headEnd = raw.indexOf('\r\n\r\n');
        const head = raw.subarray(0, headEnd < 0 ? Math.min(raw.length, 64 * 1024) : headEnd).toString('latin1');
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : null;
        captured
          .insert({
            from,
            to: session.envelope.rcptTo.map((r) => r.address),
            messageId: headerValue(head, 'Message-ID'),
            subject: headerValue(head, 'Subject'),
            mailingId: Number(headerValue(head, 'X-Mailgate-Mailing')) || null,
            raw,
          })
          .then(() => callback(null, 'queued in the Mailgate capture'))
          .catch((e: unknown) => {
            logger.error({ err: e }, 'capture: could not store a message');
            callback(Object.assign(new Error('451 4.3.0 capture store unavailable'), { responseCode: 451 }));
          });
      });
    },
  });
  server.on('error', (e) => logger.warn({ err: e }, 'capture: smtp error'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const addr = server.server.address() as import('node:net').AddressInfo;
  return {
    url: `smtp://127.0.0.1:${addr.port}`,
    port: addr.port,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The inbound bounce listener (smtp-server on BOUNCE_SMTP_PORT, started by `mailgate serve`): what comes
 * back to the addresses Mailgate sends from. Point the MX of BOUNCE_DOMAIN here.
 *
 * Only two kinds of recipient are accepted, both naming one recipient by a signed token:
 *   bounces+<token>@BOUNCE_DOMAIN       the VERP return path of every message: delivery status notifications
 *                                       (RFC 3464), complaints sent back to the return path (RFC 5965), and
 *                                       the non-standard bounces some MTAs still write;
 *   unsubscribe+<token>@BOUNCE_DOMAIN   the mailto: of List-Unsubscribe: a message there unsubscribes.
 * Anything else, and any token that does not verify, is refused at RCPT (550 5.1.1): nobody can make us
 * record a bounce or an unsubscribe for a recipient whose token they do not have.
 *
 * The recipient comes from the token in the envelope, never from the report's headers: a DSN that does not
 * quote our headers (many drop them) is still matched.
 *
 * A report delivered again is recorded once (per recipient): an MTA that did not get our 250 after DATA in time
 * (lost, or later than its timeout while we were recording) delivers the same message again, possibly while the
 * first copy is still being recorded. The copy is identified by the report's Message-ID, else its bytes
 * (reportKeyOf), and answered 250 like the first: it was accepted, and the MTA must stop retrying.
 */
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import type { Core } from '../core/index.js';
import { verifyRecipientToken } from '../core/delivery/tokens.js';
import type { Logger } from '../logger.js';
import { parseInboundReport, reportKeyOf } from './report.js';

/** Largest message taken (a DSN quoting a whole original with attachments can be large). */
export const MAX_REPORT_BYTES = 10 * 1024 * 1024;

/** The listener could not bind its port; the message is one line that says what to do. */
export class BounceListenError extends Error {}

export interface BounceListener {
  port: number;
  /** The most message bytes ever held in memory at once (at most the size limit: what is over it is discarded). */
  peakBufferedBytes(): number;
  stop(): Promise<void>;
}

export interface BounceListenerOptions {
  core: Core;
  secret: Buffer;
  bounceDomain: string;
  host: string;
  port: number;
  logger: Logger;
  /** The SIZE limit (default MAX_REPORT_BYTES). */
  maxMessageBytes?: number;
}

type Target = { kind: 'bounce' | 'unsubscribe'; recipientId: number; token: string };

/** `bounces+<token>@domain` or `unsubscribe+<token>@domain` with a genuine token, else undefined. */
export function targetOf(address: string, bounceDomain: string, secret: Buffer): Target | undefined {
  const at = address.lastIndexOf('@');
  if (at < 0 || address.slice(at + 1).toLowerCase() !== bounceDomain.toLowerCase()) return undefined;
  const m = /^(bounces|unsubscribe)\+(.+)$/i.exec(address.slice(0, at));
  if (!m) return undefined;
  const recipientId = verifyRecipientToken(secret, m[2]!);
  if (recipientId === null) return undefined;
  return { kind: m[1]!.toLowerCase() === 'bounces' ? 'bounce' : 'unsubscribe', recipientId, token: m[2]! };
}

export async function startBounceListener(o: BounceListenerOptions): Promise<BounceListener> {
  const logger = o.logger.child({ component: 'bounce-listener' });
  const targets = new WeakMap<SMTPServerSession, Target[]>();
  const maxBytes = o.maxMessageBytes ?? MAX_REPORT_BYTES;
  let peakBuffered = 0;

  async function handle(raw: Buffer, list: Target[]): Promise<void> {
    const bounces = list.filter((t) => t.kind === 'bounce');
    for (const t of list.filter((x) => x.kind === 'unsubscribe')) await o.core.unsubscribe.unsubscribe(t.token, 'mailto').catch(() => undefined);
    if (!bounces.length) return;
    const report = await parseInboundReport(raw);
    const key = report.kind === 'other' ? '' : reportKeyOf(raw);
    for (const t of bounces) {
      let outcome: string;
      if (report.kind === 'dsn') outcome = await o.core.bounces.recordReport(t.recipientId, key, report.recipients);
      else if (report.kind === 'arf') outcome = await o.core.bounces.recordComplaint(t.recipientId, key, report.feedbackType);
      else outcome = 'not a report';
      logger.debug({ recipientId: t.recipientId, kind: report.kind, outcome }, 'inbound report');
    }
  }

  const server = new SMTPServer({
    name: o.bounceDomain,
    banner: 'Mailgate bounce listener',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: maxBytes,
    logger: false,
    onMailFrom(_address, session, callback) {
      targets.delete(session); // a new transaction on the same connection starts with no recipient
      callback();
    },
    onRcptTo(address: SMTPServerAddress, session, callback) {
      const t = targetOf(address.address, o.bounceDomain, o.secret);
      if (!t) return callback(Object.assign(new Error('5.1.1 no such recipient here'), { responseCode: 550 }));
      const list = targets.get(session) ?? [];
      list.push(t);
      targets.set(session, list);
      callback();
    },
    onData(stream, session, callback) {
      // A message over the limit is read to its end (the client waits for our reply after its final dot) but
      // not kept: only the 552 depends on it.
      const chunks: Buffer[] = [];
      let kept = 0;
      let over = false;
      stream.on('data', (c: Buffer) => {
        if (over) return;
        kept += c.length;
        if (kept > maxBytes) {
          over = true;
          chunks.length = 0;
          kept = 0;
          return;
        }
        chunks.push(c);
        if (kept > peakBuffered) peakBuffered = kept;
      });
      stream.on('end', () => {
        const list = targets.get(session) ?? [];
        targets.delete(session);
        if (over || (stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) {
          callback(Object.assign(new Error('5.3.4 message too big'), { responseCode: 552 }));
          return;
        }
        handle(Buffer.concat(chunks), list).then(
          () => callback(null, 'report received'),
          (e: unknown) => {
            logger.error({ err: e }, 'could not record an inbound report');
            callback(Object.assign(new Error('4.3.0 try again later'), { responseCode: 451 }));
          },
        );
      });
    },
  });
  server.on('error', (e) => logger.warn({ err: e.message }, 'bounce listener: smtp error'));
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE' || e.code === 'EACCES'
          ? new BounceListenError(
              `the bounce listener cannot listen on ${o.host}:${o.port} (${e.code === 'EADDRINUSE' ? 'in use' : 'not allowed'}); set BOUNCE_SMTP_PORT to another port`,
            )
          : e,
      ),
    );
    server.listen(o.port, o.host, () => resolve());
  });
  return {
    port: (server.server.address() as AddressInfo).port,
    peakBufferedBytes: () => peakBuffered,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

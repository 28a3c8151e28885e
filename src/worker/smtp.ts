/**
 * The outgoing SMTP transport: one pool of SMTP connections per relay URL (./smtp-pool.ts; created once per
 * worker process), messages spread round robin over the relays, SMTP_RATE enforced per relay by the pool. Messages of
 * `testing` mailings never go to a relay: they go to the testing server when one is configured
 * (TESTING_SMTP_URL; the original CloudMailing server sent them to its fake SMTP server, TEST_TARGET_IP and
 * TEST_TARGET_PORT), else to the built-in capture; with no relay configured, every other message goes to the
 * capture too. No rate applies to the capture nor to the testing server.
 *
 * `deliver` never throws: it returns what happened as a value (Postal's SendResult).
 *  - `replied`: the relay answered (2xx, 4xx, 5xx), or the connection dropped after the conversation
 *    had started (code null): a real try.
 *  - `unreachable`: no SMTP conversation at all (refused, DNS, connect or greeting timeout, 421 at
 *    greeting, pool closed by shutdown): not a try; the caller gives the lease back.
 */
import pLimit from 'p-limit';
import { POOL_CLOSED, smtpPool, type SmtpError, type SmtpPool } from './smtp-pool.js';
import type { Logger } from '../logger.js';
import { parseReply, type SmtpReply } from '../core/delivery/outcome.js';

export interface OutgoingMessage {
  raw: Buffer;
  envelope: { from: string; to: string };
  /** To the testing server (or the capture), never to a relay. */
  testing?: boolean;
}

export type Delivery =
  | { kind: 'replied'; reply: SmtpReply; remoteMta: string }
  | { kind: 'unreachable'; text: string; remoteMta: string }
  /** Its turn on a connection came after `notAfter` (the send's deadline): not sent, not a try. */
  | { kind: 'expired' };

export interface RelayOptions {
  maxConnections: number;
  /** Messages over one connection before it is renewed. */
  maxMessages: number;
  /** Messages per second per relay; 0 = no cap. */
  rate: number;
  timeoutMs: number;
}

export interface Relays {
  /** Waits for a free connection of the relay; a message whose turn comes after `notAfter` is not sent. */
  deliver(message: OutgoingMessage, notAfter?: Date | null): Promise<Delivery>;
  /** May a message (a `testing` one: to the testing server) be 8bit? Every relay it may go to announced 8BITMIME. */
  eightBit(testing: boolean): boolean;
  close(): void;
}

/** System error codes of a connection that never reached an SMTP conversation. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL']);

export function isUnreachable(e: SmtpError): boolean {
  if (e.responseCode === 421 && e.command === 'CONN') return true;
  if (e.responseCode) return false;
  if (e.code === 'EDNS') return true;
  if (e.originalCode && UNREACHABLE_CODES.has(e.originalCode)) return true;
  if (e.timeoutType === 'CONNECT_TIMEOUT' || e.timeoutType === 'GREETING_TIMEOUT') return true;
  return e.message.includes(POOL_CLOSED);
}

export interface RelayTargets {
  /** SMTP_URL's relays (none: everything goes to the capture). */
  relays: string[];
  /** The built-in capture. */
  capture: string;
  /** TESTING_SMTP_URL: where `testing` messages go instead of the capture. */
  testing?: string | undefined;
}

export function makeRelays(targets: RelayTargets, opts: RelayOptions, logger: Logger): Relays {
  const relay = (url: string, rated: boolean) => {
    const u = new URL(url);
    const pool = smtpPool({ url, maxConnections: opts.maxConnections, maxMessages: opts.maxMessages, rate: rated ? opts.rate : 0, timeoutMs: opts.timeoutMs });
    // Messages wait for a connection here, so the deadline is checked when a message's turn comes (a batch
    // claimed just before the deadline must not go out long after it).
    return { pool, remoteMta: u.port ? `${u.hostname}:${u.port}` : u.hostname, turn: pLimit(opts.maxConnections) };
  };
  // The capture keeps messages, the testing server is a fake: no rate applies to either.
  const capture = relay(targets.capture, false);
  const testing = targets.testing ? relay(targets.testing, false) : capture;
  const relays = targets.relays.length ? targets.relays.map((u) => relay(u, true)) : [capture];
  let next = 0;
  return {
    async deliver(message, notAfter) {
      const r = message.testing ? testing : relays[next++ % relays.length]!;
      return await r.turn(() => (notAfter && Date.now() >= notAfter.getTime() ? { kind: 'expired' as const } : send(r, message)));
    },
    eightBit(isTesting) {
      return isTesting ? testing.pool.eightBitMime() : relays.every((r) => r.pool.eightBitMime());
    },
    close() {
      for (const r of new Set([...relays, capture, testing])) r.pool.close();
    },
  };

  async function send(relay: { pool: SmtpPool; remoteMta: string }, message: OutgoingMessage): Promise<Delivery> {
    try {
      const response = await relay.pool.send(message.raw, message.envelope);
      return { kind: 'replied', reply: parseReply(response, 250), remoteMta: relay.remoteMta };
    } catch (e) {
      const err = e as SmtpError;
      if (isUnreachable(err)) return { kind: 'unreachable', text: err.message, remoteMta: relay.remoteMta };
      if (err.response) return { kind: 'replied', reply: parseReply(err.response, err.responseCode ?? null), remoteMta: relay.remoteMta };
      logger.debug({ err: err.message, code: err.code, relay: relay.remoteMta }, 'smtp conversation failed without a reply');
      return { kind: 'replied', reply: { code: null, enhanced: null, text: err.message }, remoteMta: relay.remoteMta };
    }
  }
}

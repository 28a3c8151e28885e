/**
 * The outgoing SMTP transport: one pool of SMTP connections per relay URL (./smtp-pool.ts; created once per
 * worker process), messages spread round robin over the relays, SMTP_RATE enforced per relay by the pool. Messages of
 * `testing` mailings never go to a relay: they go to the testing server when one is configured
 * (TESTING_SMTP_URL; the original CloudMailing server sent them to its fake SMTP server, TEST_TARGET_IP and
 * TEST_TARGET_PORT), else to the built-in capture; with no relay configured, every other message goes to the
 * capture too. No rate applies to the capture nor to the testing server.
 *
 * `deliver` never throws: it returns what happened as a value (Postal's SendResult).
 *  - `replied`: the relay answered (2xx, 4xx, 5xx): a real try. So is a conversation lost without an answer
 *    (the connection closed, reset or timed out, or a 421 "closing channel") while the relay still answers a
 *    new connection: something in this conversation went wrong (code null, or 421).
 *  - `unreachable`: the relay did not answer: no SMTP conversation at all (refused, DNS, connect or greeting
 *    timeout, 421 at greeting, pool closed by shutdown), or a conversation lost as above after which the relay
 *    refuses a new connection (it went down under it). Not a try: the caller gives the lease back.
 *
 * A relay found unreachable is marked down for this process: its messages come back `unreachable` at once,
 * without a connection attempt each (a relay that times out would cost SMTP_TIMEOUT_MS per message), until a
 * probe (a new connection) gets an answer: `reachable()` probes, and with several relays a message is given
 * to one that is up, a down one being probed again in the background every few seconds.
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
  /**
   * Does a relay that such messages (`testing`: the testing server) go to answer? True at once when one is
   * not marked down; else each is probed (one probe per relay at a time, shared by every caller).
   */
  reachable(testing: boolean): Promise<boolean>;
  /** How many times a relay marked down answered again (this process): a caller notices a recovery by it. */
  recoveries(): number;
  /** May a message (a `testing` one: to the testing server) be 8bit? Every relay it may go to announced 8BITMIME. */
  eightBit(testing: boolean): boolean;
  /** The relays ordinary mail goes to (the capture without SMTP_URL) and whether each is up, as last found. */
  status(): { relay: string; up: boolean }[];
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

/** A down relay in a set with others up is probed again after 250 ms, doubling, at most 2 s. */
const PROBE_MIN_MS = 250;
const PROBE_MAX_MS = 2_000;

/** A conversation ended without an answer to it: the connection closed, reset or timed out, or 421 (closing). */
function lostConnection(e: SmtpError): boolean {
  return e.responseCode === 421 || (!e.responseCode && !e.response);
}

interface Relay {
  pool: SmtpPool;
  remoteMta: string;
  turn: ReturnType<typeof pLimit>;
  /** Why it is marked down (its last connection error); null: up. */
  down: string | null;
  /** Failed probes in a row (the background probe's back-off). */
  fails: number;
  /** Not before this (ms) is a down relay probed in the background. */
  probeAt: number;
  probing: Promise<boolean> | null;
}

export function makeRelays(targets: RelayTargets, opts: RelayOptions, logger: Logger): Relays {
  const relay = (url: string, rated: boolean): Relay => {
    const u = new URL(url);
    const pool = smtpPool({ url, maxConnections: opts.maxConnections, maxMessages: opts.maxMessages, rate: rated ? opts.rate : 0, timeoutMs: opts.timeoutMs });
    // Messages wait for a connection here, so the deadline is checked when a message's turn comes (a batch
    // claimed just before the deadline must not go out long after it).
    return {
      pool,
      remoteMta: u.port ? `${u.hostname}:${u.port}` : u.hostname,
      turn: pLimit(opts.maxConnections),
      down: null,
      fails: 0,
      probeAt: 0,
      probing: null,
    };
  };
  // The capture keeps messages, the testing server is a fake: no rate applies to either.
  const capture = relay(targets.capture, false);
  const testing = targets.testing ? relay(targets.testing, false) : capture;
  const relays = targets.relays.length ? targets.relays.map((u) => relay(u, true)) : [capture];
  let next = 0;
  let recovered = 0;

  const markDown = (r: Relay, why: string) => {
    if (r.down === null) logger.warn({ relay: r.remoteMta, error: why }, 'SMTP relay unreachable: its messages wait until it answers again');
    r.down = why;
    r.probeAt = Date.now() + Math.min(PROBE_MAX_MS, PROBE_MIN_MS * 2 ** r.fails);
  };

  /** A new connection to `r`: true when the relay answered it (a refusal of our login is an answer too). */
  const probe = (r: Relay): Promise<boolean> =>
    (r.probing ??= (async () => {
      try {
        await r.pool.probe();
      } catch (e) {
        const err = e as SmtpError;
        if (err.message.includes(POOL_CLOSED)) return false;
        if (isUnreachable(err)) {
          r.fails++;
          markDown(r, err.message);
          return false;
        }
      }
      if (r.down !== null) {
        recovered++;
        logger.info({ relay: r.remoteMta }, 'SMTP relay answers again');
      }
      r.down = null;
      r.fails = 0;
      return true;
    })().finally(() => (r.probing = null)));

  /** Round robin over the relays that are up; a down one gets no message (it is probed in the background). */
  const pick = (isTesting: boolean): Relay => {
    if (isTesting) return testing;
    for (let i = 0; i < relays.length; i++) {
      const r = relays[next++ % relays.length]!;
      if (r.down === null) return r;
      if (relays.length > 1 && Date.now() >= r.probeAt && !r.probing) void probe(r);
    }
    return relays[next++ % relays.length]!;
  };

  return {
    async deliver(message, notAfter) {
      const r = pick(!!message.testing);
      return await r.turn(() =>
        notAfter && Date.now() >= notAfter.getTime()
          ? { kind: 'expired' as const }
          : r.down !== null
            ? { kind: 'unreachable' as const, text: r.down, remoteMta: r.remoteMta }
            : send(r, message),
      );
    },
    async reachable(isTesting) {
      const set = isTesting ? [testing] : relays;
      if (set.some((r) => r.down === null)) return true;
      return (await Promise.all(set.map(probe))).some(Boolean);
    },
    recoveries: () => recovered,
    eightBit(isTesting) {
      return isTesting ? testing.pool.eightBitMime() : relays.every((r) => r.pool.eightBitMime());
    },
    status: () => relays.map((r) => ({ relay: r.remoteMta, up: r.down === null })),
    close() {
      for (const r of new Set([...relays, capture, testing])) r.pool.close();
    },
  };

  async function send(relay: Relay, message: OutgoingMessage): Promise<Delivery> {
    try {
      const response = await relay.pool.send(message.raw, message.envelope);
      relay.fails = 0;
      return { kind: 'replied', reply: parseReply(response, 250), remoteMta: relay.remoteMta };
    } catch (e) {
      const err = e as SmtpError;
      if (isUnreachable(err)) {
        // Shutdown closed the pool: the relay itself is fine.
        if (!err.message.includes(POOL_CLOSED)) markDown(relay, err.message);
        return { kind: 'unreachable', text: err.message, remoteMta: relay.remoteMta };
      }
      // Lost without an answer: the relay's outage when it no longer takes a connection, else this conversation's.
      if (lostConnection(err) && !(await probe(relay)))
        return { kind: 'unreachable', text: `${err.message} (the relay then refused a new connection)`, remoteMta: relay.remoteMta };
      if (err.response) return { kind: 'replied', reply: parseReply(err.response, err.responseCode ?? null), remoteMta: relay.remoteMta };
      logger.debug({ err: err.message, code: err.code, relay: relay.remoteMta }, 'smtp conversation failed without a reply');
      return { kind: 'replied', reply: { code: null, enhanced: null, text: err.message }, remoteMta: relay.remoteMta };
    }
  }
}

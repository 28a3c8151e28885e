/**
 * A gate on a test relay (test/support/smtp.ts): every message stays on its connection, its DATA unanswered,
 * until the test lets it through. With SMTP_MAX_CONNECTIONS=1 a held message is the only one in an SMTP
 * conversation and every send job with a claimed batch waits behind it, so a test can change the clock-bound
 * state of a mailing (its start, deadline, end) at a point the pipeline cannot move past — instead of racing
 * a slowed-down relay against the wall clock.
 */
import type { TestSmtpServer } from './smtp.js';
import { waitFor } from './wait.js';

interface Held {
  to: string[];
  pass: () => void;
  answered: Promise<void>;
}

export interface RelayGate {
  /** Envelope recipients of the messages held now, oldest first. */
  held(): string[][];
  /** Waits until a message is held at the gate. */
  waitHeld(what?: string): Promise<void>;
  /** Lets the oldest held message through; resolves once the relay has accepted it (it is in `messages`). */
  release(): Promise<void>;
  /** Lets one message through at a time until `done()` holds (checked before each). */
  releaseUntil(what: string, done: () => boolean | Promise<boolean>): Promise<void>;
  /** Lets everything through, now and from now on. */
  open(): Promise<void>;
}

export function gate(relay: TestSmtpServer): RelayGate {
  const queue: Held[] = [];
  relay.beforeAnswer = (envelope) => {
    let resolve!: () => void;
    const answered = new Promise<void>((r) => (resolve = r));
    queue.push({ to: envelope.to, pass: resolve, answered });
    return answered;
  };
  const g: RelayGate = {
    held: () => queue.map((h) => h.to),
    waitHeld: (what = 'a message held at the gate') => waitFor(what, () => queue.length > 0),
    async release() {
      const h = queue.shift();
      if (!h) throw new Error('no message is held at the gate');
      h.pass();
      // The relay answers in a callback registered on the same promise before this one: it has run by now.
      await h.answered;
    },
    async releaseUntil(what, done) {
      while (!(await done())) {
        await g.waitHeld(what);
        await g.release();
      }
    },
    async open() {
      relay.beforeAnswer = null;
      while (queue.length) await g.release();
    },
  };
  return g;
}

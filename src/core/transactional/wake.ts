/**
 * Waking a running send's job after a transactional recipient was committed, at most twice per window and
 * send in this process: at once for the first recipient of a window (leading edge), and once at the window's
 * end when more came meanwhile (trailing edge). Each enqueue replaces the job of the send's key waiting, so
 * concurrent sends never queue behind one another on that job row inside their transactions.
 *
 * Invariant: every committed recipient is followed by an enqueue that starts after its commit (the leading
 * one of its window, or the trailing one); an enqueue that finds the send's job waiting, not taken yet, leaves
 * it (src/db/jobs.ts wakeSend): that job starts after the enqueue's look, so after the commit too. A process
 * that dies in between loses nothing: the recipient is committed READY, and the worker's sweep (src/db/jobs.ts
 * wakeStrandedSends: at every worker start, after a runner is replaced, and every sweep period) enqueues every
 * running send with an unleased recipient to send.
 */

/** Long enough to fold a burst of sends into one enqueue, short against a message's delivery time. */
export const WAKE_WINDOW_MS = 25;

export interface SendWaker {
  /** Wake the send's job: resolves once enqueued (leading edge) or once the trailing enqueue is due. */
  wake(sendId: number): Promise<void>;
}

export function sendWaker(o: {
  enqueue: (sendId: number) => Promise<void>;
  /** An enqueue failed (the database away): the sweep wakes the send once it is back. */
  failed: (sendId: number, e: unknown) => void;
  windowMs?: number;
}): SendWaker {
  const windowMs = o.windowMs ?? WAKE_WINDOW_MS;
  /** Sends with an open window, and whether another recipient came in it. */
  const open = new Map<number, { again: boolean }>();

  const enqueue = async (sendId: number) => {
    try {
      await o.enqueue(sendId);
    } catch (e) {
      o.failed(sendId, e);
    }
  };

  const close = (sendId: number) => {
    const w = open.get(sendId);
    if (!w?.again) {
      open.delete(sendId);
      return;
    }
    // The trailing edge opens the next window: a steady stream of sends costs one enqueue per window.
    w.again = false;
    void enqueue(sendId).finally(() => setTimeout(close, windowMs, sendId));
  };

  return {
    async wake(sendId: number): Promise<void> {
      const w = open.get(sendId);
      if (w) {
        w.again = true;
        return;
      }
      open.set(sendId, { again: false });
      try {
        await enqueue(sendId);
      } finally {
        setTimeout(close, windowMs, sendId);
      }
    },
  };
}

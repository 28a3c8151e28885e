/**
 * The send workers: who is alive, as their heartbeats say (src/worker registers and refreshes them; the
 * mailing manager's sweep returns the work of silent ones to the queue).
 */
import type { Store } from '../../db/store.js';

export interface SendWorker {
  /** Its stable number in the registry (in the order workers first registered). */
  number: number;
  id: string;
  version: string | null;
  startedAt: Date;
  seenAt: Date;
}

export function workersService(deps: { store: Store; staleSeconds: number }) {
  return {
    /** The workers heard from within the stale limit, by number. */
    async alive(): Promise<SendWorker[]> {
      const rows = await deps.store.workers.alive(deps.staleSeconds);
      return rows.map((w) => ({ number: w.number, id: w.id, version: w.version, startedAt: w.started_at, seenAt: w.seen_at }));
    },
  };
}
export type WorkersService = ReturnType<typeof workersService>;
